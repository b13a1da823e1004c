//! mmarrow maps flat array files — written by `numpy.memmap`,
//! `ndarray.tofile()`, `np.save`, C or Fortran programs — into Arrow buffers
//! without copying a byte. A small JSON sidecar records dtype and shape
//! (see `docs/FORMAT.md`); `.npy` files carry their own header.
//!
//! ```
//! # fn main() -> mmarrow::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("emb.f32");
//! # std::fs::write(&path, vec![0u8; 4 * 4 * 8]).unwrap();
//! use mmarrow::OpenOptions;
//! // Record dtype and shape once (what `mmarrow describe` does)...
//! mmarrow::describe(&path, &OpenOptions::new().dtype("float32")?.shape("-1,8")?, false)?;
//! // ...then open it: a map, no data read.
//! let array = mmarrow::open(&path)?;
//! let batch = array.to_record_batch()?; // FixedSizeList<Float32>[8], arrow.fixed_shape_tensor
//! assert_eq!(batch.num_rows(), 4);
//! # Ok(()) }
//! ```
//!
//! Beyond reading: [`OpenOptions::open_mut`] gives numpy.memmap's write modes
//! (`r+`, `w+`, `c`) as an [`MmArrayMut`], [`ArrayWriter`] appends rows
//! crash-safely, and [`to_parquet`], [`from_parquet`], [`to_ipc`],
//! [`from_ipc`] and [`convert`] stream array files to and from Parquet and
//! Arrow IPC.
//!
//! # Zero-copy, and when it is impossible
//! [`MmArray::to_arrow`] returns arrays whose buffers point into the map; the
//! map stays alive as long as any of them does ([`map::MappedRegion`] owns it).
//! Big-endian data, data at an offset that is not a multiple of the element
//! alignment, and Fortran-order arrays of more than two dimensions cannot be
//! viewed in place: they open, but `to_arrow` refuses them with a typed error
//! unless they were opened with [`CopyPolicy::Allow`], in which case the copy
//! is made at open and [`MmArray::copy_reasons`] says so.
//!
//! # The mapping hazard
//! A memory map shows the file as it is *now*. If another process truncates
//! the file while it is mapped, touching the lost pages raises `SIGBUS` and
//! kills the process; if it rewrites bytes in place, Arrow arrays built over
//! the map see the new bytes. No mmap-based reader (numpy.memmap included)
//! can prevent this. mmarrow's own writers only ever append past the committed
//! length and never truncate committed data; do not let other programs
//! truncate or rewrite a file while it is open.
//!
//! # Features
//! - `cli` (default): builds the `mmarrow` command-line tool and its
//!   dependencies (clap, indicatif, ctrlc). The library needs none of them:
//!   depend on it with `default-features = false`.
//! - `test-helpers`, `bench-helpers`: build the helper programs of the test
//!   suites (`tests/helpers/`) and of `benches/append_vs_dd.sh`
//!   (`benches/helpers/`). Not for users.

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!("mmarrow supports Unix targets only (positioned I/O, flock and mmap semantics; see src/fsutil.rs)");

mod array;
mod convert;
mod dtype;
mod error;
mod fsutil;
pub mod map;
mod npy;
mod open;
mod shape;
mod sidecar;
mod table;
mod tensor;
mod write;

pub use array::{ArrowOptions, BoolLayout, CopyReason, MmArray, TensorLayout};
pub use convert::{
    convert, from_ipc, from_parquet, ipc_to_table, parquet_schema, parquet_to_table,
    remove_temporary_outputs, table_to_ipc, table_to_parquet, to_ipc, to_parquet, Compression,
    ConvertOptions, ConvertSummary, Format, Progress, DEFAULT_ROW_GROUP_BYTES,
};
pub use dtype::{ByteOrder, Dtype, Element, Kind, EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY};
pub use error::{Error, ErrorKind, Result};
pub use npy::{NpyHeader, MAX_NPY_HEADER_BYTES, NPY_MAGIC};
pub use open::{describe, open, CopyPolicy, HeaderSource, Mode, OpenOptions, SidecarUse};
pub use shape::{Order, ShapeSpec};
pub use sidecar::{
    sidecar_path, Sidecar, FORMAT_NAME, FORMAT_VERSION, MAX_SIDECAR_BYTES, SIDECAR_SUFFIX,
};
pub use table::{
    is_table, verify_table, ColumnEntry, ColumnFiles, Manifest, Table, TableOptions, TableWriter,
    MANIFEST_NAME, TABLE_FORMAT_NAME, TABLE_FORMAT_VERSION,
};
pub use tensor::{TensorMetadata, FIXED_SHAPE_TENSOR};
pub use write::{ArrayWriter, Durability, MmArrayMut, OutputFormat, WriterOptions};

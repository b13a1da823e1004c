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
//! mmarrow::describe(&path, &OpenOptions::new().try_with_dtype("float32")?.try_with_shape("-1,8")?)?;
//! // ...then open it: a map, no data read.
//! let array = mmarrow::open(&path)?;
//! let batch = array.to_record_batch()?; // FixedSizeList<Float32>[8], arrow.fixed_shape_tensor
//! assert_eq!(batch.num_rows(), 4);
//! # Ok(()) }
//! ```
//!
//! Beyond reading: [`OpenOptions::open_mut`] gives numpy.memmap's write modes
//! (`r+`, `w+`, `c`) as an [`MmArrayMut`], [`ArrayWriter`] appends rows
//! crash-safely, and [`convert::to_parquet`], [`convert::from_parquet`], [`convert::to_ipc`],
//! [`convert::from_ipc`] and [`convert::convert`] stream array files to and from Parquet and
//! Arrow IPC.
//!
//! # Zero-copy, and when it is impossible
//! [`MmArray::to_arrow`] returns arrays whose buffers point into the map; the
//! map stays alive as long as any of them does ([`map::MappedRegion`] owns it).
//! Big-endian data, data at an offset that is not a multiple of the element
//! alignment, and Fortran-order arrays of more than two dimensions cannot be
//! viewed in place: they open, but `to_arrow` refuses them with a typed error
//! unless they were opened with [`open::CopyPolicy::Allow`], in which case the copy
//! is made at open and [`MmArray::copy_reasons`] says so.
//!
//! # Soundness and the mapping hazard
//! A memory map shows the file as it is *now*. If another process truncates
//! the file while it is mapped, touching the lost pages raises `SIGBUS` and
//! kills the process; if it rewrites bytes in place, Arrow arrays built over
//! the map see the new bytes. No mmap-based reader (numpy.memmap included)
//! can prevent this. mmarrow's own writers only ever append past the committed
//! length and never truncate committed data; do not let other programs
//! truncate or rewrite a file while it is open.
//!
//! A program can at least say what happened: [`sigbus::install_handler`]
//! turns the `SIGBUS` of a truncated map into one line naming the file
//! (`mmarrow: FILE: the file was truncated while mapped (SIGBUS)`), removes
//! the temporary outputs of conversions in progress and exits with a code of
//! its choice. It is process-wide and not to be combined with other `SIGBUS`
//! handlers; the `mmarrow` tool installs it (exit code 2).
//!
//! The decision, taken once for the whole crate: opening a file-backed map
//! is a *safe* operation ([`open()`], [`Table::open`]), as numpy.memmap makes
//! it in Python, and the hazard above is the documented contract of every
//! open, not an `unsafe` precondition. What safe opens do guarantee is that
//! the file's *content* is checked before Arrow sees it (sizes, offsets,
//! UTF-8, null counts). The one `unsafe` opener,
//! [`TableOptions::trusted`], skips those content checks, and its `# Safety`
//! section is about content only. The `unsafe` code itself lives in
//! [`map`], each block with the fact it relies on.
//!
//! # Features
//! - `cli` (default): builds the `mmarrow` command-line tool and its
//!   dependencies (clap, indicatif, signal-hook). The library needs none of them:
//!   depend on it with `default-features = false`.
//! - `test-helpers`, `bench-helpers`: build the helper programs of the test
//!   suites (`tests/helpers/`) and of `benches/append_vs_dd.sh`
//!   (`benches/helpers/`). Not for users.

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!("mmarrow supports Unix targets only (positioned I/O, flock and mmap semantics; see src/fsutil.rs)");

pub mod array;
pub mod convert;
#[cfg(feature = "datafusion")]
pub mod datafusion;
pub mod dtype;
pub mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(not(feature = "fault-injection"))]
mod fault;
pub mod format;
mod fsutil;
pub mod map;
pub mod open;
pub mod shape;
pub mod sigbus;
pub mod table;
pub mod write;

pub use array::MmArray;
pub use dtype::Dtype;
pub use error::{Error, ErrorKind, Result};
pub use open::{describe, open, verify, Mode, OpenOptions, Verified};
pub use table::{Table, TableOptions, TableWriter};
pub use write::{ArrayWriter, MmArrayMut};

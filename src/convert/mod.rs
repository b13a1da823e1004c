//! Conversion between array files, tables, Parquet and Arrow IPC:
//! streaming, parallel, with bounded memory, writing to a temporary name
//! and renaming at the end so that a failure never leaves a partial
//! destination.
//!
//! [`convert`] picks the conversion from the two paths (and
//! [`ConvertOptions`]); [`to_parquet`], [`from_parquet`], [`to_ipc`],
//! [`from_ipc`], [`table_to_parquet`], [`table_to_ipc`],
//! [`parquet_to_table`] and [`ipc_to_table`] run one directly.
//!
//! ```
//! # fn main() -> mmarrow::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let src = dir.path().join("emb.f32");
//! # std::fs::write(&src, vec![0u8; 4 * 8 * 10]).unwrap();
//! # mmarrow::describe(&src, &mmarrow::OpenOptions::new().try_with_dtype("f4")?.try_with_shape("-1,8")?)?;
//! use mmarrow::convert::{convert, Compression, ConvertOptions};
//! let o = ConvertOptions::new().compression(Compression::Snappy);
//! let s = convert(&src, dir.path().join("emb.parquet"), &o)?;
//! assert_eq!(s.rows, 10);
//! # Ok(()) }
//! ```

// Layout (each file imports only the ones above it in this list, so the
// imports form no cycle):
// format, pipeline, source — options — output, spec — sink, fresh —
// parquet/{page, stats, footer} — parquet/{chunk, write_pages} —
// parquet/to_table — parquet/{read, write} — ipc — table_io — this file.
mod bounded;
mod format;
mod fresh;
mod inspect;
mod ipc;
mod options;
mod output;
mod parquet;
mod pipeline;
mod sink;
mod source;
pub(crate) mod spec;
mod table_io;

use std::path::Path;

pub use format::Format;
pub use fresh::source_fingerprint;
pub use inspect::{inspect, FileSummary};
pub use ipc::{from_ipc, table_to_ipc, to_ipc};
pub use options::{Compression, ConvertOptions, Progress, DEFAULT_ROW_GROUP_BYTES};
pub use output::{remove_temporary_outputs, ConvertSummary};
pub use parquet::{from_parquet, table_to_parquet, to_parquet};
pub use table_io::{ipc_to_table, parquet_schema, parquet_to_table};

use crate::error::{ErrorKind, Result};
use crate::fsutil::is_npy_path;
use crate::table::Table;

/// Converts `src` to `dst`: array ↔ Parquet, array ↔ Arrow IPC, table ↔
/// Parquet, table ↔ Arrow IPC.
///
/// The source's format is [`ConvertOptions::source_format`], or else
/// inferred from its name ([`Format::from_path`]). The destination's is
/// [`ConvertOptions::destination_format`], or a table with
/// [`ConvertOptions::table`], or else inferred from its name — except that
/// a Parquet or IPC source of several columns becomes a table when no
/// [`ConvertOptions::column`] is picked and the destination is not a
/// `.npy` file (an array file holds one column).
///
/// # Errors
/// [`ErrorKind::InvalidRequest`] for a pair with no conversion (e.g. Parquet to
/// IPC, or array to array: use `mmarrow cat`), and the errors of the
/// conversion chosen.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # use std::sync::Arc;
/// # use arrow_array::{Int32Array, Float64Array, RecordBatch};
/// # let batch = RecordBatch::try_from_iter([
/// #     ("n", Arc::new(Int32Array::from(vec![1, 2])) as _),
/// #     ("x", Arc::new(Float64Array::from(vec![0.5, 1.5])) as _),
/// # ])?;
/// # let src = dir.path().join("wide.parquet");
/// # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&src).unwrap(), batch.schema(), None).unwrap();
/// # w.write(&batch).unwrap(); w.close().unwrap();
/// use mmarrow::convert::{convert, ConvertOptions};
/// // Two columns: a table directory...
/// convert(&src, dir.path().join("cache"), &ConvertOptions::new())?;
/// assert_eq!(mmarrow::Table::open(dir.path().join("cache"))?.num_rows(), 2);
/// // ...or one of them as an array file.
/// convert(&src, dir.path().join("x.f8"), &ConvertOptions::new().column("x"))?;
/// assert_eq!(mmarrow::open(dir.path().join("x.f8"))?.len(), 2);
/// # Ok(()) }
/// ```
pub fn convert(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let from = o.source_format.unwrap_or_else(|| Format::from_path(src));
    let to = match o.destination_format {
        Some(f) => f,
        None if o.table => Format::Table,
        None => Format::from_path(dst),
    };
    let to = match to {
        Format::Array if o.column.is_none() && !is_npy_path(dst) && is_wide(from, src) => {
            Format::Table
        }
        to => to,
    };
    if (o.if_stale || o.string_view) && to != Format::Table {
        fresh::check(src, dst, from, false, o)?;
    }
    match (from, to) {
        (Format::Array, Format::Parquet) => to_parquet(&crate::open(src)?, dst, o),
        (Format::Array, Format::Ipc) => to_ipc(&crate::open(src)?, dst, o),
        (Format::Parquet, Format::Array) => from_parquet(src, dst, o),
        (Format::Ipc, Format::Array) => from_ipc(src, dst, o),
        (Format::Table, Format::Parquet) => table_to_parquet(&Table::open(src)?, dst, o),
        (Format::Table, Format::Ipc) => table_to_ipc(&Table::open(src)?, dst, o),
        (Format::Parquet, Format::Table) => parquet_to_table(src, dst, o),
        (Format::Ipc, Format::Table) => ipc_to_table(src, dst, o),

        (a, b) => Err(ErrorKind::InvalidRequest { reason: format!(
                "no conversion from {a:?} to {b:?}; one side must be an array file or a table (use `mmarrow cat` to copy arrays)"
            ) }.at(dst)),
    }
}

/// Whether `src`, of format `from`, is a Parquet or IPC file of several
/// columns. A file that cannot be read is not: the conversion reports why.
fn is_wide(from: Format, src: &Path) -> bool {
    let columns = match from {
        Format::Parquet => parquet_schema(src).map(|s| s.fields().len()),
        Format::Ipc => ipc::ipc_reader(src).map(|r| r.schema().fields().len()),
        Format::Array | Format::Table => return false,
    };
    columns.is_ok_and(|n| n > 1)
}

//! Arrow IPC files ↔ array files.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;

use super::options::{check_row_group_rows, ConvertOptions, DEFAULT_ROW_GROUP_BYTES};
use super::output::Output;
use super::parquet_read::{
    append_checked, array_spec, finish_array_output, fixed_lists, fixed_row_shape, open_input,
    open_writer, output_format, pick_column,
};
use super::ConvertSummary;
use super::Source;
use crate::array::MmArray;
use crate::error::{Error, ErrorKind, Result};
use crate::table::Table;
use crate::write::{ArrayWriter, Durability, WriterOptions};

/// Writes `source` as an Arrow IPC file (`.arrow`/`.feather` v2) of record
/// batches of [`ConvertOptions::row_group_rows`] rows (default: about
/// 64 MiB each), with the tensor extension and user metadata in its schema.
/// Written under a temporary name and renamed at the end.
///
/// # Errors
/// As [`crate::to_parquet`].
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("v.i8");
/// # std::fs::write(&src, (0..6i64).flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
/// let a = mmarrow::OpenOptions::new().dtype("int64")?.shape("-1,2")?.open(&src)?;
/// let s = mmarrow::to_ipc(&a, &dir.path().join("v.arrow"), &Default::default())?;
/// assert_eq!(s.rows, 3);
/// # Ok(()) }
/// ```
pub fn to_ipc(source: &MmArray, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    write_ipc(Source::Array(source), dst, o).map_err(|e| super::output::name_dst(e, dst))
}

/// Writes the table `table` as an Arrow IPC file, as [`to_ipc`] does for arrays.
///
/// # Errors
/// As [`to_ipc`].
pub fn table_to_ipc(table: &Table, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    write_ipc(Source::Table(table), dst, o).map_err(|e| super::output::name_dst(e, dst))
}

fn write_ipc(source: Source<'_>, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    check_row_group_rows(o.row_group_rows)?;
    let out = Output::new(dst, o)?;
    let schema = source.schema()?;
    let row_bytes = source.row_bytes();
    let batch_rows = o
        .row_group_rows
        .unwrap_or((DEFAULT_ROW_GROUP_BYTES / row_bytes).max(1));
    let file = File::create(out.path()).map_err(|e| Error::io(out.path(), "create", e))?;
    let mut w = FileWriter::try_new(BufWriter::with_capacity(4 << 20, file), &schema)?;
    let n = source.rows();
    o.start(n, n * row_bytes);
    let mut start = 0;
    let mut groups = 0;
    while start < n {
        let end = (start + batch_rows).min(n);
        let batch = source.batch(start..end)?;
        w.write(&batch)?;
        o.advance(end - start, (end - start) * row_bytes);
        groups += 1;
        start = end;
    }
    w.finish()?;
    let file = w
        .into_inner()?
        .into_inner()
        .map_err(|e| Error::io(out.path(), "write", e.into_error()))?;
    out.sync(&file)?;
    let output_bytes = file
        .metadata()
        .map_err(|e| Error::io(out.path(), "stat", e))?
        .len();
    out.commit()?;
    Ok(ConvertSummary {
        rows: n,
        data_bytes: n * row_bytes,
        output_bytes,
        groups,
        fast_path: false,
    })
}

/// Converts one column of an Arrow IPC file to an array file (raw +
/// sidecar, or `.npy` by extension), batch by batch, through
/// [`ArrayWriter`]; the same column rules as [`crate::from_parquet`].
///
/// # Errors
/// [`ErrorKind::Format`](crate::ErrorKind::Format) for a file that is not Arrow IPC or an unsupported
/// column, [`ErrorKind::HasNulls`](crate::ErrorKind::HasNulls), [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists), I/O errors.
pub fn from_ipc(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    from_ipc_inner(src, dst, o).map_err(|e| super::output::name_dst(e, dst))
}

fn from_ipc_inner(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    let file = open_input(src)?;
    let reader = FileReader::try_new(std::io::BufReader::new(file), None)
        .map_err(|e| bad(format!("not a readable Arrow IPC file: {e}")))?;
    let schema = reader.schema();
    let col = pick_column(&schema, o, &bad)?;
    let field = schema.field(col).clone();
    let spec = array_spec(&field).map_err(|r| bad(format!("column {:?} {r}", field.name())))?;
    let out = Output::new(dst, o)?;
    let tmp = out.path().to_path_buf();
    let mut learnt = spec.row_shape.clone();
    let mut writer: Option<ArrayWriter> = None;
    let mut groups = 0;
    let row_bytes_hint = spec.leaf_per_row.max(1) * spec.dtype.itemsize() as u64;
    let total: u64 = 0; // IPC files do not say their row count up front
    o.start(total, total);
    let mut wo = WriterOptions::new(spec.dtype, &fixed_row_shape(&spec))
        .durability(Durability::Process)
        .name(field.name().clone())
        .format(output_format(dst));
    for batch in reader {
        let batch = batch.map_err(|e| bad(format!("batch {groups}: {e}")))?;
        let a = fixed_lists(batch.column(col), &mut learnt)
            .map_err(|r| bad(format!("column {:?} {r}", field.name())))?;
        if writer.is_none() && learnt != spec.row_shape {
            wo = WriterOptions::new(spec.dtype, &learnt)
                .durability(Durability::Process)
                .name(field.name().clone())
                .format(output_format(dst));
        }
        let w = open_writer(&mut writer, &wo, &tmp)?;
        append_checked(w, &a, &field, src)?;
        o.advance(a.len() as u64, a.len() as u64 * row_bytes_hint);
        groups += 1;
    }
    finish_array_output(writer, &wo, out, groups, false)
}

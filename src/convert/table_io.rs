//! Parquet and Arrow IPC → table directories.

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::ipc::ipc_reader;
use super::options::ConvertOptions;
use super::output::{ConvertSummary, Output};
use super::pipeline;
use super::spec::{open_parquet, open_parquet_for_reading};
use crate::error::{name_panic, Error, ErrorKind, Result};
use crate::table::{TableWriter, TableWriterOptions};
use crate::write::Durability;

/// The Arrow schema of a Parquet file (restored from its `ARROW:schema`
/// entry when present), read from the footer only.
///
/// # Errors
/// [`ErrorKind::Format`] for a file that is not Parquet; I/O errors.
pub fn parquet_schema(src: impl AsRef<Path>) -> Result<arrow_schema::SchemaRef> {
    let src = src.as_ref();
    name_panic(src, "reading Parquet metadata", || {
        Ok(open_parquet(src)?.1.schema().clone())
    })
}

fn format_err(src: &Path, reason: String) -> Error {
    ErrorKind::Format { reason }.at(src)
}

/// Converts every column of the Parquet file `src` into the table
/// directory `dst` (the "cache" conversion): row groups decoded in parallel,
/// appended in order through [`TableWriter`] under a temporary name that is
/// renamed at the end.
///
/// # Errors
/// [`ErrorKind::Format`] for a corrupt file, [`ErrorKind::InvalidRequest`] for a
/// column type tables cannot hold (naming the column), [`ErrorKind::AlreadyExists`]
/// when `dst` exists (unless overwriting a table), I/O errors.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # use std::sync::Arc;
/// # use arrow_array::{Int32Array, StringArray, RecordBatch};
/// # let batch = RecordBatch::try_from_iter([
/// #     ("n", Arc::new(Int32Array::from(vec![1, 2])) as _),
/// #     ("s", Arc::new(StringArray::from(vec!["a", "b"])) as _),
/// # ])?;
/// # let src = dir.path().join("x.parquet");
/// # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&src).unwrap(), batch.schema(), None).unwrap();
/// # w.write(&batch).unwrap(); w.close().unwrap();
/// let s = mmarrow::convert::parquet_to_table(&src, dir.path().join("cache"), &Default::default())?;
/// assert_eq!(s.rows, 2);
/// assert_eq!(mmarrow::Table::open(dir.path().join("cache"))?.num_rows(), 2);
/// # Ok(()) }
/// ```
pub fn parquet_to_table(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    name_panic(src, "reading Parquet", || parquet_to_table_at(src, dst, o))
}

fn parquet_to_table_at(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let (_, meta) = open_parquet_for_reading(src, o)?;
    let schema = meta.schema().clone();
    let groups = meta.metadata().num_row_groups();
    let total: u64 = meta
        .metadata()
        .row_groups()
        .iter()
        .fold(0u64, |n, g| n.saturating_add(g.num_rows().max(0) as u64));
    Output::table(dst, src, o)?.write(|out| {
        let mut w = table_writer(out.path(), schema)?;
        o.start(total, 0);
        let decode = |k: usize| -> Result<Vec<RecordBatch>> {
            // Each decoder needs its own file description: a cloned handle
            // shares the read position between threads.
            let f = File::open(src)
                .and_then(super::bounded::BoundedFile::new)
                .map_err(|e| Error::io(src, "open", e))?;
            let rows = meta.metadata().row_group(k).num_rows().max(1) as usize;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
                .with_row_groups(vec![k])
                .with_batch_size(rows.min(1 << 20))
                .build()
                .map_err(|e| format_err(src, format!("row group {k}: {e}")))?;
            let batches: Vec<RecordBatch> = reader
                .map(|b| b.map_err(|e| format_err(src, format!("row group {k}: {e}"))))
                .collect::<Result<_>>()?;
            // Never fewer rows than the row group declares, silently.
            let declared = meta.metadata().row_group(k).num_rows().max(0) as u64;
            let got: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            if got != declared {
                return Err(format_err(
                    src,
                    format!("row group {k} declares {declared} rows but holds {got}"),
                ));
            }
            Ok(batches)
        };
        pipeline::ordered(o.thread_count(), groups, decode, |_, batches| {
            for b in batches {
                w.append(&b)?;
                o.advance(b.num_rows() as u64, 0);
            }
            Ok(())
        })?;
        finish(w, out, groups)
    })
}

/// Converts every column of the Arrow IPC file `src` into the table
/// directory `dst`, batch by batch.
///
/// # Errors
/// As [`parquet_to_table`].
pub fn ipc_to_table(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    name_panic(src, "reading Arrow IPC", || ipc_to_table_at(src, dst, o))
}

fn ipc_to_table_at(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let reader = ipc_reader(src)?;
    Output::table(dst, src, o)?.write(|out| {
        let mut w = table_writer(out.path(), reader.schema())?;
        let mut groups = 0;
        for b in reader {
            let b = b.map_err(|e| format_err(src, format!("batch {groups}: {e}")))?;
            w.append(&b)?;
            o.advance(b.num_rows() as u64, 0);
            groups += 1;
        }
        finish(w, out, groups)
    })
}

/// A table writer for the temporary output `tmp`: the output is made
/// durable once, at the end.
fn table_writer(tmp: &Path, schema: arrow_schema::SchemaRef) -> Result<TableWriter> {
    TableWriterOptions::new()
        .overwrite(true)
        .durability(Durability::Process)
        .create(tmp, schema)
}

/// Commits the table and fsyncs its files and directory, ready for `out`
/// to rename.
fn finish(mut w: TableWriter, out: &Output, groups: usize) -> Result<ConvertSummary> {
    w.commit()?;
    let rows = w.committed_rows();
    drop(w);
    if out.durable() {
        // fsync every file once, then the directory entries, before the rename.
        for e in
            std::fs::read_dir(out.path()).map_err(|e| Error::io(out.path(), "read directory", e))?
        {
            let p = e
                .map_err(|e| Error::io(out.path(), "read directory", e))?
                .path();
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&p, "fsync", e))?;
        }
        crate::fsutil::sync_dir(out.path())?;
    }
    let output_bytes = std::fs::read_dir(out.path())
        .map_err(|e| Error::io(out.path(), "read directory", e))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(ConvertSummary {
        rows,
        data_bytes: output_bytes,
        output_bytes,
        groups,
        fast_path: false,
    })
}

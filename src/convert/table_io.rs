//! Parquet and Arrow IPC → table directories.

use std::fs::File;
use std::path::Path;

use arrow_ipc::reader::FileReader;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::options::ConvertOptions;
use super::output::Output;
use super::parquet_read::{open_input, open_parquet};
use super::ConvertSummary;
use crate::error::{Error, ErrorKind, Result};
use crate::table::TableWriter;
use crate::write::Durability;

/// The Arrow schema of a Parquet file (restored from its `ARROW:schema`
/// entry when present), read from the footer only.
///
/// # Errors
/// [`ErrorKind::Format`](crate::ErrorKind::Format) for a file that is not Parquet; I/O errors.
pub fn parquet_schema(src: &Path) -> Result<arrow_schema::SchemaRef> {
    Ok(open_parquet(src)?.1.schema().clone())
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
/// [`ErrorKind::Format`](crate::ErrorKind::Format) for a corrupt file, [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for a
/// column type tables cannot hold (naming the column), [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists)
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
/// let s = mmarrow::parquet_to_table(&src, &dir.path().join("cache"), &Default::default())?;
/// assert_eq!(s.rows, 2);
/// assert_eq!(mmarrow::Table::open(dir.path().join("cache"))?.num_rows(), 2);
/// # Ok(()) }
/// ```
pub fn parquet_to_table(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    parquet_to_table_inner(src, dst, o).map_err(|e| super::output::name_dst(e, dst))
}

fn parquet_to_table_inner(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let (_, meta) = open_parquet(src)?;
    let schema = meta.schema().clone();
    let groups = meta.metadata().num_row_groups();
    let total: u64 = meta
        .metadata()
        .row_groups()
        .iter()
        .fold(0u64, |n, g| n.saturating_add(g.num_rows().max(0) as u64));
    let out = Output::new_table(dst, o)?;
    let mut w = TableWriter::create_with(out.path(), schema, true, Durability::Process)?;
    o.start(total, 0);
    let threads = o.thread_count();
    let decode = |k: usize| -> Result<Vec<arrow_array::RecordBatch>> {
        // Each decoder needs its own file description: a cloned handle
        // shares the read position between threads.
        let f = File::open(src).map_err(|e| Error::io(src, "open", e))?;
        let rows = meta.metadata().row_group(k).num_rows().max(1) as usize;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
            .with_row_groups(vec![k])
            .with_batch_size(rows.min(1 << 20))
            .build()
            .map_err(|e| format_err(src, format!("row group {k}: {e}")))?;
        reader
            .map(|b| b.map_err(|e| format_err(src, format!("row group {k}: {e}"))))
            .collect()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format_err(src, format!("starting threads: {e}")))?;
    pool.install(|| -> Result<()> {
        use rayon::prelude::*;
        let mut k = 0;
        while k < groups {
            let end = (k + threads).min(groups);
            let wave: Vec<Result<Vec<arrow_array::RecordBatch>>> =
                (k..end).into_par_iter().map(&decode).collect();
            for batches in wave {
                for b in batches? {
                    w.append(&b)?;
                    o.advance(b.num_rows() as u64, 0);
                }
            }
            k = end;
        }
        Ok(())
    })?;
    finish(w, out, groups)
}

/// Converts every column of the Arrow IPC file `src` into the table
/// directory `dst`, batch by batch.
///
/// # Errors
/// As [`parquet_to_table`].
pub fn ipc_to_table(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    ipc_to_table_inner(src, dst, o).map_err(|e| super::output::name_dst(e, dst))
}

fn ipc_to_table_inner(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let file = open_input(src)?;
    let reader = FileReader::try_new(std::io::BufReader::new(file), None)
        .map_err(|e| format_err(src, format!("not a readable Arrow IPC file: {e}")))?;
    let out = Output::new_table(dst, o)?;
    let mut w = TableWriter::create_with(out.path(), reader.schema(), true, Durability::Process)?;
    let mut groups = 0;
    for b in reader {
        let b = b.map_err(|e| format_err(src, format!("batch {groups}: {e}")))?;
        w.append(&b)?;
        o.advance(b.num_rows() as u64, 0);
        groups += 1;
    }
    finish(w, out, groups)
}

fn finish(mut w: TableWriter, out: Output, groups: usize) -> Result<ConvertSummary> {
    w.commit()?;
    let table = {
        let rows = w.committed_rows();
        drop(w);
        if out.durable() {
            // fsync every file once, then the directory entries, before the rename.
            for e in std::fs::read_dir(out.path())
                .map_err(|e| Error::io(out.path(), "read directory", e))?
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
        rows
    };
    let output_bytes = std::fs::read_dir(out.path())
        .map_err(|e| Error::io(out.path(), "read directory", e))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    out.commit()?;
    Ok(ConvertSummary {
        rows: table,
        data_bytes: output_bytes,
        output_bytes,
        groups,
        fast_path: false,
    })
}

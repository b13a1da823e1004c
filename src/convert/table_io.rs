//! Parquet and Arrow IPC → table directories.

use std::path::Path;

use super::format::Format;
use super::fresh::{self, Freshness};
use super::ipc::ipc_reader;
use super::options::{to_stored, ConvertOptions};
use super::output::{finish_table, table_writer, ConvertSummary, Output};
use super::spec::open_parquet;
use crate::error::{name_panic, Error, ErrorKind, Result};
use arrow_array::{make_array, RecordBatch};

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
/// directory `dst` (the "cache" conversion): column chunks cut into page
/// ranges of a few MiB that all threads decode at the page level (columns
/// the page-level decoder does not handle are streamed through the parquet
/// crate's reader in batches of a few MiB), appended in order through
/// [`crate::TableWriter`] under a temporary name that is renamed at the
/// end; memory stays a few units per thread whatever the row-group size.
/// The manifest records the source's fingerprint
/// ([`crate::table::Source`]); with [`ConvertOptions::if_stale`] a table
/// built from the unchanged source is left alone.
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
    match fresh::check(src, dst, Format::Parquet, true, o)? {
        Freshness::UpToDate(s) => Ok(s),
        Freshness::Build { source, overwrite } => {
            let o = o.clone().overwrite(overwrite);
            super::parquet::parquet_to_table(src, dst, &o, source)
        }
    }
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
    let (source, overwrite) = match fresh::check(src, dst, Format::Ipc, true, o)? {
        Freshness::UpToDate(s) => return Ok(s),
        Freshness::Build { source, overwrite } => (source, overwrite),
    };
    let o = &o.clone().overwrite(overwrite);
    let reader = ipc_reader(src)?;
    Output::table(dst, src, o)?.write(|out| {
        let stored = o.stored_schema(&reader.schema());
        let mut w = table_writer(out.path(), stored.clone())?;
        if let Some(s) = source {
            w.set_source(s);
        }
        let mut groups = 0;
        for b in reader {
            let b = b.map_err(|e| format_err(src, format!("batch {groups}: {e}")))?;
            let b = if stored == b.schema() {
                b
            } else {
                let columns = b
                    .columns()
                    .iter()
                    .zip(stored.fields())
                    .map(|(c, f)| to_stored(c.to_data(), f.data_type()).map(make_array))
                    .collect::<std::result::Result<Vec<_>, String>>()
                    .map_err(|e| format_err(src, format!("batch {groups}: {e}")))?;
                RecordBatch::try_new(stored.clone(), columns)
                    .map_err(|e| format_err(src, format!("batch {groups}: {e}")))?
            };
            w.append(&b)?;
            o.advance(b.num_rows() as u64, 0);
            groups += 1;
        }
        finish_table(w, out, groups)
    })
}

//! [`inspect`]: what a Parquet or Arrow IPC file holds (schema, rows, row
//! groups or batches, codecs), read from its footer — what `mmarrow info`
//! prints for files users point it at before converting them.

use std::path::Path;

use arrow_schema::SchemaRef;

use super::format::Format;
use super::ipc::ipc_reader;
use super::spec::open_parquet;
use crate::error::{name_panic, ErrorKind, Result};

/// The summary of a Parquet or Arrow IPC file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileSummary {
    /// [`Format::Parquet`] or [`Format::Ipc`].
    pub format: Format,
    /// The Arrow schema (for Parquet, as the Arrow reader maps it).
    pub schema: SchemaRef,
    /// Rows in the file.
    pub rows: u64,
    /// Row groups (Parquet) or record batches (IPC).
    pub groups: usize,
    /// The compression codecs of the column chunks (Parquet: `zstd`,
    /// `snappy`, `uncompressed`…), each once, in the order met; empty for
    /// IPC (its codec is per batch, not in the footer).
    pub codecs: Vec<String>,
}

/// Summarises the Parquet or Arrow IPC file `path` (its format by its first
/// bytes, whatever its name): from the footer for Parquet; for IPC the row
/// count is found by reading the batches one at a time.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let p = dir.path().join("x.parquet");
/// # let batch = arrow_array::RecordBatch::try_from_iter([("x", std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3])) as _)])?;
/// # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&p).unwrap(), batch.schema(), None).unwrap();
/// # w.write(&batch).unwrap(); w.close().unwrap();
/// let s = mmarrow::convert::inspect(&p)?;
/// assert_eq!((s.rows, s.groups, s.schema.fields().len()), (3, 1, 1));
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ErrorKind::Format`] for a file that is neither, or whose footer is
/// unreadable; I/O errors.
pub fn inspect(path: impl AsRef<Path>) -> Result<FileSummary> {
    let path = path.as_ref();
    name_panic(path, "reading the footer", || match sniff(path)? {
        Some(Format::Parquet) => parquet_summary(path),
        Some(Format::Ipc) => ipc_summary(path),
        _ => Err(ErrorKind::Format {
            reason: "neither a Parquet nor an Arrow IPC file (no PAR1 or ARROW1 magic)".into(),
        }
        .at(path)),
    })
}

/// The format a file's first bytes name: Parquet (`PAR1`) or Arrow IPC
/// (`ARROW1`); `None` for anything else.
pub(crate) fn sniff(path: &Path) -> Result<Option<Format>> {
    let file = crate::fsutil::open_regular(path, false)?;
    let mut head = [0u8; 6];
    let n = crate::fsutil::read_at_most(&file, &mut head, 0)
        .map_err(|e| crate::error::Error::io(path, "read", e))?;
    Ok(if n >= 4 && &head[..4] == b"PAR1" {
        Some(Format::Parquet)
    } else if n == 6 && &head == b"ARROW1" {
        Some(Format::Ipc)
    } else {
        None
    })
}

fn parquet_summary(path: &Path) -> Result<FileSummary> {
    let (_, meta) = open_parquet(path)?;
    let md = meta.metadata();
    let mut codecs: Vec<String> = Vec::new();
    for g in md.row_groups() {
        for c in g.columns() {
            // The codec's name: the level is not recorded in the file.
            let name = c.compression().to_string();
            let name = name.split('(').next().unwrap_or(&name).to_ascii_lowercase();
            if !codecs.contains(&name) {
                codecs.push(name);
            }
        }
    }
    let rows = md
        .row_groups()
        .iter()
        .fold(0u64, |n, g| n.saturating_add(g.num_rows().max(0) as u64));
    Ok(FileSummary {
        format: Format::Parquet,
        schema: meta.schema().clone(),
        rows,
        groups: md.num_row_groups(),
        codecs,
    })
}

fn ipc_summary(path: &Path) -> Result<FileSummary> {
    let reader = ipc_reader(path)?;
    let schema = reader.schema();
    let groups = reader.num_batches();
    // The footer lists the batches but not their lengths: count the rows by
    // reading each batch (one at a time; memory stays one batch).
    let mut rows = 0u64;
    for b in reader {
        let b = b.map_err(|e| {
            ErrorKind::Format {
                reason: format!("reading its batches: {e}"),
            }
            .at(path)
        })?;
        rows += b.num_rows() as u64;
    }
    Ok(FileSummary {
        format: Format::Ipc,
        schema,
        rows,
        groups,
        codecs: Vec::new(),
    })
}

//! Whether a cache is current: the fingerprint of a conversion's source
//! (recorded in the manifest of every table a conversion makes) and the
//! O(1) check of `--if-stale` ([`ConvertOptions::if_stale`]).

use std::path::Path;

use super::format::Format;
use super::options::ConvertOptions;
use super::output::ConvertSummary;
use crate::error::{ErrorKind, Result};
use crate::fsutil::FileExt;
use crate::table::manifest::Manifest;
use crate::table::Source;

/// Footers larger than this are not fingerprinted (the conversion reads
/// them anyway; the table is then rebuilt by every `--if-stale` run).
const MAX_FOOTER: u64 = 256 << 20;

/// The fingerprint of `src`, a Parquet or Arrow IPC file, as it is now:
/// its absolute path, size, modification time and the crc32c of its
/// footer (Parquet: the file metadata and the 8 bytes after it; IPC: the
/// footer, which holds the schema and the batches' places, and the 10
/// bytes after it). `None` when the file cannot be read as either: the
/// conversion then reports why.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # use std::sync::Arc;
/// # use arrow_array::{Int32Array, RecordBatch};
/// # let batch = RecordBatch::try_from_iter([("n", Arc::new(Int32Array::from(vec![1, 2])) as _)])?;
/// # let src = dir.path().join("x.parquet");
/// # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&src).unwrap(), batch.schema(), None).unwrap();
/// # w.write(&batch).unwrap(); w.close().unwrap();
/// use mmarrow::convert::{source_fingerprint, Format};
/// let f = source_fingerprint(&src, Format::Parquet).expect("a Parquet file");
/// assert_eq!(f.size, std::fs::metadata(&src).unwrap().len());
/// assert_eq!(f.format, "parquet");
/// # Ok(()) }
/// ```
pub fn source_fingerprint(src: impl AsRef<Path>, format: Format) -> Option<Source> {
    let src = src.as_ref();
    let (name, tail, magic): (&str, u64, &[u8]) = match format {
        Format::Parquet => ("parquet", 8, b"PAR1"),
        Format::Ipc => ("ipc", 10, b"ARROW1"),
        Format::Array | Format::Table => return None,
    };
    let path = src.canonicalize().ok()?;
    // Without blocking on a FIFO, and only a regular file.
    let f = crate::fsutil::open_regular(&path, false).ok()?;
    let m = f.metadata().ok()?;
    let size = m.len();
    let modified = m.modified().ok()?;
    let modified_ns = match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok()?,
        Err(e) => -i64::try_from(e.duration().as_nanos()).ok()?,
    };
    if size < tail {
        return None;
    }
    let mut end = vec![0u8; tail as usize];
    f.read_exact_at(&mut end, size - tail).ok()?;
    if &end[end.len() - magic.len()..] != magic {
        return None;
    }
    let len = u64::from(u32::from_le_bytes(end[..4].try_into().ok()?));
    if len > MAX_FOOTER || len + tail > size {
        return None;
    }
    let mut footer = vec![0u8; (len + tail) as usize];
    f.read_exact_at(&mut footer, size - tail - len).ok()?;
    Some(Source {
        path: path.to_string_lossy().into_owned(),
        format: name.into(),
        size,
        modified_ns,
        footer_length: len + tail,
        footer_crc32c: crc32c::crc32c(&footer),
    })
}

/// What `--if-stale` decided.
pub(crate) enum Freshness {
    /// `dst` was built from `src` as it is now: nothing to do.
    UpToDate(ConvertSummary),
    /// Build `dst`, recording `source`; `overwrite` says whether an
    /// existing table may be replaced.
    Build {
        source: Option<Source>,
        overwrite: bool,
    },
}

/// Decides whether the table `dst` must be (re)built from `src`, of
/// format `format`, under `o`.
///
/// # Errors
/// [`ErrorKind::InvalidRequest`] when `--if-stale` is asked for a
/// destination that is not a table.
pub(crate) fn check(
    src: &Path,
    dst: &Path,
    format: Format,
    to_table: bool,
    o: &ConvertOptions,
) -> Result<Freshness> {
    if o.if_stale && !to_table {
        return Err(ErrorKind::InvalidRequest {
            reason: "--if-stale needs a table destination (its manifest records the source it was built from); an array file has no place for it".into(),
        }
        .at(dst));
    }
    if o.string_view && !to_table {
        return Err(ErrorKind::InvalidRequest {
            reason: "--string-view is for table destinations (it sets how a table stores its string columns); this destination is not a table".into(),
        }
        .at(dst));
    }
    let source = if to_table {
        source_fingerprint(src, format)
    } else {
        None
    };
    if !o.if_stale {
        return Ok(Freshness::Build {
            source,
            overwrite: o.overwrite,
        });
    }
    if let (Some(now), Ok(m)) = (&source, Manifest::read(dst)) {
        // A table that still holds strings `string_view` would store as
        // views was built under other options: rebuilt.
        let views_missing = o.string_view
            && m.columns
                .iter()
                .any(|c| o.stored_type(c.field.data_type()) != *c.field.data_type());
        if m.source.as_ref() == Some(now) && !views_missing {
            return Ok(Freshness::UpToDate(ConvertSummary {
                rows: m.rows,
                data_bytes: 0,
                output_bytes: 0,
                groups: 0,
                fast_path: false,
                up_to_date: true,
            }));
        }
    }
    // Stale or missing: rebuilt, replacing a table (only a real mmarrow
    // table: anything else at `dst` is refused as without the option).
    Ok(Freshness::Build {
        source,
        overwrite: true,
    })
}

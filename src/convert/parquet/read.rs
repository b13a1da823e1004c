//! Parquet → array file: row groups decoded on all threads, each written
//! straight to its place in the output (reserved through the array writer)
//! by [`pipeline::unordered`], or, for lists whose length is learnt from
//! the data, decoded in parallel and appended in order by
//! [`pipeline::ordered`].

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow_array::ArrayRef;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use super::read_pages::{read_pages, Chunk};
use super::to_table::ColumnPages;
use crate::convert::options::ConvertOptions;
use crate::convert::output::{ConvertSummary, Flusher, Output, Writes};
use crate::convert::pipeline;
use crate::convert::sink::{fixed_lists, nulls_error, ArraySink};
use crate::convert::spec::{array_spec, open_parquet_for_reading, pick_column, ArraySpec};
use crate::error::{name_panic, Error, ErrorKind, Result};
use crate::write::ArrayWriter;

/// Converts one column of the Parquet file `src` to the array file `dst`
/// (raw + sidecar, or `.npy` by extension).
///
/// The column is the file's only one, or the one named by
/// [`ConvertOptions::column`]. Numeric, timestamp, duration, fixed-size
/// binary, `FixedSizeList` and `arrow.fixed_shape_tensor` columns (and lists
/// whose rows all have one length) convert; columns with nulls or other types
/// give a clear error. Row groups are decoded on all threads — v1 PLAIN and
/// dictionary-encoded pages without nulls by copying (or gathering) their
/// values straight out of the decompressed page, anything else by the
/// parquet crate's Arrow reader — and each is
/// written at its place in the output, which is created under a temporary
/// name by [`ArrayWriter`] and renamed at the end. Memory is a few pages per
/// thread for the page-level path, a row group per thread otherwise.
///
/// # Errors
/// [`ErrorKind::Format`] for a corrupt or truncated file or an unsupported
/// column, [`ErrorKind::HasNulls`], [`ErrorKind::AlreadyExists`], I/O errors.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("v.f8");
/// # std::fs::write(&src, (0..10).flat_map(|v| (v as f64).to_le_bytes()).collect::<Vec<u8>>()).unwrap();
/// # let a = mmarrow::OpenOptions::new().try_with_dtype("f8")?.open(&src)?;
/// # mmarrow::convert::to_parquet(&a, dir.path().join("v.parquet"), &Default::default())?;
/// use mmarrow::convert::from_parquet;
/// let back = dir.path().join("back.npy");
/// from_parquet(dir.path().join("v.parquet"), &back, &Default::default())?;
/// assert_eq!(mmarrow::open(&back)?.shape(), &[10]);
/// # Ok(()) }
/// ```
pub fn from_parquet(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    o: &ConvertOptions,
) -> Result<ConvertSummary> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    name_panic(src, "reading Parquet", || from_parquet_at(src, dst, o))
}

fn from_parquet_at(src: &Path, dst: &Path, o: &ConvertOptions) -> Result<ConvertSummary> {
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    let (_, meta) = open_parquet_for_reading(src, o)?;
    let schema = meta.schema().clone();
    let col = pick_column(&schema, o, &bad)?;
    let field = schema.field(col).clone();
    let spec = array_spec(&field).map_err(|r| bad(format!("column {:?} {r}", field.name())))?;
    let pq_meta = meta.metadata().clone();
    let groups = pq_meta.num_row_groups();
    let total_rows: u64 = pq_meta
        .row_groups()
        .iter()
        .fold(0u64, |n, g| n.saturating_add(g.num_rows().max(0) as u64));
    let leaves = leaves_of(&pq_meta, col, &schema);
    let known_shape = !spec.row_shape.contains(&0);
    Output::file(dst, Writes::Array, src, o)?.write(|out| {
        o.start(total_rows, total_rows.saturating_mul(spec.row_bytes_hint()));
        let read = Read {
            src,
            meta: &meta,
            col,
            o,
        };
        let mut sink = ArraySink::new(src, field.clone(), spec.clone(), out, dst);
        // A known row shape: every row group goes straight to its place.
        if let ([leaf], true) = (&leaves[..], known_shape) {
            let all_fast = read.positioned(*leaf, &spec, &mut sink)?;
            return sink.finish(out, groups, all_fast && groups > 0);
        }
        read.in_order(&mut sink, out)?;
        sink.finish(out, groups, false)
    })
}

/// What every row group read shares.
struct Read<'a> {
    src: &'a Path,
    meta: &'a ArrowReaderMetadata,
    /// The Arrow column read.
    col: usize,
    o: &'a ConvertOptions,
}

impl Read<'_> {
    /// Decodes the row groups in parallel with the generic reader and
    /// appends them in order (lists whose length is learnt from the data).
    fn in_order(&self, sink: &mut ArraySink<'_>, out: &Output) -> Result<()> {
        let groups = self.meta.metadata().num_row_groups();
        let threads = self.o.thread_count();
        let decode = |k: usize| -> Result<Vec<ArrayRef>> {
            // Each decoder needs its own file description: a cloned handle
            // shares the read position between threads.
            let f = File::open(self.src).map_err(|e| Error::io(self.src, "open", e))?;
            self.decode_group(&f, k, 1 << 20)?
                .collect::<Result<Vec<_>>>()
        };
        let mut flusher: Option<Flusher> = None;
        pipeline::ordered(threads, groups, decode, |k, arrays| {
            for a in arrays {
                sink.append(&a, self.o)?;
            }
            // Start writeback as the output grows, once per `threads`
            // row groups, while the next ones are decoded.
            if (k + 1) % threads.max(1) == 0 || k + 1 == groups {
                if flusher.is_none() {
                    flusher = File::open(out.path())
                        .ok()
                        .map(|f| Flusher::start(&f, self.o.durable));
                }
                if let Some(f) = &flusher {
                    f.nudge();
                }
            }
            Ok(())
        })?;
        if let Some(f) = flusher {
            f.stop();
        }
        Ok(())
    }

    /// Converts row groups on all threads, each written straight to its
    /// place in the output (reserved up front): v1 PLAIN and
    /// dictionary-encoded pages by the page-level reader, other row groups
    /// through the generic reader. Returns whether every row group took the
    /// page-level path.
    fn positioned(&self, leaf: usize, spec: &ArraySpec, sink: &mut ArraySink<'_>) -> Result<bool> {
        let (src, o) = (self.src, self.o);
        let pq_meta = self.meta.metadata();
        let field = self.meta.schema().field(self.col).clone();
        let groups = pq_meta.num_row_groups();
        let mut starts = Vec::with_capacity(groups + 1);
        starts.push(0u64);
        for g in pq_meta.row_groups() {
            let rows = u64::try_from(g.num_rows()).map_err(|_| {
                ErrorKind::Format {
                    reason: format!("a row group has {} rows", g.num_rows()),
                }
                .at(src)
            })?;
            starts.push(starts.last().copied().unwrap_or(0).saturating_add(rows));
        }
        let writer = sink.writer()?;
        let total = starts[groups];
        if total.checked_mul(writer.row_bytes()).is_none() {
            return Err(ErrorKind::Format {
                reason: format!("its metadata claims {total} rows, more than a file can hold"),
            }
            .at(src));
        }
        writer.reserve(total)?;
        let writer: &ArrayWriter = writer;
        let row_bytes = writer.row_bytes();
        let descr = pq_meta.file_metadata().schema_descr().column(leaf);
        let flusher = File::open(writer.path())
            .ok()
            .map(|f| Flusher::start(&f, o.durable));
        if o.fast_path && self.page_ranges(&starts, spec, writer, &flusher)? {
            if let Some(f) = flusher {
                f.stop();
            }
            return Ok(true);
        }
        let slow = AtomicBool::new(false);
        let group = |file: &mut Arc<File>, k: usize| -> Result<()> {
            let (start, rows) = (starts[k], starts[k + 1] - starts[k]);
            let base = start * row_bytes;
            let limit = rows * row_bytes;
            let mut advanced = 0;
            if o.fast_path {
                let sink = |at: u64, bytes: &[u8]| {
                    if at + bytes.len() as u64 > limit {
                        return Ok(false);
                    }
                    writer.write_at(base + at, bytes)?;
                    let n = bytes.len() as u64;
                    o.advance((at + n) / row_bytes - at / row_bytes, n);
                    advanced = at + n;
                    Ok(true)
                };
                let chunk = Chunk {
                    meta: pq_meta,
                    group: k,
                    leaf,
                    descr: &descr,
                };
                if read_pages(file, src, &chunk, spec, sink)? == Some(limit) {
                    if let Some(f) = &flusher {
                        f.nudge();
                    }
                    return Ok(());
                }
            }
            // The generic reader (re)writes the whole group.
            slow.store(true, Ordering::Relaxed);
            let mut at = 0u64;
            let mut shape = spec.row_shape.clone();
            for a in self.decode_group(file, k, batch_rows(spec))? {
                let a = fixed_lists(&a?, &mut shape).map_err(|r| {
                    ErrorKind::Format {
                        reason: format!("column {:?} {r}", field.name()),
                    }
                    .at(src)
                })?;
                let data = a.to_data();
                let bytes = writer
                    .array_bytes(&data)
                    .map_err(|e| nulls_error(e, &field, src))?;
                let bytes = bytes.as_slice();
                if at + bytes.len() as u64 > limit {
                    at = u64::MAX;
                    break;
                }
                writer.write_at(base + at, bytes)?;
                at += bytes.len() as u64;
            }
            if at != limit {
                return Err(ErrorKind::Format {
                    reason: format!(
                        "row group {k} does not hold the {rows} rows its metadata says"
                    ),
                }
                .at(src));
            }
            if limit > advanced {
                o.advance(rows - advanced / row_bytes, limit - advanced);
            }
            if let Some(f) = &flusher {
                f.nudge();
            }
            Ok(())
        };
        // Each worker needs its own file description: a cloned handle
        // shares the read position between threads.
        let open = || {
            File::open(src)
                .map(Arc::new)
                .map_err(|e| Error::io(src, "open", e))
        };
        let result = pipeline::unordered(o.thread_count(), groups, open, group);
        if let Some(f) = flusher {
            f.stop();
        }
        result?;
        Ok(!slow.load(Ordering::Relaxed))
    }

    /// Converts the column range of pages by range of pages, on all
    /// threads — inside row groups too, so that one huge row group (a
    /// million embeddings) keeps every thread busy — each range written at
    /// its place. False (nothing or part written: the caller writes every
    /// row group again) when a column chunk is not for the page-level
    /// decoder.
    fn page_ranges(
        &self,
        starts: &[u64],
        spec: &ArraySpec,
        writer: &ArrayWriter,
        flusher: &Option<Flusher>,
    ) -> Result<bool> {
        let (src, o) = (self.src, self.o);
        let file = File::open(src).map_err(|e| Error::io(src, "open", e))?;
        let Some(pages) = ColumnPages::plan(src, &file, self.meta, starts, o, self.col) else {
            return Ok(false);
        };
        let field = self.meta.schema().field(self.col).clone();
        let row_bytes = writer.row_bytes();
        let gave_up = AtomicBool::new(false);
        let since_nudge = std::sync::atomic::AtomicU64::new(0);
        let unit = |w: &mut _, k: usize| -> Result<()> {
            if gave_up.load(Ordering::Relaxed) {
                return Ok(());
            }
            let (first, rows) = pages.rows(k);
            let Some(data) = pages.decode(w, k)? else {
                gave_up.store(true, Ordering::Relaxed);
                return Ok(());
            };
            let mut shape = spec.row_shape.clone();
            let a = fixed_lists(&arrow_array::make_array(data), &mut shape).map_err(|r| {
                ErrorKind::Format {
                    reason: format!("column {:?} {r}", field.name()),
                }
                .at(src)
            })?;
            let data = a.to_data();
            let bytes = writer
                .array_bytes(&data)
                .map_err(|e| nulls_error(e, &field, src))?;
            let bytes = bytes.as_slice();
            if bytes.len() as u64 != rows * row_bytes {
                return Err(ErrorKind::Format {
                    reason: format!(
                        "column {:?}: rows {first}.. hold {} bytes, not {rows} rows of {row_bytes}",
                        field.name(),
                        bytes.len()
                    ),
                }
                .at(src));
            }
            writer.write_at(first * row_bytes, bytes)?;
            o.advance(rows, bytes.len() as u64);
            let n = since_nudge.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if n >= 64 << 20 {
                since_nudge.store(0, Ordering::Relaxed);
                if let Some(f) = flusher {
                    f.nudge();
                }
            }
            Ok(())
        };
        pipeline::unordered(
            o.thread_count(),
            pages.len(),
            || Ok(ColumnPages::worker()),
            unit,
        )?;
        Ok(!gave_up.load(Ordering::Relaxed))
    }

    /// Decodes column `self.col` of row group `k` with the parquet crate's
    /// Arrow reader, `batch_rows` rows at a time.
    fn decode_group(
        &self,
        file: &File,
        k: usize,
        batch_rows: usize,
    ) -> Result<impl Iterator<Item = Result<ArrayRef>> + '_> {
        let src = self.src;
        let bad = move |e: &dyn std::fmt::Display| {
            ErrorKind::Format {
                reason: format!("row group {k}: {e}"),
            }
            .at(src)
        };
        let f = file
            .try_clone()
            .and_then(crate::convert::bounded::BoundedFile::new)
            .map_err(|e| Error::io(src, "open", e))?;
        let pq_meta = self.meta.metadata();
        let rows = pq_meta.row_group(k).num_rows().max(1) as usize;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, self.meta.clone())
            .with_row_groups(vec![k])
            .with_projection(ProjectionMask::roots(
                pq_meta.file_metadata().schema_descr(),
                [self.col],
            ))
            .with_batch_size(rows.min(batch_rows.max(1)))
            .build()
            .map_err(|e| bad(&e))?;
        Ok(reader.map(move |b| b.map(|b| b.column(0).clone()).map_err(|e| bad(&e))))
    }
}

/// Rows per batch of the generic reader: about 8 MiB of values.
fn batch_rows(spec: &ArraySpec) -> usize {
    ((8 << 20) / spec.row_bytes_hint()).clamp(1, 1 << 20) as usize
}

/// The Parquet leaf columns under Arrow column `col`.
fn leaves_of(meta: &ParquetMetaData, col: usize, schema: &arrow_schema::Schema) -> Vec<usize> {
    let descr = meta.file_metadata().schema_descr();
    let name = schema.field(col).name();
    (0..descr.num_columns())
        .filter(|&i| descr.column(i).path().parts().first() == Some(name))
        .collect()
}

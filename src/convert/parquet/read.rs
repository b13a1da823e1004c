//! Parquet → array file: page ranges (or, for chunks the page-level
//! decoder does not read, whole row groups) decoded on all threads, each
//! written straight to its place in the output (reserved through the array
//! writer) by [`pipeline::unordered`], or, for lists whose length is learnt
//! from the data, row groups decoded in parallel and appended in order by
//! [`pipeline::ordered`].

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arrow_array::{make_array, ArrayRef};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use super::to_table::{ColumnPages, ColumnUnit, PageWorker, FLUSH_BYTES};
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
/// give a clear error. The column is decoded on all threads — PLAIN and
/// dictionary-encoded pages (v1 and v2) in ranges of about 1 MiB, inside
/// row groups too, by copying (or gathering) their values straight out of
/// the decompressed pages; other chunks row group by row group through the
/// parquet crate's Arrow reader, 8 MiB at a time — and each part is
/// written at its place in the output, which is created under a temporary
/// name by [`ArrayWriter`] and renamed at the end. Memory is a few MiB per
/// thread.
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
        if let ([_], true) = (&leaves[..], known_shape) {
            let all_fast = read.positioned(&spec, &mut sink)?;
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

    /// Converts the column on all threads, each part written straight to
    /// its place in the output (reserved up front): the column chunks the
    /// page-level decoder reads range of pages by range of pages — inside
    /// row groups too, so that one huge row group (a million embeddings)
    /// keeps every thread busy — the others row group by row group through
    /// the generic reader. Returns whether every row group took the
    /// page-level path.
    fn positioned(&self, spec: &ArraySpec, sink: &mut ArraySink<'_>) -> Result<bool> {
        let (src, o) = (self.src, self.o);
        let pq_meta = self.meta.metadata();
        let starts = super::row_group_starts(pq_meta, src)?;
        let writer = sink.writer()?;
        let total = starts[starts.len() - 1];
        if total.checked_mul(writer.row_bytes()).is_none() {
            return Err(ErrorKind::Format {
                reason: format!("its metadata claims {total} rows, more than a file can hold"),
            }
            .at(src));
        }
        writer.reserve(total)?;
        let writer: &ArrayWriter = writer;
        let row_bytes = writer.row_bytes();
        let file = File::open(src).map_err(|e| Error::io(src, "open", e))?;
        let pages = ColumnPages::plan(src, &file, self.meta, &starts, o, self.col)?;
        let flusher = File::open(writer.path())
            .ok()
            .map(|f| Flusher::start(&f, o.durable));
        let since_nudge = AtomicU64::new(0);
        let written = |n: u64| {
            if since_nudge.fetch_add(n, Ordering::Relaxed) >= FLUSH_BYTES {
                since_nudge.store(0, Ordering::Relaxed);
                if let Some(f) = &flusher {
                    f.nudge();
                }
            }
        };
        let slow = AtomicBool::new(false);
        // A row group left to the generic reader is written once, by the
        // first unit that meets it (page-level units of the same group may
        // have written some of its rows already: the same bytes).
        let generic: Vec<AtomicBool> = (0..starts.len() - 1)
            .map(|_| AtomicBool::new(false))
            .collect();
        let unit = |(w, file): &mut (PageWorker, File), k: usize| -> Result<()> {
            match pages.decode(w, k)? {
                ColumnUnit::Rows { first_row, data } => {
                    let rows = data.len() as u64;
                    let at = first_row * row_bytes;
                    let n =
                        self.write_rows(&make_array(data), spec, writer, at, rows * row_bytes)?;
                    if n != Some(rows * row_bytes) {
                        return Err(ErrorKind::Format {
                            reason: format!(
                                "rows {first_row}.. do not hold the {rows} rows of {row_bytes} bytes their pages say"
                            ),
                        }
                        .at(src));
                    }
                    o.advance(rows, rows * row_bytes);
                    written(rows * row_bytes);
                }
                ColumnUnit::Group(k) => {
                    slow.store(true, Ordering::Relaxed);
                    if !generic[k].swap(true, Ordering::Relaxed) {
                        let (start, rows) = (starts[k], starts[k + 1] - starts[k]);
                        let (base, limit) = (start * row_bytes, rows * row_bytes);
                        let mut at = 0u64;
                        for a in self.decode_group(file, k, batch_rows(spec))? {
                            match self.write_rows(&a?, spec, writer, base + at, limit - at)? {
                                Some(n) => at += n,
                                None => {
                                    at = u64::MAX;
                                    break;
                                }
                            }
                        }
                        if at != limit {
                            return Err(ErrorKind::Format {
                                reason: format!(
                                    "row group {k} does not hold the {rows} rows its metadata says"
                                ),
                            }
                            .at(src));
                        }
                        o.advance(rows, limit);
                        written(limit);
                    }
                }
            }
            Ok(())
        };
        // Each worker needs its own file description for the generic
        // reader: a cloned handle shares the read position between threads.
        let init = || {
            let f = File::open(src).map_err(|e| Error::io(src, "open", e))?;
            Ok((ColumnPages::worker(), f))
        };
        let result = pipeline::unordered(o.thread_count(), pages.len(), init, unit);
        if let Some(f) = flusher {
            f.stop();
        }
        result?;
        Ok(!slow.load(Ordering::Relaxed))
    }

    /// Writes the values of `a` (rows of the column) at byte `at` of the
    /// output; returns the bytes written, or `None` (nothing written) when
    /// they are more than `room`.
    fn write_rows(
        &self,
        a: &ArrayRef,
        spec: &ArraySpec,
        writer: &ArrayWriter,
        at: u64,
        room: u64,
    ) -> Result<Option<u64>> {
        let field = self.meta.schema().field(self.col);
        let mut shape = spec.row_shape.clone();
        let a = fixed_lists(a, &mut shape).map_err(|r| {
            ErrorKind::Format {
                reason: format!("column {:?} {r}", field.name()),
            }
            .at(self.src)
        })?;
        let data = a.to_data();
        let bytes = writer
            .array_bytes(&data)
            .map_err(|e| nulls_error(e, field, self.src))?;
        let bytes = bytes.as_slice();
        let n = bytes.len() as u64;
        if n > room {
            return Ok(None);
        }
        writer.write_at(at, bytes)?;
        Ok(Some(n))
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

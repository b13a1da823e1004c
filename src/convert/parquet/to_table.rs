//! Parquet → table directory (the cache build), column chunk by column
//! chunk and page range by page range, in bounded memory.
//!
//! The work is cut into units, in table order (row group, then column,
//! then rows): a range of pages of one column chunk — a few MiB — that a
//! worker decodes on its own, from one `pread` of its bytes, into the
//! column's Arrow arrays and their chunk statistics; or, for a column the
//! page-level decoder does not handle, the whole column chunk, streamed
//! through the parquet crate's reader in batches of a few MiB. Units are
//! handed in order to the table writer ([`pipeline::ordered`]), which
//! appends each to its column ([`TableWriter::append_column`]): so one
//! huge row group — a million embeddings in one column chunk — still keeps
//! every thread busy, and memory is a few units per thread, whatever the
//! row-group size.
//!
//! The page-level decoder reads fixed-width columns (ints, floats, dates,
//! times, timestamps, durations, fixed-size binary, half floats) and
//! booleans (PLAIN, or RLE as v2 writers make them) with or without
//! nulls, strings and binary, PLAIN or
//! dictionary-encoded, from v1 and v2 pages, and fixed-size lists of
//! fixed-width values without nulls; only where the Parquet type stores
//! the Arrow type's values as they are (no cast). Anything else it meets
//! while decoding (a row cut across pages, nulls in a fixed-size list)
//! restarts the conversion on the generic reader, which gives the same
//! table.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::{make_array, Array};
use arrow_buffer::{
    bit_iterator::BitIndexIterator, BooleanBufferBuilder, MutableBuffer, NullBuffer,
};
use arrow_data::ArrayData;
use arrow_schema::{DataType, FieldRef, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::basic::{Compression, LogicalType, Type as PhysicalType};
use parquet::compression::{create_codec, Codec, CodecOptions};
use parquet::schema::types::ColumnDescriptor;

use super::chunk::{encoding, walk, PageInfo, PageKind};
use super::page::{bit_width, check_all, check_rep, decode_indices, def_bits, split_levels};
use crate::convert::options::{to_stored, ConvertOptions};
use crate::convert::output::{finish_table, table_writer, ConvertSummary, Flusher, Output};
use crate::convert::pipeline;
use crate::convert::spec::open_parquet_for_reading;
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::FileExt;
use crate::table::{column_parts, ColumnPart, Source, TableWriter};

/// Uncompressed bytes of pages per unit (at least one page).
const UNIT_BYTES: usize = 4 << 20;

/// The same for an array output, whose units are written straight to
/// their place (no ordered writer to feed): smaller, so that memory stays
/// a few MiB per thread.
const ARRAY_UNIT_BYTES: usize = 1 << 20;

/// Pages larger than this, decompressed, are left to the generic reader.
const MAX_PAGE_BYTES: usize = 64 << 20;

/// Writeback of the table's files is started every this many bytes.
pub(super) const FLUSH_BYTES: u64 = 64 << 20;

/// The bytes of a unit's buffers (its own, its children's).
fn data_bytes(d: &ArrayData) -> u64 {
    d.buffers().iter().map(|b| b.len() as u64).sum::<u64>()
        + d.child_data().iter().map(data_bytes).sum::<u64>()
}

/// Bytes of Arrow data per batch of the generic reader.
const GENERIC_BATCH_BYTES: u64 = 4 << 20;

/// How the page-level decoder reads a column's leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    /// Fixed-width values of `width` bytes, one per row; nulls from
    /// definition levels 0/1.
    Fixed { width: usize },
    /// Booleans (PLAIN: bit-packed), one per row, nulls as for `Fixed`.
    Bool,
    /// Length-prefixed byte strings (`utf8`: validated as UTF-8).
    Bytes,
    /// `per_row` fixed-width values per row (a fixed-size list, perhaps
    /// a tensor), every row and value present.
    List { width: usize, per_row: u64 },
}

/// One column chunk the page-level decoder reads.
struct ChunkPlan {
    group: usize,
    column: usize,
    leaf: Leaf,
    max_def: i16,
    max_rep: i16,
    compression: Compression,
    dictionary: Option<PageInfo>,
    pages: Vec<PageInfo>,
}

/// One unit of work, in table order.
enum Unit {
    /// Pages `pages` of chunk `chunk`: rows `first_row..first_row + rows`
    /// of the table.
    Pages {
        chunk: usize,
        pages: Range<usize>,
        first_row: u64,
        rows: u64,
        /// Uncompressed bytes of its pages, for progress.
        bytes: u64,
    },
    /// Column `column` of row group `group`, by the generic reader.
    Generic {
        group: usize,
        column: usize,
        rows: u64,
        bytes: u64,
    },
}

impl Unit {
    fn bytes(&self) -> u64 {
        match self {
            Unit::Pages { bytes, .. } | Unit::Generic { bytes, .. } => *bytes,
        }
    }
}

/// What decoding a unit gives the writer.
enum Decoded {
    Array(ArrayData, Vec<ColumnPart>),
    /// The generic reader's unit: decoded during its turn, batch by batch.
    Generic,
    /// The page-level decoder met what it does not handle: start over on
    /// the generic reader.
    Unsupported(String),
}

/// A failure of a page-level unit.
enum Fail {
    Unsupported(String),
    Bad(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Bad(s)
    }
}

/// The conversion: `source` is recorded in the manifest.
pub(in crate::convert) fn parquet_to_table(
    src: &Path,
    dst: &Path,
    o: &ConvertOptions,
    source: Option<Source>,
) -> Result<ConvertSummary> {
    let (file, meta) = open_parquet_for_reading(src, o)?;
    let file_len = file
        .metadata()
        .map_err(|e| Error::io(src, "stat", e))?
        .len();
    let groups = meta.metadata().num_row_groups();
    let starts = super::row_group_starts(meta.metadata(), src)?;
    let run = Run {
        src,
        file: &file,
        meta: &meta,
        starts: &starts,
        o,
    };
    let (chunks, units) = if o.fast_path {
        run.plan_columns(file_len, None)
    } else {
        (Vec::new(), run.generic_units(None))
    };
    let start = |units: &[Unit]| {
        let bytes = units.iter().map(Unit::bytes).sum::<u64>();
        o.start(starts[groups], bytes.max(1));
    };
    Output::table(dst, src, o)?.write(|out| {
        start(&units);
        let stored = o.stored_schema(meta.schema());
        let mut w = table_writer(out.path(), stored.clone())?;
        let fell_back = AtomicBool::new(false);
        match run.write(&mut w, &chunks, &units, &fell_back) {
            Ok(()) => {}
            Err(_) if fell_back.load(Ordering::Relaxed) => {
                // Start over on the generic reader, in a new table.
                drop(w);
                w = table_writer(out.path(), stored.clone())?;
                let units = run.generic_units(None);
                start(&units);
                run.write(&mut w, &[], &units, &fell_back)?;
            }
            Err(e) => return Err(e),
        }
        if let Some(s) = source {
            w.set_source(s);
        }
        let mut summary = finish_table(w, out, groups)?;
        summary.fast_path = !units.is_empty()
            && units.iter().all(|u| matches!(u, Unit::Pages { .. }))
            && !fell_back.load(Ordering::Relaxed);
        Ok(summary)
    })
}

/// The reading of one Arrow column alone (`from-parquet` to an array
/// file): the column chunks the page-level decoder reads cut into page
/// ranges that threads decode independently, each to its place in the
/// output; the others left whole to the caller's generic reader.
pub(super) struct ColumnPages<'a> {
    run: Run<'a>,
    chunks: Vec<ChunkPlan>,
    units: Vec<Unit>,
}

/// A worker's state for [`ColumnPages::decode`].
pub(super) struct PageWorker(Worker);

/// What a unit of [`ColumnPages`] gives.
pub(super) enum ColumnUnit {
    /// Rows `first_row..first_row + len` of the column.
    Rows { first_row: u64, data: ArrayData },
    /// Row group `group`, for the generic reader: its chunk is not for the
    /// page-level decoder (or, met while decoding, does not suit it).
    Group(usize),
}

impl<'a> ColumnPages<'a> {
    /// The plan for Arrow column `column` of `meta` (`starts`: the first
    /// row of each row group, and the total); without
    /// [`ConvertOptions::fast_path`], every row group is left to the
    /// generic reader.
    pub fn plan(
        src: &'a Path,
        file: &'a File,
        meta: &'a ArrowReaderMetadata,
        starts: &'a [u64],
        o: &'a ConvertOptions,
        column: usize,
    ) -> Result<ColumnPages<'a>> {
        let file_len = file
            .metadata()
            .map_err(|e| Error::io(src, "stat", e))?
            .len();
        let run = Run {
            src,
            file,
            meta,
            starts,
            o,
        };
        let (chunks, units) = if o.fast_path {
            run.plan_columns(file_len, Some(column))
        } else {
            (Vec::new(), run.generic_units(Some(column)))
        };
        Ok(ColumnPages { run, chunks, units })
    }

    /// Units to decode.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn worker() -> PageWorker {
        PageWorker(Worker::default())
    }

    /// Decodes unit `k`.
    pub fn decode(&self, w: &mut PageWorker, k: usize) -> Result<ColumnUnit> {
        match &self.units[k] {
            Unit::Generic { group, .. } => Ok(ColumnUnit::Group(*group)),
            Unit::Pages {
                chunk,
                pages,
                rows,
                first_row,
                ..
            } => {
                let plan = &self.chunks[*chunk];
                match self
                    .run
                    .decode_pages(&mut w.0, plan, *chunk, pages.clone(), *rows)
                {
                    Ok(data) => Ok(ColumnUnit::Rows {
                        first_row: *first_row,
                        data,
                    }),
                    Err(Fail::Unsupported(_)) => Ok(ColumnUnit::Group(plan.group)),
                    Err(Fail::Bad(r)) => Err(self.run.bad(plan.group, plan.column, r)),
                }
            }
        }
    }
}

/// What every unit shares.
struct Run<'a> {
    src: &'a Path,
    file: &'a File,
    meta: &'a ArrowReaderMetadata,
    /// The first row of each row group, and the total.
    starts: &'a [u64],
    o: &'a ConvertOptions,
}

/// A worker's buffers and decompressors.
#[derive(Default)]
struct Worker {
    raw: Vec<u8>,
    scratch: Vec<u8>,
    dense: Vec<u8>,
    indices: Vec<u32>,
    codecs: Vec<(Compression, Option<Box<dyn Codec>>)>,
    /// The decoded dictionary of the last chunk that needed one.
    dictionary: Option<(usize, Dictionary)>,
}

/// A chunk's dictionary, decoded.
enum Dictionary {
    Fixed(Vec<u8>),
    Bytes { offsets: Vec<usize>, data: Vec<u8> },
}

impl Run<'_> {
    fn bad(&self, group: usize, column: usize, reason: impl std::fmt::Display) -> Error {
        let name = self.meta.schema().field(column).name().clone();
        ErrorKind::Format {
            reason: format!("column {name:?}, row group {group}: {reason}"),
        }
        .at(self.src)
    }

    /// The uncompressed bytes of column `column` in row group `group`.
    fn chunk_bytes(&self, group: usize, column: usize) -> u64 {
        let pq = self.meta.metadata();
        let descr = pq.file_metadata().schema_descr();
        (0..descr.num_columns())
            .filter(|&i| descr.get_column_root_idx(i) == column)
            .map(|i| pq.row_group(group).column(i).uncompressed_size().max(0) as u64)
            .sum()
    }

    /// Every column chunk (of column `only`, or all) as a generic unit.
    fn generic_units(&self, only: Option<usize>) -> Vec<Unit> {
        let columns = self.meta.schema().fields().len();
        let mut units = Vec::new();
        for g in 0..self.starts.len() - 1 {
            for c in (0..columns).filter(|&c| only.is_none_or(|o| o == c)) {
                units.push(Unit::Generic {
                    group: g,
                    column: c,
                    rows: self.starts[g + 1] - self.starts[g],
                    bytes: self.chunk_bytes(g, c),
                });
            }
        }
        units
    }

    /// Walks the pages of every column chunk (of column `only`, or all)
    /// and cuts them into units.
    fn plan_columns(&self, file_len: u64, only: Option<usize>) -> (Vec<ChunkPlan>, Vec<Unit>) {
        let pq = self.meta.metadata();
        let descr = pq.file_metadata().schema_descr();
        let fields = self.meta.schema().fields();
        // The Parquet leaves of each Arrow column.
        let mut leaves: Vec<Vec<usize>> = vec![Vec::new(); fields.len()];
        for i in 0..descr.num_columns() {
            if let Some(l) = leaves.get_mut(descr.get_column_root_idx(i)) {
                l.push(i);
            }
        }
        let mut chunks = Vec::new();
        let mut units = Vec::new();
        for g in 0..pq.num_row_groups() {
            let group_rows = self.starts[g + 1] - self.starts[g];
            for (c, field) in fields.iter().enumerate() {
                if only.is_some_and(|o| o != c) {
                    continue;
                }
                let planned = match leaves[c][..] {
                    [leaf] => leaf_of(field, &descr.column(leaf)).and_then(|kind| {
                        let cc = pq.row_group(g).column(leaf);
                        let pages = walk(self.file, file_len, cc).ok()?;
                        let d = descr.column(leaf);
                        chunk_plan(g, c, kind, &d, cc.compression(), pages, group_rows)
                    }),
                    _ => None,
                };
                match planned {
                    Some(chunk) => {
                        let unit = if only.is_some() {
                            ARRAY_UNIT_BYTES
                        } else {
                            UNIT_BYTES
                        };
                        cut(&chunk, chunks.len(), self.starts[g], unit, &mut units);
                        chunks.push(chunk);
                    }
                    None => units.push(Unit::Generic {
                        group: g,
                        column: c,
                        rows: group_rows,
                        bytes: self.chunk_bytes(g, c),
                    }),
                }
            }
        }
        (chunks, units)
    }

    /// Decodes the units on all threads and appends them in order.
    fn write(
        &self,
        w: &mut TableWriter,
        chunks: &[ChunkPlan],
        units: &[Unit],
        fell_back: &AtomicBool,
    ) -> Result<()> {
        let columns = self.meta.schema().fields().len();
        let mut done = vec![0u64; columns];
        let mut reported = 0u64;
        let chunk_rows = w.chunk_rows();
        // The types the columns are stored as (strings as views, perhaps).
        let w_types = w.schema().fields().clone();
        // Writeback starts as the table grows, so that the final fsync
        // has little left to do.
        let flusher = Flusher::start_dir(w.dir(), self.o.durable);
        let mut unflushed = 0u64;
        let decode = |st: &mut Worker, k: usize| -> Result<Decoded> {
            match &units[k] {
                Unit::Generic { .. } => Ok(Decoded::Generic),
                Unit::Pages {
                    chunk,
                    pages,
                    first_row,
                    rows,
                    ..
                } => {
                    let plan = &chunks[*chunk];
                    match self.decode_pages(st, plan, *chunk, pages.clone(), *rows) {
                        Ok(data) => {
                            let data = to_stored(data, w_types[plan.column].data_type())
                                .map_err(|r| self.bad(plan.group, plan.column, r))?;
                            let array = make_array(data.clone());
                            let parts = column_parts(array.as_ref(), *first_row, chunk_rows);
                            Ok(Decoded::Array(data, parts))
                        }
                        Err(Fail::Unsupported(r)) => Ok(Decoded::Unsupported(r)),
                        Err(Fail::Bad(r)) => Err(self.bad(plan.group, plan.column, r)),
                    }
                }
            }
        };
        let consume = |k: usize, d: Decoded| -> Result<()> {
            let (column, rows) = match (&units[k], d) {
                (Unit::Pages { chunk, rows, .. }, Decoded::Array(data, parts)) => {
                    let c = chunks[*chunk].column;
                    unflushed += data_bytes(&data);
                    w.append_column(c, &data, parts)?;
                    (c, *rows)
                }
                (
                    &Unit::Generic {
                        group,
                        column,
                        rows,
                        ..
                    },
                    _,
                ) => {
                    self.stream_generic(w, group, column, rows, chunk_rows)?;
                    (column, rows)
                }
                (_, Decoded::Unsupported(reason)) => {
                    fell_back.store(true, Ordering::Relaxed);
                    return Err(ErrorKind::Internal {
                        reason: format!("the page-level reader gives way: {reason}"),
                    }
                    .at(self.src));
                }
                (_, _) => unreachable!("a page unit decodes to an array"),
            };
            if unflushed >= FLUSH_BYTES || matches!(units[k], Unit::Generic { .. }) {
                flusher.nudge();
                unflushed = 0;
            }
            done[column] += rows;
            let all = done.iter().copied().min().unwrap_or(0);
            self.o.advance(all - reported, units[k].bytes());
            reported = all;
            Ok(())
        };
        let r = pipeline::ordered_with(
            self.o.thread_count(),
            units.len(),
            || Ok(Worker::default()),
            decode,
            consume,
            |_, _, ()| Ok(()),
        );
        flusher.stop();
        r
    }

    /// Streams column `column` of row group `group` through the parquet
    /// crate's reader into the table, a few MiB at a time.
    fn stream_generic(
        &self,
        w: &mut TableWriter,
        group: usize,
        column: usize,
        rows: u64,
        chunk_rows: u64,
    ) -> Result<()> {
        let pq = self.meta.metadata();
        // The crate's reader seeks a clone, which shares the file position:
        // safe, as this runs in the writer's turn (one at a time) and the
        // page-level units only `pread`.
        let f = self
            .file
            .try_clone()
            .and_then(crate::convert::bounded::BoundedFile::new)
            .map_err(|e| Error::io(self.src, "open", e))?;
        let descr = pq.file_metadata().schema_descr();
        let row_bytes = (self.chunk_bytes(group, column) / rows.max(1)).max(1);
        let batch = (GENERIC_BATCH_BYTES / row_bytes).clamp(1, 1 << 20) as usize;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, self.meta.clone())
            .with_row_groups(vec![group])
            .with_projection(ProjectionMask::roots(descr, [column]))
            .with_batch_size(batch)
            .build()
            .map_err(|e| self.bad(group, column, e))?;
        let mut got = 0u64;
        let t = w.schema().field(column).data_type().clone();
        for b in reader {
            let b = b.map_err(|e| self.bad(group, column, e))?;
            let a = make_array(
                to_stored(b.column(0).to_data(), &t).map_err(|r| self.bad(group, column, r))?,
            );
            let parts = column_parts(a.as_ref(), w.next_row_of_column(column), chunk_rows);
            w.append_column(column, &a.to_data(), parts)?;
            got += a.len() as u64;
        }
        if got != rows {
            return Err(self.bad(
                group,
                column,
                format!("the row group declares {rows} rows but the column holds {got}"),
            ));
        }
        Ok(())
    }

    /// Decodes pages `pages` of chunk `plan` (number `index`): `rows` rows.
    fn decode_pages(
        &self,
        st: &mut Worker,
        plan: &ChunkPlan,
        index: usize,
        pages: Range<usize>,
        rows: u64,
    ) -> std::result::Result<ArrayData, Fail> {
        let field = self.meta.schema().field(plan.column).clone();
        let list = &plan.pages[pages];
        let needs_dictionary = list.iter().any(|p| {
            matches!(
                p.encoding,
                encoding::RLE_DICTIONARY | encoding::PLAIN_DICTIONARY
            )
        });
        if needs_dictionary && st.dictionary.as_ref().map(|d| d.0) != Some(index) {
            let Some(dp) = plan.dictionary else {
                return Err(Fail::Bad(
                    "a dictionary-encoded page but no dictionary page".into(),
                ));
            };
            st.dictionary = None;
            let d = self.read_dictionary(st, plan, &dp)?;
            st.dictionary = Some((index, d));
        }
        // One read for the unit's pages.
        let (from, to) = (list[0].start, list[list.len() - 1].end());
        st.raw.resize((to - from) as usize, 0);
        self.file
            .read_exact_at(&mut st.raw, from)
            .map_err(|e| format!("reading bytes {from}..{to}: {e}"))?;
        let mut out = Out::new(plan.leaf, rows, field.is_nullable() && plan.max_rep == 0);
        let mut pos = 0u64;
        let Worker {
            raw,
            scratch,
            dense,
            indices,
            codecs,
            dictionary,
        } = st;
        let codec = codec_for(codecs, plan.compression)?;
        for p in list {
            let body = &raw[(p.body - from) as usize..(p.end() - from) as usize];
            let body = decompress(body, p, codec, scratch)?;
            let dict = dictionary.as_ref().map(|d| &d.1);
            decode_page(plan, p, body, dict, &mut out, &mut pos, dense, indices)?;
        }
        if out.rows != rows {
            return Err(Fail::Bad(format!(
                "pages hold {} rows where their headers say {rows}",
                out.rows
            )));
        }
        out.finish(field.data_type())
            .map_err(|e| Fail::Bad(format!("decoded values are invalid: {e}")))
    }

    fn read_dictionary(
        &self,
        st: &mut Worker,
        plan: &ChunkPlan,
        p: &PageInfo,
    ) -> std::result::Result<Dictionary, Fail> {
        if !matches!(p.encoding, encoding::PLAIN | encoding::PLAIN_DICTIONARY) {
            return Err(Fail::Unsupported(format!(
                "a dictionary page of encoding {}",
                p.encoding
            )));
        }
        let mut raw = vec![0u8; p.compressed];
        self.file
            .read_exact_at(&mut raw, p.body)
            .map_err(|e| format!("reading the dictionary page at byte {}: {e}", p.start))?;
        let codec = codec_for(&mut st.codecs, plan.compression)?;
        let body = decompress(&raw, p, codec, &mut st.scratch)?;
        let n = p.values as usize;
        match plan.leaf {
            Leaf::Fixed { width } | Leaf::List { width, .. } => {
                let need = n
                    .checked_mul(width)
                    .filter(|&b| b <= body.len())
                    .ok_or_else(|| {
                        format!(
                            "the dictionary page holds {} bytes for {n} values",
                            body.len()
                        )
                    })?;
                Ok(Dictionary::Fixed(body[..need].to_vec()))
            }
            Leaf::Bytes => {
                let mut offsets = Vec::with_capacity(n + 1);
                let mut data = Vec::new();
                offsets.push(0);
                let mut at = 0usize;
                for _ in 0..n {
                    let v = plain_bytes(body, &mut at).ok_or_else(|| {
                        Fail::Bad("the dictionary page ends inside a value".into())
                    })?;
                    data.extend_from_slice(v);
                    offsets.push(data.len());
                }
                Ok(Dictionary::Bytes { offsets, data })
            }
            Leaf::Bool => Err(Fail::Bad("a dictionary page for booleans".into())),
        }
    }
}

/// The decompressor for `c` (`None`: uncompressed), made once per worker.
fn codec_for(
    codecs: &mut Vec<(Compression, Option<Box<dyn Codec>>)>,
    c: Compression,
) -> std::result::Result<&mut Option<Box<dyn Codec>>, Fail> {
    let i = match codecs.iter().position(|(k, _)| *k == c) {
        Some(i) => i,
        None => {
            let codec = create_codec(c, &CodecOptions::default())
                .map_err(|e| Fail::Unsupported(format!("codec {c}: {e}")))?;
            codecs.push((c, codec));
            codecs.len() - 1
        }
    };
    Ok(&mut codecs[i].1)
}

/// The page's body decompressed (v2: its levels are not compressed).
fn decompress<'a>(
    body: &'a [u8],
    p: &PageInfo,
    codec: &mut Option<Box<dyn Codec>>,
    scratch: &'a mut Vec<u8>,
) -> std::result::Result<&'a [u8], Fail> {
    let levels = if p.kind == PageKind::DataV2 {
        p.rep_len + p.def_len
    } else {
        0
    };
    let Some(codec) = codec
        .as_mut()
        .filter(|_| p.kind != PageKind::DataV2 || p.values_compressed)
    else {
        return Ok(body);
    };
    if levels > body.len() || levels > p.uncompressed {
        return Err(Fail::Bad(format!(
            "the page at byte {} has {levels} bytes of levels in {} bytes",
            p.start,
            body.len()
        )));
    }
    scratch.clear();
    scratch.extend_from_slice(&body[..levels]);
    if p.uncompressed > levels {
        codec
            .decompress(&body[levels..], scratch, Some(p.uncompressed - levels))
            .map_err(|e| format!("the page at byte {} does not decompress: {e}", p.start))?;
    }
    if scratch.len() != p.uncompressed {
        return Err(Fail::Bad(format!(
            "the page at byte {} decompresses to {} bytes, its header says {}",
            p.start,
            scratch.len(),
            p.uncompressed
        )));
    }
    Ok(scratch)
}

/// Reads one PLAIN byte array at `*at`.
fn plain_bytes<'a>(b: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
    let v = b.get(*at + 4..(*at + 4).checked_add(len)?)?;
    *at += 4 + len;
    Some(v)
}

/// A unit's decoded rows.
struct Out {
    leaf: Leaf,
    values: MutableBuffer,
    /// Byte strings: the end offset of each row so far (the first, 0, included).
    offsets: MutableBuffer,
    validity: Option<BooleanBufferBuilder>,
    bits: BooleanBufferBuilder,
    rows: u64,
}

impl Out {
    fn new(leaf: Leaf, rows: u64, nullable: bool) -> Out {
        let rows = rows as usize;
        let (values, offsets) = match leaf {
            Leaf::Fixed { width } => (MutableBuffer::new(rows * width), MutableBuffer::new(0)),
            Leaf::List { width, per_row } => (
                MutableBuffer::new(rows * width * per_row as usize),
                MutableBuffer::new(0),
            ),
            Leaf::Bytes => {
                let mut o = MutableBuffer::new((rows + 1) * 4);
                o.push(0i32);
                (MutableBuffer::new(0), o)
            }
            Leaf::Bool => (MutableBuffer::new(0), MutableBuffer::new(0)),
        };
        Out {
            leaf,
            values,
            offsets,
            validity: nullable.then(|| BooleanBufferBuilder::new(rows)),
            bits: BooleanBufferBuilder::new(if leaf == Leaf::Bool { rows } else { 0 }),
            rows: 0,
        }
    }

    /// The rows as Arrow data of type `t` (validated).
    fn finish(mut self, t: &DataType) -> std::result::Result<ArrayData, arrow_schema::ArrowError> {
        let rows = self.rows as usize;
        let nulls = self
            .validity
            .as_mut()
            .map(|v| NullBuffer::new(v.finish()))
            .filter(|n| n.null_count() > 0);
        let b = ArrayData::builder(t.clone()).len(rows).nulls(nulls);
        match (self.leaf, t) {
            (Leaf::List { per_row, .. }, DataType::FixedSizeList(item, _)) => {
                let child = ArrayData::builder(item.data_type().clone())
                    .len(rows * per_row as usize)
                    .add_buffer(self.values.into())
                    .build()?;
                b.add_child_data(child).build()
            }
            (Leaf::Bool, _) => b.add_buffer(self.bits.finish().into_inner()).build(),
            (Leaf::Bytes, _) => b
                .add_buffer(self.offsets.into())
                .add_buffer(self.values.into())
                .build(),
            _ => b.add_buffer(self.values.into()).build(),
        }
    }
}

/// Decodes one page (`body`, decompressed) into `out`.
#[allow(clippy::too_many_arguments)]
fn decode_page(
    plan: &ChunkPlan,
    p: &PageInfo,
    body: &[u8],
    dict: Option<&Dictionary>,
    out: &mut Out,
    pos: &mut u64,
    dense: &mut Vec<u8>,
    indices: &mut Vec<u32>,
) -> std::result::Result<(), Fail> {
    let at = p.start;
    let bad = |what: &str| Fail::Bad(format!("the page at byte {at}: {what}"));
    let n = u64::from(p.values);
    let (rep, def, values): (Option<&[u8]>, Option<&[u8]>, &[u8]) = match p.kind {
        PageKind::DataV2 => {
            let (r, rest) = body
                .split_at_checked(p.rep_len)
                .ok_or_else(|| bad("its levels run past its end"))?;
            let (d, v) = rest
                .split_at_checked(p.def_len)
                .ok_or_else(|| bad("its levels run past its end"))?;
            (
                (plan.max_rep > 0).then_some(r),
                (plan.max_def > 0).then_some(d),
                v,
            )
        }
        _ => {
            let mut rest = body;
            let mut levels = |max: i16, enc: i32| -> std::result::Result<Option<&[u8]>, Fail> {
                if max == 0 {
                    return Ok(None);
                }
                if enc != encoding::RLE {
                    return Err(Fail::Unsupported(format!("levels of encoding {enc}")));
                }
                let (l, r) =
                    split_levels(rest).ok_or_else(|| bad("its levels run past its end"))?;
                rest = r;
                Ok(Some(l))
            };
            let rep = levels(plan.max_rep, p.rep_encoding)?;
            let def = levels(plan.max_def, p.def_encoding)?;
            (rep, def, rest)
        }
    };
    let first = out.rows as usize;
    let (rows, present) = match plan.leaf {
        Leaf::List { per_row, .. } => {
            let rep = rep.ok_or_else(|| bad("no repetition levels"))?;
            if !check_rep(rep, n, per_row, pos) || *pos != 0 {
                return Err(Fail::Unsupported(format!(
                    "the page at byte {at} does not hold whole rows of {per_row} values"
                )));
            }
            if let Some(def) = def {
                let max = plan.max_def as u8;
                if !check_all(def, n, max, bit_width(max)) {
                    return Err(Fail::Unsupported(format!(
                        "nulls in the fixed-size lists of the page at byte {at}"
                    )));
                }
            }
            (n / per_row, n)
        }
        _ => {
            let present = match (def, out.validity.as_mut()) {
                (Some(def), Some(v)) => {
                    def_bits(def, n, v).ok_or_else(|| bad("its definition levels are corrupt"))?
                }
                (Some(def), None) => {
                    // A non-nullable Arrow field stored as optional: every
                    // level must say "present".
                    if !check_all(def, n, 1, 1) {
                        return Err(bad("nulls in a column that is not nullable"));
                    }
                    n
                }
                (None, Some(v)) => {
                    v.append_n(n as usize, true);
                    n
                }
                (None, None) => n,
            };
            (n, present)
        }
    };
    if p.kind == PageKind::DataV2
        && (u64::from(p.rows) != rows || u64::from(p.nulls) != n - present)
    {
        return Err(bad("its rows or nulls differ from its header's"));
    }
    let present_us = present as usize;
    // The present values, densely, in `dense` (or straight into `out`
    // when there are no nulls).
    let direct = present == rows || matches!(plan.leaf, Leaf::List { .. });
    match plan.leaf {
        Leaf::Fixed { width } | Leaf::List { width, .. } => {
            let target: &mut dyn Extend = if direct { &mut out.values } else { dense };
            if !direct {
                target.clear_bytes();
            }
            fixed_values(p, values, present_us, width, dict, indices, target).map_err(&bad)?;
            if !direct {
                // Scatter into the rows, nulls as zeros.
                let base = out.values.len();
                out.values.extend_zeros(rows as usize * width);
                let slots = &mut out.values.as_slice_mut()[base..];
                let v = out.validity.as_ref().expect("nulls need a bitmap");
                for (j, i) in BitIndexIterator::new(v.as_slice(), first, rows as usize).enumerate()
                {
                    slots[i * width..(i + 1) * width]
                        .copy_from_slice(&dense[j * width..(j + 1) * width]);
                }
            }
        }
        Leaf::Bool => {
            // PLAIN: bit-packed; RLE (v2 writers' default): a 4-byte
            // length, then the RLE/bit-packed hybrid of width 1.
            let unpacked;
            let values = match p.encoding {
                encoding::PLAIN => values,
                encoding::RLE => {
                    let (stream, _) =
                        split_levels(values).ok_or_else(|| bad("its booleans run past its end"))?;
                    let mut b = BooleanBufferBuilder::new(present_us);
                    def_bits(stream, present, &mut b)
                        .ok_or_else(|| bad("its booleans are corrupt"))?;
                    unpacked = b.finish();
                    unpacked.values()
                }
                e => return Err(Fail::Unsupported(format!("booleans of encoding {e}"))),
            };
            if values.len() < present_us.div_ceil(8) {
                return Err(bad("it holds fewer values than its levels say"));
            }
            if direct {
                out.bits.append_packed_range(0..present_us, values);
            } else {
                let v = out.validity.as_ref().expect("nulls need a bitmap");
                let mut j = 0;
                for i in 0..rows as usize {
                    if arrow_buffer::bit_util::get_bit(v.as_slice(), first + i) {
                        out.bits.append(arrow_buffer::bit_util::get_bit(values, j));
                        j += 1;
                    } else {
                        out.bits.append(false);
                    }
                }
            }
        }
        Leaf::Bytes => {
            let v = (!direct).then(|| out.validity.as_ref().expect("nulls need a bitmap"));
            let is_present = |i: usize| {
                v.is_none_or(|v| arrow_buffer::bit_util::get_bit(v.as_slice(), first + i))
            };
            match p.encoding {
                encoding::PLAIN => {
                    let mut at = 0usize;
                    for i in 0..rows as usize {
                        if is_present(i) {
                            let s = plain_bytes(values, &mut at)
                                .ok_or_else(|| bad("it ends inside a value"))?;
                            out.values.extend_from_slice(s);
                        }
                        push_offset(&mut out.offsets, out.values.len()).map_err(&bad)?;
                    }
                }
                encoding::RLE_DICTIONARY | encoding::PLAIN_DICTIONARY => {
                    let Some(Dictionary::Bytes { offsets, data }) = dict else {
                        return Err(bad("no dictionary"));
                    };
                    dictionary_indices(values, present_us, offsets.len() - 1, indices)
                        .map_err(&bad)?;
                    let mut j = 0;
                    for i in 0..rows as usize {
                        if is_present(i) {
                            let k = indices[j] as usize;
                            out.values
                                .extend_from_slice(&data[offsets[k]..offsets[k + 1]]);
                            j += 1;
                        }
                        push_offset(&mut out.offsets, out.values.len()).map_err(&bad)?;
                    }
                }
                e => return Err(Fail::Unsupported(format!("byte arrays of encoding {e}"))),
            }
        }
    }
    out.rows += rows;
    Ok(())
}

/// Where fixed-width values are decoded to: the unit's values, or the
/// dense scratch of a page with nulls.
trait Extend {
    fn extend_bytes(&mut self, b: &[u8]);
    /// `n` more bytes (zeros) at the end, to be filled in.
    fn grow(&mut self, n: usize) -> &mut [u8];
    fn clear_bytes(&mut self);
}

impl Extend for MutableBuffer {
    fn extend_bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    fn grow(&mut self, n: usize) -> &mut [u8] {
        let at = self.len();
        self.extend_zeros(n);
        &mut self.as_slice_mut()[at..]
    }
    fn clear_bytes(&mut self) {
        self.clear();
    }
}

impl Extend for Vec<u8> {
    fn extend_bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    fn grow(&mut self, n: usize) -> &mut [u8] {
        let at = self.len();
        self.resize(at + n, 0);
        &mut self[at..]
    }
    fn clear_bytes(&mut self) {
        self.clear();
    }
}

/// Appends a byte string's end offset.
fn push_offset(offsets: &mut MutableBuffer, end: usize) -> std::result::Result<(), &'static str> {
    let end = i32::try_from(end).map_err(|_| "its strings pass 2 GiB")?;
    offsets.push(end);
    Ok(())
}

/// Decodes the dictionary indices of a page's values (a bit width, then
/// the RLE/bit-packed hybrid), checking each against the dictionary's `entries`.
fn dictionary_indices(
    values: &[u8],
    present: usize,
    entries: usize,
    indices: &mut Vec<u32>,
) -> std::result::Result<(), &'static str> {
    let (&bits, rest) = values.split_first().ok_or("no bit width")?;
    if !decode_indices(rest, present, bits, indices) {
        return Err("its dictionary indices are corrupt");
    }
    if indices.iter().any(|&i| i as usize >= entries) {
        return Err("a dictionary index is past the dictionary");
    }
    Ok(())
}

/// Copies dictionary entries `indices` (checked) of `W` bytes into `slots`.
fn gather<const W: usize>(slots: &mut [u8], dictionary: &[u8], indices: &[u32]) {
    let (entries, _) = dictionary.as_chunks::<W>();
    let (slots, _) = slots.as_chunks_mut::<W>();
    for (dst, &i) in slots.iter_mut().zip(indices) {
        *dst = entries[i as usize];
    }
}

/// Decodes `present` fixed-width values (PLAIN or dictionary) into `out`.
fn fixed_values(
    p: &PageInfo,
    values: &[u8],
    present: usize,
    width: usize,
    dict: Option<&Dictionary>,
    indices: &mut Vec<u32>,
    out: &mut dyn Extend,
) -> std::result::Result<(), &'static str> {
    match p.encoding {
        encoding::PLAIN => {
            let need = present * width;
            let v = values
                .get(..need)
                .ok_or("it holds fewer values than its levels say")?;
            out.extend_bytes(v);
        }
        encoding::RLE_DICTIONARY | encoding::PLAIN_DICTIONARY => {
            let Some(Dictionary::Fixed(d)) = dict else {
                return Err("no dictionary");
            };
            let entries = d.len() / width.max(1);
            dictionary_indices(values, present, entries, indices)?;
            let slots = out.grow(indices.len() * width);
            match width {
                4 => gather::<4>(slots, d, indices),
                8 => gather::<8>(slots, d, indices),
                _ => {
                    for (dst, &i) in slots.chunks_exact_mut(width).zip(indices.iter()) {
                        let i = i as usize * width;
                        dst.copy_from_slice(&d[i..i + width]);
                    }
                }
            }
        }
        _ => return Err("an encoding the plan did not expect"),
    }
    Ok(())
}

/// The page-level reading of `field`, stored as the Parquet leaf `d`,
/// when the Parquet values are the Arrow values as they are.
fn leaf_of(field: &FieldRef, d: &ColumnDescriptor) -> Option<Leaf> {
    let (max_def, max_rep) = (d.max_def_level(), d.max_rep_level());
    match field.data_type() {
        DataType::FixedSizeList(item, n) if max_rep == 1 => {
            let width = fixed_width(item.data_type(), d)?;
            Some(Leaf::List {
                width,
                per_row: u64::try_from(*n).ok().filter(|&n| n > 0)?,
            })
        }
        _ if max_rep > 0 || max_def > 1 || d.path().parts().len() != 1 => None,
        DataType::Boolean if d.physical_type() == PhysicalType::BOOLEAN => Some(Leaf::Bool),
        DataType::Utf8 if d.physical_type() == PhysicalType::BYTE_ARRAY => matches!(
            d.logical_type_ref(),
            None | Some(LogicalType::String | LogicalType::Json | LogicalType::Enum)
        )
        .then_some(Leaf::Bytes),
        DataType::Binary if d.physical_type() == PhysicalType::BYTE_ARRAY => {
            d.logical_type_ref().is_none().then_some(Leaf::Bytes)
        }
        t => fixed_width(t, d).map(|width| Leaf::Fixed { width }),
    }
}

/// The width of `t`'s values when the Parquet leaf `d` stores them as
/// they are.
fn fixed_width(t: &DataType, d: &ColumnDescriptor) -> Option<usize> {
    use LogicalType as L;
    use PhysicalType as P;
    let lt = d.logical_type_ref();
    let int = |bits: i8, signed: bool| match &lt {
        None => signed,
        Some(L::Integer(i)) => i.bit_width == bits && i.is_signed == signed,
        _ => false,
    };
    let unit_is = |u: &TimeUnit, pu: &parquet::basic::TimeUnit| {
        matches!(
            (u, pu),
            (TimeUnit::Millisecond, parquet::basic::TimeUnit::MILLIS)
                | (TimeUnit::Microsecond, parquet::basic::TimeUnit::MICROS)
                | (TimeUnit::Nanosecond, parquet::basic::TimeUnit::NANOS)
        )
    };
    let ok = match (t, d.physical_type()) {
        (DataType::Int32, P::INT32) => int(32, true),
        (DataType::UInt32, P::INT32) => int(32, false),
        (DataType::Int64, P::INT64) => int(64, true),
        (DataType::UInt64, P::INT64) => int(64, false),
        (DataType::Float32, P::FLOAT) | (DataType::Float64, P::DOUBLE) => lt.is_none(),
        (DataType::Date32, P::INT32) => matches!(lt, Some(L::Date)),
        (DataType::Time32(u @ TimeUnit::Millisecond), P::INT32)
        | (DataType::Time64(u @ (TimeUnit::Microsecond | TimeUnit::Nanosecond)), P::INT64) => {
            matches!(lt, Some(L::Time(t)) if unit_is(u, &t.unit))
        }
        (DataType::Timestamp(u, _), P::INT64) => {
            matches!(lt, Some(L::Timestamp(t)) if unit_is(u, &t.unit))
        }
        (DataType::Duration(_), P::INT64) => lt.is_none(),
        (DataType::FixedSizeBinary(n), P::FIXED_LEN_BYTE_ARRAY) => {
            lt.is_none() && d.type_length() == *n
        }
        (DataType::Float16, P::FIXED_LEN_BYTE_ARRAY) => {
            matches!(lt, Some(L::Float16)) && d.type_length() == 2
        }
        _ => false,
    };
    ok.then(|| {
        t.primitive_width()
            .unwrap_or(d.type_length().max(0) as usize)
    })
}

/// The plan of one column chunk, if the page-level decoder can read it:
/// known encodings, pages of at most [`MAX_PAGE_BYTES`], and the rows
/// the row group declares.
fn chunk_plan(
    group: usize,
    column: usize,
    leaf: Leaf,
    d: &ColumnDescriptor,
    compression: Compression,
    pages: Vec<PageInfo>,
    group_rows: u64,
) -> Option<ChunkPlan> {
    let mut dictionary = None;
    let mut data = Vec::with_capacity(pages.len());
    let mut rows = 0u64;
    for p in pages {
        if p.uncompressed > MAX_PAGE_BYTES {
            return None;
        }
        match p.kind {
            PageKind::Dictionary => {
                if dictionary.is_some() || !data.is_empty() || leaf == Leaf::Bool {
                    return None;
                }
                dictionary = Some(p);
                continue;
            }
            PageKind::DataV1 | PageKind::DataV2 => {}
            PageKind::Other => continue,
        }
        let known = match p.encoding {
            encoding::PLAIN => true,
            encoding::RLE => leaf == Leaf::Bool,
            encoding::RLE_DICTIONARY | encoding::PLAIN_DICTIONARY => {
                leaf != Leaf::Bool && dictionary.is_some()
            }
            _ => false,
        };
        let levels_known = p.kind == PageKind::DataV2
            || ((d.max_def_level() == 0 || p.def_encoding == encoding::RLE)
                && (d.max_rep_level() == 0 || p.rep_encoding == encoding::RLE));
        if !known || !levels_known {
            return None;
        }
        rows += match leaf {
            Leaf::List { per_row, .. } => {
                let v = u64::from(p.values);
                if !v.is_multiple_of(per_row) {
                    return None;
                }
                v / per_row
            }
            _ => u64::from(p.values),
        };
        data.push(p);
    }
    (rows == group_rows).then_some(ChunkPlan {
        group,
        column,
        leaf,
        max_def: d.max_def_level(),
        max_rep: d.max_rep_level(),
        compression,
        dictionary,
        pages: data,
    })
}

/// Cuts chunk `plan` (number `index`, whose row group starts at table row
/// `first_row`) into units of about `unit_bytes`.
fn cut(plan: &ChunkPlan, index: usize, first_row: u64, unit_bytes: usize, units: &mut Vec<Unit>) {
    let per_row = match plan.leaf {
        Leaf::List { per_row, .. } => per_row,
        _ => 1,
    };
    let (mut from, mut bytes, mut rows, mut row) = (0usize, 0usize, 0u64, first_row);
    for (i, p) in plan.pages.iter().enumerate() {
        bytes += p.uncompressed;
        rows += u64::from(p.values) / per_row;
        if bytes >= unit_bytes || i + 1 == plan.pages.len() {
            units.push(Unit::Pages {
                chunk: index,
                pages: from..i + 1,
                first_row: row,
                rows,
                bytes: bytes as u64,
            });
            row += rows;
            (from, bytes, rows) = (i + 1, 0, 0);
        }
    }
}

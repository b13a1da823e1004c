//! The page-level Parquet writer for little-endian fixed-width columns.
//!
//! For such a column, Parquet's PLAIN encoding *is* the bytes in the map,
//! and the repetition/definition levels of a `FixedSizeList` are one
//! constant pattern per row. So a data page (format v1) is
//! `header ‖ u32 len ‖ RLE rep levels ‖ u32 len ‖ RLE def levels ‖ mapped bytes`,
//! the body compressed with the column's codec.
//!
//! Pages of about 1 MiB stream straight to the output file through the
//! ordered pipeline ([`pipeline::ordered_with`]): each worker takes the
//! next page and builds (and compresses) it in buffers it reuses
//! ([`PageEncoder`]); in its turn the page is *placed* — given its offset,
//! pages being placed in order so that the file is the same whatever the
//! thread count ([`Placement`]) — and then the worker writes it (header
//! and body in one write) at that offset while the other workers compress.
//! Uncompressed pages are written from the map itself (no copy in user
//! space) by one worker. Memory is a few buffers of one page per worker,
//! whatever the size of the input. A thread of its own reads the input
//! ahead of the workers ([`read_ahead`]), computing row-group statistics.
//! The footer is the parquet crate's [`ParquetMetaDataWriter`] over
//! metadata built from the real offsets ([`footer`]). The result reads the
//! same as what the generic writer produces for the same Arrow schema (same
//! Parquet schema, PLAIN, no dictionary; the same row-group statistics, no
//! page statistics or page index), and is checked against it in the tests.
//!
//! One file of about 600 lines because it is one algorithm: the layout,
//! page cutting, encoding, placement and footer all describe the same file
//! offsets, and splitting them would spread one invariant over several.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arrow_schema::{DataType, Schema};
use parquet::basic::Encoding;
use parquet::compression::{create_codec, Codec, CodecOptions};
use parquet::errors::ParquetError;
use parquet::file::metadata::{
    ColumnChunkMetaData, FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataWriter,
    RowGroupMetaData,
};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use super::page::{data_page_header, rle_run, MAX_HEADER};
use super::stats::{MinMax, StatKind};
use crate::array::MmArray;
use crate::convert::options::{Compression, ConvertOptions};
use crate::convert::output::Flusher;
use crate::convert::pipeline;
use crate::convert::spec::stores_mapped_bytes;
use crate::dtype::Kind;
use crate::error::{Error, ErrorKind, Result, ResultExt};
use crate::fsutil::FileExt;
use crate::shape::Order;

/// Uncompressed bytes of values per data page.
const PAGE_BYTES: u64 = 1 << 20;

/// How far ahead of the written pages the input is read (faulted in).
const READ_AHEAD: u64 = 256 << 20;

/// Bytes placed between two background writeback nudges.
const NUDGE_BYTES: u64 = 32 << 20;

/// Whether the page-level writer can write `source` with the Parquet
/// schema `descr`: one flat or `FixedSizeList` column, C-order rows, whose
/// physical type stores exactly the mapped bytes.
pub(super) fn supports(source: &MmArray, schema: &Schema, descr: &SchemaDescriptor) -> bool {
    if schema.fields().len() != 1 || descr.num_columns() != 1 {
        return false;
    }
    if source.order() == Order::F && source.shape().len() > 1 {
        return false;
    }
    let leaf = descr.column(0);
    let lists = match schema.field(0).data_type() {
        DataType::FixedSizeList(item, size) => match item.data_type() {
            DataType::FixedSizeList(..) => return false, // nested layout
            _ if *size == 0 => return false,             // empty lists have other levels
            _ => 1,
        },
        _ => 0,
    };
    if leaf.max_rep_level() != lists || (lists == 0 && leaf.max_def_level() > 1) {
        return false;
    }
    if leaf.max_def_level() > 255 {
        return false;
    }
    stores_mapped_bytes(source.dtype(), leaf.physical_type(), leaf.type_length())
}

/// Everything [`write`] needs besides the source.
pub(super) struct Target<'a> {
    pub file: &'a File,
    pub path: &'a Path,
    pub descr: &'a SchemaDescriptor,
    pub key_value: Option<Vec<KeyValue>>,
    pub created_by: String,
    pub groups: &'a [Range<u64>],
    pub flusher: &'a Flusher,
    /// The Arrow type of the column (for statistics).
    pub arrow_type: &'a DataType,
}

/// Writes `source` as a whole Parquet file (magic, pages, footer) to
/// `t.file`, which must be empty. Returns the number of bytes written.
pub(super) fn write(source: &MmArray, t: &Target<'_>, o: &ConvertOptions) -> Result<u64> {
    let leaf = t.descr.column(0);
    let layout = Layout::new(source, &leaf)?;
    let pages = Pages::new(t.groups, layout.page_rows());
    t.file
        .write_all_at(b"PAR1", 0)
        .map_err(|e| Error::io(t.path, "write", e))?;
    let (placement, statistics) = write_pages(&layout, &pages, t, o)?;
    let statistics = statistics.unwrap_or_else(|| vec![None; t.groups.len()]);
    let metadata = footer(&leaf, &placement.placed, &statistics, o.compression, t)
        .map_err(|e| pq_err(e, t.path))?;
    write_footer(t, placement.offset, &metadata)
}

fn pq_err(e: ParquetError, path: &Path) -> Error {
    ErrorKind::Internal {
        reason: format!("writing Parquet: {e}"),
    }
    .at(path)
}

/// The column layout the pages are cut from.
struct Layout<'a> {
    /// All the array's bytes (C order, native byte order).
    values: &'a [u8],
    row_bytes: u64,
    /// Leaf values per row (1 for a flat column).
    per_row: u64,
    /// The repetition levels of one row, RLE-encoded (empty: no lists).
    row_rep: Vec<u8>,
    max_def: i16,
    /// No repetition levels: a flat column (which gets statistics).
    flat: bool,
}

impl<'a> Layout<'a> {
    /// The layout of `source` in the Parquet column `leaf`.
    ///
    /// # Errors
    /// [`ErrorKind::Format`] for rows too large for a page.
    fn new(source: &'a MmArray, leaf: &ColumnDescPtr) -> Result<Self> {
        let (max_rep, max_def) = (leaf.max_rep_level(), leaf.max_def_level());
        let leaf_per_row = source.row_elements()
            * if source.dtype().kind() == Kind::Complex {
                2
            } else {
                1
            };
        let per_row = if max_rep > 0 { leaf_per_row } else { 1 };
        // The repetition levels of one row: a 0, then per_row - 1 ones.
        let mut row_rep = Vec::new();
        if max_rep > 0 {
            rle_run(1, 0, &mut row_rep);
            if per_row > 1 {
                rle_run(per_row - 1, 1, &mut row_rep);
            }
        }
        let layout = Layout {
            values: source.data_buffer().as_slice(),
            row_bytes: source.row_elements() * source.dtype().itemsize() as u64,
            per_row,
            row_rep,
            max_def,
            flat: max_rep == 0,
        };
        let max_page = layout.page_rows() * (layout.row_bytes + layout.row_rep.len() as u64) + 64;
        if max_page > i32::MAX as u64 / 2 {
            return Err(ErrorKind::Format {
                reason: format!(
                    "a row of {} bytes is too large for a Parquet page",
                    layout.row_bytes
                ),
            }
            .at(source.path()));
        }
        Ok(layout)
    }

    /// Rows per data page.
    fn page_rows(&self) -> u64 {
        (PAGE_BYTES / self.row_bytes.max(1)).max(1)
    }

    /// The mapped bytes of rows `r`.
    fn rows(&self, r: Range<u64>) -> &'a [u8] {
        &self.values[(r.start * self.row_bytes) as usize..(r.end * self.row_bytes) as usize]
    }

    /// The length-prefixed level streams of a page of `rows` rows.
    fn levels(&self, rows: u64, out: &mut Vec<u8>) {
        out.clear();
        if !self.row_rep.is_empty() {
            out.extend_from_slice(&((self.row_rep.len() as u64 * rows) as u32).to_le_bytes());
            for _ in 0..rows {
                out.extend_from_slice(&self.row_rep);
            }
        }
        if self.max_def > 0 {
            let mut def = Vec::with_capacity(12);
            rle_run(rows * self.per_row, self.max_def as u8, &mut def);
            out.extend_from_slice(&(def.len() as u32).to_le_bytes());
            out.extend_from_slice(&def);
        }
    }
}

/// One data page: its row group and rows.
struct PageSpec {
    group: usize,
    rows: Range<u64>,
}

/// The data pages of the row groups, in file order, computed on demand
/// (memory per row group, not per page).
struct Pages<'a> {
    groups: &'a [Range<u64>],
    page_rows: u64,
    /// Index of the first page of each row group, and the page count last.
    first: Vec<usize>,
}

impl<'a> Pages<'a> {
    fn new(groups: &'a [Range<u64>], page_rows: u64) -> Self {
        let mut first = Vec::with_capacity(groups.len() + 1);
        first.push(0);
        for g in groups {
            let n = (g.end - g.start).div_ceil(page_rows) as usize;
            first.push(first.last().copied().unwrap_or(0) + n);
        }
        Pages {
            groups,
            page_rows,
            first,
        }
    }

    fn len(&self) -> usize {
        self.first.last().copied().unwrap_or(0)
    }

    /// Page `k`, if there is one.
    fn get(&self, k: usize) -> Option<PageSpec> {
        if k >= self.len() {
            return None;
        }
        let group = self.first.partition_point(|&f| f <= k) - 1;
        let g = &self.groups[group];
        let start = g.start + (k - self.first[group]) as u64 * self.page_rows;
        Some(PageSpec {
            group,
            rows: start..(start + self.page_rows).min(g.end),
        })
    }
}

/// A page built by a [`PageEncoder`], ready to be placed.
struct Encoded {
    group: usize,
    rows: Range<u64>,
    /// Thrift header bytes.
    header: u64,
    compressed: u64,
    uncompressed: u64,
    values: u64,
}

/// What a worker reuses from page to page: its codec and buffers.
struct PageEncoder {
    codec: Option<Box<dyn Codec>>,
    levels: Vec<u8>,
    body: Vec<u8>,
    /// Room for the header, then the compressed body.
    compressed: Vec<u8>,
    /// The header (and, uncompressed, the levels after it).
    header: Vec<u8>,
}

impl PageEncoder {
    fn new(compression: Compression, path: &Path) -> Result<Self> {
        let codec = create_codec(compression.to_parquet(), &CodecOptions::default())
            .map_err(|e| pq_err(e, path))?;
        Ok(PageEncoder {
            codec,
            levels: Vec::new(),
            body: Vec::new(),
            compressed: Vec::new(),
            header: Vec::new(),
        })
    }

    /// Builds (and compresses) page `spec` of `layout`. A compressed page is
    /// written with its header in one piece: the body goes after room for
    /// the longest header, the header right before the body.
    fn encode(&mut self, layout: &Layout<'_>, spec: PageSpec, path: &Path) -> Result<Encoded> {
        let rows = spec.rows.end - spec.rows.start;
        let nvalues = rows * layout.per_row;
        layout.levels(rows, &mut self.levels);
        let vals = layout.rows(spec.rows.clone());
        let uncompressed = self.levels.len() + vals.len();
        let compressed = match self.codec.as_mut() {
            Some(c) => {
                self.compressed.clear();
                self.compressed.resize(MAX_HEADER, 0);
                let r = if self.levels.is_empty() {
                    c.compress(vals, &mut self.compressed)
                } else {
                    self.body.clear();
                    self.body.extend_from_slice(&self.levels);
                    self.body.extend_from_slice(vals);
                    c.compress(&self.body, &mut self.compressed)
                };
                r.map_err(|e| pq_err(e, path))?;
                self.compressed.len() - MAX_HEADER
            }
            None => uncompressed,
        };
        self.header.clear();
        // Sizes were checked against i32::MAX by `Layout::new`.
        data_page_header(
            uncompressed as i32,
            compressed as i32,
            nvalues as i32,
            &mut self.header,
        );
        let header = self.header.len();
        if self.codec.is_some() {
            self.compressed[MAX_HEADER - header..MAX_HEADER].copy_from_slice(&self.header);
        } else {
            self.header.extend_from_slice(&self.levels);
        }
        Ok(Encoded {
            group: spec.group,
            rows: spec.rows,
            header: header as u64,
            compressed: compressed as u64,
            uncompressed: uncompressed as u64,
            values: nvalues,
        })
    }

    /// Writes the page last encoded, of rows `rows`, at `offset`.
    fn write_at(&self, file: &File, offset: u64, vals: &[u8]) -> std::io::Result<()> {
        if self.codec.is_some() {
            let header = self.header.len();
            file.write_all_at(&self.compressed[MAX_HEADER - header..], offset)
        } else {
            file.write_all_at(&self.header, offset)?;
            file.write_all_at(vals, offset + self.header.len() as u64)
        }
    }
}

/// Where a row group's pages went.
#[derive(Clone, Copy, Default)]
struct Placed {
    /// The offset of the group's first page.
    offset: Option<u64>,
    /// Headers + compressed bodies.
    compressed: u64,
    /// Headers + uncompressed bodies.
    uncompressed: u64,
    values: u64,
}

/// Pages are placed in order: where the next one goes, and where those of
/// each row group went.
struct Placement {
    offset: u64,
    unnudged: u64,
    placed: Vec<Placed>,
}

impl Placement {
    /// Places page `p`: returns its offset.
    fn place(&mut self, p: &Encoded, flusher: &Flusher) -> u64 {
        let offset = self.offset;
        let size = p.header + p.compressed;
        self.offset += size;
        let g = &mut self.placed[p.group];
        g.offset.get_or_insert(offset);
        g.compressed += size;
        g.uncompressed += p.header + p.uncompressed;
        g.values += p.values;
        self.unnudged += size;
        if self.unnudged >= NUDGE_BYTES {
            self.unnudged = 0;
            flusher.nudge();
        }
        offset
    }
}

/// Writes every page after the magic; returns where they went and the
/// row-group statistics, if they were computed.
fn write_pages(
    layout: &Layout<'_>,
    pages: &Pages<'_>,
    t: &Target<'_>,
    o: &ConvertOptions,
) -> Result<(Placement, Option<Vec<Option<MinMax>>>)> {
    let mut placement = Placement {
        offset: 4,
        unnudged: 0,
        placed: vec![Placed::default(); t.groups.len()],
    };
    // Input bytes of the pages placed so far, and the end of the work.
    let written = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // Uncompressed pages cost nothing but the write, and writes to one file
    // are serialized by the kernel (the inode lock): a second worker would
    // only spin on that lock, taking the CPU that writeback needs
    // (measured: one worker is 3-8 % faster).
    let workers = match o.compression {
        Compression::None => 1,
        _ => o.thread_count(),
    };
    let stat_kind = match layout.flat {
        true => StatKind::of(t.arrow_type),
        false => None,
    };
    let (result, statistics) = std::thread::scope(|s| {
        let ahead = s.spawn(|| read_ahead(layout, t.groups, stat_kind, &written, &stop));
        let result = pipeline::ordered_with(
            workers,
            pages.len(),
            || PageEncoder::new(o.compression, t.path),
            |enc, k| {
                let spec = pages.get(k).expect("a page below the count");
                enc.encode(layout, spec, t.path)
            },
            |_, page| {
                let offset = placement.place(&page, t.flusher);
                let rows = page.rows.end - page.rows.start;
                written.fetch_add(rows * layout.row_bytes, Ordering::Relaxed);
                Ok((offset, page.rows))
            },
            |enc, _, (offset, rows)| {
                enc.write_at(t.file, offset, layout.rows(rows.clone()))
                    .map_err(|e| Error::io(t.path, "write", e))?;
                let n = rows.end - rows.start;
                o.advance(n, n * layout.row_bytes);
                Ok(())
            },
        )
        .in_file(t.path);
        // The workers are done: on an error, stop reading ahead; otherwise
        // let the statistics be finished.
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        } else {
            written.store(u64::MAX, Ordering::Relaxed);
        }
        let stats = ahead.join().ok().filter(|v| v.len() == t.groups.len());
        (result, stats)
    });
    result?;
    Ok((placement, statistics))
}

/// Reads the input a little ahead of the workers, row group by row group:
/// computes the row-group statistics (min, max) of a flat column, or else
/// touches one byte per page. Either way the map's pages are faulted in
/// before the workers get there, which measured 20-50 % faster without
/// compression (the writer otherwise takes those faults inside its write,
/// under the file's lock) and no slower with it; computing the statistics
/// page by page in the workers measured the same.
fn read_ahead(
    layout: &Layout<'_>,
    groups: &[Range<u64>],
    stat_kind: Option<StatKind>,
    written: &AtomicU64,
    stop: &AtomicBool,
) -> Vec<Option<MinMax>> {
    let mut stats = Vec::with_capacity(groups.len());
    for g in groups {
        // Stay at most READ_AHEAD bytes ahead of the pages written.
        while g.start * layout.row_bytes
            > written.load(Ordering::Relaxed).saturating_add(READ_AHEAD)
            && !stop.load(Ordering::Relaxed)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let bytes = layout.rows(g.clone());
        stats.push(match stat_kind {
            Some(k) => k.min_max(bytes),
            None => {
                let touched = bytes.iter().step_by(4096).fold(0u8, |a, &b| a ^ b);
                std::hint::black_box(touched);
                None
            }
        });
    }
    stats
}

/// The file metadata of the written pages.
fn footer(
    leaf: &ColumnDescPtr,
    placed: &[Placed],
    statistics: &[Option<MinMax>],
    compression: Compression,
    t: &Target<'_>,
) -> parquet::errors::Result<ParquetMetaData> {
    let descr = Arc::new(t.descr.clone());
    let mut row_groups = Vec::with_capacity(t.groups.len());
    for (g, (rows, p)) in t.groups.iter().zip(placed).enumerate() {
        let (compressed, uncompressed, values) = (p.compressed, p.uncompressed, p.values);
        let offset = p.offset.unwrap_or(0) as i64;
        let mut column = ColumnChunkMetaData::builder(leaf.clone())
            .set_compression(compression.to_parquet())
            .set_encodings(vec![Encoding::PLAIN, Encoding::RLE])
            .set_total_compressed_size(compressed as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_num_values(values as i64)
            .set_data_page_offset(offset);
        if let Some(Some(m)) = statistics.get(g) {
            column = column.set_statistics(m.statistics());
        }
        let column = column.build()?;
        let mut group = RowGroupMetaData::builder(descr.clone())
            .set_column_metadata(vec![column])
            .set_total_byte_size(uncompressed as i64)
            .set_num_rows((rows.end - rows.start) as i64)
            .set_file_offset(offset);
        // The ordinal is optional (an i16 in the format).
        if let Ok(ordinal) = i16::try_from(g) {
            group = group.set_ordinal(ordinal);
        }
        row_groups.push(group.build()?);
    }
    let rows = t.groups.last().map_or(0, |g| g.end) as i64;
    let file = FileMetaData::new(
        1,
        rows,
        Some(t.created_by.clone()),
        t.key_value.clone(),
        descr,
        None,
    );
    Ok(ParquetMetaData::new(file, row_groups))
}

/// Writes the footer at `offset`, after the pages; returns the file size.
fn write_footer(t: &Target<'_>, offset: u64, metadata: &ParquetMetaData) -> Result<u64> {
    let io_err = |e: std::io::Error| Error::io(t.path, "write", e);
    let mut file = t.file;
    file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    let mut w = BufWriter::new(file);
    ParquetMetaDataWriter::new(&mut w, metadata)
        .finish()
        .map_err(|e| pq_err(e, t.path))?;
    w.flush().map_err(io_err)?;
    drop(w);
    file.stream_position().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_row_group_in_order() {
        let groups = [0..10, 10..20, 20..20, 20..23, 23..24];
        for page_rows in [1, 3, 4, 10, 100] {
            let pages = Pages::new(&groups, page_rows);
            let mut expected = Vec::new();
            for (g, r) in groups.iter().enumerate() {
                let mut s = r.start;
                while s < r.end {
                    expected.push((g, s..(s + page_rows).min(r.end)));
                    s += page_rows;
                }
            }
            let got: Vec<_> = (0..pages.len())
                .map(|k| pages.get(k).map(|p| (p.group, p.rows)).unwrap())
                .collect();
            assert_eq!(got, expected, "{page_rows} rows per page");
            assert!(pages.get(pages.len()).is_none());
        }
    }
}

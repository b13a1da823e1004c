//! The page-level Parquet fast paths for little-endian fixed-width columns.
//!
//! Writing: for such a column, Parquet's PLAIN encoding *is* the bytes in the
//! map, and the repetition/definition levels of a `FixedSizeList` are one
//! constant pattern per row. So a data page (format v1) is
//! `u32 len ‖ RLE rep levels ‖ u32 len ‖ RLE def levels ‖ mapped bytes`,
//! compressed with the column's codec and written with the crate's public
//! page writer. The result is what the generic writer produces for the same
//! Arrow schema (same Parquet schema, PLAIN, no dictionary), minus
//! statistics, and is checked against it in the tests.

use arrow_schema::{DataType, Schema, TimeUnit};
use bytes::Bytes;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::compression::{create_codec, CodecOptions};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use super::options::Compression;
use crate::array::MmArray;
use crate::dtype::Kind;
use crate::shape::Order;

/// Uncompressed bytes of values per data page.
const PAGE_BYTES: u64 = 1 << 20;

/// Whether the fast path can write `source` with the Parquet schema `descr`.
pub(crate) fn supports(source: &MmArray, schema: &Schema, descr: &SchemaDescriptor) -> bool {
    if schema.fields().len() != 1 || descr.num_columns() != 1 {
        return false;
    }
    if source.order() == Order::F && source.shape().len() > 1 {
        return false;
    }
    let leaf = descr.column(0);
    let (value_type, lists) = match schema.field(0).data_type() {
        DataType::FixedSizeList(item, size) => match item.data_type() {
            DataType::FixedSizeList(..) => return false, // nested layout
            t => {
                if *size == 0 {
                    return false; // empty lists have other levels
                }
                (t.clone(), 1)
            }
        },
        t => (t.clone(), 0),
    };
    if leaf.max_rep_level() != lists || (lists == 0 && leaf.max_def_level() > 1) {
        return false;
    }
    // The physical type must store exactly the mapped bytes.
    let width = source.dtype().itemsize()
        / if source.dtype().kind() == Kind::Complex {
            2
        } else {
            1
        };
    let raw = match (&value_type, leaf.physical_type()) {
        (DataType::Float32, PhysicalType::FLOAT) | (DataType::Float64, PhysicalType::DOUBLE) => {
            true
        }
        (DataType::Int32 | DataType::UInt32, PhysicalType::INT32) => true,
        (DataType::Int64 | DataType::UInt64, PhysicalType::INT64) => true,
        // Seconds are converted to milliseconds by Parquet writers.
        (DataType::Timestamp(u, _), PhysicalType::INT64) => *u != TimeUnit::Second,
        (DataType::Duration(_), PhysicalType::INT64) => true,
        (DataType::Float16 | DataType::FixedSizeBinary(_), PhysicalType::FIXED_LEN_BYTE_ARRAY) => {
            leaf.type_length() as usize == width
        }
        _ => false,
    };
    raw && source.dtype().is_native()
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One RLE run of `count` copies of `value` (bit width ≤ 8).
fn rle_run(count: u64, value: u8, out: &mut Vec<u8>) {
    varint(count << 1, out);
    out.push(value);
}

/// Encodes the rows of `view` (a C-order, native, aligned slice) as one
/// column chunk of PLAIN v1 data pages.
pub(crate) fn encode(
    view: &MmArray,
    leaf: &ColumnDescPtr,
    compression: Compression,
    mut sink_buf: Vec<u8>,
) -> Result<(Bytes, ColumnCloseResult)> {
    let values = view.data_buffer().as_slice();
    let rows = view.len();
    let row_bytes = view.row_elements() * view.dtype().itemsize() as u64;
    let per_row = view.row_elements()
        * if view.dtype().kind() == Kind::Complex {
            2
        } else {
            1
        };
    let per_row = if leaf.max_rep_level() > 0 { per_row } else { 1 };
    let (max_rep, max_def) = (leaf.max_rep_level(), leaf.max_def_level());
    if max_rep > 1 || max_def > 255 {
        return Err(ParquetError::General(
            "unsupported levels for the fast path".into(),
        ));
    }
    let codec_type = compression.to_parquet();
    let mut codec = create_codec(codec_type, &CodecOptions::default())?;
    // The repetition levels of one row: a 0, then per_row - 1 ones.
    let mut row_rep = Vec::new();
    if max_rep > 0 {
        rle_run(1, 0, &mut row_rep);
        if per_row > 1 {
            rle_run(per_row - 1, 1, &mut row_rep);
        }
    }
    let page_rows = (PAGE_BYTES / row_bytes.max(1)).max(1);
    // A reused buffer: fresh memory is slow to touch on these machines.
    sink_buf.clear();
    sink_buf.reserve(values.len() + values.len() / 64 + 4096);
    let mut sink = TrackedWrite::new(sink_buf);
    let mut body =
        Vec::with_capacity((page_rows * (row_bytes + row_rep.len() as u64)) as usize + 64);
    let mut compressed = Vec::new();
    let (mut total_c, mut total_u, mut total_values) = (0i64, 0i64, 0i64);
    {
        let mut pages = SerializedPageWriter::new(&mut sink);
        let mut r = 0;
        while r < rows {
            let n = page_rows.min(rows - r);
            let nvalues = n * per_row;
            body.clear();
            if max_rep > 0 {
                body.extend_from_slice(&((row_rep.len() as u64 * n) as u32).to_le_bytes());
                for _ in 0..n {
                    body.extend_from_slice(&row_rep);
                }
            }
            if max_def > 0 {
                let mut def = Vec::with_capacity(12);
                rle_run(nvalues, max_def as u8, &mut def);
                body.extend_from_slice(&(def.len() as u32).to_le_bytes());
                body.extend_from_slice(&def);
            }
            let start = (r * row_bytes) as usize;
            body.extend_from_slice(&values[start..start + (n * row_bytes) as usize]);
            // The page takes the buffer (no copy); the allocator hands the
            // freed memory back for the next page.
            let uncompressed = body.len();
            let buf = match codec.as_mut() {
                Some(c) => {
                    compressed.clear();
                    c.compress(&body, &mut compressed)?;
                    Bytes::from(std::mem::replace(
                        &mut compressed,
                        Vec::with_capacity(uncompressed),
                    ))
                }
                None => Bytes::from(std::mem::replace(
                    &mut body,
                    Vec::with_capacity(uncompressed),
                )),
            };
            let num_values = u32::try_from(nvalues)
                .map_err(|_| ParquetError::General("page has too many values".into()))?;
            let page = Page::DataPage {
                buf,
                num_values,
                encoding: Encoding::PLAIN,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = pages.write_page(CompressedPage::new(page, uncompressed))?;
            total_c += spec.compressed_size as i64;
            total_u += spec.uncompressed_size as i64;
            total_values += nvalues as i64;
            r += n;
        }
        pages.close()?;
    }
    let bytes_written = sink.bytes_written() as u64;
    let metadata = ColumnChunkMetaData::builder(leaf.clone())
        .set_compression(codec_type)
        .set_encodings(vec![Encoding::PLAIN, Encoding::RLE])
        .set_total_compressed_size(total_c)
        .set_total_uncompressed_size(total_u)
        .set_num_values(total_values)
        .set_data_page_offset(0)
        .build()?;
    let close = ColumnCloseResult {
        bytes_written,
        rows_written: rows,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: None,
    };
    Ok((Bytes::from(sink.into_inner()?), close))
}

//! The page-level Parquet reader: v1 PLAIN and dictionary-encoded pages
//! without nulls, copied (or gathered) straight out of the decompressed
//! page.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Encoding;
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::schema::types::ColumnDescPtr;

use super::page::{bit_width, check_all, check_rep, decode_indices, split_levels};
use crate::convert::spec::{stores_mapped_bytes, ArraySpec};
use crate::dtype::Kind;
use crate::error::{ErrorKind, Result};

/// A column chunk to read: row group `group`, Parquet leaf `leaf` (`descr`).
#[derive(Clone, Copy)]
pub(super) struct Chunk<'a> {
    pub meta: &'a ParquetMetaData,
    pub group: usize,
    pub leaf: usize,
    pub descr: &'a ColumnDescPtr,
}

/// Reads a column chunk from its v1 data pages: PLAIN values are copied
/// out of the page, dictionary-encoded ones (RLE_DICTIONARY or
/// PLAIN_DICTIONARY indices into a PLAIN dictionary page) gathered from the
/// dictionary, after checking that every level says "present", that every
/// row holds `spec.leaf_per_row` values and that every index is in the
/// dictionary. Returns `None` (use the generic reader) for anything else:
/// other encodings, v2 pages, nulls, a physical type that is not the raw
/// bytes ([`stores_mapped_bytes`]).
///
/// Each page's values go to `sink(byte offset in the row group, bytes)`,
/// which returns false to give up. Returns the bytes passed to `sink` when
/// every page was read this way.
pub(super) fn read_pages(
    file: &Arc<File>,
    src: &Path,
    chunk: &Chunk<'_>,
    spec: &ArraySpec,
    mut sink: impl FnMut(u64, &[u8]) -> Result<bool>,
) -> Result<Option<u64>> {
    let Chunk {
        meta,
        group: k,
        leaf,
        descr,
    } = *chunk;
    let width = spec.dtype.itemsize()
        / if spec.dtype.kind() == Kind::Complex {
            2
        } else {
            1
        };
    if !stores_mapped_bytes(&spec.dtype, descr.physical_type(), descr.type_length()) {
        return Ok(None);
    }
    let (max_rep, max_def) = (descr.max_rep_level(), descr.max_def_level());
    if max_rep > 1 {
        return Ok(None);
    }
    let per_row = if max_rep == 1 { spec.leaf_per_row } else { 1 };
    let group = meta.row_group(k);
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    // A read budget keeps a crafted page header from making the crate read
    // forever (`convert::bounded`).
    let bounded = file
        .try_clone()
        .and_then(crate::convert::bounded::BoundedFile::new)
        .map_err(|e| crate::error::Error::io(src, "open", e))?;
    let mut pages = SerializedPageReader::new(
        Arc::new(bounded),
        group.column(leaf),
        group.num_rows().max(0) as usize,
        None,
    )
    .map_err(|e| bad(format!("row group {k}: {e}")))?;
    let mut at = 0u64;
    // Position within the current row.
    let mut pos = 0u64;
    // The chunk's dictionary (PLAIN values), if it has one, and the buffers
    // dictionary-encoded pages are decoded into.
    let mut dictionary: Option<bytes::Bytes> = None;
    let (mut indices, mut gathered) = (Vec::new(), Vec::new());
    while let Some(page) = pages
        .get_next_page()
        .map_err(|e| bad(format!("row group {k}: {e}")))?
    {
        let (buf, num_values, encoding, def_level_encoding, rep_level_encoding) = match page {
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
                ..
            } => (
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
            ),
            Page::DictionaryPage {
                buf,
                num_values,
                encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
                ..
            } if dictionary.is_none() && buf.len() == num_values as usize * width => {
                dictionary = Some(buf);
                continue;
            }
            _ => return Ok(None),
        };
        let dictionary_encoded = matches!(
            encoding,
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
        );
        if (encoding != Encoding::PLAIN && !dictionary_encoded)
            || (max_rep > 0 && rep_level_encoding != Encoding::RLE)
            || (max_def > 0 && def_level_encoding != Encoding::RLE)
        {
            return Ok(None);
        }
        let mut body: &[u8] = &buf;
        if max_rep > 0 {
            let Some((levels, rest)) = split_levels(body) else {
                return Ok(None);
            };
            if !check_rep(levels, num_values as u64, per_row, &mut pos) {
                return Ok(None);
            }
            body = rest;
        }
        if max_def > 0 {
            let Some((levels, rest)) = split_levels(body) else {
                return Ok(None);
            };
            if !check_all(
                levels,
                num_values as u64,
                max_def as u8,
                bit_width(max_def as u8),
            ) {
                return Ok(None);
            }
            body = rest;
        }
        if dictionary_encoded {
            // A bit width, then the indices into the dictionary.
            let Some(dict) = &dictionary else {
                return Ok(None);
            };
            let (Some(&bits), Some(rest)) = (body.first(), body.get(1..)) else {
                return Ok(None);
            };
            let entries = dict.len() / width.max(1);
            if !decode_indices(rest, num_values as usize, bits, &mut indices)
                || indices.iter().any(|&i| i as usize >= entries)
            {
                return Ok(None);
            }
            gathered.resize(indices.len() * width, 0);
            for (dst, &i) in gathered.chunks_exact_mut(width).zip(&indices) {
                let i = i as usize * width;
                dst.copy_from_slice(&dict[i..i + width]);
            }
            body = &gathered;
        }
        if body.len() != num_values as usize * width || !sink(at, body)? {
            return Ok(None);
        }
        at += body.len() as u64;
    }
    if pos != 0 {
        return Ok(None);
    }
    Ok(Some(at))
}

//! Column chunks as lists of pages: each page header decoded (thrift
//! compact protocol) from a small positioned read, so that a chunk can be
//! cut into page ranges that threads decode independently, and each range
//! read with one `pread` of its bytes, whatever the parquet crate's reader
//! would cost per page.

use std::fs::File;

use parquet::file::metadata::ColumnChunkMetaData;

use super::footer::Walk;
use crate::fsutil::FileExt;

/// What a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageKind {
    Dictionary,
    DataV1,
    DataV2,
    /// An index page (never written) or an unknown type: skipped, as the
    /// parquet crate does.
    Other,
}

/// Parquet's `Encoding` numbers that the page-level readers know.
pub(super) mod encoding {
    pub const PLAIN: i32 = 0;
    pub const PLAIN_DICTIONARY: i32 = 2;
    pub const RLE: i32 = 3;
    pub const RLE_DICTIONARY: i32 = 8;
}

/// One page of a column chunk, as its header describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PageInfo {
    pub kind: PageKind,
    /// File offset of the page header.
    pub start: u64,
    /// File offset of the page body (just past the header).
    pub body: u64,
    /// Bytes of the body in the file.
    pub compressed: usize,
    /// Bytes of the body once decompressed.
    pub uncompressed: usize,
    /// Levels (data pages) or entries (dictionary pages).
    pub values: u32,
    /// The values' encoding (an [`encoding`] number, or another).
    pub encoding: i32,
    /// v1: the level encodings.
    pub def_encoding: i32,
    pub rep_encoding: i32,
    /// v2: nulls, rows, the byte lengths of the (uncompressed) level
    /// streams, and whether the values are compressed.
    pub nulls: u32,
    pub rows: u32,
    pub def_len: usize,
    pub rep_len: usize,
    pub values_compressed: bool,
}

impl PageInfo {
    /// The file offset just past the page.
    pub fn end(&self) -> u64 {
        self.body + self.compressed as u64
    }

    pub fn is_data(&self) -> bool {
        matches!(self.kind, PageKind::DataV1 | PageKind::DataV2)
    }
}

/// Why a header could not be decoded.
enum HeaderError {
    /// The bytes ended inside it: read more.
    Truncated,
    Bad(String),
}

fn non_negative(v: i64, what: &str) -> Result<u32, HeaderError> {
    u32::try_from(v).map_err(|_| HeaderError::Bad(format!("{what} is {v}")))
}

/// Reads a zigzag i32 of the compact protocol.
fn read_i32(w: &mut Walk<'_>) -> Result<i64, String> {
    let v = w.varint()?;
    let v = ((v >> 1) as i64) ^ -((v & 1) as i64);
    i32::try_from(v)
        .map(i64::from)
        .map_err(|_| format!("an i32 in the page header is {v}"))
}

/// Walks the fields of a struct, giving `(field id, compact type)` to
/// `field`, which reads the value (returning true) or leaves it to be
/// skipped (false).
fn fields(
    w: &mut Walk<'_>,
    mut field: impl FnMut(&mut Walk<'_>, i16, u8) -> Result<bool, String>,
) -> Result<(), String> {
    let mut id: i16 = 0;
    loop {
        let h = w.byte()?;
        if h == 0 {
            return Ok(());
        }
        let t = h & 0x0f;
        id = match h >> 4 {
            0 => {
                let v = w.varint()?;
                ((v >> 1) as i16) ^ -((v & 1) as i16)
            }
            d => id.wrapping_add(i16::from(d)),
        };
        if !field(w, id, t)? {
            w.value(t, 1)?;
        }
    }
}

/// Reads the i32 fields `1..=N` of a struct; `other(id, type)` may take
/// a field of no value (a bool: its type is the value) instead of it
/// being skipped.
fn i32_fields<const N: usize>(
    w: &mut Walk<'_>,
    mut other: impl FnMut(i16, u8) -> bool,
) -> Result<[Option<i64>; N], String> {
    let mut out = [None; N];
    fields(w, |w, id, t| {
        Ok(match (usize::try_from(id), t) {
            (Ok(i @ 1..), 5) if i <= N => {
                out[i - 1] = Some(read_i32(w)?);
                true
            }
            _ => matches!(t, 1 | 2) && other(id, t),
        })
    })?;
    Ok(out)
}

/// Decodes a `PageHeader` at the start of `b`; returns it with its length.
fn decode_header(b: &[u8], start: u64) -> Result<(PageInfo, usize), HeaderError> {
    let mut w = Walk::new(b, "page header");
    let mut page_type = None;
    let (mut uncompressed, mut compressed) = (None, None);
    let mut info = PageInfo {
        kind: PageKind::DataV1,
        start,
        body: 0,
        compressed: 0,
        uncompressed: 0,
        values: 0,
        encoding: -1,
        def_encoding: -1,
        rep_encoding: -1,
        nulls: 0,
        rows: 0,
        def_len: 0,
        rep_len: 0,
        values_compressed: true,
    };
    let mut values = None;
    let walked = fields(&mut w, |w, id, t| {
        Ok(match (id, t) {
            (1, 5) => {
                page_type = Some(read_i32(w)?);
                true
            }
            (2, 5) => {
                uncompressed = Some(read_i32(w)?);
                true
            }
            (3, 5) => {
                compressed = Some(read_i32(w)?);
                true
            }
            // DataPageHeader: 1 num_values, 2 encoding, 3 and 4 the level
            // encodings; DictionaryPageHeader: 1 num_values, 2 encoding.
            (5 | 7, 12) => {
                let [n, enc, def, rep] = i32_fields(w, |_, _| false)?;
                values = n;
                info.encoding = enc.unwrap_or(-1) as i32;
                info.def_encoding = def.unwrap_or(-1) as i32;
                info.rep_encoding = rep.unwrap_or(-1) as i32;
                true
            }
            // DataPageHeaderV2: 1 num_values, 2 num_nulls, 3 num_rows,
            // 4 encoding, 5 and 6 the level lengths, 7 is_compressed.
            (8, 12) => {
                let v2 = i32_fields::<6>(w, |id, t| match (id, t) {
                    (7, 1) | (7, 2) => {
                        info.values_compressed = t == 1;
                        true
                    }
                    _ => false,
                })?;
                let [Some(n), Some(nulls), Some(rows), Some(enc), Some(dl), Some(rl)] = v2 else {
                    return Err("a v2 data page header lacks a required field".into());
                };
                values = Some(n);
                info.encoding = enc as i32;
                info.nulls = u32::try_from(nulls).map_err(|_| format!("num_nulls is {nulls}"))?;
                info.rows = u32::try_from(rows).map_err(|_| format!("num_rows is {rows}"))?;
                info.def_len =
                    usize::try_from(dl).map_err(|_| format!("the definition levels take {dl}"))?;
                info.rep_len =
                    usize::try_from(rl).map_err(|_| format!("the repetition levels take {rl}"))?;
                true
            }
            _ => false,
        })
    });
    if let Err(e) = walked {
        return Err(if w.at_end() {
            HeaderError::Truncated
        } else {
            HeaderError::Bad(e)
        });
    }
    let (Some(page_type), Some(uncompressed), Some(compressed)) =
        (page_type, uncompressed, compressed)
    else {
        return Err(HeaderError::Bad(
            "the page header lacks its type or sizes".into(),
        ));
    };
    info.kind = match page_type {
        0 => PageKind::DataV1,
        2 => PageKind::Dictionary,
        3 => PageKind::DataV2,
        _ => PageKind::Other,
    };
    info.compressed = non_negative(compressed, "the compressed page size")? as usize;
    info.uncompressed = non_negative(uncompressed, "the uncompressed page size")? as usize;
    if info.kind != PageKind::Other {
        let v =
            values.ok_or_else(|| HeaderError::Bad("the page header lacks num_values".into()))?;
        info.values = non_negative(v, "num_values")?;
    }
    let len = w.position();
    info.body = start + len as u64;
    Ok((info, len))
}

/// Headers larger than this are refused (statistics make them grow, but
/// a few KiB is usual).
const MAX_HEADER: usize = 16 << 20;

/// Reads the page headers of column chunk `cc` of `file` (`file_len`
/// bytes). Errors are reasons ("the page at byte N ...").
pub(super) fn walk(
    file: &File,
    file_len: u64,
    cc: &ColumnChunkMetaData,
) -> Result<Vec<PageInfo>, String> {
    let (start, len) = cc.byte_range();
    let end = start
        .checked_add(len)
        .filter(|&e| e <= file_len)
        .ok_or_else(|| {
            format!("the column chunk at bytes {start}+{len} runs past the end of the file ({file_len} bytes)")
        })?;
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    let mut at = start;
    let mut values: u64 = 0;
    while at < end {
        let mut window = 4096usize.min((end - at) as usize);
        let (page, _) = loop {
            buf.resize(window, 0);
            file.read_exact_at(&mut buf, at)
                .map_err(|e| format!("reading the page header at byte {at}: {e}"))?;
            match decode_header(&buf, at) {
                Ok(h) => break h,
                Err(HeaderError::Truncated)
                    if (window as u64) < end - at && window < MAX_HEADER =>
                {
                    window = (window * 8).min((end - at) as usize).min(MAX_HEADER);
                }
                Err(HeaderError::Truncated) => {
                    return Err(format!(
                        "the page header at byte {at} runs past the end of its column chunk"
                    ))
                }
                Err(HeaderError::Bad(e)) => {
                    return Err(format!("the page header at byte {at} is corrupt: {e}"))
                }
            }
        };
        if page.end() > end {
            return Err(format!(
                "the page at byte {at} ({} bytes) runs past the end of its column chunk (byte {end})",
                page.compressed
            ));
        }
        at = page.end();
        if page.is_data() {
            values += u64::from(page.values);
        }
        if page.kind != PageKind::Other {
            pages.push(page);
        }
    }
    let declared = cc.num_values();
    if u64::try_from(declared).ok() != Some(values) {
        return Err(format!(
            "the column chunk declares {declared} values but its pages hold {values}"
        ));
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 data page header as the parquet crate writes it.
    #[test]
    fn decodes_the_crates_v1_header() {
        let mut b = Vec::new();
        super::super::page::data_page_header(1000, 600, 250, &mut b);
        b.extend_from_slice(&[0xaa; 16]);
        let Ok((h, len)) = decode_header(&b, 100) else {
            panic!("not decoded")
        };
        assert_eq!(len, b.len() - 16);
        assert_eq!(h.kind, PageKind::DataV1);
        assert_eq!((h.uncompressed, h.compressed, h.values), (1000, 600, 250));
        assert_eq!((h.encoding, h.def_encoding, h.rep_encoding), (0, 3, 3));
        assert_eq!(h.body, 100 + len as u64);
        // Every shorter prefix is truncated, not corrupt.
        for n in 0..len {
            assert!(matches!(
                decode_header(&b[..n], 0),
                Err(HeaderError::Truncated)
            ));
        }
        // A negative size is corrupt.
        let mut neg = Vec::new();
        super::super::page::data_page_header(-5, 600, 250, &mut neg);
        assert!(matches!(decode_header(&neg, 0), Err(HeaderError::Bad(_))));
    }
}

//! Parquet's page-level encodings, both ways: varints, the RLE/bit-packed
//! hybrid (one walker, for dictionary indices and for levels), the thrift
//! header of a v1 data page, and the level checks of the page-level reader.

/// Appends `v` as a ULEB128 varint.
pub(super) fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a ULEB128 varint at `*i`, advancing `*i`; `None` when truncated.
fn read_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Appends one RLE run of `count` copies of `value` (bit width ≤ 8).
pub(super) fn rle_run(count: u64, value: u8, out: &mut Vec<u8>) {
    write_varint(count << 1, out);
    out.push(value);
}

/// Walks the first `n` values of an RLE/bit-packed hybrid stream of `bits`
/// bits per value (at most 32), calling `f(value, count)` for each RLE run
/// and `f(value, 1)` for each bit-packed value. False on malformed data or
/// when `f` returns false.
fn walk_hybrid(b: &[u8], n: u64, bits: u8, mut f: impl FnMut(u32, u64) -> bool) -> bool {
    if bits > 32 {
        return false;
    }
    let vbytes = bits.div_ceil(8) as usize;
    let mask = if bits == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << bits) - 1
    };
    let (mut i, mut seen) = (0usize, 0u64);
    while seen < n {
        let Some(h) = read_varint(b, &mut i) else {
            return false;
        };
        let left = n - seen;
        if h & 1 == 0 {
            let count = (h >> 1).min(left);
            let Some(v) = b.get(i..i + vbytes) else {
                return false;
            };
            i += vbytes;
            let mut le = [0u8; 4];
            le[..vbytes].copy_from_slice(v);
            if count == 0 || !f(u32::from_le_bytes(le), count) {
                return false;
            }
            seen += count;
        } else {
            let groups = h >> 1;
            let Some(packed) = usize::try_from(groups)
                .ok()
                .and_then(|g| g.checked_mul(bits as usize))
                .and_then(|nbytes| b.get(i..i.checked_add(nbytes)?))
            else {
                return false;
            };
            i += packed.len();
            let total = groups.saturating_mul(8).min(left);
            for j in 0..total as usize {
                // An 8-byte window holds any value of up to 32 bits at any
                // bit offset.
                let bit = j * bits as usize;
                let mut w = [0u8; 8];
                let start = bit / 8;
                let end = (start + 8).min(packed.len());
                w[..end - start].copy_from_slice(&packed[start..end]);
                if !f(((u64::from_le_bytes(w) >> (bit % 8)) & mask) as u32, 1) {
                    return false;
                }
            }
            seen += total;
        }
    }
    true
}

/// Decodes `n` dictionary indices of `bits` bits each (at most 32) into
/// `out`; false on malformed data.
pub(super) fn decode_indices(b: &[u8], n: usize, bits: u8, out: &mut Vec<u32>) -> bool {
    out.clear();
    walk_hybrid(b, n as u64, bits, |v, count| {
        out.extend(std::iter::repeat_n(v, count as usize));
        true
    })
}

/// Appends `n` definition levels of a flat nullable column (bit width 1:
/// 1 = present, 0 = null) to `out` as validity bits; returns how many are
/// present, or `None` for malformed levels.
pub(super) fn def_bits(
    b: &[u8],
    n: u64,
    out: &mut arrow_buffer::BooleanBufferBuilder,
) -> Option<u64> {
    let mut present = 0u64;
    walk_hybrid(b, n, 1, |v, count| {
        out.append_n(count as usize, v == 1);
        if v == 1 {
            present += count;
        }
        v <= 1
    })
    .then_some(present)
}

/// Splits a v1 page body into its length-prefixed level stream and the rest.
pub(super) fn split_levels(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as usize;
    let levels = body.get(4..4 + len)?;
    Some((levels, &body[4 + len..]))
}

/// The bit width of levels up to `max`.
pub(super) fn bit_width(max: u8) -> u8 {
    (8 - max.leading_zeros()) as u8
}

/// True when all `n` levels (of `width` bits) equal `value`.
pub(super) fn check_all(b: &[u8], n: u64, value: u8, width: u8) -> bool {
    walk_hybrid(b, n, width, |v, _| v == u32::from(value))
}

/// True when the repetition levels describe rows of exactly `per_row`
/// values (a 0, then `per_row - 1` ones); `pos` carries the position within
/// a row across pages.
pub(super) fn check_rep(b: &[u8], n: u64, per_row: u64, pos: &mut u64) -> bool {
    walk_hybrid(b, n, 1, |v, count| {
        if v == 0 {
            if per_row == 1 {
                return *pos == 0;
            }
            if *pos != 0 || count != 1 {
                return false;
            }
            *pos = 1;
        } else {
            if *pos == 0 || *pos + count > per_row {
                return false;
            }
            *pos = (*pos + count) % per_row;
        }
        true
    })
}

/// Room for the thrift header of a data page (at most 28 bytes).
pub(super) const MAX_HEADER: usize = 32;

/// A thrift compact-protocol i32 field (`delta` from the previous field id).
fn thrift_i32(delta: u8, v: i32, out: &mut Vec<u8>) {
    out.push((delta << 4) | 5);
    write_varint(((v << 1) ^ (v >> 31)) as u32 as u64, out);
}

/// Appends the thrift `PageHeader` of a PLAIN v1 data page with RLE levels
/// and no statistics or checksum, as the parquet crate's page writer
/// encodes it (checked in the tests).
pub(super) fn data_page_header(uncompressed: i32, compressed: i32, values: i32, out: &mut Vec<u8>) {
    const PLAIN: i32 = 0;
    const RLE: i32 = 3;
    const DATA_PAGE: i32 = 0;
    thrift_i32(1, DATA_PAGE, out); // 1: type
    thrift_i32(1, uncompressed, out); // 2: uncompressed_page_size
    thrift_i32(1, compressed, out); // 3: compressed_page_size
    out.push((2 << 4) | 12); // 5: data_page_header (struct)
    thrift_i32(1, values, out); // 1: num_values
    thrift_i32(1, PLAIN, out); // 2: encoding
    thrift_i32(1, RLE, out); // 3: definition_level_encoding
    thrift_i32(1, RLE, out); // 4: repetition_level_encoding
    out.push(0); // end of DataPageHeader
    out.push(0); // end of PageHeader
}

#[cfg(test)]
mod tests {
    use super::*;

    use bytes::Bytes;
    use parquet::basic::Encoding;
    use parquet::column::page::{CompressedPage, Page, PageWriter};
    use parquet::file::writer::{SerializedPageWriter, TrackedWrite};

    #[test]
    fn checks_repetition_levels_of_fixed_rows() {
        // Rows of 3: runs (1 x 0), (2 x 1), twice.
        let b = [2u8, 0, 4, 1, 2, 0, 4, 1];
        let mut pos = 0;
        assert!(check_rep(&b, 6, 3, &mut pos));
        assert_eq!(pos, 0);
        let mut pos = 0;
        assert!(!check_rep(&b, 6, 2, &mut pos));
        // Bit-packed: one group of 8 values 0,1,1,0,1,1,0,1 (LSB first) = 0b1011_0110.
        let packed = [3u8, 0b1011_0110];
        let mut pos = 0;
        assert!(check_rep(&packed, 8, 3, &mut pos));
        assert_eq!(pos, 2);
    }

    #[test]
    fn decodes_dictionary_indices() {
        let mut out = Vec::new();
        // An RLE run of 5 x 300 (bit width 9: two value bytes).
        assert!(decode_indices(&[10, 0x2c, 0x01], 5, 9, &mut out));
        assert_eq!(out, vec![300; 5]);
        // One bit-packed group of 8 values of 3 bits: 0..8, LSB first.
        let values: Vec<u32> = (0..8).collect();
        let mut packed = 0u32;
        for (j, v) in values.iter().enumerate() {
            packed |= v << (3 * j);
        }
        let mut b = vec![3u8];
        b.extend_from_slice(&packed.to_le_bytes()[..3]);
        assert!(decode_indices(&b, 8, 3, &mut out));
        assert_eq!(out, values);
        // Fewer values wanted than packed: the group is cut.
        assert!(decode_indices(&b, 6, 3, &mut out));
        assert_eq!(out, &values[..6]);
        // Truncated streams and widths over 32 bits are refused.
        assert!(!decode_indices(&b[..2], 8, 3, &mut out));
        assert!(!decode_indices(&[2, 1], 1, 33, &mut out));
        // Bit width 0: a dictionary of one value.
        assert!(decode_indices(&[8], 4, 0, &mut out));
        assert_eq!(out, vec![0; 4]);
        // A bit-packed header claiming more groups than bytes exist.
        assert!(!decode_indices(
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            8,
            32,
            &mut out
        ));
    }

    #[test]
    fn checks_definition_levels() {
        assert!(check_all(&[8, 3], 4, 3, 2));
        assert!(!check_all(&[8, 2], 4, 3, 2));
        assert!(!check_all(&[8], 4, 3, 2));
        // Bit-packed: 8 values of 2 bits, all 3.
        assert!(check_all(&[3, 0xff, 0xff], 8, 3, 2));
        assert!(!check_all(&[3, 0xff, 0x7f], 8, 3, 2));
    }

    #[test]
    fn a_written_rle_run_reads_back() {
        let mut b = Vec::new();
        rle_run(1000, 1, &mut b);
        assert!(check_all(&b, 1000, 1, 1));
    }

    /// The hand-written header is byte for byte the crate's.
    #[test]
    fn page_header_matches_the_crate() {
        for (uncompressed, compressed, values) in [
            (0, 0, 0),
            (1, 1, 1),
            (1 << 20, 700_001, 262_144),
            (i32::MAX, 63, 64),
        ] {
            let mut sink = TrackedWrite::new(Vec::new());
            {
                let mut w = SerializedPageWriter::new(&mut sink);
                let page = Page::DataPage {
                    buf: Bytes::from(vec![7u8; compressed as usize]),
                    num_values: values as u32,
                    encoding: Encoding::PLAIN,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                };
                w.write_page(CompressedPage::new(page, uncompressed as usize))
                    .unwrap();
                w.close().unwrap();
            }
            let crate_bytes = sink.into_inner().unwrap();
            let mut ours = Vec::new();
            data_page_header(uncompressed, compressed, values, &mut ours);
            assert_eq!(
                &crate_bytes[..ours.len()],
                &ours[..],
                "{uncompressed} {compressed}"
            );
            assert_eq!(crate_bytes.len(), ours.len() + compressed as usize);
            assert!(ours.len() <= MAX_HEADER);
        }
    }
}

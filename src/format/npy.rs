//! The `.npy` header: versions 1.0, 2.0 and 3.0, as numpy's `lib/format` describes.
//!
//! Layout: magic `\x93NUMPY`, major and minor version bytes, header length
//! (little-endian u16 for 1.0, u32 for 2.0 and 3.0), then a Python dict
//! literal `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`
//! padded with spaces and ended by `\n`. The data follows the header.

use std::io::Read;

use super::header::ArrayHeader;
use crate::dtype::Dtype;
use crate::error::{Error, ErrorKind, Result};
use crate::shape::Order;

/// The six magic bytes every `.npy` file starts with.
pub const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Headers longer than this are refused before being read.
pub const MAX_NPY_HEADER_BYTES: usize = 1 << 20;

/// What a `.npy` header says.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// Format version (major, minor): (1, 0), (2, 0) or (3, 0).
    pub version: (u8, u8),
    /// `descr`, `shape` and `fortran_order`; its `offset` is the end of the
    /// `.npy` header, where the data starts (no name, no metadata).
    pub header: ArrayHeader,
}

impl NpyHeader {
    /// Reads the header at the start of `reader`. Errors name no file: the
    /// caller that knows it attaches it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidNpy`] for a bad magic, an unknown version, a truncated
    /// or malformed header; [`ErrorKind::UnsupportedDtype`] for object, unicode
    /// or structured dtypes.
    pub fn read_from(reader: &mut impl Read) -> Result<Self> {
        let bad = |reason: String| Error::new(ErrorKind::InvalidNpy { reason });
        let io = |e| Error::new(ErrorKind::io("read", e));
        let mut pre = [0u8; 12];
        let got = read_up_to(reader, &mut pre).map_err(io)?;
        if got == 0 {
            return Err(bad("file is empty (truncated before the magic)".into()));
        }
        let k = got.min(6);
        if pre[..k] != NPY_MAGIC[..k] {
            return Err(bad("bad magic: does not start with \\x93NUMPY".into()));
        }
        if got < 8 {
            return Err(bad(format!("truncated: file has only {got} bytes")));
        }
        let (major, minor) = (pre[6], pre[7]);
        let (hlen, start) = match major {
            1 if got >= 10 => (u16::from_le_bytes([pre[8], pre[9]]) as usize, 10usize),
            2 | 3 if got >= 12 => (
                u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize,
                12usize,
            ),
            1..=3 => return Err(bad(format!("truncated: file has only {got} bytes"))),
            _ => {
                return Err(bad(format!(
                    "format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)"
                )))
            }
        };
        if hlen > MAX_NPY_HEADER_BYTES {
            return Err(bad(format!(
                "header of {hlen} bytes is larger than the {MAX_NPY_HEADER_BYTES}-byte limit"
            )));
        }
        let mut header = vec![0u8; hlen];
        let already = got - start;
        header[..already.min(hlen)].copy_from_slice(&pre[start..start + already.min(hlen)]);
        let more = if already < hlen {
            read_up_to(reader, &mut header[already..]).map_err(io)?
        } else {
            0
        };
        if already + more < hlen {
            return Err(bad(format!(
                "truncated header: {hlen} bytes declared, {} present",
                already + more
            )));
        }
        let text: String = if major >= 3 {
            String::from_utf8(header).map_err(|_| bad("header is not UTF-8".into()))?
        } else {
            header.iter().map(|&b| b as char).collect() // latin-1
        };
        let (dtype, shape, order) = parse_dict(&text).map_err(|e| match e.into_kind() {
            ErrorKind::InvalidDtype { dtype, reason } => {
                bad(format!("descr {dtype:?} is not a dtype: {reason}"))
            }
            kind => Error::new(kind),
        })?;
        Ok(NpyHeader {
            version: (major, minor),
            header: ArrayHeader {
                order,
                offset: (start + hlen) as u64,
                ..ArrayHeader::new(dtype, shape)
            },
        })
    }
}

/// Encodes a `.npy` header for `dtype`, `shape` and `order`.
///
/// With `existing = None`, the header is as short as the format allows plus
/// room for `shape[0]` to grow to 20 digits (so a writer can rewrite it in
/// place as rows are appended), padded so the data starts on a 64-byte
/// boundary. With `existing = Some((len, major))`, it keeps that file's
/// format version and is padded to exactly `len` bytes (its data offset), or
/// `None` is returned if it does not fit.
pub(crate) fn encode_header(
    dtype: &Dtype,
    shape: &[u64],
    order: Order,
    existing: Option<(usize, u8)>,
) -> Option<Vec<u8>> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}",
        dtype.typestr(),
        if order == Order::F { "True" } else { "False" },
        shape_text
    );
    let (total, major) = match existing {
        Some(e) => e,
        None => {
            let slack = shape.first().map_or(0, |d| 20 - d.to_string().len());
            let body = dict.len() + slack + 1;
            let major = if body + 10 > u16::MAX as usize { 2 } else { 1 };
            let pre = if major == 1 { 10 } else { 12 };
            ((pre + body).div_ceil(64) * 64, major)
        }
    };
    let pre = match major {
        1 => 10,
        2 | 3 => 12,
        _ => return None,
    };
    let pad = total.checked_sub(pre + dict.len() + 1)?;
    let hlen = total - pre;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(NPY_MAGIC);
    out.extend([major, 0]);
    if major == 1 {
        out.extend(u16::try_from(hlen).ok()?.to_le_bytes());
    } else {
        out.extend((hlen as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + pad, b' ');
    out.push(b'\n');
    Some(out)
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn npy_err(reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidNpy {
        reason: reason.into(),
    })
}

/// A Python literal, as far as `.npy` headers use them.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Seq(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

fn parse_dict(text: &str) -> Result<(Dtype, Vec<u64>, Order)> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(npy_err("trailing characters after the header dict"));
    }
    let Py::Dict(items) = v else {
        return Err(npy_err("header is not a dict"));
    };
    let get = |key: &str| {
        items
            .iter()
            .find(|(k, _)| *k == Py::Str(key.into()))
            .map(|(_, v)| v)
    };
    if items.len() != 3 {
        return Err(npy_err(
            "header must have exactly the keys descr, fortran_order and shape",
        ));
    }
    let descr = match get("descr") {
        Some(Py::Str(s)) => Dtype::parse(s)?,
        Some(Py::Seq(_)) => {
            return Err(Error::new(ErrorKind::UnsupportedDtype {
                dtype: "structured".into(),
                reason: "structured dtypes are not supported; map each field as its own array"
                    .into(),
            }))
        }
        _ => return Err(npy_err("missing or invalid 'descr'")),
    };
    let order = match get("fortran_order") {
        Some(Py::Bool(true)) => Order::F,
        Some(Py::Bool(false)) => Order::C,
        _ => return Err(npy_err("missing or invalid 'fortran_order'")),
    };
    let shape = match get("shape") {
        Some(Py::Seq(dims)) => dims
            .iter()
            .map(|d| match d {
                Py::Int(n) if *n >= 0 && *n <= u64::MAX as i128 => Ok(*n as u64),
                _ => Err(npy_err("'shape' must be a tuple of non-negative integers")),
            })
            .collect::<Result<Vec<u64>>>()?,
        _ => return Err(npy_err("missing or invalid 'shape'")),
    };
    Ok((descr, shape, order))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(npy_err(format!(
                "expected '{}' at byte {} of the header",
                c as char, self.i
            )))
        }
    }

    fn value(&mut self) -> Result<Py> {
        self.depth += 1;
        if self.depth > 16 {
            return Err(npy_err("header nests too deeply"));
        }
        let v = match self.peek() {
            Some(b'{') => self.dict(),
            Some(b'(') => self.seq(b')'),
            Some(b'[') => self.seq(b']'),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(c) => Err(npy_err(format!(
                "unexpected '{}' at byte {} of the header",
                c as char, self.i
            ))),
            None => Err(npy_err("header ends early")),
        };
        self.depth -= 1;
        v
    }

    fn dict(&mut self) -> Result<Py> {
        self.expect(b'{')?;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Py::Dict(items));
            }
            let k = self.value()?;
            self.expect(b':')?;
            let v = self.value()?;
            items.push((k, v));
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(npy_err("expected ',' or '}' in the header dict")),
            }
        }
    }

    fn seq(&mut self, close: u8) -> Result<Py> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(Py::Seq(items));
            }
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(npy_err("expected ',' or a closing bracket in the header")),
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Py> {
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != quote {
            if self.s[self.i] == b'\\' {
                return Err(npy_err("escapes in header strings are not supported"));
            }
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(npy_err("unterminated string in the header"));
        }
        let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Ok(Py::Str(s))
    }

    fn int(&mut self) -> Result<Py> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        let n: i128 = digits
            .parse()
            .map_err(|_| npy_err(format!("bad integer {digits:?} in the header")))?;
        // Python 2 wrote long integers as `3L`.
        if self.s.get(self.i) == Some(&b'L') {
            self.i += 1;
        }
        Ok(Py::Int(n))
    }

    fn word(&mut self) -> Result<Py> {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_alphanumeric() {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            b"True" => Ok(Py::Bool(true)),
            b"False" => Ok(Py::Bool(false)),
            b"None" => Ok(Py::None),
            w => Err(npy_err(format!(
                "unexpected word {:?} in the header",
                String::from_utf8_lossy(w)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(version: u8, dict: &str) -> Vec<u8> {
        let mut out = NPY_MAGIC.to_vec();
        out.extend([version, 0]);
        let pre = if version == 1 { 10 } else { 12 };
        let mut h = dict.to_string();
        while !(pre + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        if version == 1 {
            out.extend((h.len() as u16).to_le_bytes());
        } else {
            out.extend((h.len() as u32).to_le_bytes());
        }
        out.extend(h.as_bytes());
        out
    }

    fn read(bytes: &[u8]) -> Result<NpyHeader> {
        NpyHeader::read_from(&mut &bytes[..]).map_err(|e| e.in_file("x.npy"))
    }

    #[test]
    fn reads_versions_one_two_three() {
        for v in [1, 2, 3] {
            let h = read(&npy(
                v,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
            ))
            .unwrap();
            assert_eq!(h.version, (v, 0));
            assert_eq!(h.header.shape, vec![3, 4]);
            assert_eq!(h.header.dtype.typestr(), "<f4");
            assert_eq!(h.header.offset % 64, 0);
        }
    }

    #[test]
    fn honours_fortran_order_and_scalars_and_py2_longs() {
        let h = read(&npy(
            1,
            "{'descr': '>i8', 'fortran_order': True, 'shape': (2L, 5L)}",
        ))
        .unwrap();
        assert_eq!(h.header.order, Order::F);
        assert_eq!(h.header.shape, vec![2, 5]);
        let h = read(&npy(
            1,
            "{'shape': (), 'descr': '|u1', 'fortran_order': False}",
        ))
        .unwrap();
        assert!(h.header.shape.is_empty());
    }

    #[test]
    fn refuses_bad_magic_and_truncation() {
        assert!(read(b"NOTNUMPY....")
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        assert!(read(b"").unwrap_err().to_string().contains("empty"));
        let full = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        );
        for cut in [7, 9, 20, full.len() - 1] {
            let e = read(&full[..cut]).unwrap_err();
            assert!(e.to_string().contains("truncated"), "{cut}: {e}");
        }
    }

    #[test]
    fn refuses_object_and_structured_dtypes_naming_the_file() {
        let e = read(&npy(
            1,
            "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
        ))
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::UnsupportedDtype { .. }));
        assert!(e.to_string().starts_with("x.npy: "), "{e}");
        let e = read(&npy(
            1,
            "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (3,), }",
        ))
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::UnsupportedDtype { .. }));
    }

    #[test]
    fn refuses_malformed_dicts() {
        for d in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
            "{'descr': 'zz', 'fortran_order': False, 'shape': (3,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk",
            "[1, 2, 3]",
            "{'descr': '<f4', 'fortran_order': False, 'shape': ((((((((((((((((((1,),),),),),),),),),),),),),),),),),),)}",
        ] {
            assert!(
                matches!(read(&npy(1, d)).map_err(Error::into_kind), Err(ErrorKind::InvalidNpy { .. })),
                "{d}: {:?}",
                read(&npy(1, d))
            );
        }
    }

    #[test]
    fn encoded_headers_read_back_and_rewrite_in_place() {
        let d = Dtype::parse("<f4").unwrap();
        let h = encode_header(&d, &[0, 128], Order::C, None).unwrap();
        assert_eq!(h.len() % 64, 0);
        let back = read(&h).unwrap();
        assert_eq!(
            (back.header.shape.clone(), back.header.offset),
            (vec![0, 128], h.len() as u64)
        );
        // The row count can grow to u64::MAX within the same header length.
        let h2 = encode_header(&d, &[u64::MAX, 128], Order::C, Some((h.len(), 1))).unwrap();
        assert_eq!(h2.len(), h.len());
        assert_eq!(read(&h2).unwrap().header.shape, vec![u64::MAX, 128]);
        let f = encode_header(&d, &[3], Order::F, None).unwrap();
        assert_eq!(read(&f).unwrap().header.order, Order::F);
        assert!(encode_header(&d, &[3], Order::C, Some((128, 1))).is_some());
        assert!(encode_header(&d, &[3], Order::C, Some((64, 1))).is_none());
        assert!(encode_header(&d, &[3], Order::C, Some((32, 1))).is_none());
        // Versions 2.0 and 3.0 keep their version and length field.
        let v3 = encode_header(&d, &[7, 128], Order::C, Some((128, 3))).unwrap();
        assert_eq!(read(&v3).unwrap().version, (3, 0));
        assert_eq!(read(&v3).unwrap().header.offset, 128);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut b = NPY_MAGIC.to_vec();
            b.extend(&tail);
            let _ = read(&b);
            let _ = read(&tail);
        }

        #[test]
        fn arbitrary_dicts_never_panic(d in "[{}()\\[\\]':, a-zA-Z0-9<>|_-]{0,80}") {
            let _ = read(&npy(1, &d));
        }
    }
}

//! Sidecar format v1: a small JSON file next to a raw array file recording
//! its dtype, shape, order and data offset. See `docs/FORMAT.md`.
//!
//! ```text
//! emb.f32               raw little-endian data
//! emb.f32.mmarrow.json  {"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[1000,128],"order":"C","offset":0}
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::header::ArrayHeader;
use crate::dtype::Dtype;
use crate::error::{Error, ErrorKind, Result, ResultExt};
use crate::fsutil;
use crate::shape::Order;

/// The suffix appended to a data file's name to name its sidecar.
pub const SIDECAR_SUFFIX: &str = ".mmarrow.json";
/// The value of the sidecar's `format` field.
pub const FORMAT_NAME: &str = "mmarrow.array";
/// The newest sidecar format version this build reads and the one it writes.
pub const FORMAT_VERSION: u64 = 1;
/// Sidecars larger than this are refused before being read.
pub const MAX_SIDECAR_BYTES: u64 = 1 << 20;

/// The sidecar path for a data file: its name with [`SIDECAR_SUFFIX`] appended.
///
/// ```
/// use std::path::Path;
/// assert_eq!(
///     mmarrow::format::sidecar_path(Path::new("data/emb.f32")),
///     Path::new("data/emb.f32.mmarrow.json")
/// );
/// ```
pub fn sidecar_path(data: impl AsRef<Path>) -> PathBuf {
    let mut s: OsString = data.as_ref().as_os_str().to_owned();
    s.push(SIDECAR_SUFFIX);
    PathBuf::from(s)
}

/// The contents of a sidecar, format v1.
///
/// Unknown fields are ignored when reading and kept when mmarrow rewrites
/// the sidecar, so a newer v1 writer's additions survive an older tool.
///
/// ```
/// use mmarrow::Dtype;
/// use mmarrow::shape::Order;
/// use mmarrow::format::{ArrayHeader, Sidecar};
/// let s = Sidecar::new(ArrayHeader::new(Dtype::parse("f4").unwrap(), vec![10, 3]));
/// let json = s.to_json();
/// assert!(json.contains(r#""dtype":"<f4""#));
/// let back = Sidecar::from_json(&json).unwrap();
/// assert_eq!(back.header.shape, vec![10, 3]);
/// assert_eq!(back.header.order, Order::C);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sidecar {
    /// What the sidecar records about the data file (offset included).
    pub header: ArrayHeader,
    /// Fields this version does not know, kept verbatim on rewrite.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    version: u64,
    dtype: String,
    shape: Vec<u64>,
    #[serde(default)]
    order: Order,
    #[serde(default)]
    offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

impl Wire {
    fn into_header(self, dtype: Dtype) -> ArrayHeader {
        ArrayHeader {
            dtype,
            shape: self.shape,
            order: self.order,
            offset: self.offset,
            name: self.name,
            metadata: self.metadata,
        }
    }
}

const KNOWN_FIELDS: [&str; 8] = [
    "format", "version", "dtype", "shape", "order", "offset", "name", "metadata",
];

fn read_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::IsADirectory => ErrorKind::InvalidSidecar {
            reason: "is a directory".into(),
        }
        .at(path),
        _ => Error::io(path, "read sidecar", e),
    }
}

impl Sidecar {
    /// A sidecar recording `header`, with no unknown fields.
    pub fn new(header: ArrayHeader) -> Self {
        Sidecar {
            header,
            extra: serde_json::Map::new(),
        }
    }

    /// Parses sidecar JSON; `path` is only used in error messages.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidSidecar`] for bad JSON or a missing/ill-typed field,
    /// [`ErrorKind::UnsupportedVersion`] for a version above [`FORMAT_VERSION`],
    /// dtype errors for an unknown dtype.
    pub fn from_json(text: &str) -> Result<Self> {
        // Fast path: a current sidecar with only known fields parses in one
        // typed pass; anything else takes the careful path below, which
        // gives the precise errors and keeps unknown fields.
        if let Ok(w) = serde_json::from_str::<Wire>(text) {
            if w.format == FORMAT_NAME && w.version == FORMAT_VERSION {
                if let Ok(dtype) = Dtype::parse(&w.dtype) {
                    return Ok(Sidecar::new(w.into_header(dtype)));
                }
            }
        }
        let bad = |reason: String| Error::new(ErrorKind::InvalidSidecar { reason });
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let serde_json::Value::Object(mut obj) = value else {
            return Err(bad("not a JSON object".into()));
        };
        match obj.get("format") {
            Some(serde_json::Value::String(f)) if f == FORMAT_NAME => {}
            Some(other) => {
                return Err(bad(format!(
                    "format is {other}, expected \"{FORMAT_NAME}\""
                )))
            }
            None => return Err(bad("missing field `format`".into())),
        }
        // The version gate comes before any other field is interpreted, so a
        // future format with different fields is refused for its version.
        let version = match obj.get("version") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad(format!("version {v} is not a positive integer")))?,
            None => return Err(bad("missing field `version`".into())),
        };
        if version == 0 || version > FORMAT_VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            }));
        }
        let mut extra = serde_json::Map::new();
        let keys: Vec<String> = obj.keys().cloned().collect();
        for k in keys {
            if !KNOWN_FIELDS.contains(&k.as_str()) {
                if let Some(v) = obj.remove(&k) {
                    extra.insert(k, v);
                }
            }
        }
        let wire: Wire = serde_json::from_value(serde_json::Value::Object(obj))
            .map_err(|e| bad(e.to_string()))?;
        let dtype = Dtype::parse(&wire.dtype).map_err(|e| match e.kind() {
            ErrorKind::UnsupportedDtype { .. } => e,
            _ => bad(e.to_string()),
        })?;
        Ok(Sidecar {
            header: wire.into_header(dtype),
            extra,
        })
    }

    /// Serializes to compact JSON (one line, no trailing newline).
    pub fn to_json(&self) -> String {
        let h = &self.header;
        let wire = Wire {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            dtype: h.dtype.typestr(),
            shape: h.shape.clone(),
            order: h.order,
            offset: h.offset,
            name: h.name.clone(),
            metadata: h.metadata.clone(),
        };
        let mut v = serde_json::to_value(&wire).expect("sidecar serializes");
        if let serde_json::Value::Object(obj) = &mut v {
            for (k, val) in &self.extra {
                obj.insert(k.clone(), val.clone());
            }
        }
        v.to_string()
    }

    /// Reads the sidecar at `path`; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// As [`Sidecar::from_json`], plus I/O errors and a size cap of
    /// [`MAX_SIDECAR_BYTES`].
    pub fn read(path: impl AsRef<Path>) -> Result<Option<Self>> {
        let path = path.as_ref();
        let mut file = match fsutil::open_regular(path, false) {
            Ok(f) => f,
            Err(e) => {
                return match e.kind() {
                    ErrorKind::NotFound => Ok(None),
                    ErrorKind::IsDirectory => Err(ErrorKind::InvalidSidecar {
                        reason: "is a directory".into(),
                    }
                    .at(path)),
                    _ => Err(e),
                }
            }
        };
        // Sidecars are small: one read into a stack buffer usually suffices.
        let mut small = [0u8; 1024];
        let mut bytes: Vec<u8> = Vec::new();
        let mut n = 0;
        loop {
            match file.read(&mut small[n..]) {
                Ok(0) => break,
                Ok(k) => {
                    n += k;
                    if n == small.len() {
                        bytes.extend_from_slice(&small);
                        (&mut file)
                            .take(MAX_SIDECAR_BYTES + 1 - n as u64)
                            .read_to_end(&mut bytes)
                            .map_err(|e| read_error(path, e))?;
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(path, e)),
            }
        }
        let raw: &[u8] = if bytes.is_empty() {
            &small[..n]
        } else {
            &bytes
        };
        if raw.len() as u64 > MAX_SIDECAR_BYTES {
            return Err(ErrorKind::InvalidSidecar {
                reason: format!("larger than {MAX_SIDECAR_BYTES} bytes"),
            }
            .at(path));
        }
        let text = std::str::from_utf8(raw).map_err(|_| {
            ErrorKind::InvalidSidecar {
                reason: "not UTF-8 text".into(),
            }
            .at(path)
        })?;
        Sidecar::from_json(text).in_file(path).map(Some)
    }

    /// Writes the sidecar at `path` crash-safely (temporary file, fsync,
    /// rename, fsync of the directory); an existing file is replaced only
    /// with [`SidecarWrite::Replace`].
    ///
    /// ```
    /// # fn main() -> mmarrow::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.f4.mmarrow.json");
    /// use mmarrow::format::{ArrayHeader, Sidecar, SidecarWrite};
    /// let s = Sidecar::new(ArrayHeader::new("f4".parse()?, vec![3]));
    /// s.write(&p, SidecarWrite::CreateNew)?;
    /// assert!(s.write(&p, SidecarWrite::CreateNew).is_err());
    /// s.write(&p, SidecarWrite::Replace)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::SidecarExists`] when the file exists and `mode` is
    /// [`SidecarWrite::CreateNew`]; I/O errors.
    pub fn write(&self, path: impl AsRef<Path>, mode: SidecarWrite) -> Result<()> {
        let path = path.as_ref();
        let mut text = self.to_json();
        text.push('\n');
        let mode = match mode {
            SidecarWrite::Replace => fsutil::Replace::Overwrite,
            SidecarWrite::CreateNew => fsutil::Replace::NoClobber,
        };
        match fsutil::write_atomic(path, text.as_bytes(), mode) {
            Err(e)
                if matches!(e.kind(), ErrorKind::Io { source, .. }
                    if source.kind() == std::io::ErrorKind::AlreadyExists) =>
            {
                Err(ErrorKind::SidecarExists.at(path))
            }
            r => r,
        }
    }
}

/// What [`Sidecar::write`] does when the sidecar exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarWrite {
    /// Fail with [`ErrorKind::SidecarExists`] (atomically: of two writers, one wins).
    CreateNew,
    /// Replace it atomically.
    Replace,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("a.mmarrow.json")
    }

    #[test]
    fn reads_a_minimal_sidecar_with_defaults() {
        let s = Sidecar::from_json(
            r#"{"format":"mmarrow.array","version":1,"dtype":"float32","shape":[4]}"#,
        )
        .unwrap();
        assert_eq!(s.header.dtype.typestr(), "<f4");
        assert_eq!(s.header.offset, 0);
        assert_eq!(s.header.order, Order::C);
    }

    #[test]
    fn refuses_future_versions_before_reading_other_fields() {
        let e =
            Sidecar::from_json(r#"{"format":"mmarrow.array","version":2,"dtype":{"new":"thing"}}"#)
                .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::UnsupportedVersion { found: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn names_the_missing_field() {
        let e = Sidecar::from_json(r#"{"format":"mmarrow.array","version":1,"dtype":"f4"}"#)
            .in_file(p())
            .unwrap_err();
        assert!(e.to_string().contains("shape"), "{e}");
        assert!(e.to_string().starts_with("a.mmarrow.json: "), "{e}");
    }

    #[test]
    fn refuses_non_json_and_wrong_format() {
        assert!(matches!(
            Sidecar::from_json("{not json").map_err(Error::into_kind),
            Err(ErrorKind::InvalidSidecar { .. })
        ));
        assert!(matches!(
            Sidecar::from_json(r#"{"format":"other","version":1}"#).map_err(Error::into_kind),
            Err(ErrorKind::InvalidSidecar { .. })
        ));
        assert!(matches!(
            Sidecar::from_json("[1,2]").map_err(Error::into_kind),
            Err(ErrorKind::InvalidSidecar { .. })
        ));
    }

    #[test]
    fn refuses_unknown_dtype() {
        let e = Sidecar::from_json(
            r#"{"format":"mmarrow.array","version":1,"dtype":"<U4","shape":[1]}"#,
        )
        .in_file(p())
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::UnsupportedDtype { .. }));
        assert!(e.to_string().starts_with("a.mmarrow.json: "), "{e}");
        assert!(e.to_string().contains("<U4"), "{e}");
        let e = Sidecar::from_json(
            r#"{"format":"mmarrow.array","version":1,"dtype":"zz","shape":[1]}"#,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidSidecar { .. }));
    }

    #[test]
    fn keeps_unknown_fields_on_rewrite() {
        let s = Sidecar::from_json(
            r#"{"format":"mmarrow.array","version":1,"dtype":"<i8","shape":[2,2],"order":"F","offset":64,"name":"x","metadata":{"k":"v"},"future":{"a":1}}"#)
        .unwrap();
        assert_eq!(s.extra["future"]["a"], 1);
        let again = Sidecar::from_json(&s.to_json()).unwrap();
        assert_eq!(again, s);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,64}") {
            let _ = Sidecar::from_json(&s);
        }
    }
}

//! The table manifest (format v1): schema, committed row count and the files
//! of each column's buffers. See `docs/FORMAT.md` §5.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::{json, Map, Value};

use crate::error::{Error, ErrorKind, Result, ResultExt};

/// The manifest's file name inside a table directory.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The value of the manifest's `format` field.
pub const TABLE_FORMAT_NAME: &str = "mmarrow.table";
/// The newest table format version this build reads and the one it writes.
pub const TABLE_FORMAT_VERSION: u64 = 1;
/// Manifests larger than this are refused before being parsed.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The files holding one column's buffers, relative to the table directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnFiles {
    /// Validity bitmap (LSB bit order), for nullable columns.
    pub validity: Option<String>,
    /// Offsets (i32, or i64 for large types), for variable-length columns.
    pub offsets: Option<String>,
    /// Values: fixed-width elements, a bitmap for Boolean, or the bytes of
    /// variable-length values.
    pub values: String,
}

/// One column of the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnEntry {
    /// The Arrow field (name, type, nullability, metadata).
    pub field: Field,
    /// Its buffer files.
    pub files: ColumnFiles,
    /// Nulls among the committed rows.
    pub null_count: u64,
}

/// A table manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Committed rows: every column holds exactly this many.
    pub rows: u64,
    /// Columns, in schema order.
    pub columns: Vec<ColumnEntry>,
    /// Schema-level metadata.
    pub metadata: HashMap<String, String>,
}

/// How a column's values are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `width` bytes per row.
    Fixed { width: usize },
    /// One bit per row.
    Bits,
    /// Offsets of `offset_width` bytes (4 or 8) into a values file.
    Variable { offset_width: usize },
}

/// Every column of `schema` that a table cannot hold, as
/// `"name" (type): why`, joined with `; ` (`None` when all can be held).
pub(crate) fn unsupported_columns(schema: &arrow_schema::Schema) -> Option<String> {
    let bad: Vec<String> = schema
        .fields()
        .iter()
        .filter_map(|f| {
            layout_of(f.data_type())
                .err()
                .map(|why| format!("{:?} ({}): {why}", f.name(), f.data_type()))
        })
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "{} column{} a table cannot hold: {}",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" },
            bad.join("; ")
        )
    })
}

/// The layout of a supported type, or why it is not supported.
pub(crate) fn layout_of(t: &DataType) -> std::result::Result<Layout, String> {
    Ok(match t {
        DataType::Boolean => Layout::Bits,
        DataType::Utf8 | DataType::Binary => Layout::Variable { offset_width: 4 },
        DataType::LargeUtf8 | DataType::LargeBinary => Layout::Variable { offset_width: 8 },
        DataType::FixedSizeList(item, n) => match layout_of(item.data_type())? {
            Layout::Fixed { width } => Layout::Fixed {
                width: usize::try_from(*n)
                    .ok()
                    .and_then(|n| width.checked_mul(n))
                    .ok_or_else(|| format!("a list of {n} {} overflows", item.data_type()))?,
            },
            _ => return Err(format!("lists of {} are not supported", item.data_type())),
        },
        t => Layout::Fixed {
            width: fixed_width(t).ok_or_else(|| format!("type {t} is not supported"))?,
        },
    })
}

fn fixed_width(t: &DataType) -> Option<usize> {
    match t {
        DataType::Decimal128(_, _) => Some(16),
        DataType::FixedSizeBinary(n) => Some(*n as usize),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Duration(_) => t.primitive_width(),
        _ => None,
    }
}

/// The numpy typestr of a fixed-width column's values file elements, so
/// that `np.memmap` can open it: [`Dtype::from_arrow`](crate::Dtype::from_arrow)
/// of the stored values (dates as their integer counts, decimals as
/// 16 raw bytes, fixed-size lists as their items).
pub(crate) fn numpy_dtype(t: &DataType) -> Option<String> {
    let stored = match t {
        DataType::Date32 => DataType::Int32,
        DataType::Date64 => DataType::Int64,
        DataType::Decimal128(_, _) => return Some("|V16".into()),
        DataType::FixedSizeList(item, _) => return numpy_dtype(item.data_type()),
        t => t.clone(),
    };
    crate::Dtype::from_arrow(&stored).map(|d| d.typestr())
}

fn unit_of(s: &str) -> Option<TimeUnit> {
    Some(match s {
        "s" => TimeUnit::Second,
        "ms" => TimeUnit::Millisecond,
        "us" => TimeUnit::Microsecond,
        "ns" => TimeUnit::Nanosecond,
        _ => return None,
    })
}

fn type_to_json(t: &DataType) -> Value {
    let simple = |n: &str| json!({ "name": n });
    match t {
        DataType::Boolean => simple("bool"),
        DataType::Int8 => simple("int8"),
        DataType::Int16 => simple("int16"),
        DataType::Int32 => simple("int32"),
        DataType::Int64 => simple("int64"),
        DataType::UInt8 => simple("uint8"),
        DataType::UInt16 => simple("uint16"),
        DataType::UInt32 => simple("uint32"),
        DataType::UInt64 => simple("uint64"),
        DataType::Float16 => simple("float16"),
        DataType::Float32 => simple("float32"),
        DataType::Float64 => simple("float64"),
        DataType::Utf8 => simple("utf8"),
        DataType::LargeUtf8 => simple("large_utf8"),
        DataType::Binary => simple("binary"),
        DataType::LargeBinary => simple("large_binary"),
        DataType::Date32 => simple("date32"),
        DataType::Date64 => simple("date64"),
        DataType::FixedSizeBinary(n) => json!({"name": "fixed_size_binary", "width": n}),
        DataType::Decimal128(p, s) => json!({"name": "decimal128", "precision": p, "scale": s}),
        DataType::Duration(u) => json!({"name": "duration", "unit": crate::dtype::unit_name(*u)}),
        DataType::Timestamp(u, tz) => {
            let mut v = json!({"name": "timestamp", "unit": crate::dtype::unit_name(*u)});
            if let Some(tz) = tz {
                v["timezone"] = json!(tz.as_ref());
            }
            v
        }
        DataType::FixedSizeList(item, n) => {
            json!({"name": "fixed_size_list", "size": n, "item": field_to_json(item)})
        }
        other => json!({ "name": other.to_string() }), // never written: layout_of refuses it first
    }
}

fn type_from_json(v: &Value, depth: usize) -> std::result::Result<DataType, String> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("type lacks a name")?;
    let int = |k: &str| {
        v.get(k)
            .and_then(Value::as_i64)
            .ok_or(format!("{name} lacks {k}"))
    };
    let unit = || {
        v.get("unit")
            .and_then(Value::as_str)
            .and_then(unit_of)
            .ok_or(format!("{name} lacks a valid unit"))
    };
    Ok(match name {
        "bool" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float16" => DataType::Float16,
        "float32" => DataType::Float32,
        "float64" => DataType::Float64,
        "utf8" => DataType::Utf8,
        "large_utf8" => DataType::LargeUtf8,
        "binary" => DataType::Binary,
        "large_binary" => DataType::LargeBinary,
        "date32" => DataType::Date32,
        "date64" => DataType::Date64,
        "fixed_size_binary" => {
            let width = i32::try_from(int("width")?)
                .ok()
                .filter(|w| *w >= 0)
                .ok_or("fixed_size_binary width must be between 0 and 2147483647")?;
            DataType::FixedSizeBinary(width)
        }
        "decimal128" => {
            let precision = u8::try_from(int("precision")?)
                .ok()
                .filter(|p| (1..=arrow_schema::DECIMAL128_MAX_PRECISION).contains(p))
                .ok_or("decimal128 precision must be between 1 and 38")?;
            let scale = i8::try_from(int("scale")?)
                .ok()
                .filter(|s| *s <= precision as i8)
                .ok_or("decimal128 scale must be at most its precision")?;
            DataType::Decimal128(precision, scale)
        }
        "duration" => DataType::Duration(unit()?),
        "timestamp" => {
            let tz = match v.get("timezone") {
                None | Some(Value::Null) => None,
                Some(Value::String(tz)) => {
                    // The zone must be one Arrow can apply (an IANA name or a
                    // fixed offset), or every reader of the column fails later.
                    tz.parse::<arrow_array::timezone::Tz>().map_err(|_| {
                        format!("time zone {tz:?} is not an IANA name or a +HH:MM offset")
                    })?;
                    Some(tz.as_str().into())
                }
                Some(other) => return Err(format!("time zone {other} is not a string")),
            };
            DataType::Timestamp(unit()?, tz)
        }
        "fixed_size_list" => {
            let size = i32::try_from(int("size")?).map_err(|_| "size out of range")?;
            if size < 0 {
                return Err("negative list size".into());
            }
            let item = field_from_json(v.get("item").ok_or("list lacks an item")?, depth + 1)?;
            DataType::FixedSizeList(item.into(), size)
        }
        other => return Err(format!("unknown type {other:?}")),
    })
}

fn field_to_json(f: &Field) -> Value {
    let mut v = json!({
        "name": f.name(),
        "type": type_to_json(f.data_type()),
        "nullable": f.is_nullable(),
    });
    if !f.metadata().is_empty() {
        let m: BTreeMap<_, _> = f.metadata().iter().collect();
        v["metadata"] = json!(m);
    }
    v
}

fn field_from_json(v: &Value, depth: usize) -> std::result::Result<Field, String> {
    if depth > 8 {
        return Err("types nest too deeply".into());
    }
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("field lacks a name")?;
    let t = type_from_json(v.get("type").ok_or("field lacks a type")?, depth)?;
    let nullable = v.get("nullable").and_then(Value::as_bool).unwrap_or(true);
    let metadata: HashMap<String, String> = match v.get("metadata") {
        Some(m) => serde_json::from_value(m.clone()).map_err(|e| format!("metadata: {e}"))?,
        None => HashMap::new(),
    };
    Ok(Field::new(name, t, nullable).with_metadata(metadata))
}

impl Manifest {
    /// The Arrow schema of all columns.
    pub fn schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| c.field.clone())
                .collect::<Vec<_>>(),
        )
        .with_metadata(self.metadata.clone())
    }

    /// Serializes to pretty JSON.
    pub fn to_json(&self) -> String {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut files = Map::new();
                if let Some(v) = &c.files.validity {
                    files.insert("validity".into(), json!(v));
                }
                if let Some(o) = &c.files.offsets {
                    files.insert("offsets".into(), json!(o));
                }
                files.insert("values".into(), json!(c.files.values));
                let mut v = json!({
                    "field": field_to_json(&c.field),
                    "files": files,
                    "null_count": c.null_count,
                });
                if let Some(d) = numpy_dtype(c.field.data_type()) {
                    v["dtype"] = json!(d);
                }
                v
            })
            .collect();
        let metadata: BTreeMap<_, _> = self.metadata.iter().collect();
        let doc = json!({
            "format": TABLE_FORMAT_NAME,
            "version": TABLE_FORMAT_VERSION,
            "rows": self.rows,
            "columns": columns,
            "metadata": metadata,
        });
        serde_json::to_string_pretty(&doc).expect("manifest serializes") + "\n"
    }

    /// Parses a manifest. Errors name no file: [`Manifest::read`] attaches
    /// the manifest's path.
    ///
    /// # Errors
    /// [`ErrorKind::UnsupportedVersion`] for a newer version, [`ErrorKind::InvalidManifest`]
    /// for anything malformed, including file names that are not plain names
    /// inside the table directory.
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::new(ErrorKind::InvalidManifest { reason });
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if v.get("format").and_then(Value::as_str) != Some(TABLE_FORMAT_NAME) {
            return Err(bad(format!("format is not \"{TABLE_FORMAT_NAME}\"")));
        }
        let version = v
            .get("version")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("missing or invalid version".into()))?;
        if version == 0 || version > TABLE_FORMAT_VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion {
                found: version,
                supported: TABLE_FORMAT_VERSION,
            }));
        }
        let rows = v
            .get("rows")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("missing or invalid rows".into()))?;
        let cols = v
            .get("columns")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing columns".into()))?;
        let mut columns = Vec::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            let field = field_from_json(c.get("field").unwrap_or(&Value::Null), 0)
                .map_err(|r| bad(format!("column {i}: {r}")))?;
            let layout = layout_of(field.data_type())
                .map_err(|r| bad(format!("column {:?}: {r}", field.name())))?;
            let files = c
                .get("files")
                .ok_or_else(|| bad(format!("column {i}: no files")))?;
            let name = |k: &str| -> Result<Option<String>> {
                match files.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => {
                        check_file_name(s).map_err(|r| {
                            bad(format!("column {:?}: {k} file {s:?} {r}", field.name()))
                        })?;
                        Ok(Some(s.clone()))
                    }
                    Some(_) => Err(bad(format!("column {i}: {k} is not a file name"))),
                }
            };
            let files = ColumnFiles {
                validity: name("validity")?,
                offsets: name("offsets")?,
                values: name("values")?
                    .ok_or_else(|| bad(format!("column {:?}: no values file", field.name())))?,
            };
            if field.is_nullable() != files.validity.is_some() && files.validity.is_some() {
                return Err(bad(format!(
                    "column {:?}: validity file on a non-nullable field",
                    field.name()
                )));
            }
            if matches!(layout, Layout::Variable { .. }) != files.offsets.is_some() {
                return Err(bad(format!(
                    "column {:?}: offsets file missing or unexpected",
                    field.name()
                )));
            }
            let null_count = match c.get("null_count") {
                None => 0,
                Some(n) => n.as_u64().ok_or_else(|| {
                    bad(format!(
                        "column {:?}: null_count {n} is not a non-negative integer",
                        field.name()
                    ))
                })?,
            };
            if files.validity.is_none() && null_count > 0 || null_count > rows {
                return Err(bad(format!(
                    "column {:?}: invalid null_count",
                    field.name()
                )));
            }
            columns.push(ColumnEntry {
                field,
                files,
                null_count,
            });
        }
        let metadata = match v.get("metadata") {
            Some(m) => {
                serde_json::from_value(m.clone()).map_err(|e| bad(format!("metadata: {e}")))?
            }
            None => HashMap::new(),
        };
        Ok(Manifest {
            rows,
            columns,
            metadata,
        })
    }

    /// Reads `dir/manifest.json`.
    ///
    /// # Errors
    /// As [`Manifest::from_json`], plus I/O errors and a size cap.
    pub fn read(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join(MANIFEST_NAME);
        let file = crate::fsutil::open_regular(&path, false)?;
        let mut text = String::new();
        use std::io::Read;
        (&file)
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => ErrorKind::InvalidManifest {
                    reason: "not UTF-8".into(),
                }
                .at(path.clone()),
                _ => Error::io(&path, "read manifest", e),
            })?;
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ErrorKind::InvalidManifest {
                reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
            }
            .at(path));
        }
        Manifest::from_json(&text).in_file(&path)
    }
}

/// File names in a manifest are plain names: no separators, no `..`, not absolute.
fn check_file_name(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']) {
        return Err("is not a plain file name inside the table directory");
    }
    Ok(())
}

/// Resolves a manifest file name inside `dir`, refusing symlinks that lead
/// out of it.
pub(crate) fn resolve_in(dir: &Path, canonical_dir: &Path, name: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    let meta = std::fs::symlink_metadata(&p).map_err(|e| Error::io(&p, "open column file", e))?;
    if meta.file_type().is_symlink() {
        let target = p
            .canonicalize()
            .map_err(|e| Error::io(&p, "resolve symlink", e))?;
        if !target.starts_with(canonical_dir) {
            return Err(ErrorKind::InvalidManifest {
                reason: format!(
                    "symlink points outside the table directory, to {}",
                    target.display()
                ),
            }
            .at(p.clone()));
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_through_json() {
        let item = Field::new("item", DataType::Float32, true);
        for t in [
            DataType::Int8,
            DataType::UInt64,
            DataType::Float16,
            DataType::Boolean,
            DataType::Utf8,
            DataType::LargeBinary,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())),
            DataType::Duration(TimeUnit::Second),
            DataType::Decimal128(38, 9),
            DataType::FixedSizeBinary(3),
            DataType::FixedSizeList(item.into(), 768),
        ] {
            assert_eq!(type_from_json(&type_to_json(&t), 0).unwrap(), t);
        }
    }

    #[test]
    fn refuses_file_names_outside_the_directory() {
        for n in ["../x", "/etc/passwd", "a/b", "..", "", "a\\b"] {
            assert!(check_file_name(n).is_err(), "{n}");
        }
        assert!(check_file_name("c0.values").is_ok());
    }

    #[test]
    fn refuses_future_versions() {
        let e =
            Manifest::from_json(r#"{"format":"mmarrow.table","version":9,"rows":0,"columns":[]}"#)
                .unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::UnsupportedVersion { found: 9, .. }
        ));
    }
}

//! The table manifest: schema, committed row count and, per column, the
//! tree of its buffers' files ([`Node`]). Format v2 is written; v1 (flat
//! columns) is read into the same tree. See `docs/FORMAT.md` §5.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Field, Schema};
use serde_json::{json, Value};

pub(crate) use super::node::check_file_name;
pub use super::node::{BufferFile, Node};
use super::types::{field_from_json, field_to_json};

use crate::error::{Error, ErrorKind, Result, ResultExt};

/// The manifest's file name inside a table directory.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The value of the manifest's `format` field.
pub const TABLE_FORMAT_NAME: &str = "mmarrow.table";
/// The newest table format version this build reads and the one it writes.
pub const TABLE_FORMAT_VERSION: u64 = 2;
/// Features a manifest may list under `requires` that this build
/// understands (none yet: the list is how later features — shards, for
/// one — keep older readers from misreading a table).
const KNOWN_REQUIREMENTS: &[&str] = &[];
/// Manifests larger than this are refused before being parsed.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// One column of the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnEntry {
    /// The Arrow field (name, type, nullability, metadata).
    pub field: Field,
    /// The tree of its buffers' files; the root's length is the table's rows.
    pub node: Node,
}

impl ColumnEntry {
    /// Nulls among the committed rows.
    pub fn null_count(&self) -> u64 {
        self.node.null_count
    }
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
    /// The format version the manifest was read in (written: always the newest).
    pub version: u64,
    /// The commit log, once a writer of this version has committed.
    pub log: Option<LogInfo>,
    /// The file the table was converted from, when a conversion made it
    /// (`from-parquet`, `convert`): what `--if-stale` compares.
    pub source: Option<Source>,
}

/// The fingerprint of the file a table was converted from, recorded in its
/// manifest (docs/FORMAT.md §5.1): enough to tell, in O(1), whether the
/// file changed since: its path, size and modification time, and a
/// checksum of its metadata (the Parquet footer; the Arrow IPC footer,
/// which holds the schema and the batches' places).
///
/// ```
/// use mmarrow::table::Source;
/// let s = Source { path: "/data/x.parquet".into(), format: "parquet".into(), size: 4096,
///                  modified_ns: 1_700_000_000_000_000_000, footer_length: 512, footer_crc32c: 7 };
/// assert_eq!(Source::from_json(&s.to_json()), Some(s));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The source's absolute path, as the conversion resolved it.
    pub path: String,
    /// `"parquet"` or `"ipc"`.
    pub format: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, in nanoseconds since the Unix epoch.
    pub modified_ns: i64,
    /// The length of its footer (the metadata read, not the data).
    pub footer_length: u64,
    /// The crc32c of those bytes.
    pub footer_crc32c: u32,
}

impl Source {
    /// The manifest's `"source"` object.
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "modified_ns": self.modified_ns,
            "footer_length": self.footer_length,
            "footer_crc32c": self.footer_crc32c,
        })
    }

    /// Parses a `"source"` object; `None` when anything is missing or
    /// malformed (a table with such a source is simply rebuilt by
    /// `--if-stale`).
    pub fn from_json(v: &Value) -> Option<Source> {
        Some(Source {
            path: v.get("path")?.as_str()?.to_string(),
            format: v.get("format")?.as_str()?.to_string(),
            size: v.get("size")?.as_u64()?,
            modified_ns: v.get("modified_ns")?.as_i64()?,
            footer_length: v.get("footer_length")?.as_u64()?,
            footer_crc32c: u32::try_from(v.get("footer_crc32c")?.as_u64()?).ok()?,
        })
    }
}

/// What the manifest records of the commit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// The log's file name.
    pub file: String,
    /// Its committed bytes.
    pub length: u64,
    /// The crc32c of those bytes.
    pub crc32c: u32,
    /// Rows per statistics chunk.
    pub chunk_rows: u64,
    /// Rows committed before the log's first record (rows of a format v1
    /// table, or of a v2 table written before logs existed): they have no
    /// checksums or statistics.
    pub since: u64,
}

impl LogInfo {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "file": self.file,
            "length": self.length,
            "crc32c": self.crc32c,
            "chunk_rows": self.chunk_rows,
            "since": self.since,
        })
    }

    pub(crate) fn from_json(v: &Value, rows: u64) -> std::result::Result<LogInfo, String> {
        let n = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .ok_or(format!("log: missing or invalid {k}"))
        };
        let file = v
            .get("file")
            .and_then(Value::as_str)
            .ok_or("log: missing file")?
            .to_string();
        check_file_name(&file).map_err(|r| format!("log file {file:?} {r}"))?;
        let crc32c = u32::try_from(n("crc32c")?).map_err(|_| "log: crc32c is not 32-bit")?;
        let info = LogInfo {
            file,
            length: n("length")?,
            crc32c,
            chunk_rows: n("chunk_rows")?,
            since: n("since")?,
        };
        if info.chunk_rows == 0 || info.since > rows {
            return Err("log: invalid chunk_rows or since".into());
        }
        Ok(info)
    }
}

/// How a format v1 column's values are laid out (v1 held only these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V1Layout {
    /// `width` bytes per row.
    Fixed { width: usize },
    /// One bit per row.
    Bits,
    /// Offsets of `offset_width` bytes (4 or 8) into a values file.
    Variable { offset_width: usize },
}

/// The v1 layout of a type v1 could hold, or why not.
fn v1_layout(t: &DataType) -> std::result::Result<V1Layout, String> {
    Ok(match t {
        DataType::Boolean => V1Layout::Bits,
        DataType::Utf8 | DataType::Binary => V1Layout::Variable { offset_width: 4 },
        DataType::LargeUtf8 | DataType::LargeBinary => V1Layout::Variable { offset_width: 8 },
        DataType::FixedSizeList(item, n) => match v1_layout(item.data_type())? {
            V1Layout::Fixed { width } => V1Layout::Fixed {
                width: usize::try_from(*n)
                    .ok()
                    .and_then(|n| width.checked_mul(n))
                    .ok_or_else(|| format!("a list of {n} {} overflows", item.data_type()))?,
            },
            _ => return Err(format!("v1 lists of {} do not exist", item.data_type())),
        },
        DataType::Decimal128(_, _) => V1Layout::Fixed { width: 16 },
        DataType::FixedSizeBinary(n) => V1Layout::Fixed { width: *n as usize },
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
        | DataType::Duration(_) => V1Layout::Fixed {
            width: t.primitive_width().expect("fixed width"),
        },
        t => return Err(format!("type {t} is not in format v1")),
    })
}

/// The node tree of a v1 column: its validity, offsets and values files.
fn v1_node(
    t: &DataType,
    rows: u64,
    null_count: u64,
    validity: Option<String>,
    offsets: Option<String>,
    values: String,
) -> std::result::Result<Node, String> {
    let bits = |n: u64| Some(n.div_ceil(8));
    let validity = validity.map(|file| BufferFile {
        file,
        length: bits(rows),
    });
    let sized = |file: String, len: Option<u64>| BufferFile { file, length: len };
    let overflow = || format!("{rows} rows of {t} overflow");
    Ok(match (v1_layout(t)?, t) {
        (V1Layout::Bits, _) => Node {
            length: rows,
            null_count,
            validity,
            buffers: vec![sized(values, bits(rows))],
            ..Node::default()
        },
        (V1Layout::Variable { offset_width }, _) => {
            let entries = rows.checked_add(1).ok_or_else(overflow)?;
            Node {
                length: rows,
                null_count,
                validity,
                buffers: vec![
                    sized(
                        offsets.ok_or("offsets file missing")?,
                        Some(
                            entries
                                .checked_mul(offset_width as u64)
                                .ok_or_else(overflow)?,
                        ),
                    ),
                    sized(values, None),
                ],
                ..Node::default()
            }
        }
        (V1Layout::Fixed { .. }, DataType::FixedSizeList(item, n)) => {
            let child_rows = rows.checked_mul(*n as u64).ok_or_else(overflow)?;
            Node {
                length: rows,
                null_count,
                validity,
                children: vec![v1_node(
                    item.data_type(),
                    child_rows,
                    0,
                    None,
                    None,
                    values,
                )?],
                ..Node::default()
            }
        }
        (V1Layout::Fixed { width }, _) => Node {
            length: rows,
            null_count,
            validity,
            buffers: vec![sized(
                values,
                Some(rows.checked_mul(width as u64).ok_or_else(overflow)?),
            )],
            ..Node::default()
        },
    })
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

    /// Every file the manifest names.
    pub fn files(&self) -> Vec<&str> {
        self.columns
            .iter()
            .flat_map(|c| c.node.files())
            .chain(self.log.iter().map(|l| l.file.as_str()))
            .collect()
    }

    /// Serializes to pretty JSON, always in the newest format version.
    pub fn to_json(&self) -> String {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                json!({
                    "field": field_to_json(&c.field),
                    "node": c.node.to_json(c.field.data_type()),
                })
            })
            .collect();
        let metadata: BTreeMap<_, _> = self.metadata.iter().collect();
        let mut doc = json!({
            "format": TABLE_FORMAT_NAME,
            "version": TABLE_FORMAT_VERSION,
            "rows": self.rows,
            "columns": columns,
            "metadata": metadata,
        });
        if let Some(l) = &self.log {
            doc["log"] = l.to_json();
        }
        if let Some(src) = &self.source {
            doc["source"] = src.to_json();
        }
        serde_json::to_string_pretty(&doc).expect("manifest serializes") + "\n"
    }

    /// Parses a manifest (format v1 or v2). Errors name no file:
    /// [`Manifest::read`] attaches the manifest's path.
    ///
    /// # Errors
    /// [`ErrorKind::UnsupportedVersion`] for a newer version, [`ErrorKind::InvalidManifest`]
    /// for anything malformed, including file names that are not plain names
    /// inside the table directory, a file named twice, and a node tree that
    /// does not have the shape its type requires.
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
        match v.get("requires") {
            None | Some(Value::Null) => {}
            Some(Value::Array(r)) => {
                for f in r {
                    let known = f.as_str().is_some_and(|f| KNOWN_REQUIREMENTS.contains(&f));
                    if !known {
                        return Err(bad(format!(
                            "the table requires {f}, which this version of mmarrow does not support"
                        )));
                    }
                }
            }
            Some(_) => return Err(bad("requires is not a list".into())),
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
            let node = if version == 1 {
                v1_column(c, &field, rows).map_err(bad)?
            } else {
                let label = format!("column {:?}", field.name());
                let node = Node::from_json(
                    c.get("node").unwrap_or(&Value::Null),
                    field.data_type(),
                    &label,
                    0,
                )
                .map_err(bad)?;
                if node.length != rows {
                    return Err(bad(format!(
                        "{label}: {} rows, the table has {rows}",
                        node.length
                    )));
                }
                if !field.is_nullable() && node.validity.is_some() {
                    return Err(bad(format!(
                        "{label}: validity file on a non-nullable field"
                    )));
                }
                node
            };
            columns.push(ColumnEntry { field, node });
        }
        let mut seen = HashSet::new();
        for c in &columns {
            for f in c.node.files() {
                if !seen.insert(f) {
                    return Err(bad(format!("file {f:?} is named twice")));
                }
            }
        }
        let metadata = match v.get("metadata") {
            Some(m) => {
                serde_json::from_value(m.clone()).map_err(|e| bad(format!("metadata: {e}")))?
            }
            None => HashMap::new(),
        };
        let log = match v.get("log") {
            None | Some(Value::Null) => None,
            Some(l) if version >= 2 => Some(LogInfo::from_json(l, rows).map_err(bad)?),
            Some(_) => None,
        };
        let mut seen_log = seen;
        if let Some(l) = &log {
            if !seen_log.insert(l.file.as_str()) {
                return Err(bad(format!("file {:?} is named twice", l.file)));
            }
        }
        let source = v.get("source").and_then(Source::from_json);
        Ok(Manifest {
            rows,
            columns,
            metadata,
            version,
            log,
            source,
        })
    }

    /// Reads `dir/manifest.json`.
    ///
    /// # Errors
    /// As [`Manifest::from_json`], plus I/O errors and a size cap.
    pub fn read(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join(MANIFEST_NAME);
        let file = crate::fsutil::open_regular(&path, false)?;
        // Sized once (one stat saves the reads of a growing buffer: a
        // table open is a hundred syscalls, each counts).
        let size = file
            .metadata()
            .map_or(0, |m| m.len())
            .min(MAX_MANIFEST_BYTES);
        let mut text = String::with_capacity(size as usize + 1);
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

/// A v1 column entry (`files` with validity, offsets, values) as a node tree.
fn v1_column(c: &Value, field: &Field, rows: u64) -> std::result::Result<Node, String> {
    let label = format!("column {:?}", field.name());
    let layout = v1_layout(field.data_type()).map_err(|r| format!("{label}: {r}"))?;
    let files = c.get("files").ok_or(format!("{label}: no files"))?;
    let name = |k: &str| -> std::result::Result<Option<String>, String> {
        match files.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                check_file_name(s).map_err(|r| format!("{label}: {k} file {s:?} {r}"))?;
                Ok(Some(s.clone()))
            }
            Some(_) => Err(format!("{label}: {k} is not a file name")),
        }
    };
    let (validity, offsets) = (name("validity")?, name("offsets")?);
    let values = name("values")?.ok_or(format!("{label}: no values file"))?;
    if !field.is_nullable() && validity.is_some() {
        return Err(format!("{label}: validity file on a non-nullable field"));
    }
    if matches!(layout, V1Layout::Variable { .. }) != offsets.is_some() {
        return Err(format!("{label}: offsets file missing or unexpected"));
    }
    let null_count = match c.get("null_count") {
        None => 0,
        Some(n) => n.as_u64().ok_or(format!(
            "{label}: null_count {n} is not a non-negative integer"
        ))?,
    };
    if validity.is_none() && null_count > 0 || null_count > rows {
        return Err(format!("{label}: invalid null_count"));
    }
    v1_node(
        field.data_type(),
        rows,
        null_count,
        validity,
        offsets,
        values,
    )
    .map_err(|r| format!("{label}: {r}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_file_names_outside_the_directory() {
        for n in ["../x", "/etc/passwd", "a/b", "..", "", "a\\b"] {
            assert!(check_file_name(n).is_err(), "{n}");
        }
        assert!(check_file_name("c0.values").is_ok());
    }

    #[test]
    fn refuses_future_versions_and_unknown_requirements() {
        let e =
            Manifest::from_json(r#"{"format":"mmarrow.table","version":9,"rows":0,"columns":[]}"#)
                .unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::UnsupportedVersion { found: 9, .. }
        ));
        let e = Manifest::from_json(
            r#"{"format":"mmarrow.table","version":2,"rows":0,"columns":[],"requires":["shards"]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("shards"), "{e}");
    }

    #[test]
    fn a_v1_manifest_reads_as_nodes_and_writes_as_v2() {
        let v1 = r#"{"format":"mmarrow.table","version":1,"rows":3,"columns":[
            {"field":{"name":"s","type":{"name":"utf8"},"nullable":true},
             "files":{"validity":"c0.validity","offsets":"c0.offsets","values":"c0.values"},"null_count":1},
            {"field":{"name":"e","type":{"name":"fixed_size_list","size":4,"item":{"name":"item","type":{"name":"float32"},"nullable":false}},"nullable":false},
             "files":{"values":"c1.values"}}]}"#;
        let m = Manifest::from_json(v1).unwrap();
        assert_eq!(m.version, 1);
        let s = &m.columns[0].node;
        assert_eq!((s.length, s.null_count), (3, 1));
        assert_eq!(s.buffers[0].length, Some(16));
        assert_eq!(s.buffers[1].length, None);
        let e = &m.columns[1].node;
        assert_eq!(e.children[0].length, 12);
        assert_eq!(e.children[0].buffers[0].length, Some(48));
        // A writer that reopens a v1 table fills in the values length from
        // the last offset; then the manifest is a v2 one.
        let mut filled = m.clone();
        filled.columns[0].node.buffers[1].length = Some(6);
        let mut again = Manifest::from_json(&filled.to_json()).unwrap();
        assert_eq!(again.version, TABLE_FORMAT_VERSION);
        again.version = 1;
        assert_eq!(again.columns, filled.columns);
        assert!(m.to_json().contains(r#""dtype": "<f4""#));
    }

    #[test]
    fn refuses_a_file_named_twice_and_a_wrong_shape() {
        let two = r#"{"format":"mmarrow.table","version":2,"rows":1,"columns":[
            {"field":{"name":"a","type":{"name":"int8"},"nullable":false},"node":{"length":1,"null_count":0,"buffers":[{"file":"x","length":1}]}},
            {"field":{"name":"b","type":{"name":"int8"},"nullable":false},"node":{"length":1,"null_count":0,"buffers":[{"file":"x","length":1}]}}]}"#;
        assert!(Manifest::from_json(two)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let shape = r#"{"format":"mmarrow.table","version":2,"rows":1,"columns":[
            {"field":{"name":"a","type":{"name":"utf8"},"nullable":false},"node":{"length":1,"null_count":0,"buffers":[{"file":"x","length":1}]}}]}"#;
        assert!(Manifest::from_json(shape)
            .unwrap_err()
            .to_string()
            .contains("buffers"));
    }
}

//! A column as the tree of its Arrow `ArrayData` (docs/FORMAT.md §5.3):
//! one [`Node`] per `ArrayData`, each buffer one file, children and a
//! dictionary recursively. The shape of the tree — which buffers, which
//! children — follows from the Arrow type alone ([`Shape::of`]), so one
//! generic reader and one generic writer serve every type.

use arrow_schema::{DataType, Field, UnionMode};
use serde_json::{json, Map, Value};

/// One buffer file of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferFile {
    /// The file's name inside the table directory.
    pub file: String,
    /// Committed bytes (the file may be longer: an appender's uncommitted
    /// bytes). `None` only in format v1 manifests, for a variable-length
    /// column's values, whose committed length is the last offset.
    pub length: Option<u64>,
}

/// One `ArrayData` of a column: its committed length, its null count, its
/// validity bitmap and buffers as files, its children and, for a
/// dictionary, its values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Committed elements (rows for a column's root node).
    pub length: u64,
    /// Nulls among them (as Arrow counts them: the validity bitmap's).
    pub null_count: u64,
    /// The validity bitmap (LSB bit order), for nullable nodes.
    pub validity: Option<BufferFile>,
    /// The type's buffers, in Arrow's order (docs/FORMAT.md §5.3 names their roles).
    pub buffers: Vec<BufferFile>,
    /// The type's children, in Arrow's order.
    pub children: Vec<Node>,
    /// A dictionary's values.
    pub dictionary: Option<Box<Node>>,
}

/// What a node of a type holds: the roles of its buffers (also the suffix
/// of their file names), whether more buffers may follow (view types' data
/// buffers), its children's fields, and a dictionary's value type.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub roles: &'static [&'static str],
    pub variadic: bool,
    pub children: Vec<Field>,
    pub dictionary: Option<DataType>,
    /// Whether the type may have a validity bitmap (not Null, unions, run-end encoded).
    pub validity: bool,
}

impl Shape {
    /// The shape of a node of type `t`.
    pub(crate) fn of(t: &DataType) -> Shape {
        let shape = |roles: &'static [&'static str]| Shape {
            roles,
            variadic: false,
            children: Vec::new(),
            dictionary: None,
            validity: true,
        };
        match t {
            DataType::Null => Shape {
                validity: false,
                ..shape(&[])
            },
            DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 | DataType::LargeBinary => {
                shape(&["offsets", "values"])
            }
            DataType::Utf8View | DataType::BinaryView => Shape {
                variadic: true,
                ..shape(&["views"])
            },
            DataType::List(f) | DataType::LargeList(f) | DataType::Map(f, _) => Shape {
                children: vec![f.as_ref().clone()],
                ..shape(&["offsets"])
            },
            DataType::ListView(f) | DataType::LargeListView(f) => Shape {
                children: vec![f.as_ref().clone()],
                ..shape(&["offsets", "sizes"])
            },
            DataType::FixedSizeList(f, _) => Shape {
                children: vec![f.as_ref().clone()],
                ..shape(&[])
            },
            DataType::Struct(fields) => Shape {
                children: fields.iter().map(|f| f.as_ref().clone()).collect(),
                ..shape(&[])
            },
            DataType::Union(fields, mode) => Shape {
                children: fields.iter().map(|(_, f)| f.as_ref().clone()).collect(),
                validity: false,
                ..shape(match mode {
                    UnionMode::Sparse => &["type_ids"],
                    UnionMode::Dense => &["type_ids", "offsets"],
                })
            },
            DataType::Dictionary(_, v) => Shape {
                dictionary: Some(v.as_ref().clone()),
                ..shape(&["keys"])
            },
            DataType::RunEndEncoded(r, v) => Shape {
                children: vec![r.as_ref().clone(), v.as_ref().clone()],
                validity: false,
                ..shape(&[])
            },
            _ => shape(&["values"]),
        }
    }
}

/// Types whose offsets buffer has `length + 1` entries starting at 0.
pub(crate) fn has_end_offsets(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::Binary
            | DataType::LargeUtf8
            | DataType::LargeBinary
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::Map(..)
    )
}

/// Bytes per offset (and list-view size) of `t`: 8 for the large types.
pub(crate) fn offset_width(t: &DataType) -> usize {
    match t {
        DataType::LargeUtf8
        | DataType::LargeBinary
        | DataType::LargeList(_)
        | DataType::LargeListView(_) => 8,
        _ => 4,
    }
}

/// The numpy typestr that `np.memmap` opens buffer `role` of a node of
/// type `t` with, where one exists (bitmaps and byte data have none).
pub(crate) fn numpy_dtype(t: &DataType, role: &str) -> Option<String> {
    let large = matches!(
        t,
        DataType::LargeUtf8
            | DataType::LargeBinary
            | DataType::LargeList(_)
            | DataType::LargeListView(_)
    );
    let stored = match (role, t) {
        ("offsets" | "sizes", _) => return Some(if large { "<i8" } else { "<i4" }.into()),
        ("type_ids", _) => return Some("|i1".into()),
        ("views", _) => return Some("|V16".into()),
        ("keys", DataType::Dictionary(k, _)) => k.as_ref().clone(),
        ("values", DataType::Boolean) => return None,
        ("values", DataType::Date32 | DataType::Time32(_) | DataType::Decimal32(..)) => {
            DataType::Int32
        }
        ("values", DataType::Date64 | DataType::Time64(_) | DataType::Decimal64(..)) => {
            DataType::Int64
        }
        ("values", DataType::Decimal128(..)) => return Some("|V16".into()),
        ("values", DataType::Decimal256(..)) => return Some("|V32".into()),
        ("values", DataType::Interval(u)) => {
            return Some(
                match u {
                    arrow_schema::IntervalUnit::YearMonth => "<i4",
                    arrow_schema::IntervalUnit::DayTime => "|V8",
                    arrow_schema::IntervalUnit::MonthDayNano => "|V16",
                }
                .into(),
            )
        }
        ("values", t) if t.is_primitive() || matches!(t, DataType::FixedSizeBinary(_)) => t.clone(),
        _ => return None,
    };
    crate::Dtype::from_arrow(&stored).map(|d| d.typestr())
}

impl Node {
    /// Every file of the node and its descendants.
    pub fn files(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_files(&mut out);
        out
    }

    /// Every buffer file record of the node and its descendants.
    pub fn buffer_files(&self) -> Vec<&BufferFile> {
        let mut out: Vec<&BufferFile> = Vec::new();
        out.extend(self.validity.iter());
        out.extend(self.buffers.iter());
        for c in &self.children {
            out.extend(c.buffer_files());
        }
        if let Some(d) = &self.dictionary {
            out.extend(d.buffer_files());
        }
        out
    }

    fn collect_files<'a>(&'a self, out: &mut Vec<&'a str>) {
        out.extend(self.validity.iter().map(|b| b.file.as_str()));
        out.extend(self.buffers.iter().map(|b| b.file.as_str()));
        for c in &self.children {
            c.collect_files(out);
        }
        if let Some(d) = &self.dictionary {
            d.collect_files(out);
        }
    }

    /// The JSON of the node of type `t`.
    pub(crate) fn to_json(&self, t: &DataType) -> Value {
        let shape = Shape::of(t);
        let buffers: Vec<Value> = self
            .buffers
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let role = shape.roles.get(i).copied().unwrap_or("data");
                let mut v = json!({"file": b.file});
                if let Some(l) = b.length {
                    v["length"] = json!(l);
                }
                if let Some(d) = numpy_dtype(t, role) {
                    v["dtype"] = json!(d);
                }
                v
            })
            .collect();
        let mut m = Map::new();
        m.insert("length".into(), json!(self.length));
        m.insert("null_count".into(), json!(self.null_count));
        if let Some(v) = &self.validity {
            m.insert(
                "validity".into(),
                json!({"file": v.file, "length": v.length}),
            );
        }
        m.insert("buffers".into(), Value::Array(buffers));
        if !self.children.is_empty() {
            let children = self
                .children
                .iter()
                .zip(&shape.children)
                .map(|(c, f)| c.to_json(f.data_type()))
                .collect();
            m.insert("children".into(), Value::Array(children));
        }
        if let (Some(d), Some(vt)) = (&self.dictionary, &shape.dictionary) {
            m.insert("dictionary".into(), d.to_json(vt));
        }
        Value::Object(m)
    }

    /// Parses the node of a field of type `t`, checking that it has the
    /// shape the type requires. `path` names the node in messages
    /// (`"x"`, `"x".child 0`, ...).
    pub(crate) fn from_json(
        v: &Value,
        t: &DataType,
        path: &str,
        depth: usize,
    ) -> Result<Node, String> {
        if depth > super::types::MAX_DEPTH {
            return Err("nodes nest too deeply".into());
        }
        let shape = Shape::of(t);
        let uint = |k: &str| -> Result<u64, String> {
            v.get(k).and_then(Value::as_u64).ok_or(format!(
                "{path}: {k} is missing or not a non-negative integer"
            ))
        };
        let length = uint("length")?;
        let null_count = uint("null_count")?;
        let buffer = |b: &Value, what: &str| -> Result<BufferFile, String> {
            let file = b
                .get("file")
                .and_then(Value::as_str)
                .ok_or(format!("{path}: {what} lacks a file name"))?;
            check_file_name(file).map_err(|r| format!("{path}: {what} file {file:?} {r}"))?;
            let length = b
                .get("length")
                .and_then(Value::as_u64)
                .ok_or(format!("{path}: {what} file {file:?} lacks a valid length"))?;
            Ok(BufferFile {
                file: file.to_string(),
                length: Some(length),
            })
        };
        let validity = match v.get("validity") {
            None | Some(Value::Null) => None,
            Some(b) if shape.validity => Some(buffer(b, "validity")?),
            Some(_) => return Err(format!("{path}: type {t} has no validity bitmap")),
        };
        if null_count > length || (null_count > 0 && validity.is_none()) {
            return Err(format!("{path}: invalid null_count {null_count}"));
        }
        let list = v
            .get("buffers")
            .and_then(Value::as_array)
            .ok_or(format!("{path}: buffers missing"))?;
        if list.len() < shape.roles.len() || (!shape.variadic && list.len() != shape.roles.len()) {
            return Err(format!(
                "{path}: type {t} has {} buffers, the manifest lists {}",
                shape.roles.len(),
                list.len()
            ));
        }
        let buffers = list
            .iter()
            .enumerate()
            .map(|(i, b)| buffer(b, shape.roles.get(i).copied().unwrap_or("data")))
            .collect::<Result<Vec<_>, _>>()?;
        let empty = Vec::new();
        let kids = match v.get("children") {
            None | Some(Value::Null) => &empty,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(format!("{path}: children is not a list")),
        };
        if kids.len() != shape.children.len() {
            return Err(format!(
                "{path}: type {t} has {} children, the manifest lists {}",
                shape.children.len(),
                kids.len()
            ));
        }
        let children = kids
            .iter()
            .zip(&shape.children)
            .enumerate()
            .map(|(i, (c, f))| Node::from_json(c, f.data_type(), &format!("{path}.{i}"), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        let dictionary = match (&shape.dictionary, v.get("dictionary")) {
            (Some(vt), Some(d)) => Some(Box::new(Node::from_json(
                d,
                vt,
                &format!("{path}.dictionary"),
                depth + 1,
            )?)),
            (Some(_), None) => {
                return Err(format!("{path}: a dictionary column lacks its dictionary"))
            }
            (None, None | Some(Value::Null)) => None,
            (None, Some(_)) => return Err(format!("{path}: type {t} has no dictionary")),
        };
        Ok(Node {
            length,
            null_count,
            validity,
            buffers,
            children,
            dictionary,
        })
    }
}

/// File names in a manifest are plain names: no separators, no `..`, not absolute.
pub(crate) fn check_file_name(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']) {
        return Err("is not a plain file name inside the table directory");
    }
    Ok(())
}

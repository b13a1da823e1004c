//! Opening tables: each projected column's files mapped, zero-copy arrays.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::{make_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::Buffer;
use arrow_data::{ArrayData, ArrayDataBuilder};
use arrow_schema::{DataType, Schema, SchemaRef, UnionMode};

use super::manifest::{resolve_in, ColumnEntry, Manifest, Node};
use super::node::Shape;
use crate::error::{Error, ErrorKind, Result};
use crate::map::{self, Unvalidated};

/// How a table's contents are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Validation {
    /// The open checks the layout in O(columns); everything else Arrow
    /// requires (every offset, UTF-8, dictionary keys, union type ids, null
    /// counts) is checked where arrays are produced: a whole column once,
    /// or each batch's rows as the batch is made.
    #[default]
    Lazy,
    /// The layout only. See [`TableOptions::trusted`].
    Trusted(map::Trusted),
}

/// Options for opening a table: a projection, and how much to validate.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("t");
/// # use std::sync::Arc;
/// # use arrow_array::{Int64Array, StringArray, RecordBatch};
/// # let batch = RecordBatch::try_from_iter([
/// #     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as _),
/// #     ("name", Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as _),
/// # ])?;
/// # let mut w = mmarrow::TableWriter::create(&path, batch.schema())?;
/// # w.append(&batch)?;
/// # w.finish()?;
/// use mmarrow::TableOptions;
/// let t = TableOptions::new().project(&["name"]).open(&path)?;
/// assert_eq!(t.schema().fields().len(), 1);
/// assert_eq!(t.to_record_batch()?.num_rows(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    projection: Option<Vec<String>>,
    validation: Validation,
}

impl TableOptions {
    /// All columns, validated where they are produced.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these columns (in this order) are mapped.
    pub fn project(mut self, names: &[&str]) -> Self {
        self.projection = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Skips the content checks that the default open makes where arrays
    /// are produced (every offset, UTF-8, dictionary keys, union type ids,
    /// null counts from the manifest taken as they are); the layout is still
    /// checked at open.
    ///
    /// # Safety
    /// The table's files must hold what mmarrow's [`crate::TableWriter`]
    /// wrote (or have passed [`crate::table::verify_table`]): offsets that are
    /// not monotonic, invalid UTF-8 or a wrong null count would make the
    /// resulting Arrow arrays unsound. That is this method's whole contract:
    /// files changing while they are mapped is the crate-level mapping
    /// hazard, which every open shares, safe or not (see the crate docs,
    /// "Soundness and the mapping hazard").
    #[allow(unsafe_code)] // an unsafe API: the caller vouches for the files
    pub unsafe fn trusted(mut self) -> Self {
        // SAFETY: forwarded to our caller (this function's contract).
        self.validation = Validation::Trusted(unsafe { map::Trusted::vouch() });
        self
    }

    /// Opens the table in directory `dir`: maps every file of the projected
    /// columns and checks the manifest and the layout — each file exists
    /// inside the directory, is regular and long enough, child lengths and
    /// the ends of offsets agree — in time independent of the row count.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidManifest`] for a bad manifest, a file outside the
    /// directory, a missing or short column file, offsets out of range;
    /// [`ErrorKind::UnsupportedVersion`]; [`ErrorKind::InvalidRequest`] for a
    /// projection naming an unknown column.
    pub fn open(&self, dir: impl AsRef<Path>) -> Result<Table> {
        let dir = dir.as_ref();
        let manifest = Manifest::read(dir)?;
        // Resolved only if a column file is a symlink (see `map_file`).
        let canonical = Canonical::new(dir);
        let ids: Vec<usize> = match &self.projection {
            None => (0..manifest.columns.len()).collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    manifest
                        .columns
                        .iter()
                        .position(|c| c.field.name() == n)
                        .ok_or_else(|| {
                            ErrorKind::InvalidRequest {
                                reason: format!("no column {n:?} in the table"),
                            }
                            .at(dir)
                        })
                })
                .collect::<Result<_>>()?,
        };
        let entries: Vec<&ColumnEntry> = ids.iter().map(|&i| &manifest.columns[i]).collect();
        let mut columns = Vec::with_capacity(entries.len());
        for c in &entries {
            columns.push(Column::open(dir, &canonical, c)?);
        }
        let schema = Arc::new(
            Schema::new(entries.iter().map(|c| c.field.clone()).collect::<Vec<_>>())
                .with_metadata(manifest.metadata.clone()),
        );
        Ok(Table {
            dir: dir.to_path_buf(),
            schema,
            rows: manifest.rows,
            columns,
            validation: self.validation,
            column_ids: ids,
            manifest,
            checksums: None,
        })
    }
}

/// One opened column: its data with the layout checked, and what has been
/// validated of it.
#[derive(Debug)]
struct Column {
    name: String,
    /// The first file of the column, named by content errors.
    path: PathBuf,
    data: Unvalidated,
    /// Every node's data in preorder (self, children, dictionary), whole,
    /// for nodes validated whole once (see [`needs_whole`]).
    nodes: Vec<Unvalidated>,
    /// Each node's validity bitmap when the manifest says it has no nulls
    /// (Arrow then drops the bitmap; its bits are checked to be all set).
    zero_null_bitmaps: Vec<Option<Buffer>>,
    whole_checked: Vec<OnceLock<std::result::Result<(), String>>>,
    /// The whole column, validated (first use of `columns()` and friends).
    full: OnceLock<std::result::Result<ArrayRef, String>>,
    /// The files mapped, with the lengths mapped ([`Table::check_files`]).
    files: Vec<(PathBuf, u64)>,
}

/// Nodes whose elements can refer anywhere in their children: validated
/// whole, once, rather than by range.
fn needs_whole(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Dictionary(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::RunEndEncoded(..)
            | DataType::Union(_, UnionMode::Dense)
    )
}

/// Nodes in the tree of a type (self, children, dictionary).
fn count_nodes(t: &DataType) -> usize {
    let s = Shape::of(t);
    1 + s
        .children
        .iter()
        .map(|f| count_nodes(f.data_type()))
        .sum::<usize>()
        + s.dictionary.as_ref().map_or(0, count_nodes)
}

impl Column {
    fn open(dir: &Path, canonical: &Canonical, c: &ColumnEntry) -> Result<Column> {
        let mut nodes = Vec::new();
        let mut zero = Vec::new();
        let mut first = None;
        let mut files = Vec::new();
        let label = format!("column {:?}", c.field.name());
        let data = open_node(
            dir,
            canonical,
            &c.node,
            c.field.data_type(),
            &label,
            &mut Opened {
                nodes: &mut nodes,
                zero_null_bitmaps: &mut zero,
                first_path: &mut first,
                files: &mut files,
            },
        )?;
        let n = nodes.len();
        Ok(Column {
            files,
            name: c.field.name().clone(),
            path: first.unwrap_or_else(|| dir.join(super::MANIFEST_NAME)),
            data,
            nodes,
            zero_null_bitmaps: zero,
            whole_checked: (0..n).map(|_| OnceLock::new()).collect(),
            full: OnceLock::new(),
        })
    }

    fn content_error(&self, e: impl std::fmt::Display) -> Error {
        ErrorKind::InvalidManifest {
            reason: format!("column {:?}: {e}", self.name),
        }
        .at(self.path.clone())
    }

    /// The whole column, fully validated once.
    fn whole(&self, validation: Validation) -> Result<ArrayRef> {
        if let Validation::Trusted(v) = validation {
            return Ok(make_array(self.data.trusted(&v)));
        }
        let r = self.full.get_or_init(|| {
            let data = self.data.full().map_err(|e| arrow_text(&e))?;
            self.check_zero_null_bitmaps(&data, 0)
                .map_err(|e| e.to_string())?;
            Ok(make_array(data))
        });
        r.clone().map_err(|e| self.content_error(e))
    }

    /// Rows `offset..offset + len`, validated as a range.
    fn range(&self, offset: usize, len: usize, validation: Validation) -> Result<ArrayRef> {
        if let Some(Ok(full)) = self.full.get() {
            return Ok(full.slice(offset, len));
        }
        if let Validation::Trusted(v) = validation {
            return Ok(make_array(self.data.trusted(&v)).slice(offset, len));
        }
        let data = self
            .data
            .range(offset, len, |d| self.check_range(d, 0))
            .map_err(|e| self.content_error(e))?;
        Ok(make_array(data))
    }

    /// Everything `validate_full` checks for the slice `d` of node `id`,
    /// in time proportional to the slice (plus, once, the whole of nodes
    /// that [`needs_whole`]).
    fn check_range(&self, d: &ArrayData, id: usize) -> std::result::Result<(), String> {
        let t = d.data_type();
        if needs_whole(t) {
            return self.whole_checked[id]
                .get_or_init(|| {
                    let whole = self.nodes[id].full().map_err(|e| arrow_text(&e))?;
                    self.check_zero_null_bitmaps(&whole, id)
                })
                .clone();
        }
        match t {
            // Arrow's UTF-8 check reads the whole values buffer whatever
            // the slice: check the slice's bytes only.
            DataType::Utf8 => check_utf8_range::<i32>(d)?,
            DataType::LargeUtf8 => check_utf8_range::<i64>(d)?,
            DataType::Utf8View => check_views_range(d, true)?,
            DataType::BinaryView => check_views_range(d, false)?,
            _ => d.validate_data().map_err(|e| arrow_text(&e))?,
        }
        self.check_zero_null_bitmap(d, id)?;
        let child_ids = child_ids(t, id);
        match t {
            DataType::List(_) | DataType::Map(..) => {
                let o = d.buffers()[0].typed_data::<i32>();
                let (a, b) = (o[d.offset()] as usize, o[d.offset() + d.len()] as usize);
                self.check_range(&map::slice_data(&d.child_data()[0], a, b - a), child_ids[0])
            }
            DataType::LargeList(_) => {
                let o = d.buffers()[0].typed_data::<i64>();
                let (a, b) = (o[d.offset()] as usize, o[d.offset() + d.len()] as usize);
                self.check_range(&map::slice_data(&d.child_data()[0], a, b - a), child_ids[0])
            }
            DataType::FixedSizeList(_, n) => {
                let n = *n as usize;
                let child = map::slice_data(&d.child_data()[0], d.offset() * n, d.len() * n);
                self.check_range(&child, child_ids[0])
            }
            // A struct's and a sparse union's children are indexed like
            // the parent, offset included (`map::slice_data`).
            DataType::Struct(_) | DataType::Union(_, UnionMode::Sparse) => d
                .child_data()
                .iter()
                .zip(child_ids)
                .try_for_each(|(c, id)| {
                    self.check_range(&map::slice_data(c, d.offset(), d.len()), id)
                }),
            _ => Ok(()),
        }
    }

    /// For a whole node's data: its bitmap, and its children's, when the
    /// manifest said they have no nulls.
    fn check_zero_null_bitmaps(&self, d: &ArrayData, id: usize) -> std::result::Result<(), String> {
        self.check_zero_null_bitmap(d, id)?;
        let t = d.data_type();
        let ids = child_ids(t, id);
        for (c, cid) in d.child_data().iter().zip(&ids) {
            self.check_zero_null_bitmaps(c, *cid)?;
        }
        if let DataType::Dictionary(..) = t {
            let dict_id = dictionary_id(t, id);
            self.check_zero_null_bitmaps(&d.child_data()[0], dict_id)?;
        }
        Ok(())
    }

    /// A node the manifest says has no nulls must have a bitmap of set
    /// bits over `d`'s elements (Arrow drops a bitmap whose count is 0).
    fn check_zero_null_bitmap(&self, d: &ArrayData, id: usize) -> std::result::Result<(), String> {
        let Some(bits) = &self.zero_null_bitmaps[id] else {
            return Ok(());
        };
        if d.nulls().is_some() {
            return Ok(());
        }
        let b = arrow_buffer::BooleanBuffer::new(bits.clone(), d.offset(), d.len());
        match b.count_set_bits() {
            n if n == d.len() => Ok(()),
            n => Err(format!(
                "{} nulls in the validity bitmap, the manifest says 0",
                d.len() - n
            )),
        }
    }
}

/// What `validate_data` checks for a slice `d` of a (large) utf8 node —
/// its layout, its null count, offsets non-decreasing inside the values,
/// the bytes they span valid UTF-8 with every offset on a character
/// boundary — reading only the slice's offsets and bytes.
fn check_utf8_range<O: arrow_array::OffsetSizeTrait>(
    d: &ArrayData,
) -> std::result::Result<(), String> {
    d.validate().map_err(|e| arrow_text(&e))?;
    d.validate_nulls().map_err(|e| arrow_text(&e))?;
    let (off, len) = (d.offset(), d.len());
    // `validate` checked the offsets buffer holds `off + len + 1` entries.
    let offsets = &d.buffers()[0].typed_data::<O>()[off..=off + len];
    let values = d.buffers()[1].as_slice();
    let at = |i: usize| offsets[i].as_usize();
    let (start, end) = (at(0), at(len));
    if start > end || end > values.len() {
        return Err(format!(
            "offsets run from {start} to {end}, outside the {}-byte values",
            values.len()
        ));
    }
    let text = std::str::from_utf8(&values[start..end])
        .map_err(|e| format!("invalid UTF-8 at byte {}: {e}", start + e.valid_up_to()))?;
    // Fast path: non-decreasing offsets (checked without branching, so the
    // loop vectorises) into ASCII text, where every offset is a character
    // boundary; otherwise the loop below finds the first bad offset.
    let decreasing = offsets.windows(2).fold(false, |bad, w| bad | (w[0] > w[1]));
    if !decreasing && text.is_ascii() {
        return Ok(());
    }
    for i in 0..len {
        let (a, b) = (at(i), at(i + 1));
        if a > b || b > end {
            return Err(format!(
                "offset {} is {b}, before the previous {a}",
                off + i + 1
            ));
        }
        if !text.is_char_boundary(b - start) {
            return Err(format!(
                "offset {} ({b}) splits a UTF-8 character",
                off + i + 1
            ));
        }
    }
    Ok(())
}

/// What `validate_data` checks for a slice `d` of a string or binary
/// view node — its layout and null count; every view's padding (inline),
/// or its buffer, bounds and prefix; for strings, UTF-8 — in one pass
/// over the slice's views. Arrow checks each string's UTF-8 on its own
/// (most of a scan's time for short strings); here an inline string is
/// checked as one 96-bit ASCII test, and the out-of-line strings of each
/// data buffer as the one span of bytes they cover (the table writer
/// stores a batch's strings back to back) plus each string's ends on
/// character boundaries, which together imply every string is UTF-8. A
/// span that is not UTF-8, or much longer than its strings, is checked
/// string by string, as Arrow does, with Arrow's messages.
fn check_views_range(d: &ArrayData, utf8: bool) -> std::result::Result<(), String> {
    d.validate().map_err(|e| arrow_text(&e))?;
    d.validate_nulls().map_err(|e| arrow_text(&e))?;
    let (off, len) = (d.offset(), d.len());
    // `validate` checked the views buffer holds `off + len` views.
    let views = &d.buffers()[0].typed_data::<u128>()[off..off + len];
    let data = &d.buffers()[1..];
    // Per data buffer: the span of bytes its strings cover, and their sum.
    let mut spans: Vec<(usize, usize, u64)> = vec![(usize::MAX, 0, 0); data.len()];
    // Whether an inline string has a byte above 0x7f, and whether every
    // out-of-line string starts and ends on a character boundary (inside
    // its buffer: not before a continuation byte 0b10xxxxxx).
    let (mut inline_non_ascii, mut boundaries) = (false, true);
    const ASCII: u128 = 0x8080_8080_8080_8080_8080_8080 << 32;
    let not_continuation = |b: &[u8], at: usize| at >= b.len() || (b[at] as i8) >= -0x40;
    for (i, &v) in views.iter().enumerate() {
        let n = v as u32 as usize;
        if n <= 12 {
            if n < 12 && v >> (32 + n * 8) != 0 {
                return Err(format!(
                    "View at index {i} contained non-zero padding for string of length {n}"
                ));
            }
            inline_non_ascii |= v & ASCII != 0;
            continue;
        }
        let (k, start) = ((v >> 64) as u32 as usize, (v >> 96) as u32 as usize);
        let Some(buf) = data.get(k) else {
            return Err(format!(
                "Invalid buffer index at {i}: got index {k} but only has {} buffers",
                data.len()
            ));
        };
        let end = start + n;
        let Some(b) = buf.get(start..end) else {
            return Err(format!(
                "Invalid buffer slice at {i}: got {start}..{end} but buffer {k} has length {}",
                buf.len()
            ));
        };
        if b[..4] != ((v >> 32) as u32).to_le_bytes() {
            return Err("Mismatch between embedded prefix and data".into());
        }
        boundaries &= (b[0] as i8) >= -0x40 && not_continuation(buf, end);
        let s = &mut spans[k];
        *s = (s.0.min(start), s.1.max(end), s.2 + n as u64);
    }
    if !utf8 {
        return Ok(());
    }
    // Every string inside a UTF-8 span with both ends on character
    // boundaries is UTF-8. A span much longer than its strings is not
    // read whole (a crafted file could make every batch read a buffer).
    let by_span = boundaries
        && spans.iter().zip(data).all(|(&(lo, hi, sum), buf)| {
            lo >= hi || ((hi - lo) as u64 <= 2 * sum && std::str::from_utf8(&buf[lo..hi]).is_ok())
        });
    if by_span && !inline_non_ascii {
        return Ok(());
    }
    for (i, &v) in views.iter().enumerate() {
        let n = v as u32 as usize;
        if n <= 12 {
            check_utf8_at(i, &v.to_le_bytes()[4..4 + n])?;
        } else if !by_span {
            let (k, start) = ((v >> 64) as u32 as usize, (v >> 96) as u32 as usize);
            check_utf8_at(i, &data[k][start..start + n])?;
        }
    }
    Ok(())
}

/// Arrow's check of the string at view `i`.
fn check_utf8_at(i: usize, b: &[u8]) -> std::result::Result<(), String> {
    std::str::from_utf8(b)
        .map(|_| ())
        .map_err(|e| format!("Encountered non-UTF-8 data at index {i}: {e}"))
}

/// The preorder ids of the children of node `id` of type `t`.
fn child_ids(t: &DataType, id: usize) -> Vec<usize> {
    let mut next = id + 1;
    Shape::of(t)
        .children
        .iter()
        .map(|f| {
            let this = next;
            next += count_nodes(f.data_type());
            this
        })
        .collect()
}

/// The preorder id of the dictionary of node `id` of type `t`.
fn dictionary_id(t: &DataType, id: usize) -> usize {
    id + 1
        + Shape::of(t)
            .children
            .iter()
            .map(|f| count_nodes(f.data_type()))
            .sum::<usize>()
}

/// Arrow's message without its variant's prefix ("Invalid argument
/// error: "), to be said in mmarrow's words around it.
fn arrow_text(e: &arrow_schema::ArrowError) -> String {
    use arrow_schema::ArrowError as A;
    match e {
        A::InvalidArgumentError(s) | A::ComputeError(s) | A::ParseError(s) | A::CastError(s) => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// Where [`open_node`] records what it opened.
struct Opened<'a> {
    nodes: &'a mut Vec<Unvalidated>,
    zero_null_bitmaps: &'a mut Vec<Option<Buffer>>,
    first_path: &'a mut Option<PathBuf>,
    /// Every file mapped, with the length mapped.
    files: &'a mut Vec<(PathBuf, u64)>,
}

/// Maps the files of `node` (of type `t`) and its descendants and checks
/// their sizes, then the layout of the whole tree. `label` names the node
/// in messages.
fn open_node(
    dir: &Path,
    canonical: &Canonical,
    node: &Node,
    t: &DataType,
    label: &str,
    out: &mut Opened<'_>,
) -> Result<Unvalidated> {
    let id = out.nodes.len();
    // A placeholder keeps preorder ids while the children are opened.
    out.nodes
        .push(Unvalidated::new(ArrayDataBuilder::new(DataType::Null)).expect("null data"));
    out.zero_null_bitmaps.push(None);
    let len = usize::try_from(node.length)
        .map_err(|_| too_many(&dir.join(super::MANIFEST_NAME), node.length))?;
    let shape = Shape::of(t);
    let layout = arrow_data::layout(t);
    let mut map_buffer =
        |b: &super::manifest::BufferFile, role: &str| -> Result<(PathBuf, Buffer)> {
            let (path, buf) = map_file(dir, canonical, &b.file)?;
            out.first_path.get_or_insert_with(|| path.clone());
            out.files.push((path.clone(), buf.len() as u64));
            let buf = match b.length {
                Some(l) if (buf.len() as u64) < l => {
                    return Err(short(&path, role, l, buf.len() as u64));
                }
                Some(l) => buf.slice_with_length(0, l as usize),
                None => buf,
            };
            Ok((path, buf))
        };
    let mut builder = ArrayDataBuilder::new(t.clone()).len(len);
    if let Some(v) = &node.validity {
        let (path, bits) = map_buffer(v, "validity")?;
        let need = len.div_ceil(8);
        if bits.len() < need {
            return Err(short(&path, "validity", need as u64, bits.len() as u64));
        }
        if node.null_count == 0 {
            out.zero_null_bitmaps[id] = Some(bits.clone());
        }
        builder = builder
            .null_bit_buffer(Some(bits))
            .null_count(node.null_count as usize);
    }
    // Sizes first, so that a short file is named (Arrow's own check, below,
    // only names a buffer index).
    let extra = usize::from(super::node::has_end_offsets(t));
    let mut mapped = Vec::with_capacity(node.buffers.len());
    for (i, b) in node.buffers.iter().enumerate() {
        let role = shape.roles.get(i).copied().unwrap_or("data");
        let (path, buf) = map_buffer(b, role)?;
        let need = match layout.buffers.get(i) {
            Some(arrow_data::BufferSpec::FixedWidth { byte_width, .. }) => {
                let entries = if role == "offsets" {
                    len.checked_add(extra)
                } else {
                    Some(len)
                };
                entries.and_then(|n| n.checked_mul(*byte_width))
            }
            Some(arrow_data::BufferSpec::BitMap) => Some(len.div_ceil(8)),
            _ => Some(0),
        }
        .ok_or_else(|| too_many(&path, node.length))?;
        if buf.len() < need {
            return Err(short(&path, role, need as u64, buf.len() as u64));
        }
        mapped.push((path, buf));
    }
    // The ends of `length + 1` offsets, in O(1): they start at 0 (appends
    // rebase) and end inside the values or the child.
    if extra == 1 {
        let (path, offsets) = &mapped[0];
        let wide = super::node::offset_width(t) == 8;
        let read = |i: usize| -> i64 {
            let s = offsets.as_slice();
            if wide {
                i64::from_le_bytes(s[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
            } else {
                i32::from_le_bytes(s[i * 4..i * 4 + 4].try_into().expect("4 bytes")) as i64
            }
        };
        let (first, last) = (read(0), read(len));
        let (limit, what) = match mapped.get(1) {
            Some((_, values)) => (
                values.len() as u64,
                format!("the {}-byte values file", values.len()),
            ),
            None => {
                let n = node.children.first().map_or(0, |c| c.length);
                (n, format!("the {n} elements of the child"))
            }
        };
        if first != 0 {
            return Err(ErrorKind::InvalidManifest {
                reason: format!("the first offset is {first}; a table's offsets start at 0"),
            }
            .at(path.clone()));
        }
        if last < first || last as u64 > limit {
            return Err(ErrorKind::InvalidManifest {
                reason: format!("offsets run from {first} to {last}, outside {what}"),
            }
            .at(path.clone()));
        }
    }
    for (_, buf) in mapped {
        builder = builder.add_buffer(buf);
    }
    for (i, (c, f)) in node.children.iter().zip(&shape.children).enumerate() {
        let child = open_node(
            dir,
            canonical,
            c,
            f.data_type(),
            &format!("{label}.{i}"),
            out,
        )?;
        builder = builder.add_child_data(child.peek().clone());
    }
    if let (Some(d), Some(vt)) = (&node.dictionary, &shape.dictionary) {
        let dict = open_node(dir, canonical, d, vt, &format!("{label}.dictionary"), out)?;
        builder = builder.add_child_data(dict.peek().clone());
    }
    let data = Unvalidated::new(builder).map_err(|e| {
        ErrorKind::InvalidManifest {
            reason: format!("{label}: {}", arrow_text(&e)),
        }
        .at(out
            .first_path
            .clone()
            .unwrap_or_else(|| dir.join(super::MANIFEST_NAME)))
    })?;
    out.nodes[id] = data.clone();
    Ok(data)
}

/// The committed data of one node, fully validated (the table writer
/// reads a dictionary back to unify later batches with it).
pub(super) fn read_node(dir: &Path, node: &Node, t: &DataType) -> Result<ArrayRef> {
    let canonical = Canonical::new(dir);
    let (mut nodes, mut zero, mut first) = (Vec::new(), Vec::new(), None);
    let data = open_node(
        dir,
        &canonical,
        node,
        t,
        "dictionary",
        &mut Opened {
            nodes: &mut nodes,
            zero_null_bitmaps: &mut zero,
            first_path: &mut first,
            files: &mut Vec::new(),
        },
    )?;
    let data = data.full().map_err(|e| {
        ErrorKind::InvalidManifest {
            reason: format!("dictionary: {}", arrow_text(&e)),
        }
        .at(first.unwrap_or_else(|| dir.to_path_buf()))
    })?;
    Ok(make_array(data))
}

/// A table opened from its directory: zero-copy Arrow columns over the
/// mapped files.
#[derive(Debug)]
pub struct Table {
    dir: PathBuf,
    schema: SchemaRef,
    rows: u64,
    columns: Vec<Column>,
    validation: Validation,
    /// The opened columns' positions in the manifest.
    column_ids: Vec<usize>,
    manifest: Manifest,
    /// What [`verify_table`] found of the checksums.
    checksums: Option<super::ChecksumReport>,
}

impl Table {
    /// Opens all columns of the table in `dir`, in time independent of
    /// the row count; contents are validated where arrays are produced.
    ///
    /// # Errors
    /// As [`TableOptions::open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Table> {
        TableOptions::new().open(dir)
    }

    /// Per-chunk statistics of the opened columns (null counts; minimum
    /// and maximum where the type has an order), recorded by each commit
    /// in the commit log, for skipping chunks of rows without reading
    /// them. Reads the log (one small file, O(commits)); the open does not.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidManifest`] for a commit log that is missing,
    /// shorter than recorded, or does not match the checksum the manifest
    /// records; I/O errors.
    pub fn statistics(&self) -> Result<super::TableStatistics> {
        super::log::statistics(&self.dir, &self.manifest, &self.column_ids)
    }

    /// What [`verify_table`] checked of the table's checksums (`None`
    /// for a table opened otherwise).
    pub fn checksum_report(&self) -> Option<super::ChecksumReport> {
        self.checksums
    }

    /// Checks that no file of the opened columns became shorter than it
    /// was mapped: for a long-lived open (a query engine's table) to
    /// refuse a file that shrank rather than touch pages past its end
    /// (see the crate docs, "Soundness and the mapping hazard"). One
    /// `stat` per file.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// # let b = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])?;
    /// # let mut w = mmarrow::TableWriter::create(dir.path().join("t"), b.schema())?;
    /// # w.append(&b)?;
    /// let t = w.finish()?;
    /// t.check_files()?;
    /// std::fs::File::options().write(true).open(dir.path().join("t/c0.values"))?.set_len(0)?;
    /// assert_eq!(t.check_files().unwrap_err().kind().to_string(), "changed since it was opened: it has 0 bytes, 24 were mapped");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Changed`] naming the first shorter file; I/O errors.
    pub fn check_files(&self) -> Result<()> {
        for c in &self.columns {
            for (path, mapped) in &c.files {
                let now = std::fs::metadata(path)
                    .map_err(|e| Error::io(path, "stat", e))?
                    .len();
                if now < *mapped {
                    return Err(ErrorKind::Changed {
                        reason: format!("it has {now} bytes, {mapped} were mapped"),
                    }
                    .at(path));
                }
            }
        }
        Ok(())
    }

    /// The table directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The schema of the opened columns.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Committed rows.
    pub fn num_rows(&self) -> u64 {
        self.rows
    }

    /// Bytes of the opened columns' committed data (all buffers).
    pub fn data_bytes(&self) -> u64 {
        self.columns
            .iter()
            .map(|c| c.data.peek().get_slice_memory_size().unwrap_or(0) as u64)
            .sum()
    }

    /// The opened columns, whole. The first call validates each column in
    /// full (O(rows)); later calls return the same arrays.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidManifest`] naming the column and its file when
    /// its contents are not valid Arrow data.
    pub fn columns(&self) -> Result<Vec<ArrayRef>> {
        self.columns
            .iter()
            .map(|c| c.whole(self.validation))
            .collect()
    }

    /// All rows as one record batch (no copy), as [`Table::columns`].
    ///
    /// # Errors
    /// As [`Table::columns`].
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        self.batch(self.columns()?, self.rows as usize)
    }

    fn batch(&self, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
        let opts = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &opts,
        )?)
    }

    /// Rows `range` as a record batch (no copy); only those rows are
    /// validated (once a column was validated whole, not even those).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for a range outside the table;
    /// [`ErrorKind::InvalidManifest`] for invalid contents in the range.
    pub fn slice(&self, range: Range<u64>) -> Result<RecordBatch> {
        if range.start > range.end || range.end > self.rows {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "row range {}..{} is outside the {} rows",
                    range.start, range.end, self.rows
                ),
            }
            .at(self.dir.clone()));
        }
        let (offset, len) = (range.start as usize, (range.end - range.start) as usize);
        let columns = self
            .columns
            .iter()
            .map(|c| c.range(offset, len, self.validation))
            .collect::<Result<Vec<_>>>()?;
        self.batch(columns, len)
    }

    /// The rows `indices` (in this order, repeats allowed) gathered into a
    /// new record batch: random access, as a data loader reads a shuffled
    /// epoch. Copies the selected rows only (Arrow's `take` kernel over the
    /// zero-copy columns, validated whole on the first call as
    /// [`Table::columns`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Array, Int64Array, RecordBatch};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("t");
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![10, 11, 12])) as _)])?;
    /// let mut w = mmarrow::TableWriter::create(&path, batch.schema())?;
    /// w.append(&batch)?;
    /// let t = w.finish()?;
    /// let rows = t.take(&[2, 0, 2])?;
    /// let n = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    /// assert_eq!(n.values(), &[12, 10, 12]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an index outside the table; as
    /// [`Table::columns`].
    pub fn take(&self, indices: &[u64]) -> Result<RecordBatch> {
        if let Some(bad) = indices.iter().find(|&&r| r >= self.rows) {
            return Err(ErrorKind::InvalidRequest {
                reason: format!("row {bad} is outside the {} rows", self.rows),
            }
            .at(self.dir.clone()));
        }
        let indices = arrow_array::UInt64Array::from(indices.to_vec());
        let columns = self
            .columns()?
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.batch(columns, indices.len())
    }

    /// Zero-copy record batches of at most `rows` rows, each validated as
    /// it is made (see [`Table::slice`]).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for `rows == 0`; each batch as
    /// [`Table::slice`].
    pub fn batches(&self, rows: u64) -> Result<impl Iterator<Item = Result<RecordBatch>> + '_> {
        if rows == 0 {
            return Err(ErrorKind::InvalidRequest {
                reason: "batch size must be at least 1 row".into(),
            }
            .at(self.dir.clone()));
        }
        let n = self.rows;
        Ok((0..n.div_ceil(rows)).map(move |i| {
            let start = i * rows;
            self.slice(start..(start + rows).min(n))
        }))
    }
}

/// Opens the table in `dir` and checks everything of its contents: every
/// committed byte range against the checksum its commit recorded
/// ([`verify_checksums`], reported by [`Table::checksum_report`]), then
/// every offset, UTF-8, dictionary key, union type id and null count, and
/// that decimals fit their precision.
///
/// # Errors
/// The first problem found, naming the column and its file
/// ([`ErrorKind::ChecksumMismatch`] with the byte range for changed bytes).
pub fn verify_table(dir: impl AsRef<Path>) -> Result<Table> {
    let dir = dir.as_ref();
    let mut table = TableOptions::new().open(dir)?;
    table.checksums = Some(super::log::verify(dir, &table.manifest)?);
    let schema = table.schema();
    for (field, column) in schema.fields().iter().zip(table.columns()?) {
        check_values(field.name(), &column)
            .map_err(|reason| ErrorKind::InvalidManifest { reason }.at(dir))?;
    }
    Ok(table)
}

/// Recomputes the crc32c of every byte range the table's commits recorded
/// and compares it with the commit log; [`verify_table`] runs it.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let t = dir.path().join("t");
/// # let batch = arrow_array::RecordBatch::try_from_iter([("x", std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2])) as _)])?;
/// # let mut w = mmarrow::TableWriter::create(&t, batch.schema())?;
/// # w.append(&batch)?; w.commit()?; drop(w);
/// let report = mmarrow::table::verify_checksums(&t)?;
/// assert_eq!((report.bytes, report.unchecked_bytes), (16, 0));
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ErrorKind::ChecksumMismatch`] naming the file whose bytes differ and
/// the range; [`ErrorKind::InvalidManifest`] for a damaged commit log; as
/// [`Manifest::read`].
pub fn verify_checksums(dir: impl AsRef<Path>) -> Result<super::ChecksumReport> {
    let dir = dir.as_ref();
    super::log::verify(dir, &Manifest::read(dir)?)
}

/// Runs the checks of a table open — the manifest's every field; every
/// file it names exists inside the directory, is a regular file and is
/// long enough; child lengths and the ends of offsets — in time
/// independent of the row count, and returns the manifest. `mmarrow info`
/// runs it; [`verify_table`] runs everything.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let t = dir.path().join("t");
/// # let batch = arrow_array::RecordBatch::try_from_iter([("x", std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2])) as _)])?;
/// # let mut w = mmarrow::TableWriter::create(&t, batch.schema())?;
/// # w.append(&batch)?; w.commit()?; drop(w);
/// let m = mmarrow::table::check_structure(&t)?;
/// assert_eq!(m.rows, 2);
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`Table::open`].
pub fn check_structure(dir: impl AsRef<Path>) -> Result<Manifest> {
    let dir = dir.as_ref();
    TableOptions::new().open(dir)?;
    Manifest::read(dir)
}

/// Checks what Arrow's own validation leaves to the reader: decimal values
/// that fit their declared precision.
fn check_values(name: &str, column: &ArrayRef) -> std::result::Result<(), String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Decimal256Type, DecimalType};
    use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
    fn first_too_wide<T: DecimalType + ArrowPrimitiveType>(
        a: &PrimitiveArray<T>,
        precision: u8,
    ) -> Option<usize> {
        (0..a.len())
            .find(|&i| a.is_valid(i) && !T::is_valid_decimal_precision(a.value(i), precision))
    }
    let bad = match column.data_type() {
        DataType::Decimal128(p, _) => {
            first_too_wide(column.as_primitive::<Decimal128Type>(), *p).map(|i| (i, *p))
        }
        DataType::Decimal256(p, _) => {
            first_too_wide(column.as_primitive::<Decimal256Type>(), *p).map(|i| (i, *p))
        }
        _ => None,
    };
    match bad {
        Some((row, p)) => Err(format!(
            "column {name:?} row {row}: value has more than the {p} digits its type declares"
        )),
        None => Ok(()),
    }
}

fn short(path: &Path, what: &str, need: u64, have: u64) -> Error {
    ErrorKind::InvalidManifest {
        reason: format!("{what} file has {have} bytes, the committed rows need {need}"),
    }
    .at(path)
}

/// A row count whose bytes overflow the address space: no file can hold it.
fn too_many(path: &Path, rows: u64) -> Error {
    ErrorKind::InvalidManifest {
        reason: format!("{rows} rows of this column need more bytes than a file can hold"),
    }
    .at(path)
}

/// The table directory, canonicalized on first need (only symlinked
/// column files need it, to check where they lead).
struct Canonical<'a> {
    dir: &'a Path,
    path: std::cell::OnceCell<PathBuf>,
}

impl<'a> Canonical<'a> {
    fn new(dir: &'a Path) -> Self {
        Canonical {
            dir,
            path: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> Result<&Path> {
        if let Some(p) = self.path.get() {
            return Ok(p);
        }
        let p = self
            .dir
            .canonicalize()
            .map_err(|e| Error::io(self.dir, "resolve directory", e))?;
        Ok(self.path.get_or_init(|| p))
    }
}

/// Maps a whole column file: opened without following a symlink (one
/// `openat` and one `fstat` for a plain file), and a symlink only if it
/// leads to a file inside the directory.
fn map_file(dir: &Path, canonical: &Canonical, name: &str) -> Result<(PathBuf, Buffer)> {
    let path = dir.join(name);
    let (file, len) = match crate::fsutil::open_regular_nofollow(&path)? {
        Some(opened) => opened,
        None => {
            let target = resolve_in(dir, canonical.get()?, name)?;
            let file = crate::fsutil::open_regular(&target, false)?;
            let len = file
                .metadata()
                .map_err(|e| Error::io(&path, "stat", e))?
                .len();
            (file, len)
        }
    };
    let buf = map::map_prefix(&file, &path, len)?;
    Ok((path, buf))
}

#[cfg(test)]
mod tests {
    use super::check_views_range;
    use crate::map::Unvalidated;
    use arrow_array::{Array, BinaryViewArray, StringViewArray};
    use arrow_buffer::Buffer;
    use arrow_data::ArrayData;
    use proptest::prelude::*;

    /// A view array's data with some of its bytes replaced, unvalidated.
    fn mutated(d: &ArrayData, edits: &[(usize, usize, u8)]) -> Unvalidated {
        let mut bufs: Vec<Vec<u8>> = d.buffers().iter().map(|b| b.as_slice().to_vec()).collect();
        for &(b, at, byte) in edits {
            let b = b % bufs.len();
            if !bufs[b].is_empty() {
                let n = bufs[b].len();
                bufs[b][at % n] = byte;
            }
        }
        let b = d
            .clone()
            .into_builder()
            .buffers(bufs.into_iter().map(Buffer::from_vec).collect());
        Unvalidated::new(b).expect("the layout is unchanged")
    }

    proptest! {
        /// Whatever the bytes, the slice check accepts exactly what
        /// Arrow's full validation of the slice accepts.
        #[test]
        fn views_are_accepted_as_arrow_accepts_them(
            strings in proptest::collection::vec(
                proptest::option::weighted(0.9, "[a-zé€😀]{0,30}"), 1..60),
            edits in proptest::collection::vec((0usize..4, 0usize..4096, any::<u8>()), 0..4),
            slice in (0usize..60, 0usize..60),
        ) {
            let a = StringViewArray::from(strings.clone());
            let b = BinaryViewArray::from_iter(strings.iter().map(|s| s.as_deref().map(str::as_bytes)));
            for (data, utf8) in [(a.to_data(), true), (b.to_data(), false)] {
                let d = mutated(&data, &edits);
                let off = slice.0 % data.len();
                let len = slice.1 % (data.len() - off + 1);
                let ours = d.range(off, len, |s| check_views_range(s, utf8));
                let arrow = d.range(off, len, |s| s.validate_data());
                prop_assert_eq!(ours.is_ok(), arrow.is_ok(), "{:?} {:?}", ours.err(), arrow.err());
            }
        }
    }
}

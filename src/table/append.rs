//! Appending Arrow data to a column's files, one [`NodeWriter`] per node
//! of its tree (docs/FORMAT.md §5.3): offsets rebased onto what is already
//! written, view types' long values copied into the node's data files,
//! dictionaries unified with the dictionary written so far, run ends and
//! union offsets rebased. Every write goes past the committed length;
//! the table writer's commit makes it visible.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{make_array, Array, ArrayRef};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};
use arrow_data::ArrayData;
use arrow_schema::{DataType, UnionMode};

use super::log::RangeSum;
use super::node::{has_end_offsets, offset_width, BufferFile, Node, Shape};
use crate::error::{Error, ErrorKind, Result};
use crate::fault;
use crate::fsutil::{open_rw, FileExt};
use crate::map::slice_data;

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(path, op, e)
}

/// One buffer file being appended to.
#[derive(Debug)]
struct ByteFile {
    file: File,
    path: PathBuf,
    name: String,
    /// Bytes written, committed or not.
    len: u64,
    /// Where the bytes not yet committed start (the committed length).
    sum_from: u64,
    /// The crc32c of the bytes from `sum_from` to `len`.
    sum: u32,
}

impl ByteFile {
    fn create(dir: &Path, name: String, initial: &[u8]) -> Result<ByteFile> {
        let path = dir.join(&name);
        let file = open_rw(&path, true, "open column file")?;
        let mut f = ByteFile {
            file,
            path,
            name,
            len: 0,
            sum_from: 0,
            sum: 0,
        };
        f.append(initial)?;
        Ok(f)
    }

    fn open(dir: &Path, b: &BufferFile) -> Result<ByteFile> {
        let path = dir.join(&b.file);
        let file = open_rw(&path, false, "open column file")?;
        let len = match b.length {
            Some(l) => l,
            None => file.metadata().map_err(io(&path, "stat"))?.len(),
        };
        let mut f = ByteFile {
            file,
            path,
            name: b.file.clone(),
            len,
            sum_from: len,
            sum: 0,
        };
        f.truncate(len)?;
        Ok(f)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        fault::point("table.append_values", &self.path)
            .and_then(|()| self.file.write_all_at(bytes, self.len))
            .map_err(io(&self.path, "append"))?;
        self.len += bytes.len() as u64;
        self.sum = crc32c::crc32c_append(self.sum, bytes);
        Ok(())
    }

    /// The checksum of the bytes appended since the last commit.
    fn pending_sum(&self) -> Option<RangeSum> {
        (self.len > self.sum_from).then(|| RangeSum {
            file: self.name.clone(),
            start: self.sum_from,
            end: self.len,
            crc32c: self.sum,
            last_bits: 0,
        })
    }

    fn mark_committed(&mut self) {
        self.sum_from = self.len;
        self.sum = 0;
    }

    fn truncate(&mut self, len: u64) -> Result<()> {
        self.file.set_len(len).map_err(io(&self.path, "truncate"))?;
        self.len = len;
        Ok(())
    }

    /// The `width`-byte little-endian integer at entry `i`.
    fn read_int(&self, i: u64, width: usize) -> Result<i64> {
        let mut b = [0u8; 8];
        self.file
            .read_exact_at(&mut b[..width], i * width as u64)
            .map_err(io(&self.path, "read"))?;
        Ok(match width {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes(b[..4].try_into().expect("4")) as i64,
            _ => i64::from_le_bytes(b),
        })
    }

    fn record(&self) -> BufferFile {
        BufferFile {
            file: self.name.clone(),
            length: Some(self.len),
        }
    }
}

/// A bitmap file being appended to, bit by bit.
#[derive(Debug)]
struct BitFile {
    bytes: ByteFile,
    /// Bits written, committed or not.
    bits: u64,
    /// The byte holding bit `bits - 1`, when `bits % 8 != 0`.
    last: u8,
    /// Bits committed.
    committed_bits: u64,
    /// The crc32c of the whole bytes from the one holding the first
    /// uncommitted bit up to the one holding bit `bits - 1` (excluded when
    /// partial: later appends fill it in).
    sum: u32,
}

impl BitFile {
    fn create(dir: &Path, name: String) -> Result<BitFile> {
        Ok(BitFile {
            bytes: ByteFile::create(dir, name, &[])?,
            bits: 0,
            last: 0,
            committed_bits: 0,
            sum: 0,
        })
    }

    fn open(dir: &Path, b: &BufferFile, bits: u64) -> Result<BitFile> {
        let mut f = BitFile {
            bytes: ByteFile::open(dir, b)?,
            bits: 0,
            last: 0,
            committed_bits: bits,
            sum: 0,
        };
        f.truncate(bits)?;
        Ok(f)
    }

    fn append(&mut self, src: &BooleanBuffer) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        let partial = (self.bits % 8) as usize;
        let mut b = BooleanBufferBuilder::new(partial + src.len());
        if partial > 0 {
            b.append_packed_range(0..partial, &[self.last]);
        }
        b.append_packed_range(src.offset()..src.offset() + src.len(), src.values());
        let out = b.finish();
        let bytes = &out.values()[..(partial + src.len()).div_ceil(8)];
        let f = &mut self.bytes;
        fault::point("table.append_bits", &f.path)
            .and_then(|()| f.file.write_all_at(bytes, self.bits / 8))
            .map_err(io(&f.path, "append"))?;
        // The bytes this append completed: from the one that held the
        // partial bits (or the next) up to the new partial one.
        let whole = (self.bits + src.len() as u64) / 8 - self.bits / 8;
        self.sum = crc32c::crc32c_append(self.sum, &bytes[..whole as usize]);
        self.bits += src.len() as u64;
        f.len = self.bits.div_ceil(8);
        self.last = *bytes.last().expect("non-empty");
        Ok(())
    }

    /// The checksum of the bytes holding the bits appended since the last
    /// commit (a partial last byte with its unset bits cleared).
    fn pending_sum(&self) -> Option<RangeSum> {
        if self.bits <= self.committed_bits {
            return None;
        }
        let last_bits = (self.bits % 8) as u8;
        let crc = if last_bits == 0 {
            self.sum
        } else {
            crc32c::crc32c_append(self.sum, &[self.last & ((1u8 << last_bits) - 1)])
        };
        Some(RangeSum {
            file: self.bytes.name.clone(),
            start: self.committed_bits / 8,
            end: self.bits.div_ceil(8),
            crc32c: crc,
            last_bits,
        })
    }

    fn mark_committed(&mut self) {
        self.committed_bits = self.bits;
        self.sum = 0;
        self.bytes.mark_committed();
    }

    /// Cuts the file back to `bits` bits and reloads the partial byte.
    fn truncate(&mut self, bits: u64) -> Result<()> {
        self.bytes.truncate(bits.div_ceil(8))?;
        self.bits = bits;
        self.last = 0;
        if !bits.is_multiple_of(8) {
            let mut b = [0u8];
            self.bytes
                .file
                .read_exact_at(&mut b, bits / 8)
                .map_err(io(&self.bytes.path, "read"))?;
            self.last = b[0];
        }
        Ok(())
    }
}

/// `values` (`width` bytes each) with the slots of the nulls of `nulls`
/// zeroed: borrowed when they are zeros already (the page-level Parquet
/// reader's arrays), else a copy.
fn zero_nulls<'a>(
    values: &'a [u8],
    width: usize,
    nulls: &arrow_buffer::NullBuffer,
) -> std::borrow::Cow<'a, [u8]> {
    // The null slots: the gaps between the runs of valid rows.
    let mut gaps = Vec::new();
    let mut next = 0;
    for (start, end) in nulls.inner().set_slices() {
        gaps.push(next..start);
        next = end;
    }
    gaps.push(next..nulls.len());
    let zero = |r: &std::ops::Range<usize>| {
        values[r.start * width..r.end * width]
            .iter()
            .all(|&b| b == 0)
    };
    if gaps.iter().all(zero) {
        return std::borrow::Cow::Borrowed(values);
    }
    let mut out = values.to_vec();
    for r in gaps {
        out[r.start * width..r.end * width].fill(0);
    }
    std::borrow::Cow::Owned(out)
}

/// The dictionary written so far, by value, for unifying new batches'
/// dictionaries with it.
struct DictIndex {
    converter: arrow_row::RowConverter,
    keys: HashMap<Box<[u8]>, u64>,
}

impl std::fmt::Debug for DictIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DictIndex({} values)", self.keys.len())
    }
}

/// Writes one node of a column's tree, and its descendants.
#[derive(Debug)]
pub(super) struct NodeWriter {
    t: DataType,
    /// The column (and path below it) for messages.
    label: String,
    dir: PathBuf,
    /// The prefix of this node's file names (`c3`, `c3.0`, `c3.dict`).
    prefix: String,
    length: u64,
    null_count: u64,
    validity: Option<BitFile>,
    /// Fixed buffers, in [`Shape::roles`] order (a Boolean's values: `bits`).
    buffers: Vec<ByteFile>,
    bits: Option<BitFile>,
    /// The last offset written, for types whose offsets have length + 1 entries.
    last_offset: i64,
    children: Vec<NodeWriter>,
    dictionary: Option<Box<NodeWriter>>,
    dict_index: Option<DictIndex>,
    /// What the last commit recorded, to cut back to.
    committed: Node,
}

/// View data files are started anew before their length passes this, so
/// that every view's 32-bit offset fits.
const MAX_VIEW_DATA: u64 = i32::MAX as u64;

impl NodeWriter {
    /// Creates the empty files of a node of type `t` (a validity bitmap
    /// when `nullable`) and of its descendants.
    pub(super) fn create(
        dir: &Path,
        prefix: String,
        t: &DataType,
        nullable: bool,
        label: String,
    ) -> Result<NodeWriter> {
        let shape = Shape::of(t);
        let validity = (nullable && shape.validity)
            .then(|| BitFile::create(dir, format!("{prefix}.validity")))
            .transpose()?;
        let mut buffers = Vec::new();
        let mut bits = None;
        for role in shape.roles {
            let name = format!("{prefix}.{role}");
            if *t == DataType::Boolean {
                bits = Some(BitFile::create(dir, name)?);
            } else {
                let initial = if *role == "offsets" && has_end_offsets(t) {
                    vec![0u8; offset_width(t)]
                } else {
                    Vec::new()
                };
                buffers.push(ByteFile::create(dir, name, &initial)?);
            }
        }
        let children = shape
            .children
            .iter()
            .enumerate()
            .map(|(i, f)| {
                NodeWriter::create(
                    dir,
                    format!("{prefix}.{i}"),
                    f.data_type(),
                    f.is_nullable(),
                    format!("{label}.{}", f.name()),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let dictionary = shape
            .dictionary
            .as_ref()
            .map(|vt| {
                NodeWriter::create(
                    dir,
                    format!("{prefix}.dict"),
                    vt,
                    true,
                    format!("{label}.dictionary"),
                )
                .map(Box::new)
            })
            .transpose()?;
        let dict_index = shape.dictionary.as_ref().and_then(DictIndex::new);
        let mut w = NodeWriter {
            t: t.clone(),
            label,
            dir: dir.to_path_buf(),
            prefix,
            length: 0,
            null_count: 0,
            validity,
            buffers,
            bits,
            last_offset: 0,
            children,
            dictionary,
            dict_index,
            committed: Node::default(),
        };
        w.committed = w.node();
        Ok(w)
    }

    /// Opens the files of a committed node of type `t` for appending,
    /// cutting away whatever was written past the commit.
    pub(super) fn open(dir: &Path, node: &Node, t: &DataType, label: String) -> Result<NodeWriter> {
        let shape = Shape::of(t);
        let validity = node
            .validity
            .as_ref()
            .map(|v| BitFile::open(dir, v, node.length))
            .transpose()?;
        let mut buffers = Vec::new();
        let mut bits = None;
        let mut last_offset = 0;
        for (i, b) in node.buffers.iter().enumerate() {
            if *t == DataType::Boolean {
                bits = Some(BitFile::open(dir, b, node.length)?);
                continue;
            }
            let mut b = b.clone();
            // Format v1 did not record a variable-length column's values
            // length: it is the last offset.
            if b.length.is_none() && i == 1 {
                let w = offset_width(t);
                last_offset = buffers
                    .first()
                    .map(|o: &ByteFile| o.read_int(node.length, w))
                    .transpose()?
                    .unwrap_or(0);
                b.length = Some(u64::try_from(last_offset).unwrap_or(0));
            }
            buffers.push(ByteFile::open(dir, &b)?);
        }
        if has_end_offsets(t) {
            if let Some(o) = buffers.first() {
                last_offset = o.read_int(node.length, offset_width(t))?;
            }
        }
        let children = node
            .children
            .iter()
            .zip(&shape.children)
            .map(|(c, f)| NodeWriter::open(dir, c, f.data_type(), format!("{label}.{}", f.name())))
            .collect::<Result<Vec<_>>>()?;
        let dictionary = match (&node.dictionary, &shape.dictionary) {
            (Some(d), Some(vt)) => Some(Box::new(NodeWriter::open(
                dir,
                d,
                vt,
                format!("{label}.dictionary"),
            )?)),
            _ => None,
        };
        let dict_index = match (&node.dictionary, &shape.dictionary) {
            (Some(d), Some(vt)) => match DictIndex::new(vt) {
                Some(mut index) => {
                    let values = super::read::read_node(dir, d, vt)?;
                    index.insert_all(&values, 0)?;
                    Some(index)
                }
                None => None,
            },
            _ => None,
        };
        let prefix = node
            .buffers
            .first()
            .or(node.validity.as_ref())
            .map(|b| {
                b.file
                    .rsplit_once('.')
                    .map_or(b.file.clone(), |(p, _)| p.to_string())
            })
            .unwrap_or_else(|| label.clone());
        Ok(NodeWriter {
            t: t.clone(),
            label,
            dir: dir.to_path_buf(),
            prefix,
            length: node.length,
            null_count: node.null_count,
            validity,
            buffers,
            bits,
            last_offset,
            children,
            dictionary,
            dict_index,
            committed: node.clone(),
        })
    }

    /// The node as a commit now would record it.
    pub(super) fn node(&self) -> Node {
        let mut buffers: Vec<BufferFile> = self.buffers.iter().map(ByteFile::record).collect();
        if let Some(b) = &self.bits {
            buffers.push(b.bytes.record());
        }
        Node {
            length: self.length,
            null_count: self.null_count,
            validity: self.validity.as_ref().map(|v| v.bytes.record()),
            buffers,
            children: self.children.iter().map(NodeWriter::node).collect(),
            dictionary: self.dictionary.as_ref().map(|d| Box::new(d.node())),
        }
    }

    /// Every open file with its path, for fsync.
    pub(super) fn files(&self) -> Vec<(&File, &Path)> {
        fn byte(f: &ByteFile) -> (&File, &Path) {
            (&f.file, f.path.as_path())
        }
        let mut out: Vec<(&File, &Path)> = Vec::new();
        out.extend(self.validity.iter().map(|v| byte(&v.bytes)));
        out.extend(self.buffers.iter().map(byte));
        out.extend(self.bits.iter().map(|b| byte(&b.bytes)));
        for c in &self.children {
            out.extend(c.files());
        }
        if let Some(d) = &self.dictionary {
            out.extend(d.files());
        }
        out
    }

    /// The checksums of every byte range appended since the last commit,
    /// in this node's files and its descendants'.
    pub(super) fn pending_sums(&self, out: &mut Vec<RangeSum>) {
        out.extend(self.validity.iter().filter_map(BitFile::pending_sum));
        out.extend(self.buffers.iter().filter_map(ByteFile::pending_sum));
        out.extend(self.bits.iter().filter_map(BitFile::pending_sum));
        for c in &self.children {
            c.pending_sums(out);
        }
        if let Some(d) = &self.dictionary {
            d.pending_sums(out);
        }
    }

    /// Records the current state as committed.
    pub(super) fn mark_committed(&mut self) {
        self.committed = self.node();
        for v in self.validity.iter_mut().chain(self.bits.iter_mut()) {
            v.mark_committed();
        }
        for b in &mut self.buffers {
            b.mark_committed();
        }
        for c in &mut self.children {
            c.mark_committed();
        }
        if let Some(d) = &mut self.dictionary {
            d.mark_committed();
        }
    }

    /// Cuts every file back to the last commit (best effort: a failure
    /// leaves bytes past the commit, which the next open cuts).
    pub(super) fn discard(&mut self) {
        if let Ok(w) = NodeWriter::reopen(self) {
            *self = w;
        }
    }

    fn reopen(&mut self) -> Result<NodeWriter> {
        self.remove_uncommitted_files();
        NodeWriter::open(
            &self.dir,
            &self.committed.clone(),
            &self.t,
            self.label.clone(),
        )
    }

    /// Removes view data files started since the last commit.
    fn remove_uncommitted_files(&self) {
        for f in self.buffers.iter().skip(self.committed.buffers.len()) {
            let _ = std::fs::remove_file(&f.path);
        }
        for c in &self.children {
            c.remove_uncommitted_files();
        }
        if let Some(d) = &self.dictionary {
            d.remove_uncommitted_files();
        }
    }

    fn error(&self, reason: String) -> Error {
        ErrorKind::InvalidRequest {
            reason: format!("{}: {reason}", self.label),
        }
        .at(self.dir.clone())
    }

    /// Appends `d`'s elements. `root` nodes refuse nulls when they have no
    /// bitmap (a non-nullable column); below the root, nulls of a
    /// non-nullable child hide under its parent's nulls and are not kept.
    pub(super) fn append(&mut self, d: &ArrayData, root: bool) -> Result<()> {
        let (off, len) = (d.offset(), d.len());
        match (&mut self.validity, d.nulls()) {
            (Some(v), Some(n)) => {
                v.append(n.inner())?;
                self.null_count += n.null_count() as u64;
            }
            (Some(v), None) => v.append(&BooleanBuffer::new_set(len))?,
            (None, Some(n)) if root && n.null_count() > 0 => {
                return Err(self.error(format!(
                    "the column is not nullable but the batch has {} nulls in it",
                    n.null_count()
                )))
            }
            (None, _) => {}
        }
        let t = self.t.clone();
        match &t {
            DataType::Null => {}
            DataType::Boolean => {
                let b = BooleanBuffer::new(d.buffers()[0].clone(), off, len);
                // Null slots are stored as false, whatever the batch held.
                let b = match d.nulls().filter(|n| n.null_count() > 0) {
                    Some(n) => &b & n.inner(),
                    None => b,
                };
                self.bits.as_mut().expect("bits").append(&b)?;
            }
            DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 | DataType::LargeBinary => {
                let (a, b) = self.append_end_offsets(d)?;
                self.buffers[1].append(&d.buffers()[1].as_slice()[a..b])?;
            }
            DataType::List(_) | DataType::LargeList(_) | DataType::Map(..) => {
                let (a, b) = self.append_end_offsets(d)?;
                self.children[0].append(&slice_data(&d.child_data()[0], a, b - a), false)?;
            }
            DataType::ListView(_) | DataType::LargeListView(_) => self.append_list_view(d)?,
            DataType::FixedSizeList(_, n) => {
                let n = *n as usize;
                self.children[0]
                    .append(&slice_data(&d.child_data()[0], off * n, len * n), false)?;
            }
            DataType::Struct(_) | DataType::Union(_, UnionMode::Sparse) => {
                if let DataType::Union(..) = t {
                    self.buffers[0].append(&d.buffers()[0].as_slice()[off..off + len])?;
                }
                for (c, cd) in self.children.iter_mut().zip(d.child_data()) {
                    c.append(&slice_data(cd, off, len), false)?;
                }
            }
            DataType::Union(fields, UnionMode::Dense) => self.append_dense_union(d, fields)?,
            DataType::Utf8View | DataType::BinaryView => self.append_views(d)?,
            DataType::Dictionary(k, _) => self.append_dictionary(d, k)?,
            DataType::RunEndEncoded(..) => self.append_run_ends(d)?,
            t => {
                let w = match arrow_data::layout(t).buffers.first() {
                    Some(arrow_data::BufferSpec::FixedWidth { byte_width, .. }) => *byte_width,
                    _ => return Err(self.error(format!("type {t} has no fixed-width values"))),
                };
                let values = &d.buffers()[0].as_slice()[off * w..(off + len) * w];
                match d.nulls().filter(|n| n.null_count() > 0) {
                    // Null slots are stored as zeros, whatever the batch
                    // held there (a reader's leftovers, say): the files
                    // depend only on the values.
                    Some(n) => self.buffers[0].append(&zero_nulls(values, w, n))?,
                    None => self.buffers[0].append(values)?,
                }
            }
        }
        self.length += len as u64;
        Ok(())
    }

    /// Appends the rebased offsets of `d`; returns the range of child
    /// elements (or value bytes) they cover.
    fn append_end_offsets(&mut self, d: &ArrayData) -> Result<(usize, usize)> {
        let (off, len) = (d.offset(), d.len());
        let w = offset_width(&self.t);
        let offsets: Vec<i64> = if w == 4 {
            d.buffers()[0].typed_data::<i32>()[off..=off + len]
                .iter()
                .map(|&v| v as i64)
                .collect()
        } else {
            d.buffers()[0].typed_data::<i64>()[off..=off + len].to_vec()
        };
        let base = offsets[0];
        let mut out = Vec::with_capacity(len * w);
        for &o in &offsets[1..] {
            let v = self.last_offset + (o - base);
            if w == 4 {
                let v = i32::try_from(v).map_err(|_| {
                    self.error("the column passes 2 GiB of values or 2^31 list items, the limit of 32-bit offsets; use a large type (LargeUtf8, LargeBinary, LargeList)".into())
                })?;
                out.extend_from_slice(&v.to_le_bytes());
            } else {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.buffers[0].append(&out)?;
        self.last_offset += offsets[len] - base;
        Ok((base as usize, offsets[len] as usize))
    }

    fn append_list_view(&mut self, d: &ArrayData) -> Result<()> {
        let (off, len) = (d.offset(), d.len());
        let wide = offset_width(&self.t) == 8;
        let read = |i: usize, b: usize| -> i64 {
            if wide {
                d.buffers()[b].typed_data::<i64>()[off + i]
            } else {
                d.buffers()[b].typed_data::<i32>()[off + i] as i64
            }
        };
        let used: Vec<(i64, i64)> = (0..len).map(|i| (read(i, 0), read(i, 1))).collect();
        let lo = used
            .iter()
            .filter(|(_, s)| *s > 0)
            .map(|(o, _)| *o)
            .min()
            .unwrap_or(0);
        let hi = used
            .iter()
            .filter(|(_, s)| *s > 0)
            .map(|(o, s)| o + s)
            .max()
            .unwrap_or(0);
        let base = self.children[0].length as i64;
        let (mut offs, mut sizes) = (Vec::new(), Vec::new());
        for &(o, s) in &used {
            let o = if s > 0 { o - lo + base } else { base };
            if wide {
                offs.extend_from_slice(&o.to_le_bytes());
                sizes.extend_from_slice(&s.to_le_bytes());
            } else {
                let o = i32::try_from(o).map_err(|_| {
                    self.error(
                        "the list view passes 2^31 items, the limit of 32-bit offsets".into(),
                    )
                })?;
                offs.extend_from_slice(&o.to_le_bytes());
                sizes.extend_from_slice(&(s as i32).to_le_bytes());
            }
        }
        self.buffers[0].append(&offs)?;
        self.buffers[1].append(&sizes)?;
        let child = slice_data(&d.child_data()[0], lo as usize, (hi - lo) as usize);
        self.children[0].append(&child, false)
    }

    fn append_dense_union(
        &mut self,
        d: &ArrayData,
        fields: &arrow_schema::UnionFields,
    ) -> Result<()> {
        let (off, len) = (d.offset(), d.len());
        let ids = &d.buffers()[0].as_slice()[off..off + len];
        let offsets = &d.buffers()[1].typed_data::<i32>()[off..off + len];
        let index: HashMap<i8, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id, i))
            .collect();
        let n = self.children.len();
        let (mut lo, mut hi) = (vec![i64::MAX; n], vec![0i64; n]);
        for (&id, &o) in ids.iter().zip(offsets) {
            let c = *index.get(&(id as i8)).ok_or_else(|| {
                self.error(format!(
                    "union type id {} is not one of the type's",
                    id as i8
                ))
            })?;
            lo[c] = lo[c].min(o as i64);
            hi[c] = hi[c].max(o as i64 + 1);
        }
        let bases: Vec<i64> = self.children.iter().map(|c| c.length as i64).collect();
        let mut out = Vec::with_capacity(len * 4);
        for (&id, &o) in ids.iter().zip(offsets) {
            let c = index[&(id as i8)];
            let v = i32::try_from(o as i64 - lo[c] + bases[c])
                .map_err(|_| self.error("a union child passes 2^31 values".into()))?;
            out.extend_from_slice(&v.to_le_bytes());
        }
        self.buffers[0].append(ids)?;
        self.buffers[1].append(&out)?;
        for (c, (w, cd)) in self.children.iter_mut().zip(d.child_data()).enumerate() {
            if lo[c] != i64::MAX {
                w.append(
                    &slice_data(cd, lo[c] as usize, (hi[c] - lo[c]) as usize),
                    false,
                )?;
            }
        }
        Ok(())
    }

    fn append_views(&mut self, d: &ArrayData) -> Result<()> {
        let (off, len) = (d.offset(), d.len());
        let views = &d.buffers()[0].typed_data::<u128>()[off..off + len];
        let mut out = Vec::with_capacity(len * 16);
        for (i, &v) in views.iter().enumerate() {
            let n = v as u32 as u64;
            if d.is_null(i) {
                out.extend_from_slice(&0u128.to_le_bytes());
                continue;
            }
            if n <= 12 {
                out.extend_from_slice(&v.to_le_bytes());
                continue;
            }
            let (buf, start) = ((v >> 64) as u32 as usize, (v >> 96) as u32 as usize);
            let bytes = &d.buffers()[1 + buf].as_slice()[start..start + n as usize];
            if self.buffers.len() == 1 || self.buffers.last().expect("data").len + n > MAX_VIEW_DATA
            {
                let k = self.buffers.len() - 1;
                let f = ByteFile::create(&self.dir, format!("{}.data{k}", self.prefix), &[])?;
                self.buffers.push(f);
            }
            let k = self.buffers.len() - 2;
            let data = self.buffers.last_mut().expect("data");
            let at = data.len;
            data.append(bytes)?;
            let prefix = (v >> 32) as u32 as u128;
            let nv = (n as u128) | (prefix << 32) | ((k as u128) << 64) | ((at as u128) << 96);
            out.extend_from_slice(&nv.to_le_bytes());
        }
        self.buffers[0].append(&out)
    }

    fn append_dictionary(&mut self, d: &ArrayData, key: &DataType) -> Result<()> {
        let (off, len) = (d.offset(), d.len());
        let values = make_array(d.child_data()[0].clone());
        let base = self.dictionary.as_ref().expect("dictionary").length;
        // The new key of each of this batch's dictionary values.
        let remap: Vec<u64> = match &mut self.dict_index {
            Some(index) => {
                let (remap, new) = index.insert_all(&values, base)?;
                if !new.is_empty() {
                    let idx = arrow_array::UInt64Array::from(new);
                    let fresh = arrow_select::take::take(values.as_ref(), &idx, None)
                        .map_err(|e| self.error(format!("dictionary: {e}")))?;
                    self.dictionary
                        .as_mut()
                        .expect("dictionary")
                        .append(&fresh.to_data(), false)?;
                }
                remap
            }
            None => {
                // Values the row format cannot compare are appended whole.
                self.dictionary
                    .as_mut()
                    .expect("dictionary")
                    .append(&values.to_data(), false)?;
                (0..values.len() as u64).map(|j| base + j).collect()
            }
        };
        let width = key.primitive_width().expect("integer key");
        let signed = key.is_signed_integer();
        let max: u64 = if signed {
            (1u64 << (width * 8 - 1)) - 1
        } else {
            u64::MAX >> (64 - width * 8)
        };
        let raw = &d.buffers()[0].as_slice()[off * width..(off + len) * width];
        let mut out = Vec::with_capacity(len * width);
        for i in 0..len {
            let k = if d.is_null(i) {
                0
            } else {
                let b = &raw[i * width..(i + 1) * width];
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(b);
                let old = if signed && b[width - 1] & 0x80 != 0 {
                    u64::MAX
                } else {
                    u64::from_le_bytes(le)
                };
                let new = *remap.get(old as usize).ok_or_else(|| {
                    self.error(format!(
                        "dictionary key {old} past the dictionary's {} values",
                        remap.len()
                    ))
                })?;
                if new > max {
                    return Err(self.error(format!(
                        "the dictionary passes {max} values, the limit of its {key} keys; use a wider key type"
                    )));
                }
                new
            };
            out.extend_from_slice(&k.to_le_bytes()[..width]);
        }
        self.buffers[0].append(&out)
    }

    fn append_run_ends(&mut self, d: &ArrayData) -> Result<()> {
        let (off, len) = (d.offset(), d.len());
        if len == 0 {
            return Ok(());
        }
        let re = &d.child_data()[0];
        let width = re.data_type().primitive_width().expect("run end type");
        let at = |p: usize| -> i64 {
            let b = re.buffers()[0].as_slice();
            let i = (re.offset() + p) * width;
            match width {
                2 => i16::from_le_bytes([b[i], b[i + 1]]) as i64,
                4 => i32::from_le_bytes(b[i..i + 4].try_into().expect("4")) as i64,
                _ => i64::from_le_bytes(b[i..i + 8].try_into().expect("8")),
            }
        };
        let runs = re.len();
        // First run ending past `off`, last run reaching `off + len`.
        let (start, end) = (off as i64, (off + len) as i64);
        let p0 = (0..runs)
            .find(|&p| at(p) > start)
            .ok_or_else(|| self.error("run ends stop before the data".into()))?;
        let p1 = (p0..runs)
            .find(|&p| at(p) >= end)
            .ok_or_else(|| self.error("run ends stop before the data".into()))?;
        let base = self.length as i64;
        let max = match width {
            2 => i16::MAX as i64,
            4 => i32::MAX as i64,
            _ => i64::MAX,
        };
        let mut out = Vec::with_capacity((p1 - p0 + 1) * width);
        for p in p0..=p1 {
            let v = at(p).min(end) - start + base;
            if v > max {
                return Err(self.error(format!("run ends pass {max}, the limit of their type")));
            }
            out.extend_from_slice(&v.to_le_bytes()[..width]);
        }
        let n = p1 - p0 + 1;
        let runs_child = &mut self.children[0];
        runs_child.buffers[0].append(&out)?;
        runs_child.length += n as u64;
        self.children[1].append(&slice_data(&d.child_data()[1], p0, n), false)
    }
}

impl DictIndex {
    /// An index for dictionaries of type `t`, when the row format can
    /// compare its values.
    fn new(t: &DataType) -> Option<DictIndex> {
        let converter =
            arrow_row::RowConverter::new(vec![arrow_row::SortField::new(t.clone())]).ok()?;
        Some(DictIndex {
            converter,
            keys: HashMap::new(),
        })
    }

    /// The key of each of `values` (inserting the new ones with keys from
    /// `base` on) and the positions of the new ones in `values`.
    fn insert_all(&mut self, values: &ArrayRef, base: u64) -> Result<(Vec<u64>, Vec<u64>)> {
        let rows = self
            .converter
            .convert_columns(std::slice::from_ref(values))
            .map_err(|e| {
                Error::new(ErrorKind::InvalidRequest {
                    reason: format!("dictionary values: {e}"),
                })
            })?;
        let mut next = base;
        let mut new = Vec::new();
        let remap = (0..values.len())
            .map(|j| {
                let key: Box<[u8]> = rows.row(j).as_ref().into();
                *self.keys.entry(key).or_insert_with(|| {
                    new.push(j as u64);
                    next += 1;
                    next - 1
                })
            })
            .collect();
        Ok((remap, new))
    }
}

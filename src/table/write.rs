//! The table writer: record batches appended column by column, committed
//! crash-safely by replacing the manifest.
//!
//! Over 500 lines as one cohesive thing: the per-column buffer writers and
//! the commit protocol (fsync the column files, then replace the manifest)
//! share one crash-safety argument.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};
use arrow_schema::{DataType, SchemaRef};

use super::manifest::{layout_of, ColumnEntry, ColumnFiles, Layout, Manifest, MANIFEST_NAME};
use super::read::Table;
use crate::error::{Error, ErrorKind, Result};
use crate::fault;
use crate::fsutil::FileExt;
use crate::fsutil::{sync_parent, write_atomic_with, Replace};
use crate::write::Durability;

/// The lock file inside a table directory (one writer at a time).
pub(crate) const LOCK_NAME: &str = ".lock";

/// Appends record batches to a table directory, crash-safely.
///
/// Each column's buffers are appended to their files past the committed
/// length; [`TableWriter::commit`] fsyncs them and then atomically replaces
/// the manifest with the new row count, so after a crash a reader sees
/// exactly the last committed rows of every column, all the same length.
/// Uncommitted bytes are truncated away when a writer reopens the table. One
/// writer at a time (an exclusive lock on `.lock` in the directory); readers
/// are never blocked.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch, StringArray};
/// let batch = RecordBatch::try_from_iter([
///     ("x", Arc::new(Float64Array::from(vec![1.5, 2.5])) as _),
///     ("s", Arc::new(StringArray::from(vec![Some("a"), None])) as _),
/// ])?;
/// let path = dir.path().join("cache");
/// let mut w = mmarrow::TableWriter::create(&path, batch.schema())?;
/// w.append(&batch)?;
/// w.commit()?;
/// w.append(&batch)?;
/// let table = w.finish()?;
/// assert_eq!(table.num_rows(), 4);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TableWriter {
    dir: PathBuf,
    schema: SchemaRef,
    manifest: Manifest,
    columns: Vec<ColumnWriter>,
    pending_rows: u64,
    /// True when committed rows are on disk but writing the manifest that
    /// records them failed: the next commit writes it again.
    manifest_stale: bool,
    durability: Durability,
    _lock: File,
}

#[derive(Debug)]
struct ColumnWriter {
    layout: Layout,
    validity: Option<BitFile>,
    offsets: Option<OffsetFile>,
    values: ValueFile,
    /// Null count including pending rows.
    nulls: u64,
}

#[derive(Debug)]
struct BitFile {
    file: File,
    path: PathBuf,
    /// Bits written, committed or not.
    bits: u64,
    /// The byte holding bit `bits - 1`, when `bits % 8 != 0`.
    last: u8,
}

#[derive(Debug)]
struct OffsetFile {
    file: File,
    path: PathBuf,
    width: usize,
    /// Offset entries written (rows + 1).
    entries: u64,
    /// The last offset written.
    last: i64,
}

#[derive(Debug)]
struct ValueFile {
    file: File,
    path: PathBuf,
    /// Bytes written (for Bits layout: the bit count is tracked by `bits`).
    len: u64,
    /// For Boolean values.
    bits: Option<BitFile>,
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(path, op, e)
}

impl BitFile {
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
        fault::point("table.append_bits", &self.path)
            .and_then(|()| self.file.write_all_at(bytes, self.bits / 8))
            .map_err(io(&self.path, "append"))?;
        self.bits += src.len() as u64;
        self.last = *bytes.last().expect("non-empty");
        Ok(())
    }

    fn append_set(&mut self, n: usize) -> Result<()> {
        self.append(&BooleanBuffer::new_set(n))
    }

    /// Cuts the file back to `bits` bits and reloads the partial byte.
    fn truncate(&mut self, bits: u64) -> Result<()> {
        self.file
            .set_len(bits.div_ceil(8))
            .map_err(io(&self.path, "truncate"))?;
        self.bits = bits;
        self.last = 0;
        if !bits.is_multiple_of(8) {
            let mut b = [0u8];
            self.file
                .read_exact_at(&mut b, bits / 8)
                .map_err(io(&self.path, "read"))?;
            self.last = b[0];
        }
        Ok(())
    }
}

impl OffsetFile {
    fn append(&mut self, offsets: &[i64]) -> Result<()> {
        // `offsets` has len + 1 entries starting anywhere: rebase onto `last`.
        let base = offsets[0];
        let mut out = Vec::with_capacity((offsets.len() - 1) * self.width);
        for &o in &offsets[1..] {
            let v = self.last + (o - base);
            if self.width == 4 {
                let v = i32::try_from(v).map_err(|_| ErrorKind::InvalidRequest { reason: "values exceed 2 GiB, the limit of 32-bit offsets; use a large type (LargeUtf8, LargeBinary)".into() }.at(self.path.clone()))?;
                out.extend_from_slice(&v.to_le_bytes());
            } else {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        fault::point("table.append_offsets", &self.path)
            .and_then(|()| {
                self.file
                    .write_all_at(&out, self.entries * self.width as u64)
            })
            .map_err(io(&self.path, "append"))?;
        self.entries += offsets.len() as u64 - 1;
        self.last += offsets[offsets.len() - 1] - base;
        Ok(())
    }

    fn truncate(&mut self, rows: u64) -> Result<()> {
        self.entries = rows + 1;
        let len = self.entries * self.width as u64;
        self.file.set_len(len).map_err(io(&self.path, "truncate"))?;
        let mut b = vec![0u8; self.width];
        self.file
            .read_exact_at(&mut b, len - self.width as u64)
            .map_err(io(&self.path, "read"))?;
        self.last = if self.width == 4 {
            i32::from_le_bytes(b[..4].try_into().expect("4")) as i64
        } else {
            i64::from_le_bytes(b[..8].try_into().expect("8"))
        };
        Ok(())
    }
}

impl ValueFile {
    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        fault::point("table.append_values", &self.path)
            .and_then(|()| self.file.write_all_at(bytes, self.len))
            .map_err(io(&self.path, "append"))?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

fn open_rw(path: &Path, create: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
        .map_err(|e| Error::io(path, "open column file", e))
}

/// Options for creating a table with [`TableWriter`], as
/// [`crate::write::WriterOptions`] are for arrays.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use std::sync::Arc;
/// use arrow_schema::{DataType, Field, Schema};
/// use mmarrow::table::TableWriterOptions;
/// use mmarrow::write::Durability;
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
/// let w = TableWriterOptions::new()
///     .durability(Durability::Process)
///     .create(dir.path().join("t"), schema)?;
/// assert_eq!(w.committed_rows(), 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableWriterOptions {
    overwrite: bool,
    durability: Durability,
}

impl Default for TableWriterOptions {
    fn default() -> Self {
        TableWriterOptions {
            overwrite: false,
            durability: Durability::Fsync,
        }
    }
}

impl TableWriterOptions {
    /// The defaults: no overwrite, [`Durability::Fsync`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an existing *table* directory may be replaced. A non-empty
    /// directory that is not a table (or that holds files its manifest does
    /// not name) is never touched. The replacement is crash-safe: the new,
    /// empty table is made in a hidden sibling and renamed into place after
    /// the old one is renamed aside, so a kill at any moment leaves one of
    /// the two, and the next write cleans up.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// How commits are made durable.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Creates a table directory for `schema` (which must not exist, or be
    /// empty, or be a table when [`TableWriterOptions::overwrite`] is set)
    /// with zero committed rows.
    ///
    /// # Errors
    /// [`ErrorKind::AlreadyExists`] for a non-empty directory,
    /// [`ErrorKind::InvalidRequest`] for a column type tables cannot hold (the
    /// message names the column and its type), I/O errors.
    pub fn create(&self, dir: impl AsRef<Path>, schema: SchemaRef) -> Result<TableWriter> {
        TableWriter::create_impl(dir.as_ref(), schema, self.overwrite, self.durability)
    }
}

impl TableWriter {
    /// Creates a table directory for `schema` (which must not exist, or be
    /// empty) with zero committed rows; shorthand for
    /// `TableWriterOptions::new().create(dir, schema)`.
    ///
    /// # Errors
    /// As [`TableWriterOptions::create`].
    pub fn create(dir: impl AsRef<Path>, schema: SchemaRef) -> Result<Self> {
        TableWriterOptions::new().create(dir, schema)
    }

    fn create_impl(
        dir: &Path,
        schema: SchemaRef,
        overwrite: bool,
        durability: Durability,
    ) -> Result<Self> {
        if let Some(reason) = super::manifest::unsupported_columns(&schema) {
            return Err(ErrorKind::InvalidRequest { reason }.at(dir));
        }
        // An existing table is replaced so that a kill at any moment leaves
        // the old table or the new, empty one: the new one is made complete
        // in a temporary sibling, the old one renamed aside under its lock,
        // the new one renamed into place, then the old one removed (as
        // `convert --force` replaces a table). Leftovers of an interrupted
        // replacement are put back or removed first.
        crate::fsutil::sweep_leftovers(dir, &[], durability == Durability::Fsync)?;
        let replace = match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    let is_table = dir.join(MANIFEST_NAME).exists();
                    if !(overwrite && is_table) {
                        return Err(ErrorKind::AlreadyExists.at(dir));
                    }
                    // Only a real table holding nothing but its own files.
                    super::check_replaceable(dir)?;
                    true
                } else {
                    false
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io(dir, "read directory", e)),
        };
        if !replace {
            return Self::create_in(dir, &schema, durability);
        }
        let tmp = crate::fsutil::temp_sibling(dir);
        let made = Self::create_in(&tmp, &schema, durability).and_then(|w| {
            drop(w);
            Self::place(&tmp, dir, durability)
        });
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        made?;
        Self::open(dir, durability)
    }

    /// Moves the finished empty table `tmp` over the table `dst` (see
    /// `create_impl`).
    fn place(tmp: &Path, dst: &Path, durability: Durability) -> Result<()> {
        let durable = durability == Durability::Fsync;
        // Take the old table's writer lock so a table being appended to is
        // never replaced.
        let lock = super::lock_for_replacement(dst)?;
        let old = crate::fsutil::old_sibling(dst);
        crate::fsutil::rename(dst, &old, durable)?;
        crate::fsutil::pause_point("writer-aside");
        if let Err(e) = crate::fsutil::rename(tmp, dst, durable) {
            let _ = std::fs::rename(&old, dst);
            return Err(e);
        }
        drop(lock);
        // A failure leaves a leftover that the next write removes.
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Creates the table files and an empty manifest in `dir` (missing or
    /// empty).
    fn create_in(dir: &Path, schema: &SchemaRef, durability: Durability) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
        let lock =
            File::create(dir.join(LOCK_NAME)).map_err(|e| Error::io(dir, "create lock", e))?;
        crate::write::lock_exclusive(&lock, dir)?;
        let mut columns = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let layout = layout_of(f.data_type()).expect("checked by create_impl");
            let files = ColumnFiles {
                validity: f.is_nullable().then(|| format!("c{i}.validity")),
                offsets: matches!(layout, Layout::Variable { .. }).then(|| format!("c{i}.offsets")),
                values: format!("c{i}.values"),
            };
            for name in [&files.validity, &files.offsets, &Some(files.values.clone())]
                .into_iter()
                .flatten()
            {
                open_rw(&dir.join(name), true)?;
            }
            if let (Layout::Variable { offset_width }, Some(o)) = (layout, &files.offsets) {
                let p = dir.join(o);
                std::fs::write(&p, vec![0u8; offset_width])
                    .map_err(|e| Error::io(&p, "write", e))?;
            }
            columns.push(ColumnEntry {
                field: f.as_ref().clone(),
                files,
                null_count: 0,
            });
        }
        let manifest = Manifest {
            rows: 0,
            columns,
            metadata: schema.metadata().clone(),
        };
        write_atomic_with(
            &dir.join(MANIFEST_NAME),
            manifest.to_json().as_bytes(),
            Replace::Overwrite,
            durability == Durability::Fsync,
        )?;
        if durability == Durability::Fsync {
            sync_parent(dir)?;
        }
        Self::from_manifest(dir, manifest, durability, lock)
    }

    /// Reopens a table to append, discarding whatever a crashed writer
    /// appended but never committed.
    ///
    /// # Errors
    /// [`ErrorKind::Locked`] while another writer holds it; manifest errors; I/O errors.
    pub fn open(dir: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let dir = dir.as_ref();
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_NAME))
            .map_err(|e| Error::io(dir, "open lock", e))?;
        crate::write::lock_exclusive(&lock, dir)?;
        let manifest = Manifest::read(dir)?;
        // Refuse files that point out of the directory before writing to them.
        let canonical = dir
            .canonicalize()
            .map_err(|e| Error::io(dir, "resolve directory", e))?;
        for c in &manifest.columns {
            for name in [
                &c.files.validity,
                &c.files.offsets,
                &Some(c.files.values.clone()),
            ]
            .into_iter()
            .flatten()
            {
                super::manifest::resolve_in(dir, &canonical, name)?;
            }
        }
        Self::from_manifest(dir, manifest, durability, lock)
    }

    fn from_manifest(
        dir: &Path,
        manifest: Manifest,
        durability: Durability,
        lock: File,
    ) -> Result<Self> {
        let rows = manifest.rows;
        let mut columns = Vec::with_capacity(manifest.columns.len());
        for c in &manifest.columns {
            let layout = layout_of(c.field.data_type()).map_err(|r| {
                ErrorKind::InvalidManifest { reason: r }.at(dir.join(MANIFEST_NAME))
            })?;
            let bit_file = |name: &str| -> Result<BitFile> {
                let path = dir.join(name);
                let mut b = BitFile {
                    file: open_rw(&path, false)?,
                    path,
                    bits: 0,
                    last: 0,
                };
                b.truncate(rows)?;
                Ok(b)
            };
            let validity = c.files.validity.as_deref().map(bit_file).transpose()?;
            let mut offsets = match (&c.files.offsets, layout) {
                (Some(o), Layout::Variable { offset_width }) => {
                    let path = dir.join(o);
                    let mut f = OffsetFile {
                        file: open_rw(&path, false)?,
                        path,
                        width: offset_width,
                        entries: 0,
                        last: 0,
                    };
                    f.truncate(rows)?;
                    Some(f)
                }
                _ => None,
            };
            let vpath = dir.join(&c.files.values);
            let values = match layout {
                Layout::Bits => ValueFile {
                    file: open_rw(&vpath, false)?,
                    path: vpath.clone(),
                    len: 0,
                    bits: Some(bit_file(&c.files.values)?),
                },
                _ => {
                    let len = match (layout, &mut offsets) {
                        (Layout::Fixed { width }, _) => rows * width as u64,
                        (_, Some(o)) => u64::try_from(o.last).unwrap_or(0),
                        _ => 0,
                    };
                    let file = open_rw(&vpath, false)?;
                    file.set_len(len).map_err(io(&vpath, "truncate"))?;
                    ValueFile {
                        file,
                        path: vpath,
                        len,
                        bits: None,
                    }
                }
            };
            columns.push(ColumnWriter {
                layout,
                validity,
                offsets,
                values,
                nulls: c.null_count,
            });
        }
        Ok(TableWriter {
            dir: dir.to_path_buf(),
            schema: Arc::new(manifest.schema()),
            manifest,
            columns,
            pending_rows: 0,
            manifest_stale: false,
            durability,
            _lock: lock,
        })
    }

    /// The table's schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows readers can see.
    pub fn committed_rows(&self) -> u64 {
        self.manifest.rows
    }

    /// Rows appended since the last commit.
    pub fn pending_rows(&self) -> u64 {
        self.pending_rows
    }

    /// Appends a record batch whose columns match the table's (names, types;
    /// a non-nullable batch column may go into a nullable table column).
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`] for a schema change, [`ErrorKind::HasNulls`] for
    /// nulls in a non-nullable column or inside list items, I/O errors (the
    /// uncommitted rows are then discarded).
    pub fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        let theirs = batch.schema();
        let same = theirs.fields().len() == self.schema.fields().len()
            && theirs
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(ErrorKind::TypeMismatch {
                expected: schema_text(&self.schema),
                given: schema_text(&theirs),
            }
            .at(self.dir.clone()));
        }
        let r = self.append_columns(batch);
        if r.is_err() {
            self.discard_pending();
        }
        r
    }

    fn append_columns(&mut self, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        for ((w, col), field) in self
            .columns
            .iter_mut()
            .zip(batch.columns())
            .zip(self.schema.fields())
        {
            let data = col.to_data();
            let nulls = col.logical_nulls();
            match (&mut w.validity, &nulls) {
                (Some(v), Some(nb)) => {
                    v.append(nb.inner())?;
                    w.nulls += nb.null_count() as u64;
                }
                (Some(v), None) => v.append_set(n)?,
                (None, Some(nb)) if nb.null_count() > 0 => {
                    return Err(ErrorKind::InvalidRequest {
                        reason: format!(
                            "column {:?} is not nullable but the batch has {} nulls in it",
                            field.name(),
                            nb.null_count()
                        ),
                    }
                    .at(self.dir.clone()))
                }
                (None, _) => {}
            }
            match w.layout {
                Layout::Fixed { width } => {
                    let bytes = fixed_bytes(col, width, &self.dir, field.name())?;
                    w.values.append(bytes.as_slice())?;
                }
                Layout::Bits => {
                    let b = arrow_array::BooleanArray::from(data.clone());
                    w.values
                        .bits
                        .as_mut()
                        .expect("bits file")
                        .append(b.values())?;
                }
                Layout::Variable { offset_width } => {
                    let offs: Vec<i64> = if offset_width == 4 {
                        let o = data.buffers()[0].typed_data::<i32>();
                        o[data.offset()..data.offset() + n + 1]
                            .iter()
                            .map(|&v| v as i64)
                            .collect()
                    } else {
                        let o = data.buffers()[0].typed_data::<i64>();
                        o[data.offset()..data.offset() + n + 1].to_vec()
                    };
                    let (a, b) = (offs[0] as usize, offs[n] as usize);
                    w.values.append(&data.buffers()[1].as_slice()[a..b])?;
                    w.offsets.as_mut().expect("offsets file").append(&offs)?;
                }
            }
        }
        self.pending_rows += n as u64;
        Ok(())
    }

    /// Cuts every file back to the committed state.
    fn discard_pending(&mut self) {
        let rows = self.manifest.rows;
        for (w, c) in self.columns.iter_mut().zip(&self.manifest.columns) {
            if let Some(v) = &mut w.validity {
                let _ = v.truncate(rows);
            }
            if let Some(o) = &mut w.offsets {
                let _ = o.truncate(rows);
                w.values.len = u64::try_from(o.last).unwrap_or(0);
            }
            if let Some(b) = &mut w.values.bits {
                let _ = b.truncate(rows);
            } else {
                if let Layout::Fixed { width } = w.layout {
                    w.values.len = rows * width as u64;
                }
                let _ = w.values.file.set_len(w.values.len);
            }
            w.nulls = c.null_count;
        }
        self.pending_rows = 0;
    }

    /// Makes the appended rows visible: fsyncs every column file (with
    /// [`Durability::Fsync`]), then replaces the manifest atomically.
    /// Returns the committed row count.
    ///
    /// # Errors
    /// I/O errors; the rows stay pending.
    pub fn commit(&mut self) -> Result<u64> {
        if self.pending_rows == 0 && !self.manifest_stale {
            return Ok(self.manifest.rows);
        }
        let durable = self.durability == Durability::Fsync;
        if durable {
            for w in &self.columns {
                let files = [
                    w.validity.as_ref().map(|b| (&b.file, &b.path)),
                    w.offsets.as_ref().map(|o| (&o.file, &o.path)),
                    w.values.bits.as_ref().map(|b| (&b.file, &b.path)),
                    Some((&w.values.file, &w.values.path)),
                ];
                for (f, p) in files.into_iter().flatten() {
                    fault::point("table.fsync", p)
                        .and_then(|()| f.sync_data())
                        .map_err(|e| Error::io(p, "fsync", e))?;
                }
            }
        }
        let mut next = self.manifest.clone();
        next.rows += self.pending_rows;
        for (c, w) in next.columns.iter_mut().zip(&self.columns) {
            c.null_count = w.nulls;
        }
        // From here the rows are on disk and are never discarded: a manifest
        // write that fails may already be visible (renamed, with only the
        // directory fsync failing), so the writer keeps the rows as
        // committed and the next commit writes the manifest again.
        self.manifest = next;
        self.pending_rows = 0;
        self.manifest_stale = true;
        write_atomic_with(
            &self.dir.join(MANIFEST_NAME),
            self.manifest.to_json().as_bytes(),
            Replace::Overwrite,
            durable,
        )?;
        self.manifest_stale = false;
        Ok(self.manifest.rows)
    }

    /// Commits, releases the lock and opens the table (fully validated).
    ///
    /// # Errors
    /// As [`TableWriter::commit`] and [`Table::open`].
    pub fn finish(mut self) -> Result<Table> {
        self.commit()?;
        let dir = self.dir.clone();
        drop(self);
        Table::open(dir)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        self.discard_pending();
    }
}

fn schema_text(s: &arrow_schema::Schema) -> String {
    let cols: Vec<String> = s
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("({})", cols.join(", "))
}

/// The contiguous bytes of a column's fixed-width values, through any
/// FixedSizeList levels. Null list items are accepted only under null rows
/// (where Parquet readers put them); their bytes are stored as they are and
/// stay hidden by the row's validity bit.
fn fixed_bytes(
    column: &ArrayRef,
    width: usize,
    dir: &Path,
    name: &str,
) -> Result<arrow_buffer::Buffer> {
    let mut a = column.clone();
    // For each list level: its row validity and its list size.
    let mut levels: Vec<(Option<arrow_buffer::NullBuffer>, usize)> = Vec::new();
    while let DataType::FixedSizeList(_, size) = a.data_type() {
        let size = *size as usize;
        let list = a.as_fixed_size_list();
        let child = list.values().clone();
        levels.push((list.nulls().cloned(), size));
        if let Some(cn) = child.logical_nulls().filter(|n| n.null_count() > 0) {
            let hidden = |j: usize| {
                let mut idx = j;
                levels.iter().rev().any(|(nulls, size)| {
                    idx /= (*size).max(1);
                    nulls.as_ref().is_some_and(|n| n.is_null(idx))
                })
            };
            let visible = (0..cn.len())
                .filter(|&j| cn.is_null(j) && !hidden(j))
                .count();
            if visible > 0 {
                return Err(ErrorKind::InvalidRequest { reason: format!(
                        "column {name:?} has {visible} null list items in non-null rows; tables store FixedSizeList items without nulls"
                    ) }.at(dir));
            }
        }
        a = child;
    }
    let data = a.to_data();
    let elem = width / levels.iter().map(|(_, s)| *s).product::<usize>().max(1);
    Ok(data.buffers()[0].slice_with_length(data.offset() * elem, data.len() * elem))
}

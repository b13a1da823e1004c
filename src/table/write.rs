//! The table writer: record batches appended column by column, committed
//! crash-safely by replacing the manifest.
//!
//! Over 500 lines as one cohesive thing: the per-column buffer writers and
//! the commit protocol (fsync the column files, then replace the manifest)
//! share one crash-safety argument.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;

use super::append::NodeWriter;
use super::log::{ChunkPart, LogWriter, Record};
use super::manifest::{ColumnEntry, Manifest, MANIFEST_NAME};
use super::read::Table;
use super::stats::ChunkStat;
use crate::error::{Error, ErrorKind, Result};
use crate::fault;
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
    columns: Vec<NodeWriter>,
    pending_rows: u64,
    /// The commit log (created by the first commit of a table without one).
    log: Option<LogWriter>,
    /// Statistics of the pending rows, per chunk they fall in.
    pending_chunks: Vec<ChunkPart>,
    /// Rows appended to each column by [`TableWriter::append_column`]
    /// since the last commit, and their statistics per chunk.
    column_rows: Vec<u64>,
    column_chunks: Vec<Vec<ColumnPart>>,
    /// The source fingerprint the next commit records in the manifest.
    source: Option<super::manifest::Source>,
    /// True when committed rows are on disk but writing the manifest that
    /// records them failed: the next commit writes it again.
    manifest_stale: bool,
    durability: Durability,
    _lock: File,
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
        // Never write a manifest no reader would accept (a time zone Arrow
        // cannot apply, for one: found by fuzzing the IPC input).
        for f in schema.fields() {
            super::types::field_from_json(&super::types::field_to_json(f), 0).map_err(
                |reason| {
                    ErrorKind::InvalidRequest {
                        reason: format!(
                            "column {:?} cannot be stored in a table: {reason}",
                            f.name()
                        ),
                    }
                    .at(dir)
                },
            )?;
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
        let mut sums = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let w = NodeWriter::create(
                dir,
                format!("c{i}"),
                f.data_type(),
                f.is_nullable(),
                format!("column {:?}", f.name()),
            )?;
            w.pending_sums(&mut sums);
            columns.push(ColumnEntry {
                field: f.as_ref().clone(),
                node: w.node(),
            });
        }
        // The log starts with the files' initial bytes (the first offset
        // of offsets files), so that every committed byte has a checksum.
        let record = Record {
            rows: (0, 0),
            sums,
            chunks: Vec::new(),
        };
        let log = LogWriter::create(dir, 0, &[])?.append(
            &record.to_line(schema.fields()),
            durability == Durability::Fsync,
        )?;
        let manifest = Manifest {
            rows: 0,
            columns,
            metadata: schema.metadata().clone(),
            version: super::manifest::TABLE_FORMAT_VERSION,
            log: Some(log),
            source: None,
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
        for name in manifest.files() {
            super::manifest::resolve_in(dir, &canonical, name)?;
        }
        Self::from_manifest(dir, manifest, durability, lock)
    }

    fn from_manifest(
        dir: &Path,
        manifest: Manifest,
        durability: Durability,
        lock: File,
    ) -> Result<Self> {
        let columns = manifest
            .columns
            .iter()
            .map(|c| {
                NodeWriter::open(
                    dir,
                    &c.node,
                    c.field.data_type(),
                    format!("column {:?}", c.field.name()),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let log = manifest
            .log
            .as_ref()
            .map(|l| LogWriter::open(dir, l))
            .transpose()?;
        let n = manifest.columns.len();
        Ok(TableWriter {
            dir: dir.to_path_buf(),
            schema: Arc::new(manifest.schema()),
            manifest,
            columns,
            pending_rows: 0,
            log,
            pending_chunks: Vec::new(),
            column_rows: vec![0; n],
            column_chunks: vec![Vec::new(); n],
            source: None,
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
        if self.column_rows.iter().any(|&r| r > 0) {
            return Err(ErrorKind::Internal {
                reason: "rows appended column by column are not committed yet".into(),
            }
            .at(self.dir.clone()));
        }
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
        let chunk_rows = self
            .log
            .as_ref()
            .map_or(super::stats::CHUNK_ROWS, |l| l.info.chunk_rows);
        let first_row = self.manifest.rows + self.pending_rows;
        let columns = &mut self.columns;
        let mut write = || -> Result<()> {
            for (w, col) in columns.iter_mut().zip(batch.columns()) {
                w.append(&col.to_data(), true)?;
            }
            Ok(())
        };
        // The statistics of a large batch are computed on a second thread
        // while the first writes the files (the two take similar time).
        let parts = if batch.num_rows() >= PARALLEL_STATISTICS_ROWS {
            std::thread::scope(|s| {
                let stats = s.spawn(|| batch_statistics(batch, first_row, chunk_rows));
                let written = write();
                let parts = stats.join().map_err(|_| {
                    Error::new(ErrorKind::Internal {
                        reason: "the statistics thread panicked".into(),
                    })
                });
                written.and(parts)
            })?
        } else {
            write()?;
            batch_statistics(batch, first_row, chunk_rows)
        };
        for part in parts {
            match self.pending_chunks.last_mut() {
                Some(p) if p.chunk == part.chunk => {
                    p.rows += part.rows;
                    for (a, b) in p.columns.iter_mut().zip(part.columns) {
                        a.merge(b);
                    }
                }
                _ => self.pending_chunks.push(part),
            }
        }
        self.pending_rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Cuts every file back to the committed state.
    fn discard_pending(&mut self) {
        for w in &mut self.columns {
            w.discard();
        }
        self.pending_rows = 0;
        self.pending_chunks.clear();
        self.column_rows.iter_mut().for_each(|r| *r = 0);
        self.column_chunks.iter_mut().for_each(Vec::clear);
    }

    /// The table's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rows per statistics chunk of this table.
    pub(crate) fn chunk_rows(&self) -> u64 {
        self.log
            .as_ref()
            .map_or(super::stats::CHUNK_ROWS, |l| l.info.chunk_rows)
    }

    /// The first row the next rows appended to column `c` by
    /// [`TableWriter::append_column`] will have.
    pub(crate) fn next_row_of_column(&self, c: usize) -> u64 {
        self.manifest.rows + self.column_rows[c]
    }

    /// Appends `data` to column `c` alone, with its statistics `parts`
    /// (from [`column_parts`] of the same rows, computed by the caller,
    /// perhaps on another thread). The columns are filled one after
    /// another (a conversion writes each column chunk as it is decoded);
    /// a commit needs them all to have the same number of new rows. A
    /// writer appends either whole batches or columns between two commits.
    ///
    /// # Errors
    /// As [`TableWriter::append`]; the pending rows of every column are
    /// discarded on error.
    pub(crate) fn append_column(
        &mut self,
        c: usize,
        data: &arrow_data::ArrayData,
        parts: Vec<ColumnPart>,
    ) -> Result<()> {
        let r = self.append_column_unchecked(c, data, parts);
        if r.is_err() {
            self.discard_pending();
        }
        r
    }

    fn append_column_unchecked(
        &mut self,
        c: usize,
        data: &arrow_data::ArrayData,
        parts: Vec<ColumnPart>,
    ) -> Result<()> {
        let field = self.schema.field(c);
        if self.pending_rows > 0 || data.data_type() != field.data_type() {
            return Err(ErrorKind::TypeMismatch {
                expected: format!("{}: {}", field.name(), field.data_type()),
                given: format!("{}: {}", field.name(), data.data_type()),
            }
            .at(self.dir.clone()));
        }
        self.columns[c].append(data, true)?;
        self.column_rows[c] += data.len() as u64;
        let list = &mut self.column_chunks[c];
        for part in parts {
            match list.last_mut() {
                Some(p) if p.chunk == part.chunk => {
                    p.rows += part.rows;
                    p.stat.merge(part.stat);
                }
                _ => list.push(part),
            }
        }
        Ok(())
    }

    /// Moves rows appended column by column into the pending rows, once
    /// every column has the same number of them.
    fn settle_columns(&mut self) -> Result<()> {
        let Some(&rows) = self.column_rows.first() else {
            return Ok(());
        };
        if rows == 0 && self.column_rows.iter().all(|&r| r == 0) {
            return Ok(());
        }
        if self.column_rows.iter().any(|&r| r != rows) {
            return Err(ErrorKind::Internal {
                reason: format!(
                    "columns appended one by one have different row counts: {:?}",
                    self.column_rows
                ),
            }
            .at(self.dir.clone()));
        }
        let chunks = chunk_parts(&self.column_chunks).ok_or_else(|| {
            ErrorKind::Internal {
                reason: "the columns' statistics cover different chunks".into(),
            }
            .at(self.dir.clone())
        })?;
        self.column_chunks.iter_mut().for_each(Vec::clear);
        self.column_rows.iter_mut().for_each(|r| *r = 0);
        self.pending_chunks = chunks;
        self.pending_rows = rows;
        Ok(())
    }

    /// Records `source` (a conversion's fingerprint of the file the table
    /// is built from) in the manifest at the next commit.
    pub(crate) fn set_source(&mut self, source: super::manifest::Source) {
        self.source = Some(source);
        self.manifest_stale = true;
    }

    /// Makes the appended rows visible: fsyncs every column file (with
    /// [`Durability::Fsync`]), then replaces the manifest atomically.
    /// Returns the committed row count.
    ///
    /// # Errors
    /// I/O errors; the rows stay pending.
    pub fn commit(&mut self) -> Result<u64> {
        self.settle_columns()?;
        if self.pending_rows == 0 && !self.manifest_stale {
            return Ok(self.manifest.rows);
        }
        let durable = self.durability == Durability::Fsync;
        if durable {
            for w in &self.columns {
                for (f, p) in w.files() {
                    fault::point("table.fsync", p)
                        .and_then(|()| f.sync_data())
                        .map_err(|e| Error::io(p, "fsync", e))?;
                }
            }
        }
        let mut next = self.manifest.clone();
        next.rows += self.pending_rows;
        // A table changed by anything but the conversion that made it is
        // no longer that conversion of its source.
        next.source = self.source.clone();
        for (c, w) in next.columns.iter_mut().zip(&self.columns) {
            c.node = w.node();
        }
        // The commit's record: the checksum of every range it adds and the
        // statistics of its rows, appended to the log (and fsynced) before
        // the manifest that makes both visible.
        if self.pending_rows > 0 {
            let mut sums = Vec::new();
            for w in &self.columns {
                w.pending_sums(&mut sums);
            }
            let record = Record {
                rows: (self.manifest.rows, next.rows),
                sums,
                chunks: self.pending_chunks.clone(),
            };
            let log = match &mut self.log {
                Some(l) => l,
                None => self.log.insert(LogWriter::create(
                    &self.dir,
                    self.manifest.rows,
                    &self.manifest.files(),
                )?),
            };
            next.log = Some(log.append(&record.to_line(self.schema.fields()), durable)?);
        }
        for w in &mut self.columns {
            w.mark_committed();
        }
        if let (Some(l), Some(info)) = (&mut self.log, &next.log) {
            l.info = info.clone();
        }
        self.pending_chunks.clear();
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
        if self.pending_rows > 0 {
            self.discard_pending();
        }
    }
}

/// Batches of at least this many rows have their statistics computed on
/// a second thread (below, a thread costs more than it saves).
const PARALLEL_STATISTICS_ROWS: usize = 16 * 1024;

/// The statistics of `batch`, whose first row is row `first_row` of the
/// table, per chunk of `chunk_rows` it falls in.
fn batch_statistics(batch: &RecordBatch, first_row: u64, chunk_rows: u64) -> Vec<ChunkPart> {
    let columns: Vec<Vec<ColumnPart>> = batch
        .columns()
        .iter()
        .map(|c| column_parts(c.as_ref(), first_row, chunk_rows))
        .collect();
    chunk_parts(&columns).expect("a batch's columns cover the same chunks")
}

/// The statistics of each column (`columns[c]`, per chunk) as the log's
/// per-chunk records of every column; `None` when the columns cover
/// different chunks.
fn chunk_parts(columns: &[Vec<ColumnPart>]) -> Option<Vec<ChunkPart>> {
    let first = columns.first()?;
    first
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let stats = columns.iter().map(|list| {
                let q = list
                    .get(i)
                    .filter(|q| q.chunk == p.chunk && q.rows == p.rows)?;
                Some(q.stat.clone())
            });
            Some(ChunkPart {
                chunk: p.chunk,
                rows: p.rows,
                columns: stats.collect::<Option<_>>()?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .filter(|_| columns.iter().all(|l| l.len() == first.len()))
}

/// The statistics of part of one column.
#[derive(Debug, Clone)]
pub(crate) struct ColumnPart {
    pub chunk: u64,
    pub rows: u64,
    pub stat: ChunkStat,
}

/// The statistics of `array`, whose first row is row `first_row` of the
/// table, per chunk of `chunk_rows` it falls in.
pub(crate) fn column_parts(array: &dyn Array, first_row: u64, chunk_rows: u64) -> Vec<ColumnPart> {
    let mut parts = Vec::new();
    let (mut row, mut at) = (first_row, 0usize);
    while at < array.len() {
        let chunk = row / chunk_rows;
        let n = ((chunk + 1) * chunk_rows - row).min((array.len() - at) as u64) as usize;
        parts.push(ColumnPart {
            chunk,
            rows: n as u64,
            stat: super::stats::compute(array.slice(at, n).as_ref()),
        });
        row += n as u64;
        at += n;
    }
    parts
}

fn schema_text(s: &arrow_schema::Schema) -> String {
    let cols: Vec<String> = s
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("({})", cols.join(", "))
}

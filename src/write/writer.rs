//! The streaming writer: arrays that grow along their first axis, committed
//! crash-safely.
//!
//! Over 500 lines as one cohesive thing: creating, reopening, appending and
//! committing share one invariant (data first, header last, nothing past the
//! committed length survives a reopen), which is easier to check in one file.

use std::fs::File;
use std::io::Seek;
use std::path::{Path, PathBuf};

use arrow_array::Array;
use arrow_data::ArrayData;
use arrow_schema::DataType;

use crate::array::MmArray;
use crate::dtype::{Dtype, Element, Kind};
use crate::error::{Error, ErrorKind, Result, ShapeDisplay};
use crate::fault;
use crate::format::npy::{encode_header, NpyHeader};
use crate::format::sidecar::{sidecar_path, Sidecar};
use crate::format::{ArrayHeader, HeaderSource};
use crate::fsutil::{write_atomic_with, FileExt, Replace};
use crate::open::OpenOptions;
use crate::shape::{byte_count, Order};

use super::lock::{create_locked, lock_exclusive};
use super::Durability;

/// Appends up to this many bytes in memory before writing them to the file.
const BUFFER_BYTES: usize = 1 << 20;

/// The file format a writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// `.npy` when the name ends in `.npy`, raw + sidecar otherwise. The default.
    #[default]
    ByExtension,
    /// Raw data plus a sidecar (`docs/FORMAT.md` §1.1).
    Raw,
    /// `.npy` with a header that has room for the row count to grow.
    Npy,
}

/// How to create an [`ArrayWriter`].
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("emb.npy");
/// use mmarrow::Dtype;
/// use mmarrow::write::WriterOptions;
/// let mut w = WriterOptions::new(Dtype::parse("f4")?, &[4]).create(&path)?;
/// w.append(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])?; // two rows
/// w.commit()?;                                             // durable: survives a crash
/// w.append(&[9.0f32; 4])?;
/// let array = w.finish()?;                                 // commits the rest
/// assert_eq!(array.shape(), &[3, 4]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WriterOptions {
    dtype: Dtype,
    row_shape: Vec<u64>,
    format: OutputFormat,
    overwrite: bool,
    durability: Durability,
    name: Option<String>,
    metadata: std::collections::BTreeMap<String, String>,
}

impl WriterOptions {
    /// A writer of rows of `row_shape` (empty for a 1-D array) of `dtype`.
    pub fn new(dtype: Dtype, row_shape: &[u64]) -> Self {
        WriterOptions {
            dtype,
            row_shape: row_shape.to_vec(),
            format: OutputFormat::default(),
            overwrite: false,
            durability: Durability::default(),
            name: None,
            metadata: Default::default(),
        }
    }

    /// Sets the output format.
    pub fn format(mut self, format: OutputFormat) -> Self {
        self.format = format;
        self
    }

    /// Replace an existing file instead of failing.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Sets how durable commits are.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Column name recorded in the sidecar (raw format only).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// User metadata recorded in the sidecar (raw format only).
    pub fn metadata(mut self, metadata: std::collections::BTreeMap<String, String>) -> Self {
        self.metadata = metadata;
        self
    }

    /// Options for an array file that holds the values of an Arrow column
    /// of `field`'s type, as [`ArrayWriter::append_array`] takes them: a
    /// primitive type gives a 1-D file, `FixedSizeList`s (nested, or with
    /// the `arrow.fixed_shape_tensor` extension) give the row shape, and
    /// `arrow.bool8` or `Boolean` numpy's `bool`.
    ///
    /// ```
    /// use arrow_schema::{DataType, Field};
    /// let item = Field::new("item", DataType::Float32, false);
    /// let f = Field::new("emb", DataType::FixedSizeList(item.into(), 8), false);
    /// let o = mmarrow::write::WriterOptions::for_arrow_field(&f)?;
    /// # let _ = o;
    /// # Ok::<(), mmarrow::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for a type an array file cannot hold
    /// (strings, variable-length lists, structs, timestamps with a time
    /// zone).
    pub fn for_arrow_field(field: &arrow_schema::Field) -> Result<Self> {
        let refuse = |reason: String| ErrorKind::InvalidRequest {
            reason: format!("column {} {reason}", field.name()),
        };
        let spec = crate::convert::spec::array_spec(field).map_err(|r| Error::new(refuse(r)))?;
        if spec.row_shape.contains(&0) {
            return Err(Error::new(refuse(
                "is a variable-length list, which has no fixed row shape".into(),
            )));
        }
        Ok(Self::new(spec.dtype, &spec.row_shape))
    }

    /// Creates the file (empty, zero rows committed) and returns its writer.
    ///
    /// # Errors
    /// [`ErrorKind::AlreadyExists`] without [`WriterOptions::overwrite`],
    /// [`ErrorKind::Locked`] if another writer holds it, I/O errors.
    pub fn create(&self, path: impl AsRef<Path>) -> Result<ArrayWriter> {
        let path = path.as_ref();
        let npy = match self.format {
            OutputFormat::Npy => true,
            OutputFormat::Raw => false,
            OutputFormat::ByExtension => path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("npy")),
        };
        let mut shape = vec![0];
        shape.extend_from_slice(&self.row_shape);
        let row_bytes = row_bytes(path, &self.dtype, &self.row_shape)?;
        let sc_path = sidecar_path(path);
        // Temporaries of killed writers of this file are removed.
        crate::fsutil::sweep_leftovers(path, &[&sc_path], self.durability == Durability::Fsync)?;
        let file = create_locked(path, self.overwrite)?;
        let made = (|| -> Result<ArrayWriter> {
            let mut header = Header::default();
            let offset;
            if npy {
                // A sidecar left from an earlier file would override the new header.
                remove_stale_sidecar(&sc_path, true)?;
                let h =
                    encode_header(&self.dtype, &shape, Order::C, None).expect("fresh header fits");
                file.write_all_at(&h, 0)
                    .map_err(|e| Error::io(path, "write header", e))?;
                offset = h.len() as u64;
                header.npy = Some(NpyRecord {
                    len: offset,
                    major: h[6],
                });
            } else {
                let s = Sidecar::new(ArrayHeader {
                    name: self.name.clone(),
                    metadata: self.metadata.clone(),
                    ..ArrayHeader::new(self.dtype, shape)
                });
                offset = 0;
                header.sidecar = Some((s, sc_path.clone()));
            }
            let mut w = ArrayWriter {
                path: path.to_path_buf(),
                file,
                dtype: self.dtype,
                row_shape: self.row_shape.clone(),
                row_bytes,
                offset,
                header,
                committed_rows: 0,
                written: 0,
                buf: Vec::new(),
                header_stale: false,
                durability: self.durability,
            };
            // The empty array is committed from the start: a reader sees zero rows.
            w.write_header(0)?;
            if w.durability == Durability::Fsync {
                crate::fsutil::sync_parent(path)?;
            }
            Ok(w)
        })();
        if made.is_err() {
            // Nothing is committed yet: remove what was created, so that a
            // failure (disk full, file size limit) never leaves a file that
            // blocks a rerun with "already exists".
            let _ = std::fs::remove_file(path);
            if !npy {
                let _ = std::fs::remove_file(&sc_path);
            }
        }
        made
    }
}

/// Where the committed row count is recorded: a `.npy` header, a sidecar,
/// or both (a `.npy` file that also has a sidecar).
#[derive(Debug, Default)]
struct Header {
    npy: Option<NpyRecord>,
    sidecar: Option<(Sidecar, PathBuf)>,
}

#[derive(Debug)]
struct NpyRecord {
    /// Header length (the data offset).
    len: u64,
    /// Format major version, kept when rewriting.
    major: u8,
}

/// A crash-safe writer for an array that grows along its first axis.
///
/// Rows are appended past the committed length and become visible to readers
/// only at [`ArrayWriter::commit`], which records the new row count
/// atomically: the sidecar is replaced (temporary file, fsync, rename, fsync
/// of the directory), or the `.npy` header is rewritten in place in one small
/// write after the data is fsynced. Once `commit` returns, those rows survive
/// a `kill -9` of the writer and, with [`Durability::Fsync`] (the default), a
/// power cut. Readers see exactly the committed prefix; bytes past it are
/// ignored, discarded when the writer is dropped, and cleaned up when a
/// writer reopens the file. The writer holds the file's exclusive lock: a
/// second writer gets [`ErrorKind::Locked`]; readers are never blocked.
///
/// An append that fails (disk full, file size limit) returns the error and
/// discards the uncommitted rows; the committed state is untouched.
#[derive(Debug)]
pub struct ArrayWriter {
    path: PathBuf,
    file: File,
    dtype: Dtype,
    row_shape: Vec<u64>,
    row_bytes: u64,
    offset: u64,
    header: Header,
    committed_rows: u64,
    /// Bytes of uncommitted rows already written to the file.
    written: u64,
    /// Bytes of uncommitted rows not yet written.
    buf: Vec<u8>,
    /// True when a commit's rows are on disk (fsynced) but writing the
    /// header that records them failed: the next commit rewrites it.
    header_stale: bool,
    durability: Durability,
}

impl ArrayWriter {
    /// Creates `path` for rows of `row_shape` of `dtype` with default options.
    ///
    /// # Errors
    /// As [`WriterOptions::create`].
    pub fn create(path: impl AsRef<Path>, dtype: Dtype, row_shape: &[u64]) -> Result<Self> {
        WriterOptions::new(dtype, row_shape).create(path)
    }

    /// Reopens an existing array file (raw + sidecar, or `.npy`) to append
    /// rows, discarding any uncommitted bytes a crashed writer left behind.
    ///
    /// # Errors
    /// [`ErrorKind::Locked`] if another writer holds it; the errors of
    /// [`crate::open()`]; [`ErrorKind::InvalidRequest`] for a Fortran-order N-D
    /// or 0-D array (which cannot grow along the first axis).
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let path = path.as_ref();
        let mut file = crate::fsutil::open_regular(path, true)?;
        lock_exclusive(&file, path)?;
        // Temporaries of killed writers of this file are removed.
        crate::fsutil::sweep_leftovers(
            path,
            &[&sidecar_path(path)],
            durability == Durability::Fsync,
        )?;
        let r = OpenOptions::new().resolve(path, &mut file)?;
        if r.end > r.file_len {
            return Err(r.too_short(path));
        }
        let l = &r.header;
        if l.shape.is_empty() || (l.order == Order::F && l.shape.len() > 1) {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "a {}-order array of shape {} cannot grow along its first axis",
                    l.order,
                    ShapeDisplay(&l.shape)
                ),
            }
            .at(path));
        }
        // A .npy file's own header is kept up to date, and so is a sidecar
        // next to any file (it wins when both exist).
        let mut header = Header::default();
        let sc = sidecar_path(path);
        if let Some(sidecar) = Sidecar::read(&sc)? {
            header.sidecar = Some((sidecar, sc.clone()));
        }
        if matches!(r.source, HeaderSource::Npy { .. }) || header.sidecar.is_some() {
            file.seek(std::io::SeekFrom::Start(0))
                .map_err(|e| Error::io(path, "seek", e))?;
            if let Ok(h) = NpyHeader::read_from(&mut std::io::BufReader::new(&file)) {
                header.npy = Some(NpyRecord {
                    len: h.header.offset,
                    major: h.version.0,
                });
            }
        }
        if header.npy.is_none() && header.sidecar.is_none() {
            return Err(ErrorKind::MissingSidecar { sidecar: sc }.at(path));
        }
        let row_shape = l.row_shape().to_vec();
        let row_bytes = row_bytes(path, &l.dtype, &row_shape)?;
        // Clean up what a crashed writer appended but never committed.
        if r.file_len > r.end {
            file.set_len(r.end)
                .map_err(|e| Error::io(path, "truncate uncommitted bytes", e))?;
        }
        Ok(ArrayWriter {
            path: path.to_path_buf(),
            file,
            dtype: l.dtype,
            row_shape,
            row_bytes,
            offset: l.offset,
            header,
            committed_rows: l.len(),
            written: 0,
            buf: Vec::new(),
            header_stale: false,
            durability,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The element type.
    pub fn dtype(&self) -> &Dtype {
        &self.dtype
    }

    /// The shape of one row.
    pub fn row_shape(&self) -> &[u64] {
        &self.row_shape
    }

    /// Rows readers can see.
    pub fn committed_rows(&self) -> u64 {
        self.committed_rows
    }

    /// Rows appended since the last commit.
    pub fn pending_rows(&self) -> u64 {
        if self.row_bytes == 0 {
            return 0;
        }
        (self.written + self.buf.len() as u64) / self.row_bytes
    }

    /// Appends whole rows given as a flat slice of elements in C order.
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`] when `T` does not match the dtype,
    /// [`ErrorKind::RowShapeMismatch`] when the length is not a whole number of
    /// rows, I/O errors (the uncommitted rows are then discarded).
    pub fn append<T: Element>(&mut self, values: &[T]) -> Result<()> {
        if !T::accepts(&self.dtype) || (!self.dtype.is_native() && std::mem::size_of::<T>() > 1) {
            return Err(ErrorKind::TypeMismatch {
                expected: self.dtype.typestr(),
                given: T::NAME.into(),
            }
            .at(self.path.clone()));
        }
        use arrow_buffer::ToByteSlice;
        self.append_bytes(values.to_byte_slice())
    }

    /// Appends whole rows given as raw bytes in the file's dtype and byte order.
    ///
    /// # Errors
    /// [`ErrorKind::RowShapeMismatch`] when the length is not a whole number of
    /// rows; I/O errors (the uncommitted rows are then discarded).
    pub fn append_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        if self.row_bytes == 0 || !(bytes.len() as u64).is_multiple_of(self.row_bytes) {
            return Err(ErrorKind::RowShapeMismatch {
                expected: format!("{} of {}", ShapeDisplay(&self.row_shape), self.dtype),
                given: format!("{} bytes", bytes.len()),
            }
            .at(self.path.clone()));
        }
        if self.buf.len() + bytes.len() <= BUFFER_BYTES {
            self.buf.extend_from_slice(bytes);
            return Ok(());
        }
        self.write_buffered()?;
        if bytes.len() >= BUFFER_BYTES {
            self.write_pending(bytes)
        } else {
            self.buf.extend_from_slice(bytes);
            Ok(())
        }
    }

    /// Appends the rows of an Arrow array: a primitive array for 1-D files,
    /// a `FixedSizeList` (tensor, or nested lists) whose rows hold the row
    /// shape's element count for N-D files. The element type must be the
    /// dtype's Arrow type (see `docs/FORMAT.md`); nulls are refused.
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`], [`ErrorKind::RowShapeMismatch`],
    /// [`ErrorKind::HasNulls`], I/O errors.
    pub fn append_array(&mut self, array: &dyn Array) -> Result<()> {
        let data = array.to_data();
        match self.array_bytes(&data)? {
            LeafBytes::Borrowed(b) => self.append_bytes(b),
            LeafBytes::Owned(b) => self.append_bytes(&b),
        }
    }

    /// The bytes of the rows of `data`, after the checks of
    /// [`ArrayWriter::append_array`].
    pub(crate) fn array_bytes<'a>(&self, data: &'a ArrayData) -> Result<LeafBytes<'a>> {
        let (leaf_type, bytes, per_row) = leaf_bytes(data, &self.path)?;
        let expected_type = self.dtype.arrow_value_type();
        let bool_leaf = leaf_type == DataType::Boolean && self.dtype.kind() == Kind::Bool;
        if leaf_type != expected_type && !bool_leaf {
            return Err(ErrorKind::TypeMismatch {
                expected: format!("{} ({expected_type})", self.dtype),
                given: data.data_type().to_string(),
            }
            .at(self.path.clone()));
        }
        let want = self.row_shape.iter().product::<u64>()
            * if self.dtype.kind() == Kind::Complex {
                2
            } else {
                1
            };
        if per_row != want {
            return Err(ErrorKind::RowShapeMismatch {
                expected: format!("{} of {}", ShapeDisplay(&self.row_shape), self.dtype),
                given: format!("{} ({per_row} elements per row)", data.data_type()),
            }
            .at(self.path.clone()));
        }
        if !self.dtype.is_native() && self.dtype.itemsize() > 1 {
            return Err(ErrorKind::NonNativeByteOrder {
                dtype: self.dtype.typestr(),
            }
            .at(self.path.clone()));
        }
        Ok(bytes)
    }

    /// Bytes per row.
    pub(crate) fn row_bytes(&self) -> u64 {
        self.row_bytes
    }

    /// Extends the uncommitted rows by `rows` rows of zeros (a sparse
    /// extension of the file), for [`ArrayWriter::write_at`] to fill from
    /// several threads; the next commit commits them.
    pub(crate) fn reserve(&mut self, rows: u64) -> Result<()> {
        self.write_buffered()?;
        let end = self.committed_end() + self.written + rows * self.row_bytes;
        if let Err(e) =
            fault::point("array.extend", &self.path).and_then(|()| self.file.set_len(end))
        {
            self.discard_pending();
            return Err(Error::io(&self.path, "extend", e));
        }
        self.written += rows * self.row_bytes;
        Ok(())
    }

    /// Writes `bytes` at byte `pos` of the uncommitted rows, which must lie
    /// inside what [`ArrayWriter::reserve`] reserved (several threads may
    /// write disjoint ranges at once).
    pub(crate) fn write_at(&self, pos: u64, bytes: &[u8]) -> Result<()> {
        if pos + bytes.len() as u64 > self.written || !self.buf.is_empty() {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "{} bytes at {pos} lie outside the {} reserved bytes",
                    bytes.len(),
                    self.written
                ),
            }
            .at(self.path.clone()));
        }
        fault::point("array.write_at", &self.path)
            .and_then(|()| self.file.write_all_at(bytes, self.committed_end() + pos))
            .map_err(|e| Error::io(&self.path, "write", e))
    }

    fn committed_end(&self) -> u64 {
        self.offset + self.committed_rows * self.row_bytes
    }

    fn write_buffered(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let r = self.write_pending(&buf);
        self.buf = buf;
        self.buf.clear();
        r
    }

    fn write_pending(&mut self, bytes: &[u8]) -> Result<()> {
        let pos = self.committed_end() + self.written;
        match fault::point("array.append", &self.path)
            .and_then(|()| self.file.write_all_at(bytes, pos))
        {
            Ok(()) => {
                self.written += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.discard_pending();
                Err(Error::io(&self.path, "append", e))
            }
        }
    }

    /// Drops the uncommitted rows, in memory and in the file.
    fn discard_pending(&mut self) {
        self.buf.clear();
        if self.written > 0 {
            let _ = self.file.set_len(self.committed_end());
        }
        self.written = 0;
    }

    /// Makes every appended row visible to readers, durably (see the type's
    /// docs). Returns the committed row count.
    ///
    /// # Errors
    /// I/O errors. One before the rows reach the disk leaves them pending
    /// (a later `commit` may retry; dropping the writer discards them). One
    /// while recording them in the header leaves them on disk and possibly
    /// visible already: the writer keeps them (as [`ArrayWriter::committed_rows`])
    /// and a later `commit` writes the header again.
    pub fn commit(&mut self) -> Result<u64> {
        self.write_buffered()?;
        if self.written == 0 && !self.header_stale {
            return Ok(self.committed_rows);
        }
        if self.written > 0 && self.durability == Durability::Fsync {
            fault::point("array.fsync", &self.path)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| Error::io(&self.path, "fsync", e))?;
        }
        // From here the rows are on disk and are never discarded: a header
        // write that fails may already be visible (a renamed sidecar whose
        // directory fsync failed, a `.npy` header written but not synced),
        // so readers may see these rows. The writer keeps them, and the
        // next commit writes the header again.
        let rows = self.committed_rows + self.written / self.row_bytes;
        self.committed_rows = rows;
        self.written = 0;
        self.header_stale = true;
        self.write_header(rows)?;
        self.header_stale = false;
        Ok(rows)
    }

    /// Records `rows` as the committed row count in the header.
    fn write_header(&mut self, rows: u64) -> Result<()> {
        let mut shape = vec![rows];
        shape.extend_from_slice(&self.row_shape);
        let durable = self.durability == Durability::Fsync;
        if let Some(npy) = &self.header.npy {
            let h = encode_header(&self.dtype, &shape, Order::C, Some((npy.len as usize, npy.major)))
                .ok_or_else(|| ErrorKind::NotWritable { reason: format!(
                        "the .npy header ({} bytes) has no room for shape {}; rewrite the file with `mmarrow cat`",
                        npy.len,
                        ShapeDisplay(&shape)
                    ) }.at(self.path.clone()))?;
            // One small write inside the first page; the data it describes
            // is already on disk.
            fault::point("array.npy_header", &self.path)
                .and_then(|()| self.file.write_all_at(&h, 0))
                .map_err(|e| Error::io(&self.path, "write header", e))?;
            if durable {
                fault::point("array.npy_fsync", &self.path)
                    .and_then(|()| self.file.sync_data())
                    .map_err(|e| Error::io(&self.path, "fsync", e))?;
            }
        }
        if let Some((sidecar, path)) = &mut self.header.sidecar {
            sidecar.header.shape = shape;
            let text = format!("{}\n", sidecar.to_json());
            write_atomic_with(path, text.as_bytes(), Replace::Overwrite, durable)?;
        }
        Ok(())
    }

    /// Commits what is pending, releases the lock and opens the result.
    ///
    /// # Errors
    /// As [`ArrayWriter::commit`] and [`crate::open()`].
    pub fn finish(mut self) -> Result<MmArray> {
        self.commit()?;
        let path = self.path.clone();
        drop(self);
        crate::open(path)
    }
}

impl Drop for ArrayWriter {
    fn drop(&mut self) {
        // Uncommitted rows are abandoned, as after a crash; removing them
        // now keeps the file at its committed length.
        self.discard_pending();
    }
}

/// Refuses to write `output` when it, or its sidecar, is one of `inputs` or
/// an input's sidecar — the same file by device and inode, so through hard
/// links and symlinks too — or when one lies inside the other (a table
/// directory): writing it would destroy the input, which may be mapped
/// while the output is written. Writers that take inputs check this before
/// they create or truncate anything.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let a = dir.path().join("a.f32");
/// std::fs::write(&a, [0u8; 8]).unwrap();
/// std::fs::hard_link(&a, dir.path().join("b.f32")).unwrap();
/// let e = mmarrow::write::check_not_an_input(dir.path().join("b.f32"), &[&a]).unwrap_err();
/// assert!(matches!(e.kind(), mmarrow::ErrorKind::OutputIsInput { .. }));
/// mmarrow::write::check_not_an_input(dir.path().join("c.f32"), &[&a])?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ErrorKind::OutputIsInput`], about the output (or its sidecar), naming
/// the input.
pub fn check_not_an_input<P: AsRef<Path>>(output: impl AsRef<Path>, inputs: &[P]) -> Result<()> {
    use crate::fsutil::{is_inside, same_file};
    let output = output.as_ref();
    let out_sc = sidecar_path(output);
    for input in inputs {
        let input = input.as_ref();
        let in_sc = sidecar_path(input);
        for o in [output, out_sc.as_path()] {
            for i in [input, in_sc.as_path()] {
                if same_file(o, i) {
                    return Err(ErrorKind::OutputIsInput {
                        input: i.to_path_buf(),
                    }
                    .at(o));
                }
            }
        }
        if is_inside(output, input) || is_inside(input, output) {
            return Err(ErrorKind::OutputIsInput {
                input: input.to_path_buf(),
            }
            .at(output));
        }
    }
    Ok(())
}

/// Removes a sidecar that would override a new `.npy` file's header, or
/// refuses to when overwriting was not requested.
pub(crate) fn remove_stale_sidecar(sc_path: &Path, overwrite: bool) -> Result<()> {
    if !sc_path.exists() {
        return Ok(());
    }
    if !overwrite {
        return Err(ErrorKind::AlreadyExists.at(sc_path));
    }
    std::fs::remove_file(sc_path).map_err(|e| Error::io(sc_path, "remove stale sidecar", e))
}

fn row_bytes(path: &Path, dtype: &Dtype, row_shape: &[u64]) -> Result<u64> {
    let shape: Vec<u64> = std::iter::once(0)
        .chain(row_shape.iter().copied())
        .collect();
    crate::shape::check_row_fits_arrow(&shape, dtype).map_err(|e| e.in_file(path))?;
    let b = byte_count(row_shape, dtype)?;
    if b == 0 {
        return Err(ErrorKind::InvalidRequest {
            reason: format!(
                "rows of shape {} hold no data, so rows cannot be appended",
                ShapeDisplay(row_shape)
            ),
        }
        .at(path));
    }
    Ok(b)
}

pub(crate) enum LeafBytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl LeafBytes<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            LeafBytes::Borrowed(b) => b,
            LeafBytes::Owned(b) => b,
        }
    }
}

/// The contiguous leaf values of `data` (through any FixedSizeList levels),
/// their type, and elements per top-level row.
fn leaf_bytes<'a>(data: &'a ArrayData, path: &Path) -> Result<(DataType, LeafBytes<'a>, u64)> {
    let mut node = data;
    let mut start = data.offset();
    let mut len = data.len();
    let mut per_row: u64 = 1;
    loop {
        if node.null_count() > 0 {
            return Err(ErrorKind::HasNulls {
                nulls: node.null_count(),
            }
            .at(path));
        }
        match node.data_type() {
            DataType::FixedSizeList(_, size) => {
                let size = *size as usize;
                let child = &node.child_data()[0];
                start = child.offset() + start * size;
                len *= size;
                per_row *= size as u64;
                node = child;
            }
            DataType::Boolean => {
                let bits = arrow_buffer::BooleanBuffer::new(node.buffers()[0].clone(), start, len);
                let bytes = bits.iter().map(u8::from).collect();
                return Ok((DataType::Boolean, LeafBytes::Owned(bytes), per_row));
            }
            t => {
                let width = match t {
                    DataType::FixedSizeBinary(w) => *w as usize,
                    t => t.primitive_width().ok_or_else(|| {
                        ErrorKind::TypeMismatch {
                            expected: "a fixed-width element type".into(),
                            given: t.to_string(),
                        }
                        .at(path)
                    })?,
                };
                let buf = node.buffers()[0].as_slice();
                let bytes = &buf[start * width..(start + len) * width];
                return Ok((t.clone(), LeafBytes::Borrowed(bytes), per_row));
            }
        }
    }
}

//! Opening array files: [`OpenOptions`] with numpy.memmap's parameters, and [`open`].
//!
//! Over 500 lines as one cohesive thing: the options, their resolution against
//! a sidecar, a `.npy` header or the file size, and the conflict checks are
//! one algorithm that every opener (read, `r+`/`c`, the writers) goes through.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::array::MmArray;
use crate::dtype::Dtype;
use crate::error::{Error, ErrorKind, Result, ResultExt, ShapeDisplay};
use crate::format::npy::{NpyHeader, NPY_MAGIC};
use crate::format::sidecar::{sidecar_path, Sidecar};
use crate::format::{ArrayHeader, HeaderSource, SidecarWrite};
use crate::fsutil::{is_npy_path, open_regular, read_at_most, ReadAt};
use crate::map;
use crate::shape::{byte_count, check_row_fits_arrow, Order, ShapeSpec};

/// How a file is opened, as numpy.memmap's `mode`.
///
/// Parses numpy's spellings: `r`/`readonly`, `r+`/`readwrite`, `w+`/`write`,
/// `c`/`copyonwrite`.
///
/// ```
/// use mmarrow::Mode;
/// assert_eq!("r+".parse::<Mode>().unwrap(), Mode::ReadWrite);
/// assert_eq!(Mode::CopyOnWrite.to_string(), "c");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// `r`: read-only, opened with [`OpenOptions::open`]. The default.
    #[default]
    ReadOnly,
    /// `r+`: read and write an existing file in place
    /// ([`OpenOptions::open_mut`]). A shape and offset past the end of a
    /// file without a sidecar or header grow the file.
    ReadWrite,
    /// `w+`: create (or, with [`OpenOptions::overwrite`], replace) a
    /// zero-filled file of the given dtype and shape, with its sidecar (or
    /// `.npy` header when the name ends in `.npy`).
    Create,
    /// `c`: copy-on-write. Writes change this process's view only; the file
    /// is never modified, and flushing to it is an error.
    CopyOnWrite,
}

impl Mode {
    /// True for the modes whose writes reach the file.
    pub fn writes_file(self) -> bool {
        matches!(self, Mode::ReadWrite | Mode::Create)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::ReadOnly => "r",
            Mode::ReadWrite => "r+",
            Mode::Create => "w+",
            Mode::CopyOnWrite => "c",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "r" | "readonly" => Ok(Mode::ReadOnly),
            "r+" | "readwrite" => Ok(Mode::ReadWrite),
            "w+" | "write" => Ok(Mode::Create),
            "c" | "copyonwrite" => Ok(Mode::CopyOnWrite),
            other => Err(Error::new(ErrorKind::InvalidRequest {
                reason: format!("unknown mode {other:?} (use r, r+, w+ or c)"),
            })),
        }
    }
}

/// Whether mmarrow may copy array data when zero-copy is impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyPolicy {
    /// Never copy: big-endian, misaligned or Fortran-order N-D data opens,
    /// but [`MmArray::to_arrow`] refuses it with a typed error. The default.
    #[default]
    Never,
    /// Copy (byte-swap, realign, transpose) at open when zero-copy is
    /// impossible; [`MmArray::copy_reasons`] reports it.
    Allow,
}

/// Whether to read the sidecar next to the data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidecarUse {
    /// Read it when present; explicit options must agree with it. The default.
    #[default]
    Read,
    /// Ignore it: the explicit options alone describe the file (used when
    /// re-describing a file with `mmarrow describe --force`).
    Ignore,
}

/// Options for opening an array file, like `std::fs::OpenOptions` and
/// numpy.memmap's parameters.
///
/// Every option left unset comes from the sidecar or `.npy` header; without
/// either, `dtype` is required, `shape` defaults to 1-D inferred from the
/// file size, `offset` to 0 and `order` to C. An option that contradicts the
/// sidecar or header is an error, never a silent override.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("emb.f32");
/// # std::fs::write(&path, vec![0u8; 4 * 6]).unwrap();
/// use mmarrow::OpenOptions;
/// let a = OpenOptions::new().try_with_dtype("float32")?.try_with_shape("-1,3")?.open(&path)?;
/// assert_eq!(a.shape(), &[2, 3]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub(crate) dtype: Option<Dtype>,
    pub(crate) shape: Option<ShapeSpec>,
    pub(crate) offset: Option<u64>,
    pub(crate) order: Option<Order>,
    pub(crate) mode: Mode,
    pub(crate) copy: CopyPolicy,
    pub(crate) sidecar: SidecarUse,
    pub(crate) overwrite: bool,
}

impl OpenOptions {
    /// Options with nothing set: everything comes from the file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the dtype.
    pub fn dtype(mut self, dtype: Dtype) -> Self {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype from text (`float32`, `<f4`...).
    ///
    /// # Errors
    /// As [`Dtype::parse`].
    pub fn try_with_dtype(self, dtype: &str) -> Result<Self> {
        Ok(self.dtype(Dtype::parse(dtype)?))
    }

    /// Sets the shape (at most one dimension inferred).
    pub fn shape(mut self, shape: impl Into<ShapeSpec>) -> Self {
        self.shape = Some(shape.into());
        self
    }

    /// Sets the shape from text (`1000,128`, `-1,128`, `(5,)`).
    ///
    /// # Errors
    /// As [`ShapeSpec`]'s parser.
    pub fn try_with_shape(self, shape: &str) -> Result<Self> {
        Ok(self.shape(shape.parse::<ShapeSpec>()?))
    }

    /// Sets the byte offset of the first element.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets the memory order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = Some(order);
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets whether data may be copied when zero-copy is impossible.
    pub fn copy(mut self, policy: CopyPolicy) -> Self {
        self.copy = policy;
        self
    }

    /// Sets whether the sidecar is read.
    pub fn sidecar(mut self, use_sidecar: SidecarUse) -> Self {
        self.sidecar = use_sidecar;
        self
    }

    /// Opens `path` and maps its data. No data byte is read or copied
    /// (unless [`CopyPolicy::Allow`] is set and zero-copy is impossible).
    ///
    /// Safe by the crate's decision; mapped files are subject to the hazard in
    /// the crate docs ("Soundness and the mapping hazard").
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`], [`ErrorKind::IsDirectory`], [`ErrorKind::MissingSidecar`],
    /// sidecar and `.npy` errors, [`ErrorKind::Conflict`] when an option
    /// contradicts the file, [`ErrorKind::SizeMismatch`] /
    /// [`ErrorKind::NotWholeItems`] / [`ErrorKind::EmptyFile`] when the file size does
    /// not fit the shape, [`ErrorKind::ShapeOverflow`].
    pub fn open(&self, path: impl AsRef<Path>) -> Result<MmArray> {
        let path = path.as_ref();
        if self.mode != Mode::ReadOnly {
            return Err(ErrorKind::InvalidRequest {
                reason: format!(
                    "mode {} writes; open it with open_mut(), or use mode r",
                    self.mode
                ),
            }
            .at(path));
        }
        let mut file = open_regular(path, false)?;
        let r = self.resolve(path, &mut file)?;
        if r.end > r.file_len {
            return Err(r.too_short(path));
        }
        let (map, data) = if r.nbytes == 0 {
            let empty = map::map_prefix(&file, path, 0)?;
            (empty.clone(), empty)
        } else {
            let m = map::map_prefix(&file, path, r.end)?;
            let d = m.slice_with_length(r.header.offset as usize, r.nbytes as usize);
            (m, d)
        };
        let array = MmArray::mapped(path.to_path_buf(), r.source, r.header, Some(map), data);
        match self.copy {
            CopyPolicy::Never => Ok(array),
            CopyPolicy::Allow => Ok(array.to_arrow_compatible()),
        }
    }

    /// Reads what describes `path` (sidecar, `.npy` header or options),
    /// checks the options against it and resolves the shape.
    pub(crate) fn resolve(&self, path: &Path, file: &mut File) -> Result<Resolved> {
        let len = |file: &File| -> Result<u64> {
            let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
            if meta.is_dir() {
                return Err(ErrorKind::IsDirectory.at(path));
            }
            Ok(meta.len())
        };
        // The header (sidecar or `.npy`) is read *before* the file's length:
        // writers extend the data first and commit the header last, so a
        // length taken after the header is at least what that header
        // commits. Taken before, a commit in between would make a valid
        // file look too short.
        let (source, header) = self.resolve_header(path, file, &len).in_file(path)?;
        let file_len = len(file)?;
        let nbytes = byte_count(&header.shape, &header.dtype).in_file(path)?;
        check_row_fits_arrow(&header.shape, &header.dtype).in_file(path)?;
        let overflow = || {
            ErrorKind::ShapeOverflow {
                shape: ShapeDisplay(&header.shape).to_string(),
                dtype: header.dtype.typestr(),
            }
            .at(path)
        };
        let end = header.offset.checked_add(nbytes).ok_or_else(overflow)?;
        if usize::try_from(end).is_err() {
            return Err(ErrorKind::TooLarge { bytes: end }.at(path));
        }
        Ok(Resolved {
            source,
            header,
            nbytes,
            end,
            file_len,
        })
    }

    /// Whether an existing file may be replaced: by [`Mode::Create`], and by
    /// [`describe`] for an existing sidecar.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The header of `path`: its sidecar's, its `.npy` header's, or the
    /// options' (with an inferred dimension resolved against the file size).
    fn resolve_header(
        &self,
        path: &Path,
        file: &mut File,
        len: &dyn Fn(&File) -> Result<u64>,
    ) -> Result<(HeaderSource, ArrayHeader)> {
        let sidecar = match self.sidecar {
            SidecarUse::Read => Sidecar::read(sidecar_path(path))?,
            SidecarUse::Ignore => None,
        };
        if let Some(s) = sidecar {
            let h = self.check_agrees(path, s.header, "sidecar")?;
            return Ok((HeaderSource::Sidecar, h));
        }
        if is_npy_path(path) || (self.dtype.is_none() && starts_with_npy_magic(file, len(file)?)) {
            // One small positioned read covers ordinary headers; longer ones
            // continue from the file.
            let mut head = [0u8; 512];
            let n = read_at_most(file, &mut head, 0).map_err(|e| Error::io(path, "read", e))?;
            let mut rest = ReadAt {
                file,
                pos: n as u64,
            };
            let npy = NpyHeader::read_from(&mut (&head[..n]).chain(&mut rest)).in_file(path)?;
            let h = self.check_agrees(path, npy.header, ".npy header")?;
            return Ok((
                HeaderSource::Npy {
                    version: npy.version,
                },
                h,
            ));
        }
        let dtype = self.dtype.ok_or_else(|| {
            ErrorKind::MissingSidecar {
                sidecar: sidecar_path(path),
            }
            .at(path)
        })?;
        let spec = self
            .shape
            .clone()
            .unwrap_or_else(|| ShapeSpec::from_signed(&[-1]).expect("-1 is valid"));
        let offset = self.offset.unwrap_or(0);
        let shape = resolve_shape(path, &dtype, &spec, offset, len(file)?)?;
        let header = ArrayHeader {
            order: self.order.unwrap_or_default(),
            offset,
            ..ArrayHeader::new(dtype, shape)
        };
        Ok((HeaderSource::Options, header))
    }

    fn check_agrees(
        &self,
        path: &Path,
        recorded: ArrayHeader,
        source_name: &'static str,
    ) -> Result<ArrayHeader> {
        let conflict = |field, given: String, rec: String| {
            ErrorKind::Conflict {
                field,
                given,
                recorded: rec,
                source_name,
            }
            .at(path)
        };
        if let Some(d) = self.dtype {
            if d != recorded.dtype {
                return Err(conflict("dtype", d.typestr(), recorded.dtype.typestr()));
            }
        }
        if let Some(s) = &self.shape {
            let rec = &recorded.shape;
            let agrees = s.dims().len() == rec.len()
                && s.dims()
                    .iter()
                    .zip(rec)
                    .all(|(g, r)| g.is_none_or(|g| g == *r));
            if !agrees {
                return Err(conflict(
                    "shape",
                    s.to_string(),
                    ShapeSpec::known(rec).to_string(),
                ));
            }
        }
        if let Some(o) = self.offset {
            if o != recorded.offset {
                return Err(conflict(
                    "offset",
                    o.to_string(),
                    recorded.offset.to_string(),
                ));
            }
        }
        if let Some(o) = self.order {
            if o != recorded.order {
                return Err(conflict("order", o.to_string(), recorded.order.to_string()));
            }
        }
        Ok(recorded)
    }
}

/// Opens an array file described by its sidecar or `.npy` header.
///
/// Shorthand for `OpenOptions::new().open(path)`.
///
/// # Errors
/// As [`OpenOptions::open`].
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("x.i32");
/// # std::fs::write(&path, [1i32, 2, 3].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
/// # mmarrow::describe(&path, &mmarrow::OpenOptions::new().try_with_dtype("int32")?)?;
/// let array = mmarrow::open(&path)?;
/// assert_eq!(array.len(), 3);
/// # Ok(()) }
/// ```
pub fn open(path: impl AsRef<Path>) -> Result<MmArray> {
    OpenOptions::new().open(path)
}

/// What [`verify`] checked: a table (with the report of its checksums) or
/// an array file.
#[derive(Debug)]
pub enum Verified {
    /// A table directory, every column validated whole.
    Table {
        /// The table, opened and validated.
        table: crate::Table,
        /// The commit log's checksums, recomputed over the files.
        checksums: crate::table::ChecksumReport,
    },
    /// An array file, its values produced once as Arrow would read them.
    Array(MmArray),
}

/// Checks everything of the table directory or array file `path` that
/// opening leaves to the moment arrays are made — offsets, UTF-8,
/// dictionary keys, null counts, value ranges — and, for a table, the
/// checksum of every committed byte (`mmarrow verify`, and `mmarrow.verify`
/// in Python).
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("x.f8");
/// # std::fs::write(&path, vec![0u8; 8 * 3]).unwrap();
/// # mmarrow::describe(&path, &mmarrow::OpenOptions::new().try_with_dtype("f8")?)?;
/// match mmarrow::verify(&path)? {
///     mmarrow::Verified::Array(a) => assert_eq!(a.len(), 3),
///     other => panic!("{other:?}"),
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// Those of [`crate::table::verify_table`] and
/// [`crate::table::verify_checksums`] for a table; of [`open`] and of
/// producing the values for an array.
pub fn verify(path: impl AsRef<Path>) -> Result<Verified> {
    let path = path.as_ref();
    if crate::table::is_table(path) {
        let table = crate::table::verify_table(path)?;
        let checksums = table.checksum_report().unwrap_or_default();
        Ok(Verified::Table { table, checksums })
    } else {
        let array = open(path)?;
        array.to_arrow_compatible().to_record_batch()?;
        Ok(Verified::Array(array))
    }
}

/// Writes the sidecar of an existing raw file, after checking `options`
/// against the file's size (as opening it would). Returns the array.
///
/// Refuses to overwrite an existing sidecar unless
/// [`OpenOptions::overwrite`] is set; with it, the old sidecar is ignored
/// and replaced atomically.
///
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("emb.f32");
/// # std::fs::write(&path, vec![0u8; 4 * 8]).unwrap();
/// use mmarrow::OpenOptions;
/// let o = OpenOptions::new().try_with_dtype("float32")?.try_with_shape("-1,4")?;
/// mmarrow::describe(&path, &o)?;
/// assert!(mmarrow::describe(&path, &o).is_err()); // the sidecar exists
/// mmarrow::describe(&path, &o.overwrite(true))?;
/// assert_eq!(mmarrow::open(&path)?.shape(), &[2, 4]);
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`OpenOptions::open`], plus [`ErrorKind::SidecarExists`] and
/// [`ErrorKind::MissingSidecar`] when no dtype is given.
pub fn describe(path: impl AsRef<Path>, options: &OpenOptions) -> Result<MmArray> {
    let path = path.as_ref();
    let overwrite = options.overwrite;
    let sc_path = sidecar_path(path);
    if !overwrite && sc_path.exists() {
        return Err(ErrorKind::SidecarExists.at(sc_path));
    }
    let mut opts = options.clone();
    opts.sidecar = SidecarUse::Ignore;
    opts.copy = CopyPolicy::Never;
    if opts.dtype.is_none() {
        return Err(ErrorKind::MissingSidecar { sidecar: sc_path }.at(path));
    }
    let array = opts.open(path)?;
    Sidecar::new(ArrayHeader {
        name: None,
        metadata: Default::default(),
        ..array.header().clone()
    })
    .write(
        &sc_path,
        if overwrite {
            SidecarWrite::Replace
        } else {
            SidecarWrite::CreateNew
        },
    )?;
    Ok(array)
}

/// A file's header with the shape resolved against its size.
pub(crate) struct Resolved {
    pub source: HeaderSource,
    pub header: ArrayHeader,
    /// Bytes of data.
    pub nbytes: u64,
    /// `offset + nbytes`.
    pub end: u64,
    pub file_len: u64,
}

impl Resolved {
    pub fn too_short(&self, path: &Path) -> Error {
        ErrorKind::SizeMismatch {
            what: format!(
                "offset {} + shape {} of {}",
                self.header.offset,
                ShapeDisplay(&self.header.shape),
                self.header.dtype
            ),
            expected: self.end,
            actual: self.file_len,
        }
        .at(path)
    }
}

fn starts_with_npy_magic(file: &mut File, file_len: u64) -> bool {
    let mut magic = [0u8; 6];
    file_len >= 6 && file.read_exact(&mut magic).is_ok() && &magic == NPY_MAGIC
}

fn resolve_shape(
    path: &Path,
    dtype: &Dtype,
    spec: &ShapeSpec,
    offset: u64,
    file_len: u64,
) -> Result<Vec<u64>> {
    if let Some(known) = spec.to_known() {
        return Ok(known);
    }
    if file_len == 0 {
        return Err(ErrorKind::EmptyFile.at(path));
    }
    if offset > file_len {
        return Err(ErrorKind::SizeMismatch {
            what: format!("offset {offset}"),
            expected: offset,
            actual: file_len,
        }
        .at(path));
    }
    let data_bytes = file_len - offset;
    let known_elems = spec
        .dims()
        .iter()
        .flatten()
        .try_fold(1u64, |a, &d| a.checked_mul(d));
    let unit_bytes = known_elems.and_then(|n| n.checked_mul(dtype.itemsize() as u64));
    let unit_bytes = match unit_bytes {
        Some(0) => {
            return Err(Error::new(ErrorKind::InvalidShape {
                shape: spec.to_string(),
                reason: "cannot infer a dimension next to a zero-length one".into(),
            }))
        }
        Some(u) => u,
        None => {
            return Err(Error::new(ErrorKind::ShapeOverflow {
                shape: spec.to_string(),
                dtype: dtype.typestr(),
            }))
        }
    };
    if !data_bytes.is_multiple_of(unit_bytes) {
        let unit = if spec.dims().len() == 1 {
            format!("items of {dtype}")
        } else {
            format!("{spec} blocks of {dtype}")
        };
        return Err(ErrorKind::NotWholeItems {
            data_bytes,
            offset,
            unit,
            unit_bytes,
        }
        .at(path));
    }
    let count = data_bytes / dtype.itemsize() as u64;
    spec.resolve_for_count(count)
}

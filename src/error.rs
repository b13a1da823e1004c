//! The crate's one error type.
//!
//! Every variant that concerns a file carries its path and the numbers that
//! explain the failure, so a caller can match on what it needs and a person
//! reading the message (one line, path first) knows what to fix.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout mmarrow.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when describing, opening or viewing an array file.
///
/// Messages are one line, path first: `emb.f32: file has 4000 bytes, shape
/// (1000, 2) of <f4 needs 8000`. [`Error::is_user_error`] separates bad input
/// (the CLI exits with 2) from internal failures (exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file the operation was on.
        path: PathBuf,
        /// What was being done (`open`, `read`, `map`...).
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file does not exist.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// A directory was given where a file is expected.
    #[error("{}: is a directory, not an array file", path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The file has no sidecar, is not `.npy`, and no dtype was given.
    #[error(
        "{}: no sidecar {} and no dtype given; run `mmarrow describe` or pass a dtype",
        path.display(),
        sidecar.display()
    )]
    MissingSidecar {
        /// The data file.
        path: PathBuf,
        /// Where the sidecar was looked for.
        sidecar: PathBuf,
    },
    /// A sidecar exists and will not be overwritten.
    #[error("{}: sidecar already exists (use --force to overwrite)", path.display())]
    SidecarExists {
        /// The existing sidecar.
        path: PathBuf,
    },
    /// The sidecar is not valid JSON or lacks a field.
    #[error("{}: invalid sidecar: {reason}", path.display())]
    InvalidSidecar {
        /// The sidecar file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The sidecar (or table manifest) was written by a newer mmarrow.
    #[error(
        "{}: format version {found} is not supported (this mmarrow reads versions up to {supported})",
        path.display()
    )]
    UnsupportedVersion {
        /// The file declaring the version.
        path: PathBuf,
        /// The version found.
        found: u64,
        /// The highest version this build understands.
        supported: u64,
    },
    /// A dtype string could not be parsed.
    #[error("invalid dtype {dtype:?}: {reason}")]
    InvalidDtype {
        /// The text that was given.
        dtype: String,
        /// Why it was not understood.
        reason: String,
    },
    /// A well-formed dtype that mmarrow cannot map to Arrow.
    #[error("{}unsupported dtype {dtype:?}: {reason}", path_prefix(path))]
    UnsupportedDtype {
        /// The file that declares it, when there is one.
        path: Option<PathBuf>,
        /// The dtype as given.
        dtype: String,
        /// Why it cannot be mapped.
        reason: String,
    },
    /// A shape string or value is malformed.
    #[error("invalid shape {shape:?}: {reason}")]
    InvalidShape {
        /// The shape as given.
        shape: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The element count or byte size of a shape does not fit in 64 bits.
    #[error("shape {shape} of {dtype}: size overflows 64 bits")]
    ShapeOverflow {
        /// The shape, formatted.
        shape: String,
        /// The dtype, formatted.
        dtype: String,
    },
    /// The file is too short (or the wrong size) for the declared shape.
    #[error("{}: file has {actual} bytes, {what} needs {expected}", path.display())]
    SizeMismatch {
        /// The data file.
        path: PathBuf,
        /// What was being checked, e.g. `offset 0 + shape (1000, 2) of <f4`.
        what: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes the file has.
        actual: u64,
    },
    /// An inferred dimension does not divide the file's data size.
    #[error(
        "{}: {data_bytes} data bytes after offset {offset} are not a whole number of {unit} ({unit_bytes} bytes each)",
        path.display()
    )]
    NotWholeItems {
        /// The data file.
        path: PathBuf,
        /// Bytes after the offset.
        data_bytes: u64,
        /// The data offset.
        offset: u64,
        /// What a unit is (`items of <f4`, `rows of (128,) <f4`).
        unit: String,
        /// Size of one unit in bytes.
        unit_bytes: u64,
    },
    /// The file is empty and no explicit shape says it holds an empty array.
    #[error("{}: file is empty (give an explicit shape such as (0, 128) to open an empty array)", path.display())]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// The `.npy` header is malformed.
    #[error("{}: invalid .npy file: {reason}", path.display())]
    InvalidNpy {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An explicit option disagrees with what the file itself records.
    #[error("{}: {field} given as {given} but the {source_name} says {recorded}", path.display())]
    Conflict {
        /// The data file.
        path: PathBuf,
        /// The option (`dtype`, `shape`, `offset`, `order`).
        field: &'static str,
        /// The value the caller gave.
        given: String,
        /// The value the file records.
        recorded: String,
        /// Where it is recorded (`sidecar`, `.npy header`).
        source_name: &'static str,
    },
    /// The data offset is not a multiple of the element alignment, so a
    /// zero-copy Arrow buffer is impossible.
    #[error(
        "{}: data offset {offset} is not a multiple of {align} (the alignment of {dtype}); zero-copy is impossible, allow a copy to read it",
        path.display()
    )]
    Misaligned {
        /// The data file.
        path: PathBuf,
        /// The data offset.
        offset: u64,
        /// The alignment required.
        align: usize,
        /// The dtype.
        dtype: String,
    },
    /// The data is big-endian; Arrow is little-endian here.
    #[error(
        "{}: dtype {dtype} is big-endian; zero-copy is impossible, allow a copy to byte-swap it",
        path.display()
    )]
    NonNativeByteOrder {
        /// The data file.
        path: PathBuf,
        /// The dtype.
        dtype: String,
    },
    /// A Fortran-order array with more than two dimensions has no zero-copy Arrow form.
    #[error(
        "{}: Fortran-order array of shape {shape} has no zero-copy Arrow form (rows are not contiguous); allow a copy to transpose it",
        path.display()
    )]
    FortranTensor {
        /// The data file.
        path: PathBuf,
        /// The shape, formatted.
        shape: String,
    },
    /// A request that does not make sense for this array.
    #[error("{}: {reason}", path.display())]
    InvalidRequest {
        /// The data file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// The array does not fit in this process's address space.
    #[error("{}: {bytes} bytes do not fit in this platform's address space", path.display())]
    TooLarge {
        /// The data file.
        path: PathBuf,
        /// Bytes needed.
        bytes: u64,
    },
    /// The file exists and overwriting was not requested.
    #[error("{}: already exists (pass overwrite / --force to replace it)", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Another writer holds the file's lock.
    #[error("{}: already being written by another process (or another writer in this one)", path.display())]
    Locked {
        /// The locked file.
        path: PathBuf,
    },
    /// A write was attempted through a map or mode that cannot write to the file.
    #[error("{}: cannot write: {reason}", path.display())]
    NotWritable {
        /// The data file.
        path: PathBuf,
        /// Why (read-only mode, copy-on-write map...).
        reason: String,
    },
    /// A required option is missing for this mode.
    #[error("{}: {option} is required: {reason}", path.display())]
    MissingOption {
        /// The data file.
        path: PathBuf,
        /// The option (`shape`, `dtype`).
        option: &'static str,
        /// Why it is needed.
        reason: String,
    },
    /// Values of another type than the array's dtype.
    #[error("{}: array holds {expected}, got {given}", path.display())]
    TypeMismatch {
        /// The data file.
        path: PathBuf,
        /// What the array holds.
        expected: String,
        /// What was given.
        given: String,
    },
    /// Values whose count or row shape does not match the array's rows.
    #[error("{}: rows have shape {expected}, got {given}", path.display())]
    RowShapeMismatch {
        /// The data file.
        path: PathBuf,
        /// The row shape, formatted.
        expected: String,
        /// What was given.
        given: String,
    },
    /// An Arrow array with nulls where a flat array file cannot hold them.
    #[error("{}: the values contain {nulls} nulls, which a flat array file cannot hold", path.display())]
    HasNulls {
        /// The data file.
        path: PathBuf,
        /// Number of nulls found (at the first level that has any).
        nulls: usize,
    },
    /// A table manifest, or the files it names, are invalid.
    #[error("{}: invalid table: {reason}", path.display())]
    InvalidManifest {
        /// The manifest or column file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An option value that is not valid.
    #[error("invalid {option} {value:?}: {reason}")]
    InvalidOption {
        /// The option (`compression`, `row group size`...).
        option: &'static str,
        /// The value given.
        value: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A Parquet or Arrow IPC file that cannot be read or written.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What went wrong (corrupt, truncated, unsupported column...).
        reason: String,
        /// True when the input is at fault (exit code 2), false for internal errors.
        user: bool,
    },
    /// Invalid `arrow.fixed_shape_tensor` extension metadata.
    #[error("invalid arrow.fixed_shape_tensor metadata: {reason}")]
    InvalidTensorMetadata {
        /// What is wrong.
        reason: String,
    },
    /// An error from arrow-rs (should not happen for arrays mmarrow builds).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// Matches every variant that names a file, binding its path.
macro_rules! with_path {
    ($e:expr, $p:ident => $body:expr) => {
        match $e {
            Error::Io { path, .. }
            | Error::NotFound { path }
            | Error::IsDirectory { path }
            | Error::MissingSidecar { path, .. }
            | Error::SidecarExists { path }
            | Error::InvalidSidecar { path, .. }
            | Error::UnsupportedVersion { path, .. }
            | Error::SizeMismatch { path, .. }
            | Error::NotWholeItems { path, .. }
            | Error::EmptyFile { path }
            | Error::InvalidNpy { path, .. }
            | Error::Conflict { path, .. }
            | Error::Misaligned { path, .. }
            | Error::NonNativeByteOrder { path, .. }
            | Error::FortranTensor { path, .. }
            | Error::InvalidRequest { path, .. }
            | Error::TooLarge { path, .. }
            | Error::AlreadyExists { path }
            | Error::Locked { path }
            | Error::NotWritable { path, .. }
            | Error::MissingOption { path, .. }
            | Error::TypeMismatch { path, .. }
            | Error::RowShapeMismatch { path, .. }
            | Error::HasNulls { path, .. }
            | Error::Format { path, .. }
            | Error::InvalidManifest { path, .. } => Some({
                let $p = path;
                $body
            }),
            Error::UnsupportedDtype { path: Some(path), .. } => Some({
                let $p = path;
                $body
            }),
            _ => None,
        }
    };
}

impl Error {
    /// True when the error is caused by the input (a bad file, option or
    /// request) rather than by mmarrow or the system.
    ///
    /// ```
    /// let err = mmarrow::Dtype::parse("object").unwrap_err();
    /// assert!(err.is_user_error());
    /// ```
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::PermissionDenied
                    | io::ErrorKind::AlreadyExists
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::NotADirectory
                    | io::ErrorKind::IsADirectory
                    | io::ErrorKind::ReadOnlyFilesystem
                    | io::ErrorKind::StorageFull
                    | io::ErrorKind::FileTooLarge
                    | io::ErrorKind::QuotaExceeded
            ),
            Error::Arrow(_) => false,
            Error::Format { user, .. } => *user,
            _ => true,
        }
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        with_path!(self, path => path.as_path())
    }

    /// The file the error is about, mutably (to rename a temporary file).
    pub(crate) fn path_mut(&mut self) -> Option<&mut PathBuf> {
        with_path!(self, path => path)
    }

    /// Attaches `path` to a dtype error that has none.
    pub(crate) fn in_file(self, file: &Path) -> Self {
        match self {
            Error::UnsupportedDtype {
                path: None,
                dtype,
                reason,
            } => Error::UnsupportedDtype {
                path: Some(file.to_path_buf()),
                dtype,
                reason,
            },
            e => e,
        }
    }

    /// Wraps an I/O error, turning `NotFound` into [`Error::NotFound`].
    pub(crate) fn io(path: &Path, op: &'static str, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            Error::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            Error::Io {
                path: path.to_path_buf(),
                op,
                source,
            }
        }
    }
}

fn path_prefix(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("{}: ", p.display()),
        None => String::new(),
    }
}

/// Formats a shape the way numpy prints it: `(1000, 128)`, `(5,)`, `()`.
pub(crate) struct ShapeDisplay<'a>(pub &'a [u64]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() == 1 {
            f.write_str(",")?;
        }
        f.write_str(")")
    }
}

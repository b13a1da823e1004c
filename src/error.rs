//! The crate's one error type: a matchable [`ErrorKind`] plus the file it
//! concerns.
//!
//! Parsers of bytes and text (dtype, shape, sidecar JSON, `.npy` headers,
//! manifests) return kinds without a path; the caller that knows the file
//! attaches it once with [`ErrorKind::at`] / [`Error::in_file`]. The kind carries the
//! numbers that explain the failure, so a caller can match on what it needs
//! and a person reading the message (one line, path first) knows what to fix.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout mmarrow.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in mmarrow: a [`kind`](Error::kind) and,
/// when the failure concerns a file, its [`path`](Error::path).
///
/// Messages are one line, path first: `emb.f32: file has 4000 bytes, shape
/// (1000, 2) of <f4 needs 8000`. [`Error::is_user_error`] separates bad input
/// (the CLI exits with 2) from internal failures (exit 1). The error is one
/// pointer wide, so a `Result<()>` stays small on hot paths.
///
/// ```
/// use mmarrow::ErrorKind;
/// let err = mmarrow::open("/no/such/file.f32").unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::NotFound));
/// assert_eq!(err.path().unwrap().to_str(), Some("/no/such/file.f32"));
/// assert_eq!(err.to_string(), "/no/such/file.f32: no such file");
/// ```
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    path: Option<PathBuf>,
}

/// What went wrong: the matchable part of an [`Error`].
///
/// Its `Display` is the message without the file; [`Error`]'s puts the
/// file first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An I/O operation on the file failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done (`open`, `read`, `map`...).
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file does not exist.
    #[error("no such file")]
    NotFound,
    /// A directory was given where a file is expected.
    #[error("is a directory, not an array file")]
    IsDirectory,
    /// The file has no sidecar, is not `.npy`, and no dtype was given.
    #[error(
        "no sidecar {} and no dtype given; run `mmarrow describe` or pass a dtype",
        sidecar.display()
    )]
    MissingSidecar {
        /// Where the sidecar was looked for.
        sidecar: PathBuf,
    },
    /// A sidecar exists and will not be overwritten.
    #[error("sidecar already exists (use --force to overwrite)")]
    SidecarExists,
    /// The sidecar is not valid JSON or lacks a field.
    #[error("invalid sidecar: {reason}")]
    InvalidSidecar {
        /// What is wrong with it.
        reason: String,
    },
    /// The sidecar (or table manifest) was written by a newer mmarrow.
    #[error(
        "format version {found} is not supported (this mmarrow reads versions up to {supported})"
    )]
    UnsupportedVersion {
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
    #[error("unsupported dtype {dtype:?}: {reason}")]
    UnsupportedDtype {
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
    #[error("file has {actual} bytes, {what} needs {expected}")]
    SizeMismatch {
        /// What was being checked, e.g. `offset 0 + shape (1000, 2) of <f4`.
        what: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes the file has.
        actual: u64,
    },
    /// An inferred dimension does not divide the file's data size.
    #[error(
        "{data_bytes} data bytes after offset {offset} are not a whole number of {unit} ({unit_bytes} bytes each)",
    )]
    NotWholeItems {
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
    #[error("file is empty (give an explicit shape such as (0, 128) to open an empty array)")]
    EmptyFile,
    /// The `.npy` header is malformed.
    #[error("invalid .npy file: {reason}")]
    InvalidNpy {
        /// What is wrong with it.
        reason: String,
    },
    /// An explicit option disagrees with what the file itself records.
    #[error("{field} given as {given} but the {source_name} says {recorded}")]
    Conflict {
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
        "data offset {offset} is not a multiple of {align} (the alignment of {dtype}); zero-copy is impossible, allow a copy to read it",
    )]
    Misaligned {
        /// The data offset.
        offset: u64,
        /// The alignment required.
        align: usize,
        /// The dtype.
        dtype: String,
    },
    /// The data is big-endian; Arrow is little-endian here.
    #[error("dtype {dtype} is big-endian; zero-copy is impossible, allow a copy to byte-swap it")]
    NonNativeByteOrder {
        /// The dtype.
        dtype: String,
    },
    /// A Fortran-order array with more than two dimensions has no zero-copy Arrow form.
    #[error(
        "Fortran-order array of shape {shape} has no zero-copy Arrow form (rows are not contiguous); allow a copy to transpose it",
    )]
    FortranTensor {
        /// The shape, formatted.
        shape: String,
    },
    /// A request that does not make sense for this array.
    #[error("{reason}")]
    InvalidRequest {
        /// Why it is refused.
        reason: String,
    },
    /// A file changed under a plan or view built on it: it shrank, or a
    /// column changed type, since it was opened.
    #[error("changed since it was opened: {reason}")]
    Changed {
        /// What changed.
        reason: String,
    },
    /// The array does not fit in this process's address space.
    #[error("{bytes} bytes do not fit in this platform's address space")]
    TooLarge {
        /// Bytes needed.
        bytes: u64,
    },
    /// The file exists and overwriting was not requested.
    #[error("already exists (pass overwrite / --force to replace it)")]
    AlreadyExists,
    /// Another writer holds the file's lock.
    #[error("already being written by another process (or another writer in this one)")]
    Locked,
    /// A write was attempted through a map or mode that cannot write to the file.
    #[error("cannot write: {reason}")]
    NotWritable {
        /// Why (read-only mode, copy-on-write map...).
        reason: String,
    },
    /// A required option is missing for this mode.
    #[error("{option} is required: {reason}")]
    MissingOption {
        /// The option (`shape`, `dtype`).
        option: &'static str,
        /// Why it is needed.
        reason: String,
    },
    /// Values of another type than the array's dtype.
    #[error("array holds {expected}, got {given}")]
    TypeMismatch {
        /// What the array holds.
        expected: String,
        /// What was given.
        given: String,
    },
    /// Values whose count or row shape does not match the array's rows.
    #[error("rows have shape {expected}, got {given}")]
    RowShapeMismatch {
        /// The row shape, formatted.
        expected: String,
        /// What was given.
        given: String,
    },
    /// An Arrow array with nulls where a flat array file cannot hold them.
    #[error("the values contain {nulls} nulls, which a flat array file cannot hold")]
    HasNulls {
        /// Number of nulls found (at the first level that has any).
        nulls: usize,
    },
    /// A table manifest, or the files it names, are invalid.
    #[error("invalid table: {}", one_line(reason))]
    InvalidManifest {
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
    /// A Parquet or Arrow IPC file that cannot be read, or whose content
    /// mmarrow cannot hold (corrupt, truncated, unsupported column...).
    /// Shown on one line (third-party decoders' texts may span several).
    #[error("{}", one_line(reason))]
    Format {
        /// What is wrong with the file.
        reason: String,
    },
    /// A failure inside mmarrow or a library it calls, not caused by the
    /// input (a writer thread that stopped, an encoder that failed).
    #[error("{reason}")]
    Internal {
        /// What went wrong.
        reason: String,
    },
    /// A table file's committed bytes no longer match the crc32c the
    /// commit log recorded for them (`mmarrow verify`).
    #[error("bytes {start}..{end}, committed with rows {}..{}, do not match their checksum: the file was changed or damaged since", rows.0, rows.1)]
    ChecksumMismatch {
        /// First byte of the range.
        start: u64,
        /// End (exclusive) of the range.
        end: u64,
        /// The rows of the commit that wrote it.
        rows: (u64, u64),
    },
    /// A FIFO, socket, device (or other non-regular file) where a regular
    /// file is expected: mmarrow opens it without blocking and refuses it.
    #[error("is a {what}, not a regular file")]
    NotRegularFile {
        /// What it is (`FIFO`, `socket`, `character device`, `block device`).
        what: &'static str,
    },
    /// A library mmarrow calls (a Parquet or IPC decoder or encoder)
    /// panicked on this file; mmarrow caught the panic at its boundary.
    #[error("{what} failed: a library mmarrow uses panicked ({message}); the file is malformed or holds what that library cannot handle")]
    Panicked {
        /// What was running (`reading Parquet`, `writing Parquet`...).
        what: String,
        /// The panic's message.
        message: String,
    },
    /// Invalid `arrow.fixed_shape_tensor` extension metadata.
    #[error("invalid arrow.fixed_shape_tensor metadata: {reason}")]
    InvalidTensorMetadata {
        /// What is wrong.
        reason: String,
    },
    /// An error from arrow-rs (should not happen for arrays mmarrow builds).
    #[error("arrow: {0}")]
    Arrow(#[source] arrow_schema::ArrowError),
    /// The output (or its sidecar) is one of the inputs (or an input's
    /// sidecar, or inside an input table): writing it would destroy the input.
    #[error("is also an input ({}); write the output elsewhere", input.display())]
    OutputIsInput {
        /// The input it is (or holds, or is inside).
        input: PathBuf,
    },
    /// Overwriting was requested, but the destination is not something a
    /// writer replaces (a directory that is not an mmarrow table, a table
    /// holding files it does not name, a file of another format).
    #[error("will not be replaced: {reason}")]
    NotReplaceable {
        /// What it is, and why replacing it could lose data.
        reason: String,
    },
}

impl Error {
    /// An error of `kind` that concerns no particular file.
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner { kind, path: None }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Consumes the error, returning its kind.
    pub fn into_kind(self) -> ErrorKind {
        self.0.kind
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// True when the error is caused by the input (a bad file, option or
    /// request) rather than by mmarrow or the system.
    ///
    /// ```
    /// let err = mmarrow::Dtype::parse("object").unwrap_err();
    /// assert!(err.is_user_error());
    /// ```
    pub fn is_user_error(&self) -> bool {
        match self.kind() {
            // ELOOP: a symlink loop; ENXIO: a socket opened as a file.
            ErrorKind::Io { source, .. } => {
                matches!(
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
                        | io::ErrorKind::NotSeekable
                        | io::ErrorKind::InvalidFilename
                ) || matches!(source.raw_os_error(), Some(libc::ELOOP | libc::ENXIO))
            }
            ErrorKind::Arrow(_) | ErrorKind::Internal { .. } => false,
            _ => true,
        }
    }

    /// Attaches `path` to an error that names no file yet; an error that
    /// already names one keeps it (the innermost file is the one to act on).
    pub fn in_file(mut self, path: impl Into<PathBuf>) -> Self {
        if self.0.path.is_none() {
            self.0.path = Some(path.into());
        }
        self
    }

    /// Wraps an I/O error on `path`, turning `NotFound` into [`ErrorKind::NotFound`].
    pub(crate) fn io(path: &Path, op: &'static str, source: io::Error) -> Self {
        ErrorKind::io(op, source).at(path)
    }
}

impl ErrorKind {
    /// An I/O error, with `NotFound` as [`ErrorKind::NotFound`].
    pub(crate) fn io(op: &'static str, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io { op, source }
        }
    }

    /// This kind as an [`Error`] about `path`.
    pub fn at(self, path: impl Into<PathBuf>) -> Error {
        Error(Box::new(Inner {
            kind: self,
            path: Some(path.into()),
        }))
    }
}

/// Attaches a file to the error of a `Result`, once.
pub(crate) trait ResultExt<T> {
    /// As [`Error::in_file`].
    fn in_file(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn in_file(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| e.in_file(path))
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

/// `text` on one line: line breaks and the indentation after them become
/// "; " (flatbuffers' and thrift's errors span several lines).
fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_string();
    }
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::new(ErrorKind::Arrow(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.0.kind),
            None => write!(f, "{}", self.0.kind),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("path", &self.0.path)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0.kind)
    }
}

thread_local! {
    /// How many panic boundaries the current thread is inside.
    static CATCHING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// True while the current thread runs inside one of mmarrow's panic
/// boundaries, where a panic (of a third-party decoder fed a malformed file)
/// is caught and returned as an [`Error`] naming the file.
///
/// For a program's panic hook: the CLI prints nothing for such panics (the
/// error that follows says what happened) and one line for any other.
///
/// ```
/// assert!(!mmarrow::error::panic_is_caught());
/// ```
pub fn panic_is_caught() -> bool {
    CATCHING.with(|c| c.get() > 0)
}

/// Marks the current thread as inside a panic boundary while it lives.
pub(crate) struct CatchScope(());

impl CatchScope {
    pub(crate) fn enter() -> Self {
        CATCHING.with(|c| c.set(c.get() + 1));
        CatchScope(())
    }
}

impl Drop for CatchScope {
    fn drop(&mut self) {
        CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// Runs `f`, turning a panic inside it into [`ErrorKind::Panicked`] about
/// `file` (or about no file, for a boundary that does not know it, such as
/// a pipeline worker: [`name_panic`] names it further out). `what` says what
/// was running.
pub(crate) fn catch_panic<T>(
    file: Option<&Path>,
    what: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let _scope = CatchScope::enter();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let e = Error::new(ErrorKind::Panicked {
                what: what.to_string(),
                message: panic_text(payload.as_ref()),
            });
            Err(match file {
                Some(p) => e.in_file(p),
                None => e,
            })
        }
    }
}

/// A public conversion's panic boundary: runs `f` as [`catch_panic`] does,
/// and names `file` in a caught panic that names no file yet.
pub(crate) fn name_panic<T>(file: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_panic(Some(file), what, f).map_err(|e| match e.kind() {
        ErrorKind::Panicked { .. } => e.in_file(file),
        _ => e,
    })
}

/// The message of a panic payload.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_stays_two_words_or_less() {
        assert!(std::mem::size_of::<Result<()>>() <= 16);
        assert!(std::mem::size_of::<Result<u64>>() <= 16);
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn a_path_is_attached_once_and_printed_first() {
        let e = Error::new(ErrorKind::InvalidNpy {
            reason: "bad magic".into(),
        })
        .in_file("a.npy")
        .in_file("b.npy");
        assert_eq!(e.to_string(), "a.npy: invalid .npy file: bad magic");
        assert_eq!(e.path(), Some(Path::new("a.npy")));
    }

    #[test]
    fn a_pathless_error_has_no_leading_colon() {
        let e = Error::new(ErrorKind::InvalidOption {
            option: "mode",
            value: "x".into(),
            reason: "use r, r+, w+ or c".into(),
        });
        assert_eq!(e.to_string(), "invalid mode \"x\": use r, r+, w+ or c");
    }

    #[test]
    fn a_panic_inside_a_boundary_becomes_an_error() {
        let e = catch_panic(None, "decoding", || -> Result<()> {
            assert!(panic_is_caught());
            panic!("index out of bounds")
        })
        .unwrap_err();
        assert!(e.path().is_none());
        let e = name_panic(Path::new("x.parquet"), "reading", || Err::<(), _>(e)).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Panicked { .. }), "{e}");
        assert!(e.is_user_error());
        assert!(
            e.to_string().starts_with("x.parquet: decoding failed"),
            "{e}"
        );
        assert!(e.to_string().contains("index out of bounds"), "{e}");
        assert!(!panic_is_caught());
        assert_eq!(catch_panic(None, "x", || Ok(3)).unwrap(), 3);
        let other = name_panic(Path::new("x"), "y", || {
            Err::<(), _>(Error::new(ErrorKind::Internal { reason: "r".into() }))
        })
        .unwrap_err();
        assert!(
            other.path().is_none(),
            "only panics get the boundary's file"
        );
    }

    #[test]
    fn the_source_is_chained() {
        let e = Error::io(Path::new("f"), "read", io::Error::other("boom"));
        let src = std::error::Error::source(&e).expect("a source");
        assert_eq!(src.to_string(), "boom");
        assert!(matches!(
            Error::io(Path::new("f"), "open", io::ErrorKind::NotFound.into()).kind(),
            ErrorKind::NotFound
        ));
    }
}

//! mmarrow's errors as Python exceptions of the `mmarrow.exceptions`
//! hierarchy: the class from the Rust [`ErrorKind`], the message the CLI
//! prints (one line, path first), and `kind` / `path` attributes.

use mmarrow::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Conversion of the library's results into `PyResult`s.
pub trait IntoPy<T> {
    /// The error, if any, as a Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for mmarrow::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// The `mmarrow.exceptions` class for `kind`.
fn class_name(kind: &ErrorKind) -> &'static str {
    use ErrorKind as K;
    match kind {
        K::NotFound => "NotFoundError",
        K::IsDirectory => "IsDirectoryError",
        K::AlreadyExists | K::SidecarExists => "AlreadyExistsError",
        K::Locked => "LockedError",
        K::Io { .. } => "FileIOError",
        K::NotWritable { .. } => "NotWritableError",
        K::MissingSidecar { .. }
        | K::InvalidDtype { .. }
        | K::InvalidShape { .. }
        | K::ShapeOverflow { .. }
        | K::InvalidRequest { .. }
        | K::InvalidOption { .. }
        | K::MissingOption { .. }
        | K::Conflict { .. }
        | K::TypeMismatch { .. }
        | K::RowShapeMismatch { .. }
        | K::HasNulls { .. }
        | K::OutputIsInput { .. }
        | K::NotReplaceable { .. } => "InvalidArgumentError",
        K::InvalidSidecar { .. }
        | K::SizeMismatch { .. }
        | K::NotWholeItems { .. }
        | K::EmptyFile
        | K::InvalidNpy { .. }
        | K::Misaligned { .. }
        | K::InvalidManifest { .. }
        | K::Format { .. }
        | K::ChecksumMismatch { .. }
        | K::InvalidTensorMetadata { .. }
        | K::NotRegularFile { .. }
        | K::TooLarge { .. } => "FormatError",
        K::UnsupportedVersion { .. }
        | K::UnsupportedDtype { .. }
        | K::NonNativeByteOrder { .. }
        | K::FortranTensor { .. } => "UnsupportedError",
        K::Arrow(_) | K::Internal { .. } | K::Panicked { .. } => "InternalError",
        _ => "Error",
    }
}

/// The variant's name (`SizeMismatch`), for the exception's `kind`.
fn kind_name(kind: &ErrorKind) -> String {
    let debug = format!("{kind:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `e` as an instance of its `mmarrow.exceptions` class.
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| {
        let message = e.to_string();
        let build = || -> PyResult<PyErr> {
            let class = py
                .import("mmarrow.exceptions")?
                .getattr(class_name(e.kind()))?;
            let value = class.call1((message.clone(),))?;
            value.setattr("kind", kind_name(e.kind()))?;
            value.setattr("path", e.path().map(|p| p.to_path_buf()))?;
            Ok(PyErr::from_value(value))
        };
        build().unwrap_or_else(|_| PyRuntimeError::new_err(message))
    })
}

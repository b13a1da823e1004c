//! Conversion between array files and Parquet or Arrow IPC: streaming,
//! parallel, with bounded memory, writing to a temporary name and renaming
//! at the end so that a failure never leaves a partial destination.

mod ipc;
mod options;
mod output;
mod parquet_fast;
mod parquet_read;
mod parquet_write;

use std::path::Path;

pub use ipc::{from_ipc, to_ipc};
pub use options::{Compression, ConvertOptions, Progress, DEFAULT_ROW_GROUP_BYTES};
pub use output::remove_temporary_outputs;
pub use parquet_read::from_parquet;
pub use parquet_write::to_parquet;

use crate::error::{Error, Result};

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Rows written.
    pub rows: u64,
    /// Bytes of array data read (uncompressed values).
    pub data_bytes: u64,
    /// Size of the output file.
    pub output_bytes: u64,
    /// Row groups (Parquet) or record batches (IPC) in the output or input.
    pub groups: usize,
    /// True when the page-level fast path wrote or read the Parquet data.
    pub fast_path: bool,
}

/// A file format, as inferred from a path by [`Format::from_path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An mmarrow array file (raw + sidecar, or `.npy`).
    Array,
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Arrow IPC file (`.arrow`, `.feather`, `.ipc`).
    Ipc,
}

impl Format {
    /// The format a path's extension names; anything else is an array file.
    ///
    /// ```
    /// use mmarrow::Format;
    /// assert_eq!(Format::from_path("x.parquet".as_ref()), Format::Parquet);
    /// assert_eq!(Format::from_path("x.feather".as_ref()), Format::Ipc);
    /// assert_eq!(Format::from_path("x.npy".as_ref()), Format::Array);
    /// ```
    pub fn from_path(path: &Path) -> Format {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "parquet" | "pq" => Format::Parquet,
            "arrow" | "feather" | "ipc" => Format::Ipc,
            _ => Format::Array,
        }
    }
}

/// Converts `src` to `dst`, inferring both formats from their names
/// ([`Format::from_path`]): array ↔ Parquet, array ↔ Arrow IPC.
///
/// # Errors
/// [`Error::InvalidRequest`] for a pair with no conversion (e.g. Parquet to
/// IPC, or array to array: use `mmarrow cat`), and the errors of the
/// conversion chosen.
pub fn convert(src: &Path, dst: &Path, options: &ConvertOptions) -> Result<ConvertSummary> {
    match (Format::from_path(src), Format::from_path(dst)) {
        (Format::Array, Format::Parquet) => to_parquet(&crate::open(src)?, dst, options),
        (Format::Array, Format::Ipc) => to_ipc(&crate::open(src)?, dst, options),
        (Format::Parquet, Format::Array) => from_parquet(src, dst, options),
        (Format::Ipc, Format::Array) => from_ipc(src, dst, options),

        (a, b) => Err(Error::InvalidRequest {
            path: dst.to_path_buf(),
            reason: format!(
                "no conversion from {a:?} to {b:?}; one side must be an array file (use `mmarrow cat` to copy arrays)"
            ),
        }),
    }
}

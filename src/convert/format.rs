//! File formats, as named by a path.

use std::path::Path;

/// A file format, as inferred from a path by [`Format::from_path`] (or set
/// with [`ConvertOptions::source_format`](super::ConvertOptions::source_format)
/// and [`ConvertOptions::destination_format`](super::ConvertOptions::destination_format)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An mmarrow array file (raw + sidecar, or `.npy`).
    Array,
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Arrow IPC file (`.arrow`, `.feather`, `.ipc`).
    Ipc,
    /// An mmarrow table directory: an existing table, or a path ending in `/`.
    Table,
}

impl Format {
    /// The format a path's extension names; anything else is an array file.
    ///
    /// ```
    /// use mmarrow::convert::Format;
    /// assert_eq!(Format::from_path("x.parquet"), Format::Parquet);
    /// assert_eq!(Format::from_path("x.feather"), Format::Ipc);
    /// assert_eq!(Format::from_path("x.npy"), Format::Array);
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Format {
        let path = path.as_ref();
        if crate::table::is_table(path) || path.as_os_str().to_string_lossy().ends_with('/') {
            return Format::Table;
        }
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

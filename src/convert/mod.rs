//! Conversion between array files and Parquet or Arrow IPC: streaming,
//! parallel, with bounded memory, writing to a temporary name and renaming
//! at the end so that a failure never leaves a partial destination.

mod ipc;
mod options;
mod output;
mod parquet_fast;
mod parquet_read;
mod parquet_write;
mod table_io;

use std::path::Path;

pub use ipc::{from_ipc, table_to_ipc, to_ipc};
pub use options::{Compression, ConvertOptions, Progress, DEFAULT_ROW_GROUP_BYTES};
pub use output::remove_temporary_outputs;
pub use parquet_read::from_parquet;
pub use parquet_write::{table_to_parquet, to_parquet};
pub use table_io::{ipc_to_table, parquet_schema, parquet_to_table};

use std::ops::Range;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::array::{ArrowOptions, MmArray};
use crate::error::{ErrorKind, Result};
use crate::table::Table;

/// What a conversion reads: an array file or a table, as record batches.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    Array(&'a MmArray),
    Table(&'a Table),
}

impl Source<'_> {
    pub fn rows(&self) -> u64 {
        match self {
            Source::Array(a) => a.len(),
            Source::Table(t) => t.num_rows(),
        }
    }

    pub fn schema(&self) -> Result<SchemaRef> {
        match self {
            Source::Array(a) => a
                .slice(0..a.len().min(1))
                .unwrap_or_else(|_| (*a).clone())
                .to_arrow_compatible()
                .schema_with(ArrowOptions::default()),
            Source::Table(t) => Ok(t.schema()),
        }
    }

    /// Bytes of data per row (at least 1), for sizing row groups.
    pub fn row_bytes(&self) -> u64 {
        match self {
            Source::Array(a) => (a.row_elements() * a.dtype().itemsize() as u64).max(1),
            Source::Table(t) => {
                let total: usize = t
                    .columns()
                    .iter()
                    .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
                    .sum();
                (total as u64 / t.num_rows().max(1)).max(1)
            }
        }
    }

    /// Rows `r` as a record batch: zero-copy, except for array data that
    /// has no zero-copy Arrow form (copied one batch at a time).
    pub fn batch(&self, r: Range<u64>) -> Result<RecordBatch> {
        match self {
            Source::Array(a) => a.slice(r)?.to_arrow_compatible().to_record_batch(),
            Source::Table(t) => t.slice(r),
        }
    }
}

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
    /// An mmarrow table directory: an existing table, or a path ending in `/`.
    Table,
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

/// Converts `src` to `dst`, inferring both formats from their names
/// ([`Format::from_path`]): array ↔ Parquet, array ↔ Arrow IPC, table ↔
/// Parquet, table ↔ Arrow IPC.
///
/// # Errors
/// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for a pair with no conversion (e.g. Parquet to
/// IPC, or array to array: use `mmarrow cat`), and the errors of the
/// conversion chosen.
pub fn convert(src: &Path, dst: &Path, options: &ConvertOptions) -> Result<ConvertSummary> {
    match (Format::from_path(src), Format::from_path(dst)) {
        (Format::Array, Format::Parquet) => to_parquet(&crate::open(src)?, dst, options),
        (Format::Array, Format::Ipc) => to_ipc(&crate::open(src)?, dst, options),
        (Format::Parquet, Format::Array) => from_parquet(src, dst, options),
        (Format::Ipc, Format::Array) => from_ipc(src, dst, options),
        (Format::Table, Format::Parquet) => table_to_parquet(&Table::open(src)?, dst, options),
        (Format::Table, Format::Ipc) => table_to_ipc(&Table::open(src)?, dst, options),
        (Format::Parquet, Format::Table) => parquet_to_table(src, dst, options),
        (Format::Ipc, Format::Table) => ipc_to_table(src, dst, options),

        (a, b) => Err(ErrorKind::InvalidRequest { reason: format!(
                "no conversion from {a:?} to {b:?}; one side must be an array file or a table (use `mmarrow cat` to copy arrays)"
            ) }.at(dst)),
    }
}

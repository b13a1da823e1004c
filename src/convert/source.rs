//! What a conversion reads: an array file or a table, as record batches.

use std::ops::Range;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::array::{ArrowOptions, MmArray};
use crate::error::Result;
use crate::table::Table;

/// An array file or a table, read as record batches.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    Array(&'a MmArray),
    Table(&'a Table),
}

impl Source<'_> {
    /// The array file or table directory.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Source::Array(a) => a.path(),
            Source::Table(t) => t.path(),
        }
    }

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
            Source::Table(t) => (t.data_bytes() / t.num_rows().max(1)).max(1),
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

//! Parquet ↔ array files and tables.
//!
//! - [`write`]: `to_parquet` / `table_to_parquet`, the generic writer;
//!   [`write_pages`]: the page-level writer it uses for fixed-width columns.
//! - [`read`]: `from_parquet`, with the page-level decoder of [`to_table`]
//!   for the chunks it reads.
//! - [`to_table`]: Parquet → table, page ranges decoded in parallel by
//!   the page-level decoder, other columns by the generic reader, in
//!   bounded memory; [`chunk`]: page headers, the units' boundaries.
//! - [`page`]: the page encodings both page-level paths share;
//!   [`stats`]: row-group statistics for the page-level writer.

mod chunk;
pub(in crate::convert) mod footer;
mod page;
mod read;
mod stats;
mod to_table;
mod write;
mod write_pages;

pub use read::from_parquet;
pub(in crate::convert) use to_table::parquet_to_table;
pub use write::{table_to_parquet, to_parquet};

use std::path::Path;

use parquet::file::metadata::ParquetMetaData;

use crate::error::{ErrorKind, Result};

/// The first row of each row group of `meta`, then the total.
///
/// # Errors
/// [`ErrorKind::Format`] for a negative row count or a total past 2^64.
fn row_group_starts(meta: &ParquetMetaData, src: &Path) -> Result<Vec<u64>> {
    let bad = |reason: String| ErrorKind::Format { reason }.at(src);
    let mut starts = Vec::with_capacity(meta.num_row_groups() + 1);
    let mut at = 0u64;
    starts.push(at);
    for g in meta.row_groups() {
        let rows = u64::try_from(g.num_rows())
            .map_err(|_| bad(format!("a row group has {} rows", g.num_rows())))?;
        at = at
            .checked_add(rows)
            .ok_or_else(|| bad("its row groups hold more than 2^64 rows".into()))?;
        starts.push(at);
    }
    Ok(starts)
}

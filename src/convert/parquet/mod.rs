//! Parquet ↔ array files and tables.
//!
//! - [`write`]: `to_parquet` / `table_to_parquet`, the generic writer;
//!   [`write_pages`]: the page-level writer it uses for fixed-width columns.
//! - [`read`]: `from_parquet`; [`read_pages`]: the page-level reader it
//!   uses for v1 PLAIN and dictionary pages.
//! - [`to_table`]: Parquet → table, page ranges decoded in parallel by
//!   the page-level decoder, other columns by the generic reader, in
//!   bounded memory; [`chunk`]: page headers, the units' boundaries.
//! - [`page`]: the page encodings both page-level paths share;
//!   [`stats`]: row-group statistics for the page-level writer.

mod chunk;
pub(in crate::convert) mod footer;
mod page;
mod read;
mod read_pages;
mod stats;
mod to_table;
mod write;
mod write_pages;

pub use read::from_parquet;
pub(in crate::convert) use to_table::parquet_to_table;
pub use write::{table_to_parquet, to_parquet};

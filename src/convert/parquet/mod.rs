//! Parquet ↔ array files and tables.
//!
//! - [`write`]: `to_parquet` / `table_to_parquet`, the generic writer;
//!   [`write_pages`]: the page-level writer it uses for fixed-width columns.
//! - [`read`]: `from_parquet`; [`read_pages`]: the page-level reader it
//!   uses for v1 PLAIN and dictionary pages.
//! - [`page`]: the page encodings both page-level paths share;
//!   [`stats`]: row-group statistics for the page-level writer.

pub(in crate::convert) mod footer;
mod page;
mod read;
mod read_pages;
mod stats;
mod write;
mod write_pages;

pub use read::from_parquet;
pub use write::{table_to_parquet, to_parquet};

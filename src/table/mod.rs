//! Columnar tables: a directory with a manifest and one flat file per Arrow
//! buffer, opened as zero-copy record batches.
//!
//! ```text
//! cache/
//!   manifest.json   format, version, committed rows, schema, the files of each column
//!   c0.values       int64 ids: a plain array file (np.memmap(dtype='<i8'))
//!   c1.validity     validity bitmap of a nullable column (LSB bit order)
//!   c1.offsets      i32 offsets of a string column (rows + 1 entries)
//!   c1.values       the UTF-8 bytes
//!   c2.values       a 768-wide float32 embedding: np.memmap(dtype='<f4', shape=(rows, 768))
//! ```
//!
//! Every numeric column is a plain array file that numpy and C can map; the
//! manifest gives its numpy dtype. See `docs/FORMAT.md` §5.

pub(crate) mod manifest;
mod read;
mod write;

pub(crate) use manifest::MANIFEST_NAME;
pub use read::{verify_table, Table, TableOptions};
pub use write::{TableWriter, TableWriterOptions};

/// True when `path` is a table directory (it holds a manifest).
pub fn is_table(path: &std::path::Path) -> bool {
    path.is_dir() && path.join(MANIFEST_NAME).is_file()
}

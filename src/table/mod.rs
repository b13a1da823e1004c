//! Columnar tables: a directory with a manifest and one flat file per Arrow
//! buffer, opened as zero-copy record batches.
//!
//! ```text
//! cache/
//!   manifest.json   format, version, committed rows, schema, each column's tree of files
//!   c0.values       int64 ids: a plain array file (np.memmap(dtype='<i8'))
//!   c1.validity     validity bitmap of a nullable column (LSB bit order)
//!   c1.offsets      i32 offsets of a string column (rows + 1 entries)
//!   c1.values       the UTF-8 bytes
//!   c2.0.values     the items of a 768-wide float32 embedding column (a fixed-size
//!                   list): np.memmap(dtype='<f4', shape=(rows, 768))
//!   c3.offsets      a list<int32> column's offsets; c3.0.values its items
//! ```
//!
//! A column is the tree of its Arrow `ArrayData` ([`crate::format::Node`]), so
//! every Arrow type can be held, and every numeric leaf is a plain array
//! file that numpy and C can map; the manifest gives its numpy dtype. See
//! `docs/FORMAT.md` §5.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

mod append;
mod log;
pub(crate) mod manifest;
mod node;
mod read;
mod stats;
mod types;
mod write;

pub use log::{ChecksumReport, LOG_NAME};
pub use manifest::{LogInfo, Source};
pub use stats::{ColumnStatistics, TableStatistics, CHUNK_ROWS, TRUNCATE_BYTES};

pub(crate) use manifest::MANIFEST_NAME;
pub use read::{check_structure, verify_checksums, verify_table, Table, TableOptions};
pub(crate) use write::{column_parts, ColumnPart};
pub use write::{TableWriter, TableWriterOptions};

/// True when `path` looks like a table directory (it holds a manifest
/// file): how commands choose between a table and an array file. Opening
/// it checks the manifest. Not a test that the directory may be replaced:
/// writers that overwrite a table check that it parses as one and holds
/// nothing else.
pub fn is_table(path: &std::path::Path) -> bool {
    path.is_dir() && path.join(MANIFEST_NAME).is_file()
}

/// Refuses to replace the directory `dir` unless it is an mmarrow table
/// (its manifest parses as one) holding only files the table owns: its
/// manifest (and a crashed manifest write's temporaries), its lock file and
/// the column files the manifest names. Anything else would be deleted with
/// it, so it is named in the error.
///
/// # Errors
/// [`ErrorKind::NotReplaceable`]; I/O errors reading the directory.
pub(crate) fn check_replaceable(dir: &Path) -> Result<()> {
    let refuse = |reason: String| ErrorKind::NotReplaceable { reason }.at(dir);
    let m = manifest::Manifest::read(dir)
        .map_err(|e| refuse(format!("a directory that is not an mmarrow table ({e})")))?;
    // The commit log too when no manifest names it yet (a first commit
    // interrupted before its manifest was written).
    let mut owned: HashSet<&str> = [MANIFEST_NAME, write::LOCK_NAME, LOG_NAME].into();
    owned.extend(m.files());
    let manifest_tmp = format!(".{MANIFEST_NAME}.tmp-");
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, "read directory", e))? {
        let e = e.map_err(|e| Error::io(dir, "read directory", e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !owned.contains(name.as_str()) && !name.starts_with(&manifest_tmp) {
            return Err(refuse(format!(
                "the table does not name {name}, which would be deleted with it; move it away first"
            )));
        }
    }
    Ok(())
}

/// Takes the writer lock of the table `dir` (when it has a lock file), so
/// that a table another process is appending to is never replaced.
///
/// # Errors
/// [`ErrorKind::Locked`]; I/O errors.
pub(crate) fn lock_for_replacement(dir: &Path) -> Result<Option<File>> {
    let path = dir.join(write::LOCK_NAME);
    match File::open(&path) {
        Ok(f) => {
            crate::write::lock_exclusive(&f, dir)?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, "open lock", e)),
    }
}

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

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

pub(crate) mod manifest;
mod read;
mod write;

pub(crate) use manifest::MANIFEST_NAME;
pub use read::{check_structure, verify_table, Table, TableOptions};
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
    let mut owned: HashSet<&str> = [MANIFEST_NAME, write::LOCK_NAME].into();
    for c in &m.columns {
        owned.insert(&c.files.values);
        owned.extend(c.files.validity.as_deref());
        owned.extend(c.files.offsets.as_deref());
    }
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

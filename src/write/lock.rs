//! The one-writer-at-a-time rule: an exclusive advisory lock on the data file.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// Takes the exclusive advisory lock on `file` without waiting.
///
/// This is `flock(2)` through std's `File::try_lock` (stable since Rust
/// 1.89), which needs no extra crate. Readers never take it, so they are
/// never blocked. The lock is released when the file is closed.
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(ErrorKind::Locked.at(path)),
        Err(TryLockError::Error(e)) => Err(Error::io(path, "lock", e)),
    }
}

/// Creates the data file of a new array (and checks its sidecar is not in
/// the way), holding the writer lock, truncated to zero length. With
/// `overwrite`, an existing file is replaced — but only once its lock is
/// ours, so a file another writer holds is never truncated.
pub(crate) fn create_locked(path: &Path, overwrite: bool) -> Result<File> {
    let sc_path = crate::format::sidecar::sidecar_path(path);
    if !overwrite && sc_path.exists() {
        return Err(ErrorKind::AlreadyExists.at(sc_path));
    }
    let mut oo = std::fs::OpenOptions::new();
    oo.read(true).write(true);
    if overwrite {
        oo.create(true);
    } else {
        oo.create_new(true);
    }
    let file = oo.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists.at(path),
        _ => Error::io(path, "create", e),
    })?;
    lock_exclusive(&file, path)?;
    file.set_len(0)
        .map_err(|e| Error::io(path, "truncate", e))?;
    Ok(file)
}

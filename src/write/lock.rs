//! The one-writer-at-a-time rule: an exclusive advisory lock on the data file.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// Takes the exclusive advisory lock on `file` without waiting.
///
/// This is `flock(2)` through std's `File::try_lock` (stable since Rust
/// 1.89), which needs no extra crate. Readers never take it, so they are
/// never blocked. The lock is released when the file is closed.
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io(path, "lock", e)),
    }
}

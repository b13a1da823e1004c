//! Crash-safe file replacement: the one helper every header write goes through.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// What to do when the destination exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Replace it atomically.
    Overwrite,
    /// Fail with `AlreadyExists`, atomically (no window where both could win).
    NoClobber,
}

/// Writes `bytes` to `path` so that a crash at any moment leaves either the
/// old file or the complete new one: write a sibling temporary file, fsync
/// it, rename (or hard-link, for [`Replace::NoClobber`]) it into place, fsync
/// the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: Replace) -> Result<()> {
    write_atomic_with(path, bytes, mode, true)
}

/// [`write_atomic`], with the fsyncs only when `durable`: without them the
/// replacement is still atomic for other processes (and survives a crash of
/// this one), but not necessarily a power cut.
pub(crate) fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    mode: Replace,
    durable: bool,
) -> Result<()> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, "create temporary file", e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io(&tmp, "write temporary file", e))?;
        if durable {
            f.sync_all().map_err(|e| Error::io(&tmp, "fsync", e))?;
        }
        match mode {
            Replace::Overwrite => {
                fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename into place", e))
            }
            Replace::NoClobber => {
                // link(2) fails if the destination exists, so two writers
                // cannot both believe they created it.
                let r = fs::hard_link(&tmp, path).map_err(|e| {
                    ErrorKind::Io {
                        op: "create",
                        source: e,
                    }
                    .at(path)
                });
                let _ = fs::remove_file(&tmp);
                r
            }
        }?;
        if durable {
            sync_dir(path)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs the directory holding `path`, so a rename or create in it is durable.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

/// A hidden, unique sibling name for a temporary file next to `path`.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_clobber_refuses_an_existing_file_and_leaves_it_intact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        write_atomic(&p, b"one", Replace::NoClobber).unwrap();
        let e = write_atomic(&p, b"two", Replace::NoClobber).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Io { ref source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
        );
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"three", Replace::Overwrite).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

//! File-system helpers, and the crate's one platform seam.
//!
//! - Crash-safe replacement ([`write_atomic`]): the one helper every header
//!   and manifest write goes through.
//! - A rename that fsyncs what must be fsynced, directory included
//!   ([`rename`]), so no call site can forget a step.
//! - Directory fsyncs named for what they sync: [`sync_dir`] (the directory
//!   itself) and [`sync_parent`] (the directory holding a path).
//! - Positioned reads and writes ([`FileExt`], [`read_at_most`], [`ReadAt`]).
//!
//! mmarrow is Unix-only (positioned I/O, `flock`, and the mapping semantics
//! its writers rely on); `lib.rs` refuses other targets, and the Unix
//! imports of the crate live here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use std::os::unix::fs::FileExt;

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
            sync_parent(path)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renames `from` to `to` (a file or a directory). When `durable`, first
/// fsyncs `from` itself (its data, or a directory's entries), and after the
/// rename the directory holding `to` (and the one that held `from`, if it
/// is another), so the new name survives a power cut.
pub(crate) fn rename(from: &Path, to: &Path, durable: bool) -> Result<()> {
    if durable {
        File::open(from)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(from, "fsync", e))?;
    }
    fs::rename(from, to).map_err(|e| Error::io(to, "rename into place", e))?;
    if durable {
        sync_parent(to)?;
        if parent(from) != parent(to) {
            sync_parent(from)?;
        }
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs the directory holding `path`, so a rename or create of `path` is durable.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    sync_dir(parent(path))
}

/// fsyncs the directory `dir` itself, so the entries created or renamed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

/// True when `path` names a `.npy` file by its extension (any case): the
/// one test of it in the crate.
pub(crate) fn is_npy_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads into `buf` from `pos` until it is full or the file ends; returns
/// the bytes read (retrying interrupted reads).
pub(crate) fn read_at_most(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], pos + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A [`Read`] over a file from `pos` on, by positioned reads (no seek, so a
/// shared handle's cursor is untouched).
pub(crate) struct ReadAt<'a> {
    /// The file.
    pub file: &'a File,
    /// Where the next read starts.
    pub pos: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
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

    #[test]
    fn rename_moves_files_and_directories_durably() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, b"x").unwrap();
        rename(&a, &dir.path().join("b"), true).unwrap();
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"x");
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        rename(&dir.path().join("d"), &dir.path().join("sub/e"), true).unwrap();
        assert!(dir.path().join("sub/e").is_dir());
        let e = rename(&a, &dir.path().join("c"), false).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotFound), "{e}");
    }

    #[test]
    fn positioned_reads_stop_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"0123456789").unwrap();
        let f = File::open(&p).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read_at_most(&f, &mut buf, 4).unwrap(), 6);
        assert_eq!(&buf[..6], b"456789");
        let mut s = String::new();
        ReadAt { file: &f, pos: 7 }.read_to_string(&mut s).unwrap();
        assert_eq!(s, "789");
    }
}

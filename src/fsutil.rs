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
use crate::fault;

/// Opens a file to read and write in place, e.g. to append past its
/// committed length (`create`: a new, empty one, replacing any).
pub(crate) fn open_rw(path: &Path, create: bool, op: &'static str) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
        .map_err(|e| Error::io(path, op, e))
}

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
        let mut f = fault::point("atomic.create", &tmp)
            .and_then(|()| OpenOptions::new().write(true).create_new(true).open(&tmp))
            .map_err(|e| Error::io(&tmp, "create temporary file", e))?;
        fault::point("atomic.write", &tmp)
            .and_then(|()| f.write_all(bytes))
            .map_err(|e| Error::io(&tmp, "write temporary file", e))?;
        if durable {
            fault::point("atomic.fsync", &tmp)
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io(&tmp, "fsync", e))?;
        }
        match mode {
            Replace::Overwrite => fault::point("atomic.rename", path)
                .and_then(|()| fs::rename(&tmp, path))
                .map_err(|e| Error::io(path, "rename into place", e)),
            Replace::NoClobber => {
                // link(2) fails if the destination exists, so two writers
                // cannot both believe they created it.
                let r = fault::point("atomic.link", path)
                    .and_then(|()| fs::hard_link(&tmp, path))
                    .map_err(|e| {
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
        fault::point("rename.fsync", from)
            .and_then(|()| File::open(from))
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(from, "fsync", e))?;
    }
    fault::point("rename", to)
        .and_then(|()| fs::rename(from, to))
        .map_err(|e| Error::io(to, "rename into place", e))?;
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
    fault::point("sync_dir", dir)
        .and_then(|()| File::open(dir))
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

/// True when `path` names a `.npy` file by its extension (any case): the
/// one test of it in the crate.
pub(crate) fn is_npy_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Opens `path` for reading (and writing, with `write`) without blocking,
/// and refuses anything but a regular file: a FIFO, socket or device would
/// otherwise block the open or a read forever. A directory is
/// [`ErrorKind::IsDirectory`].
pub(crate) fn open_regular(path: &Path, write: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::IsADirectory => ErrorKind::IsDirectory.at(path),
            _ => Error::io(path, "open", e),
        })?;
    check_regular(&file, path)?;
    Ok(file)
}

/// [`open_regular`] for reading, without following a final symlink:
/// `None` when `path` is one (the caller decides whether to follow it),
/// else the file and its length, from the one `fstat` that also checks it
/// is regular.
pub(crate) fn open_regular_nofollow(path: &Path) -> Result<Option<(File, u64)>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::IsADirectory => {
            return Err(ErrorKind::IsDirectory.at(path))
        }
        Err(e) => return Err(Error::io(path, "open", e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
    if !meta.is_file() {
        check_regular(&file, path)?;
    }
    Ok(Some((file, meta.len())))
}

/// Refuses an open `file` that is not a regular file (see [`open_regular`]).
pub(crate) fn check_regular(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = file
        .metadata()
        .map_err(|e| Error::io(path, "stat", e))?
        .file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        return Err(ErrorKind::IsDirectory.at(path));
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else {
        "special file"
    };
    Err(ErrorKind::NotRegularFile { what }.at(path))
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
    hidden_sibling(path, "tmp")
}

/// `.NAME.TAG-PID-N` next to `path`: unique in this process, and telling
/// the next writer (by PID) whether it is stale.
fn hidden_sibling(path: &Path, tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}-{n}", std::process::id()))
}

/// Test hook (feature `test-helpers` only): when `MMARROW_TEST_PAUSE_AT`
/// names `step`, says so on stderr and waits to be killed, so that a test
/// can SIGKILL the process at exactly that point of a commit protocol.
pub(crate) fn pause_point(step: &str) {
    #[cfg(feature = "test-helpers")]
    if std::env::var_os("MMARROW_TEST_PAUSE_AT").is_some_and(|s| s == step) {
        eprintln!("mmarrow-test: paused at {step}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    #[cfg(not(feature = "test-helpers"))]
    let _ = step;
}

// ---- Output safety: file identity, recognisable temporaries, the
// raw + sidecar commit protocol (added for the output hardening).

/// True when `a` and `b` name the same file (device and inode), through
/// any hard link or symlink; false when either cannot be examined.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// True when `inner` (which may not exist yet) lies inside the directory
/// `outer`, at any depth, by the identity of `inner`'s ancestors.
pub(crate) fn is_inside(inner: &Path, outer: &Path) -> bool {
    let Ok(start) = parent(inner).canonicalize() else {
        return false;
    };
    start.ancestors().any(|a| same_file(a, outer))
}

/// A hidden, unique sibling name under which a destination being
/// replaced is kept until its replacement is in place (`.NAME.old-PID-N`).
pub(crate) fn old_sibling(path: &Path) -> PathBuf {
    hidden_sibling(path, "old")
}

/// The process id in `entry` when it is `.{name}.{tag}-PID-N`, followed by
/// nothing or (with `suffix_ok`) by `.` and anything (a temporary's sidecar).
fn leftover_pid(entry: &str, name: &str, tag: &str, suffix_ok: bool) -> Option<u32> {
    let rest = entry.strip_prefix('.')?.strip_prefix(name)?;
    let rest = rest
        .strip_prefix('.')?
        .strip_prefix(tag)?
        .strip_prefix('-')?;
    let (pid, rest) = rest.split_once('-')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    let tail_ok = tail.is_empty() || (suffix_ok && tail.starts_with('.'));
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) || digits == 0 || !tail_ok {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` may still be running. Without `/proc` (not
/// Linux) every process counts as live, so nothing is ever swept.
fn pid_is_live(pid: u32) -> bool {
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes a file, or a directory and everything in it.
fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) => Err(e),
    }
}

/// Cleans up after writers of `dst` that were killed: temporaries named
/// `.NAME.tmp-PID-N` (and their sidecars, `.NAME.tmp-PID-N.*`) of `dst` and
/// of each of `also` (its sidecar) whose PID is not a live process are
/// removed; and a destination left aside by an interrupted replacement
/// (`.NAME.old-PID-N`, dead PID) is put back when `dst` is missing, and
/// removed when `dst` exists (its replacement was in place). Live writers'
/// files are never touched.
///
/// # Errors
/// I/O errors while restoring a destination; failures to remove a
/// leftover are ignored (the next write retries).
pub(crate) fn sweep_leftovers(dst: &Path, also: &[&Path], durable: bool) -> Result<()> {
    let dir = parent(dst);
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = file_name(dst) else {
        return Ok(());
    };
    let names: Vec<String> = std::iter::once(Some(name.clone()))
        .chain(also.iter().map(|p| file_name(p)))
        .flatten()
        .collect();
    let mut olds = Vec::new();
    for e in entries.flatten() {
        let entry = e.file_name().to_string_lossy().into_owned();
        let stale_tmp = names
            .iter()
            .any(|n| leftover_pid(&entry, n, "tmp", true).is_some_and(|pid| !pid_is_live(pid)));
        if stale_tmp {
            let _ = remove_any(&e.path());
        } else if leftover_pid(&entry, &name, "old", false).is_some_and(|pid| !pid_is_live(pid)) {
            let modified = e.metadata().and_then(|m| m.modified()).ok();
            olds.push((modified, e.path()));
        }
    }
    // The newest one left aside is the destination as it was last.
    olds.sort();
    if let Some((_, newest)) = olds.last() {
        if fs::symlink_metadata(dst).is_err() {
            rename(newest, dst, durable)?;
            olds.pop();
        }
    }
    for (_, p) in olds {
        let _ = remove_any(&p);
    }
    Ok(())
}

/// A data file and the sidecar next to it (which may not exist); `None`
/// for a format that has none (Parquet, Arrow IPC).
#[derive(Clone, Copy)]
pub(crate) struct Pair<'a> {
    /// The data file.
    pub data: &'a Path,
    /// Its sidecar's path.
    pub sidecar: Option<&'a Path>,
}

/// Moves the finished array file `new` — data, and sidecar if it has one —
/// to `dst`, so that a crash at any moment leaves, at `dst`, the old pair,
/// the new pair, or data without a sidecar (which readers refuse with a
/// clear "no sidecar" error for a raw file; a `.npy` file describes itself):
/// never one file's header over the other's data. The protocol:
///
/// 1. remove `dst`'s sidecar, if any (and fsync the directory);
/// 2. rename the new data over `dst`;
/// 3. rename the new sidecar, if any, into place.
///
/// With [`Replace::NoClobber`], an existing `dst` or sidecar is
/// [`ErrorKind::AlreadyExists`] instead (hard links, so two writers cannot
/// both win). Every raw + sidecar commit goes through here. When
/// `durable`, the files are fsynced before and the directory after.
///
/// # Errors
/// I/O errors; `AlreadyExists` as above.
pub(crate) fn commit_pair(
    new: Pair<'_>,
    dst: Pair<'_>,
    mode: Replace,
    durable: bool,
) -> Result<()> {
    let new_sidecar = new.sidecar.filter(|p| fs::symlink_metadata(p).is_ok());
    if durable {
        for p in [Some(new.data), new_sidecar].into_iter().flatten() {
            File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(p, "fsync", e))?;
        }
    }
    let linked = |from: &Path, to: &Path| {
        fs::hard_link(from, to).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists.at(to),
            _ => Error::io(to, "create", e),
        })?;
        let _ = fs::remove_file(from);
        Ok::<(), Error>(())
    };
    match mode {
        Replace::NoClobber => {
            if let Some(sc) = dst.sidecar.filter(|p| fs::symlink_metadata(p).is_ok()) {
                return Err(ErrorKind::AlreadyExists.at(sc));
            }
            linked(new.data, dst.data)?;
            pause_point("data-placed");
            if let (Some(from), Some(to)) = (new_sidecar, dst.sidecar) {
                if let Err(e) = linked(from, to) {
                    // The data just linked is ours: take it back.
                    let _ = fs::remove_file(dst.data);
                    return Err(e);
                }
            }
        }
        Replace::Overwrite => {
            if let Some(sc) = dst.sidecar {
                match fault::point("pair.remove_sidecar", sc).and_then(|()| fs::remove_file(sc)) {
                    Ok(()) if durable => sync_parent(sc)?,
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(sc, "remove old sidecar", e)),
                }
            }
            pause_point("sidecar-removed");
            fault::point("pair.rename_data", dst.data)
                .and_then(|()| fs::rename(new.data, dst.data))
                .map_err(|e| Error::io(dst.data, "rename into place", e))?;
            pause_point("data-placed");
            if let (Some(from), Some(to)) = (new_sidecar, dst.sidecar) {
                if durable {
                    // The data's new name is durable before the sidecar's.
                    sync_parent(dst.data)?;
                }
                fault::point("pair.rename_sidecar", to)
                    .and_then(|()| fs::rename(from, to))
                    .map_err(|e| Error::io(to, "rename into place", e))?;
            }
        }
    }
    if durable {
        sync_parent(dst.data)?;
        if parent(new.data) != parent(dst.data) {
            sync_parent(new.data)?;
        }
    }
    Ok(())
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
    fn only_regular_files_open_and_a_fifo_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = open_regular(&fifo, false).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::NotRegularFile { what: "FIFO" }),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with("pipe: is a FIFO, not a regular file"),
            "{e}"
        );
        let e = open_regular(dir.path(), false).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::IsDirectory), "{e}");
        let e = open_regular(Path::new("/dev/null"), false).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotRegularFile { .. }), "{e}");
        let f = dir.path().join("f");
        fs::write(&f, b"x").unwrap();
        open_regular(&f, true).unwrap();
    }

    #[test]
    fn leftovers_are_recognised_only_by_their_exact_name() {
        assert_eq!(
            leftover_pid(".a.f32.tmp-12-0", "a.f32", "tmp", false),
            Some(12)
        );
        assert_eq!(
            leftover_pid(".a.f32.tmp-12-3.mmarrow.json", "a.f32", "tmp", true),
            Some(12)
        );
        assert_eq!(
            leftover_pid(".a.f32.tmp-12-3.mmarrow.json", "a.f32", "tmp", false),
            None
        );
        assert_eq!(leftover_pid(".t.old-7-1", "t", "old", false), Some(7));
        for other in [
            ".a.f32.tmp-12-",
            ".a.f32.tmp--0",
            ".a.f32.tmp-x-0",
            ".b.f32.tmp-1-0",
            "a.f32.tmp-1-0",
            ".a.f32.tmp-1-0x",
        ] {
            assert_eq!(leftover_pid(other, "a.f32", "tmp", true), None, "{other}");
        }
    }

    #[test]
    fn commit_pair_replaces_data_and_sidecar_and_removes_a_stale_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        for (n, b) in [
            ("t", "new"),
            ("t.sc", "new-sc"),
            ("d", "old"),
            ("d.sc", "old-sc"),
        ] {
            fs::write(p(n), b).unwrap();
        }
        let (t, tsc, d, dsc) = (p("t"), p("t.sc"), p("d"), p("d.sc"));
        let pair = |data, sidecar| Pair {
            data,
            sidecar: Some(sidecar),
        };
        let e = commit_pair(pair(&t, &tsc), pair(&d, &dsc), Replace::NoClobber, true).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AlreadyExists), "{e}");
        commit_pair(pair(&t, &tsc), pair(&d, &dsc), Replace::Overwrite, true).unwrap();
        assert_eq!(fs::read(&d).unwrap(), b"new");
        assert_eq!(fs::read(&dsc).unwrap(), b"new-sc");
        assert!(!t.exists() && !tsc.exists());
        // New data without a sidecar (a .npy) removes the old sidecar.
        fs::write(&t, b"npy").unwrap();
        commit_pair(pair(&t, &tsc), pair(&d, &dsc), Replace::Overwrite, false).unwrap();
        assert_eq!(fs::read(&d).unwrap(), b"npy");
        assert!(!dsc.exists());
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

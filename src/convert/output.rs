//! Outputs written under a temporary name and renamed into place at the
//! end, the summary of what was written, and background writeback.
//!
//! [`Output::write`] is the one place where errors about the temporary
//! name become errors about the destination the user gave.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::options::ConvertOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::format::sidecar::sidecar_path;
use crate::fsutil::{self, temp_sibling, Pair, Replace};
use crate::table::{TableWriter, TableWriterOptions};
use crate::write::Durability;

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Rows written.
    pub rows: u64,
    /// Bytes of array data read (uncompressed values).
    pub data_bytes: u64,
    /// Size of the output file.
    pub output_bytes: u64,
    /// Row groups (Parquet) or record batches (IPC) in the output or input.
    pub groups: usize,
    /// True when the page-level fast path wrote or read the Parquet data.
    pub fast_path: bool,
    /// True when [`ConvertOptions::if_stale`] found the destination built
    /// from the source as it is now, and did nothing (the other fields are
    /// then 0, but `rows`: the table's).
    pub up_to_date: bool,
}

/// Temporary outputs of conversions in progress, so that an interrupted
/// process can remove them ([`remove_temporary_outputs`]).
static ACTIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the temporary files of conversions still in progress. The CLI
/// calls it from its Ctrl-C handler; a library user can do the same.
pub fn remove_temporary_outputs() {
    if let Ok(list) = ACTIVE.lock() {
        for p in list.iter() {
            remove(p);
        }
    }
}

fn remove(p: &Path) {
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(p);
    } else {
        let _ = std::fs::remove_file(p);
        let _ = std::fs::remove_file(sidecar_path(p));
    }
}

/// What an [`Output`] writes, which decides what overwriting may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writes {
    /// A Parquet file.
    Parquet,
    /// An Arrow IPC file.
    Ipc,
    /// An array file: `.npy` by the destination's extension, raw + sidecar
    /// otherwise.
    Array,
    /// A table directory.
    Table,
}

impl Writes {
    /// The signature ([`signature`]) of a file of this format, `None` for
    /// raw data (which has none).
    fn signature(self, dst: &Path) -> Option<&'static str> {
        match self {
            Writes::Parquet => Some("a Parquet file"),
            Writes::Ipc => Some("an Arrow IPC file"),
            Writes::Array if crate::fsutil::is_npy_path(dst) => Some("a .npy file"),
            Writes::Array | Writes::Table => None,
        }
    }
}

/// What the first bytes of `path` say it is: Parquet, Arrow IPC, `.npy`,
/// or `None` (raw data, or anything else).
fn signature(path: &Path) -> Result<Option<&'static str>> {
    let f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let mut head = [0u8; 8];
    let n = fsutil::read_at_most(&f, &mut head, 0).map_err(|e| Error::io(path, "read", e))?;
    let head = &head[..n];
    Ok(if head.starts_with(b"PAR1") {
        Some("a Parquet file")
    } else if head.starts_with(b"ARROW1") {
        Some("an Arrow IPC file")
    } else if head.starts_with(b"\x93NUMPY") {
        Some("a .npy file")
    } else {
        None
    })
}

/// A destination being written under a temporary sibling name.
///
/// The contract (`docs/FORMAT.md` §4.3): the destination is created, or —
/// with [`ConvertOptions::overwrite`] — replaced, only once the output is
/// complete; overwriting replaces only a file of the format being written
/// (or an empty file) or a real mmarrow table that holds nothing but its
/// own files; the destination is never one of the inputs; a kill at any
/// moment leaves the old destination or the new one (a table left aside,
/// `.NAME.old-PID-N`, is put back or removed by the next write to it), and
/// the temporaries of killed writers (`.NAME.tmp-PID-N`) are removed by the
/// next write to the same destination.
pub(crate) struct Output {
    dst: PathBuf,
    tmp: PathBuf,
    writes: Writes,
    done: bool,
    durable: bool,
    overwrite: bool,
}

impl Output {
    /// Checks `dst` (see [`Output`]) against the source file `src` and
    /// picks a temporary name next to it, for a file in format `writes`.
    pub fn file(dst: &Path, writes: Writes, src: &Path, o: &ConvertOptions) -> Result<Self> {
        Self::new(dst, writes, src, o)
    }

    /// For a table directory read from `src`: `dst` may be an existing
    /// table when `o.overwrite` is set; it is replaced at the end.
    pub fn table(dst: &Path, src: &Path, o: &ConvertOptions) -> Result<Self> {
        Self::new(dst, Writes::Table, src, o)
    }

    fn new(dst: &Path, writes: Writes, src: &Path, o: &ConvertOptions) -> Result<Self> {
        let dst = dst.components().as_path();
        let parent = match dst.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(ErrorKind::InvalidRequest {
                reason: format!("directory {} does not exist", parent.display()),
            }
            .at(dst));
        }
        fsutil::sweep_leftovers(dst, &[&sidecar_path(dst)], o.durable)?;
        crate::write::check_not_an_input(dst, &[src])?;
        check_replaceable(dst, writes, o.overwrite)?;
        let tmp = temp_sibling(dst);
        if let Ok(mut list) = ACTIVE.lock() {
            list.push(tmp.clone());
        }
        Ok(Output {
            dst: dst.to_path_buf(),
            tmp,
            writes,
            done: false,
            durable: o.durable,
            overwrite: o.overwrite,
        })
    }

    /// Runs `write` on the temporary output ([`Output::path`]) and, when it
    /// succeeds, renames the output into place. An error about the
    /// temporary name, its sidecar or a file inside it (a table) is
    /// reported about the destination the user gave.
    pub fn write(
        mut self,
        write: impl FnOnce(&Output) -> Result<ConvertSummary>,
    ) -> Result<ConvertSummary> {
        let written = write(&self);
        let result = written.and_then(|s| self.commit().map(|()| s));
        result.map_err(|e| self.name_dst(e))
    }

    /// `e`, about the destination if it is about the temporary output.
    fn name_dst(&self, e: Error) -> Error {
        let dst = self.dst.as_path();
        let named = match e.path() {
            Some(p) if p == sidecar_path(&self.tmp) => sidecar_path(dst),
            Some(p) => match p.strip_prefix(&self.tmp) {
                Ok(rest) if rest.as_os_str().is_empty() => dst.to_path_buf(),
                Ok(rest) => dst.join(rest),
                Err(_) => return e,
            },
            None => return e,
        };
        e.into_kind().at(named)
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Whether the output is to be fsynced ([`ConvertOptions::durable`]).
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// Fsyncs `file` (the output, or a part of it) if the output is durable.
    pub fn sync(&self, file: &File) -> Result<()> {
        if self.durable {
            file.sync_all()
                .map_err(|e| Error::io(&self.tmp, "fsync", e))?;
        }
        Ok(())
    }

    /// Fsyncs the output file and its sidecar, if it has one, if the
    /// output is durable.
    pub fn sync_with_sidecar(&self) -> Result<()> {
        if !self.durable {
            return Ok(());
        }
        for p in [self.tmp.clone(), sidecar_path(&self.tmp)] {
            if p == self.tmp || p.exists() {
                File::open(&p)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&p, "fsync", e))?;
            }
        }
        Ok(())
    }

    /// Moves the finished (and fsynced) temporary output into place: a
    /// file (and its sidecar) by [`fsutil::commit_pair`], a table by
    /// [`Output::commit_table`].
    fn commit(&mut self) -> Result<()> {
        if self.writes == Writes::Table {
            return self.commit_table();
        }
        let mode = if self.overwrite {
            Replace::Overwrite
        } else {
            Replace::NoClobber
        };
        let (tmp_sc, dst_sc) = (sidecar_path(&self.tmp), sidecar_path(&self.dst));
        let array = self.writes == Writes::Array;
        let new = Pair {
            data: &self.tmp,
            sidecar: array.then_some(tmp_sc.as_path()),
        };
        let dst = Pair {
            data: &self.dst,
            sidecar: array.then_some(dst_sc.as_path()),
        };
        fsutil::commit_pair(new, dst, mode, self.durable)?;
        self.done = true;
        Ok(())
    }

    /// Replaces a table so that a kill at any moment leaves the old table
    /// or the new one: the old one is renamed aside to `.NAME.old-PID-N`
    /// (under its writer lock, so a table being appended to is never
    /// replaced), the new one renamed into place, then the old one removed.
    /// A directory cannot be renamed over a non-empty one, hence the aside;
    /// after a kill between the two renames, the next write to the
    /// destination puts the old table back ([`fsutil::sweep_leftovers`]).
    fn commit_table(&mut self) -> Result<()> {
        let dst = self.dst.clone();
        let aside = match std::fs::symlink_metadata(&dst) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&dst, "stat", e)),
            Ok(_) => {
                // Checked again: files may have appeared since the start.
                check_replaceable(&dst, Writes::Table, self.overwrite)?;
                let lock = crate::table::lock_for_replacement(&dst)?;
                let old = fsutil::old_sibling(&dst);
                fsutil::rename(&dst, &old, self.durable)?;
                Some((old, lock))
            }
        };
        fsutil::pause_point("table-aside");
        if let Err(e) = fsutil::rename(&self.tmp, &dst, self.durable) {
            if let Some((old, _)) = &aside {
                let _ = std::fs::rename(old, &dst);
            }
            return Err(e);
        }
        self.done = true;
        fsutil::pause_point("table-placed");
        if let Some((old, lock)) = aside {
            drop(lock);
            // A failure leaves a leftover that the next write removes.
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

/// Refuses a destination that writing `writes` there would wrongly
/// destroy; see [`Output`].
fn check_replaceable(dst: &Path, writes: Writes, overwrite: bool) -> Result<()> {
    let meta = match std::fs::metadata(dst) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let sc = sidecar_path(dst);
            if writes == Writes::Array && !overwrite && sc.exists() {
                return Err(ErrorKind::AlreadyExists.at(sc));
            }
            return Ok(());
        }
        Err(e) => return Err(Error::io(dst, "stat", e)),
    };
    let refuse = |reason: String| Err(ErrorKind::NotReplaceable { reason }.at(dst));
    if meta.is_dir() {
        return match writes {
            Writes::Table if overwrite => crate::table::check_replaceable(dst),
            Writes::Table => Err(ErrorKind::AlreadyExists.at(dst)),
            _ => Err(ErrorKind::IsDirectory.at(dst)),
        };
    }
    if !overwrite {
        return Err(ErrorKind::AlreadyExists.at(dst));
    }
    if writes == Writes::Table {
        return refuse("it is a file, not an mmarrow table".into());
    }
    if !meta.is_file() {
        return refuse("it is not a regular file".into());
    }
    let (found, want) = (signature(dst)?, writes.signature(dst));
    if meta.len() == 0 || found == want {
        return Ok(());
    }
    refuse(format!(
        "it is {}, and this writes {} (only a file of the format written, or an empty file, is replaced)",
        found.unwrap_or("raw data"),
        want.unwrap_or("a raw array file")
    ))
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.done {
            remove(&self.tmp);
        }
        if let Ok(mut list) = ACTIVE.lock() {
            list.retain(|p| p != &self.tmp);
        }
    }
}

/// Starts writeback of what has been written so far on a background thread,
/// so that the final fsync has little left to do. Each nudge runs one
/// `fdatasync` on a second handle of the output file (nudges coalesce).
pub(crate) struct Flusher {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread (none when `enabled` is false: nudges do nothing).
    pub(crate) fn start(file: &File, enabled: bool) -> Flusher {
        match file.try_clone() {
            // Errors surface at the final fsync, which is checked.
            Ok(clone) if enabled => Flusher::spawn(move || {
                let _ = clone.sync_data();
            }),
            _ => Flusher::off(),
        }
    }

    /// As [`Flusher::start`], for every file of the table directory `dir`
    /// (listed at each nudge, so files created later are included).
    pub(crate) fn start_dir(dir: &Path, enabled: bool) -> Flusher {
        if !enabled {
            return Flusher::off();
        }
        let dir = dir.to_path_buf();
        Flusher::spawn(move || {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if let Ok(f) = File::open(e.path()) {
                    let _ = f.sync_data();
                }
            }
        })
    }

    fn off() -> Flusher {
        Flusher {
            tx: None,
            thread: None,
        }
    }

    /// A thread that runs `sync` at each nudge (nudges coalesce).
    fn spawn(mut sync: impl FnMut() + Send + 'static) -> Flusher {
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                sync();
            }
        });
        Flusher {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    pub(crate) fn nudge(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    pub(crate) fn stop(mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A table writer for the temporary output `tmp`: the output is made
/// durable once, at the end.
pub(crate) fn table_writer(tmp: &Path, schema: arrow_schema::SchemaRef) -> Result<TableWriter> {
    TableWriterOptions::new()
        .overwrite(true)
        .durability(Durability::Process)
        .create(tmp, schema)
}

/// Commits the table and fsyncs its files and directory, ready for `out`
/// to rename.
pub(crate) fn finish_table(
    mut w: TableWriter,
    out: &Output,
    groups: usize,
) -> Result<ConvertSummary> {
    w.commit()?;
    let rows = w.committed_rows();
    drop(w);
    if out.durable() {
        // fsync every file once, then the directory entries, before the rename.
        for e in
            std::fs::read_dir(out.path()).map_err(|e| Error::io(out.path(), "read directory", e))?
        {
            let p = e
                .map_err(|e| Error::io(out.path(), "read directory", e))?
                .path();
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&p, "fsync", e))?;
        }
        crate::fsutil::sync_dir(out.path())?;
    }
    let output_bytes = std::fs::read_dir(out.path())
        .map_err(|e| Error::io(out.path(), "read directory", e))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(ConvertSummary {
        rows,
        data_bytes: output_bytes,
        output_bytes,
        groups,
        fast_path: false,
        up_to_date: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_about_the_temporary_output_name_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("cache");
        let out = Output::table(
            &dst,
            &dir.path().join("src.parquet"),
            &ConvertOptions::new(),
        )
        .unwrap();
        let about = |p: PathBuf| out.name_dst(ErrorKind::NotFound.at(p));
        assert_eq!(about(out.path().to_path_buf()).path(), Some(dst.as_path()));
        assert_eq!(
            about(out.path().join("a.values")).path(),
            Some(dst.join("a.values").as_path())
        );
        assert_eq!(
            about(sidecar_path(out.path())).path(),
            Some(sidecar_path(&dst).as_path())
        );
        // Another file whose name merely starts like the temporary one.
        let mut other = out.path().as_os_str().to_owned();
        other.push("x");
        assert_eq!(about(PathBuf::from(&other)).path(), Some(Path::new(&other)));
    }
}

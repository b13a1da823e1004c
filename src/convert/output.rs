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
use crate::fsutil::{self, temp_sibling};

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

/// A destination being written under a temporary sibling name.
pub(crate) struct Output {
    dst: PathBuf,
    tmp: PathBuf,
    done: bool,
    durable: bool,
}

impl Output {
    /// Checks `dst` (not a directory; absent unless `o.overwrite`) and picks
    /// a temporary name next to it.
    pub fn file(dst: &Path, o: &ConvertOptions) -> Result<Self> {
        Self::new(dst, o, false)
    }

    /// For a table directory: `dst` may be an existing table when
    /// `o.overwrite` is set; it is replaced at the end.
    pub fn table(dst: &Path, o: &ConvertOptions) -> Result<Self> {
        Self::new(dst, o, true)
    }

    fn new(dst: &Path, o: &ConvertOptions, table: bool) -> Result<Self> {
        let overwrite = o.overwrite;
        let parent = match dst.components().as_path().parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(ErrorKind::InvalidRequest {
                reason: format!("directory {} does not exist", parent.display()),
            }
            .at(dst));
        }
        match std::fs::metadata(dst) {
            Ok(m) if m.is_dir() && !(table && overwrite && crate::table::is_table(dst)) => {
                return Err(if table {
                    ErrorKind::AlreadyExists.at(dst)
                } else {
                    ErrorKind::IsDirectory.at(dst)
                })
            }
            Ok(_) if !overwrite => return Err(ErrorKind::AlreadyExists.at(dst)),
            _ => {}
        }
        let tmp = temp_sibling(dst.components().as_path());
        if let Ok(mut list) = ACTIVE.lock() {
            list.push(tmp.clone());
        }
        Ok(Output {
            dst: dst.to_path_buf(),
            tmp,
            done: false,
            durable: o.durable,
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
        let dst = self.dst.components().as_path();
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

    /// Renames the finished (and fsynced) temporary file — and its sidecar,
    /// if it has one — into place.
    fn commit(&mut self) -> Result<()> {
        if self.tmp.is_dir() && self.dst.is_dir() {
            // Replacing a table: not atomic (a directory cannot be renamed
            // over a non-empty one), but never partial.
            std::fs::remove_dir_all(&self.dst)
                .map_err(|e| Error::io(&self.dst, "remove old table", e))?;
        }
        fsutil::rename(&self.tmp, &self.dst, self.durable)?;
        let tmp_sc = sidecar_path(&self.tmp);
        if tmp_sc.exists() {
            fsutil::rename(&tmp_sc, &sidecar_path(&self.dst), self.durable)?;
        }
        self.done = true;
        Ok(())
    }
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
        let clone = if enabled { file.try_clone().ok() } else { None };
        let Some(clone) = clone else {
            return Flusher {
                tx: None,
                thread: None,
            };
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                // Errors surface at the final fsync, which is checked.
                let _ = clone.sync_data();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_about_the_temporary_output_name_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("cache");
        let out = Output::table(&dst, &ConvertOptions::new()).unwrap();
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

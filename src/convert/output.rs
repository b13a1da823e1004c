//! Outputs written under a temporary name and renamed into place at the end.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::options::ConvertOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::{self, temp_sibling};
use crate::sidecar::sidecar_path;

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

/// Rewrites an error about `dst`'s temporary sibling (or a file inside a
/// temporary table directory) to name `dst`, the path the user gave.
pub(crate) fn name_dst(mut e: Error, dst: &Path) -> Error {
    let Some(name) = dst.components().as_path().file_name() else {
        return e;
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    if let Some(p) = e.path_mut() {
        let mut rebuilt = PathBuf::new();
        let mut hit = false;
        for c in p.components() {
            let s = c.as_os_str().to_string_lossy();
            if !hit && s.starts_with(&prefix) {
                rebuilt.push(name);
                hit = true;
            } else {
                rebuilt.push(c);
            }
        }
        if hit {
            *p = rebuilt;
        }
    }
    e
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
    pub fn new(dst: &Path, o: &ConvertOptions) -> Result<Self> {
        Self::new_impl(dst, o, false)
    }

    /// For a table directory: `dst` may be an existing table when
    /// `o.overwrite` is set; it is replaced at [`Output::commit`].
    pub fn new_table(dst: &Path, o: &ConvertOptions) -> Result<Self> {
        Self::new_impl(dst, o, true)
    }

    /// Whether the output is to be fsynced ([`ConvertOptions::durable`]).
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// Fsyncs `file` (the output, or a part of it) if the output is durable.
    pub fn sync(&self, file: &std::fs::File) -> Result<()> {
        if self.durable {
            file.sync_all()
                .map_err(|e| Error::io(&self.tmp, "fsync", e))?;
        }
        Ok(())
    }

    fn new_impl(dst: &Path, o: &ConvertOptions, table: bool) -> Result<Self> {
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

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the finished (and fsynced) temporary file — and its sidecar,
    /// if it has one — into place.
    pub fn commit(mut self) -> Result<()> {
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

//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to `name` and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Writes a sidecar for `data` with raw JSON text.
    pub fn sidecar(&self, data: &Path, json: &str) {
        std::fs::write(mmarrow::format::sidecar_path(data), json).unwrap();
    }
}

pub fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// A .npy file (format 1.0) with the given header dict and data.
pub fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h.as_bytes());
    out.extend(data);
    out
}

/// Runs `f` again while it fails with [`mmarrow::ErrorKind::Locked`], for up to
/// five seconds. Tests that reopen a writer right after dropping one need
/// it: other tests of this binary spawn processes, and a child inherits
/// every open file description (and so every `flock`) between its fork and
/// its exec, which can keep a just-released lock held for a moment.
pub fn retry_locked<T>(mut f: impl FnMut() -> mmarrow::Result<T>) -> mmarrow::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(e)
                if matches!(e.kind(), mmarrow::ErrorKind::Locked)
                    && start.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            r => return r,
        }
    }
}

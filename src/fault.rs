//! Fault injection for the write paths' tests (feature `fault-injection`).
//!
//! Every step of a commit that can fail — a write, an fsync, a rename, a
//! length change — calls [`point`] with its name first. Without the feature
//! that call is an inlined `Ok(())`. With it, a test [`arm`]s one point to
//! fail on its n-th hit with an I/O error, runs a writer, and checks that
//! reopening gives the last committed state and that nothing is left behind
//! (`tests/it/faults.rs`, counted in docs/RELIABILITY.md).
//!
//! One fault is armed at a time, process-wide (writers use several
//! threads), and only steps on paths under the armed directory count, so
//! other tests running meanwhile are not hit; tests that arm faults hold
//! [`lock`].

/// A step on `path` that can fail: `Err` when the armed fault fires here.
#[inline]
pub(crate) fn point(name: &'static str, path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(feature = "fault-injection")]
    {
        imp::hit(name, path)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = (name, path);
        Ok(())
    }
}

#[cfg(feature = "fault-injection")]
pub use imp::{arm, disarm, lock, points_hit, record};

#[cfg(feature = "fault-injection")]
mod imp {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard};

    struct State {
        armed: Option<(String, u64)>,
        under: Option<PathBuf>,
        fired: bool,
        recording: bool,
        hits: Vec<&'static str>,
    }

    static STATE: Mutex<State> = Mutex::new(State {
        armed: None,
        under: None,
        fired: false,
        recording: false,
        hits: Vec::new(),
    });
    static TEST_LOCK: Mutex<()> = Mutex::new(());

    fn state() -> MutexGuard<'static, State> {
        STATE.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn hit(name: &'static str, path: &Path) -> std::io::Result<()> {
        let mut s = state();
        if !s.under.as_deref().is_some_and(|d| path.starts_with(d)) {
            return Ok(());
        }
        if s.recording {
            s.hits.push(name);
        }
        if let Some((point, left)) = &mut s.armed {
            if point == name {
                *left -= 1;
                if *left == 0 {
                    s.armed = None;
                    s.fired = true;
                    return Err(std::io::Error::other(format!("injected fault at {name}")));
                }
            }
        }
        Ok(())
    }

    /// Serialises the tests that inject faults (the state is process-wide).
    pub fn lock() -> MutexGuard<'static, ()> {
        TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the `nth` (1-based) hit of `point` on a path under `dir` fail
    /// with an I/O error.
    pub fn arm(dir: &Path, point: &str, nth: u64) {
        let mut s = state();
        s.under = Some(dir.to_path_buf());
        s.armed = Some((point.to_string(), nth.max(1)));
        s.fired = false;
    }

    /// Disarms; returns whether the armed fault fired.
    pub fn disarm() -> bool {
        let mut s = state();
        s.armed = None;
        std::mem::take(&mut s.fired)
    }

    /// Starts recording the points hit on paths under `dir` (`None`: stops).
    pub fn record(dir: Option<&Path>) {
        let mut s = state();
        s.recording = dir.is_some();
        s.under = dir.map(Path::to_path_buf);
        s.hits.clear();
    }

    /// The points hit since recording started, in order.
    pub fn points_hit() -> Vec<&'static str> {
        state().hits.clone()
    }
}

//! The conversions' one concurrency mechanism: scoped worker threads that
//! take the next unit (a row group, a page) from a shared counter.
//!
//! - [`ordered`] / [`ordered_with`]: units are decoded (or encoded) in
//!   parallel and handed to one consumer *in unit order*: the worker that
//!   made unit `k` waits for its turn, then passes it on. Memory is bounded
//!   by the workers: each holds at most one finished unit, so at most
//!   `threads` units are in memory, and no worker waits for a whole wave to
//!   finish. The generic Parquet writer, the Parquet reader for lists whose
//!   length is learnt from the data and the Parquet → table conversion use
//!   it; so does the page-level Parquet writer, whose turn only *places* a
//!   page (assigns its offset) while the write itself happens after the
//!   turn, in the worker ([`ordered_with`]'s `after`), so that pages are
//!   written in parallel, uncompressed ones straight from the map.
//! - [`unordered`]: the same workers without a turn, for units that go to
//!   places reserved up front (the positioned Parquet reader writes each
//!   row group at its own offset, so no order is needed and no worker ever
//!   waits for another).
//!
//! The first error stops every worker and is returned; a panic in a worker
//! stops the others too and is re-raised when the scope ends.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};

/// State shared by the workers of one run.
struct Shared<C> {
    next: AtomicUsize,
    failed: AtomicBool,
    first_error: Mutex<Option<Error>>,
    turn: Mutex<Turn<C>>,
    turn_changed: Condvar,
}

/// The consumer and whose turn it is.
struct Turn<C> {
    next: usize,
    failed: bool,
    consume: C,
}

impl<C> Shared<C> {
    fn new(consume: C) -> Self {
        Shared {
            next: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            first_error: Mutex::new(None),
            turn: Mutex::new(Turn {
                next: 0,
                failed: false,
                consume,
            }),
            turn_changed: Condvar::new(),
        }
    }

    /// Keeps the first error and wakes every worker waiting for a turn.
    fn fail(&self, e: Option<Error>) {
        self.failed.store(true, Ordering::Relaxed);
        if let Some(e) = e {
            if let Ok(mut f) = self.first_error.lock() {
                f.get_or_insert(e);
            }
        }
        self.lock_turn().failed = true;
        self.turn_changed.notify_all();
    }

    fn lock_turn(&self) -> MutexGuard<'_, Turn<C>> {
        self.turn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Stops the other workers if this one panics (they would otherwise wait
/// for its turn forever).
struct PanicGuard<'a, C>(&'a Shared<C>);

impl<C> Drop for PanicGuard<'_, C> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(None);
        }
    }
}

/// Runs `unit` for units `0..units` on `threads` workers (this thread and
/// `threads - 1` scoped ones), each with its own state from `init`.
fn run<S, C: Send>(
    threads: usize,
    units: usize,
    shared: &Shared<C>,
    init: &(impl Fn() -> Result<S> + Sync),
    unit: &(impl Fn(&mut S, usize) -> Result<()> + Sync),
) -> Result<()> {
    let worker = || {
        // Workers run decoders and encoders of other crates: a panic there
        // becomes the run's error (path-less; the conversion names the file).
        let _catching = crate::error::CatchScope::enter();
        let _guard = PanicGuard(shared);
        let mut state = match init() {
            Ok(s) => s,
            Err(e) => return shared.fail(Some(e)),
        };
        while !shared.failed.load(Ordering::Relaxed) {
            let k = shared.next.fetch_add(1, Ordering::Relaxed);
            if k >= units {
                return;
            }
            if let Err(e) = crate::error::catch_panic(None, "converting", || unit(&mut state, k)) {
                return shared.fail(Some(e));
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.min(units).max(1) {
            s.spawn(worker);
        }
        worker();
    });
    match shared.first_error.lock().ok().and_then(|mut e| e.take()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Makes units `0..units` with `make` on `threads` workers and hands each
/// to `consume` in unit order. See the module docs.
///
/// # Errors
/// The first error of `make` or `consume`.
pub(crate) fn ordered<T>(
    threads: usize,
    units: usize,
    make: impl Fn(usize) -> Result<T> + Sync,
    consume: impl FnMut(usize, T) -> Result<()> + Send,
) -> Result<()> {
    ordered_with(
        threads,
        units,
        || Ok(()),
        |(), k| make(k),
        consume,
        |(), _, ()| Ok(()),
    )
}

/// [`ordered`] with per-worker state (`init`, e.g. reused buffers and a
/// codec) and a step `after` that runs in the worker once its unit has been
/// consumed, with what `consume` returned, outside the turn.
///
/// # Errors
/// The first error of any step.
pub(crate) fn ordered_with<S, T, R>(
    threads: usize,
    units: usize,
    init: impl Fn() -> Result<S> + Sync,
    make: impl Fn(&mut S, usize) -> Result<T> + Sync,
    consume: impl FnMut(usize, T) -> Result<R> + Send,
    after: impl Fn(&mut S, usize, R) -> Result<()> + Sync,
) -> Result<()> {
    let shared = Shared::new(consume);
    let unit = |state: &mut S, k: usize| -> Result<()> {
        let made = make(state, k)?;
        let consumed = {
            let mut turn = shared.lock_turn();
            while turn.next != k && !turn.failed {
                turn = shared
                    .turn_changed
                    .wait(turn)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if turn.failed {
                return Ok(()); // another worker's error is the one returned
            }
            match (turn.consume)(k, made) {
                Ok(r) => {
                    turn.next += 1;
                    shared.turn_changed.notify_all();
                    r
                }
                // No later unit may be consumed after a failed one: mark the
                // run failed before the turn is released.
                Err(e) => {
                    turn.failed = true;
                    return Err(e);
                }
            }
        };
        after(state, k, consumed)
    };
    run(threads, units, &shared, &init, &unit)?;
    if shared.lock_turn().next != units {
        return Err(Error::new(ErrorKind::Internal {
            reason: "a worker thread stopped early".into(),
        }));
    }
    Ok(())
}

/// Runs `work` for units `0..units` on `threads` workers, in no particular
/// order, each worker with its own state from `init`.
///
/// # Errors
/// The first error of `init` or `work`.
pub(crate) fn unordered<S>(
    threads: usize,
    units: usize,
    init: impl Fn() -> Result<S> + Sync,
    work: impl Fn(&mut S, usize) -> Result<()> + Sync,
) -> Result<()> {
    run(threads, units, &Shared::new(()), &init, &work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumes_units_in_order_whatever_the_thread_count() {
        for threads in [1, 2, 5] {
            let mut seen = Vec::new();
            ordered(
                threads,
                50,
                |k| Ok(k * 2),
                |k, v| {
                    assert_eq!(v, k * 2);
                    seen.push(k);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..50).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_first_error_stops_the_run() {
        let e = ordered(
            3,
            1000,
            |k| {
                if k == 7 {
                    Err(Error::new(ErrorKind::Internal {
                        reason: "unit 7".into(),
                    }))
                } else {
                    Ok(k)
                }
            },
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "unit 7");
        let e = unordered(
            2,
            10,
            || Ok(()),
            |(), k| {
                if k == 3 {
                    Err(Error::new(ErrorKind::Internal {
                        reason: "three".into(),
                    }))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "three");
    }

    #[test]
    fn nothing_is_consumed_after_a_failed_consume() {
        for threads in [1, 2, 4] {
            let mut seen = Vec::new();
            let e = ordered(threads, 100, Ok, |k, _| {
                seen.push(k);
                if k == 5 {
                    return Err(Error::new(ErrorKind::Internal {
                        reason: "consume 5".into(),
                    }));
                }
                Ok(())
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "consume 5");
            assert_eq!(seen, (0..=5).collect::<Vec<_>>(), "{threads} threads");
        }
    }

    #[test]
    fn a_panicking_unit_becomes_the_error_and_stops_the_run() {
        for threads in [1, 2, 3] {
            let e = ordered(
                threads,
                100,
                |k| {
                    if k == 3 {
                        panic!("decoder bug at {k}");
                    }
                    Ok(k)
                },
                |_, _| Ok(()),
            )
            .unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Panicked { .. }), "{e}");
            assert!(e.to_string().contains("decoder bug at 3"), "{e}");
            let e = unordered(
                threads,
                10,
                || Ok(()),
                |(), k| {
                    assert!(k != 4, "worker bug");
                    Ok(())
                },
            )
            .unwrap_err();
            assert!(e.to_string().contains("worker bug"), "{e}");
        }
    }

    #[test]
    fn zero_units_run_nothing() {
        ordered(4, 0, |_| -> Result<()> { unreachable!() }, |_, ()| Ok(())).unwrap();
    }
}

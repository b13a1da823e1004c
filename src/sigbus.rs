//! A SIGBUS handler that names the file whose map was hit.
//!
//! When another process truncates a file while it is mapped, touching a
//! page past the new end raises `SIGBUS`, and the process dies with no word
//! about which file (see the crate docs, "Soundness and the mapping
//! hazard"). [`install_handler`] replaces that death with one line on
//! stderr,
//!
//! ```text
//! mmarrow: data/emb.f32: the file was truncated while mapped (SIGBUS)
//! ```
//!
//! the removal of the temporary outputs of conversions in progress
//! ([`crate::convert::remove_temporary_outputs`]), and an exit with the code
//! you choose. The `mmarrow` command-line tool installs it with code 2
//! (the input is at fault).
//!
//! How: every map mmarrow makes is recorded, with its file, in a registry
//! that the handler can read without allocating or locking. The handler
//! writes the line, then wakes a thread (started by `install_handler`) that
//! removes the temporary outputs in ordinary code and exits; the faulting
//! thread waits for it, at most 10 seconds, then exits by itself. A `SIGBUS`
//! at an address outside mmarrow's maps goes to the disposition that was in
//! place before `install_handler` (for a Rust program: the standard
//! library's, then the default: the process dies of `SIGBUS`).

use crate::error::Result;

/// Installs the SIGBUS handler described in the [module docs](self), for
/// the whole process. Calling it again only changes the exit code.
///
/// Not to be combined with other SIGBUS handlers: a process has one
/// handler per signal. A handler installed *after* this one replaces it
/// (mmarrow's maps are no longer named) unless it passes faults it does not
/// own on to the handler it replaced; one installed *before* gets the
/// faults outside mmarrow's maps, but only the first of them (this handler
/// restores it and steps aside). Programs that use SIGBUS themselves (a JVM,
/// a Go runtime, another mapping library with its own handler) should not
/// call this.
///
/// # Errors
/// [`crate::ErrorKind::Io`] if the pipe, the clean-up thread or the
/// `sigaction` call cannot be made.
///
/// # Example
/// ```
/// # fn main() -> mmarrow::Result<()> {
/// // At the start of `main`, before opening files:
/// mmarrow::sigbus::install_handler(2)?;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("x.f32");
/// # std::fs::write(&path, [0u8; 16]).unwrap();
/// let array = mmarrow::OpenOptions::new().try_with_dtype("f4")?.open(&path)?;
/// // If another process truncates x.f32 now, reading it prints
/// // "mmarrow: …/x.f32: the file was truncated while mapped (SIGBUS)"
/// // and exits with code 2 instead of dying without a word.
/// assert_eq!(array.len(), 4);
/// # Ok(()) }
/// ```
pub fn install_handler(exit_code: u8) -> Result<()> {
    crate::map::install_sigbus_handler(exit_code, crate::convert::remove_temporary_outputs)
}

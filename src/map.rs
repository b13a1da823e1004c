//! File → map → Arrow buffer. The only module with `unsafe` code.
//!
//! Every mapped buffer is owned by one type, [`MappedRegion`]; an Arrow
//! [`Buffer`] over it holds the region alive through a reference count, so
//! arrays built from the map stay valid after the `MmArray` that made them
//! is dropped. See the crate docs ("Soundness and the mapping hazard") for what a map
//! cannot protect against.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicUsize, Ordering};

use arrow_buffer::{Buffer, MutableBuffer};

use crate::dtype::{Dtype, Element};
use crate::error::{Error, ErrorKind, Result};

/// The owner of one read-only memory map. Arrow buffers built by mmarrow
/// over mapped data keep an `Arc` to it; the map is unmapped when the last
/// of them is dropped.
#[derive(Debug)]
pub struct MappedRegion {
    // Declared first so it drops first: the range leaves the registry
    // before it is unmapped and can be reused by another map.
    _live: Option<LiveMap>,
    map: memmap2::Mmap,
}

impl AsRef<[u8]> for MappedRegion {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

/// Maps the first `len` bytes of `file` read-only and returns them as one
/// Arrow buffer. `len` must not exceed the file size (the caller checked it
/// against `fstat`), so no page of the map lies past the end of the file.
pub(crate) fn map_prefix(file: &File, path: &Path, len: u64) -> Result<Buffer> {
    if len == 0 {
        // An empty buffer with arrow's aligned dangling pointer.
        return Ok(MutableBuffer::new(0).into());
    }
    let len_usize =
        usize::try_from(len).map_err(|_| ErrorKind::TooLarge { bytes: len }.at(path))?;
    // SAFETY: the map is read-only and private to this process; the caller
    // has checked that `len` bytes exist. The remaining hazard — another
    // process truncating or rewriting the file while it is mapped — cannot be
    // excluded by any mmap-based reader. mmarrow accepts it for its safe
    // `open` by a deliberate choice (numpy.memmap parity), stated once in the
    // crate docs ("Soundness and the mapping hazard").
    let map = unsafe { memmap2::MmapOptions::new().len(len_usize).map(file) }
        .map_err(|e| Error::io(path, "mmap", e))?;
    let region = MappedRegion {
        _live: LiveMap::register(map.as_ptr(), map.len(), path),
        map,
    };
    Ok(Buffer::from(bytes::Bytes::from_owner(region)))
}

/// A writable map ([`map_mut`]): dereferences to the `memmap2` map and
/// keeps its address range in the registry of live maps while it lives.
#[derive(Debug)]
pub(crate) struct MapMut {
    live: Option<LiveMap>,
    map: memmap2::MmapMut,
}

impl std::ops::Deref for MapMut {
    type Target = memmap2::MmapMut;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl std::ops::DerefMut for MapMut {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.map
    }
}

/// Maps the first `len` bytes of `file` writable: shared (changes reach the
/// file) or private copy-on-write (changes stay in this process). The file
/// must be at least `len` bytes long.
pub(crate) fn map_mut(file: &File, path: &Path, len: u64, private: bool) -> Result<MapMut> {
    let len = usize::try_from(len).map_err(|_| ErrorKind::TooLarge { bytes: len }.at(path))?;
    let mut opts = memmap2::MmapOptions::new();
    opts.len(len);
    // SAFETY: the caller checked that `len` bytes exist and holds the
    // writer lock for shared maps; the returned map is owned by a single
    // `MmArrayMut`, whose `&mut self` methods are the only way to mutate it,
    // so no Arrow buffer can alias it until `freeze` makes it read-only. The
    // remaining hazard (another process truncating the file) is the crate-level
    // "mapping hazard".
    let map = unsafe {
        if private {
            opts.map_copy(file)
        } else {
            opts.map_mut(file)
        }
    };
    let map = map.map_err(|e| Error::io(path, "mmap", e))?;
    Ok(MapMut {
        live: LiveMap::register(map.as_ptr(), map.len(), path),
        map,
    })
}

/// Turns a writable map into a read-only one owned by [`MappedRegion`] and
/// returns it as one Arrow buffer. Nothing can write through it afterwards.
pub(crate) fn freeze(map: MapMut, path: &Path) -> Result<Buffer> {
    let MapMut { live, map } = map;
    // mprotect keeps the address range, so the registration carries over.
    let map = map
        .make_read_only()
        .map_err(|e| Error::io(path, "mprotect", e))?;
    Ok(Buffer::from(bytes::Bytes::from_owner(MappedRegion {
        _live: live,
        map,
    })))
}

/// Views `bytes` as elements of `T`, if aligned and a whole number of them.
pub(crate) fn cast_slice<T: Element>(bytes: &[u8]) -> Option<&[T]> {
    if bytes.is_empty() {
        return Some(&[]);
    }
    let size = std::mem::size_of::<T>();
    if !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>())
        || !bytes.len().is_multiple_of(size)
    {
        return None;
    }
    // SAFETY: alignment and length were checked just above; `Element` is
    // sealed and implemented only for plain integers and floats, for which
    // every bit pattern is a valid value; the lifetime is the input's.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// Mutable version of [`cast_slice`].
pub(crate) fn cast_slice_mut<T: Element>(bytes: &mut [u8]) -> Option<&mut [T]> {
    if bytes.is_empty() {
        return Some(&mut []);
    }
    let size = std::mem::size_of::<T>();
    if !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>())
        || !bytes.len().is_multiple_of(size)
    {
        return None;
    }
    // SAFETY: as in `cast_slice`; the exclusive borrow of `bytes` moves to
    // the returned slice, so no other reference can observe the memory.
    Some(unsafe {
        std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), bytes.len() / size)
    })
}

/// Proof that a caller vouched for a table's files (see
/// `TableOptions::trusted`): only an `unsafe fn` can make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trusted(());

impl Trusted {
    /// # Safety
    /// The files the token is used with must satisfy everything
    /// [`ArrayDataBuilder::build`] checks: offsets monotonic and within the
    /// values, UTF-8 where the type says so, null counts matching the bitmaps.
    pub(crate) unsafe fn vouch() -> Trusted {
        Trusted(())
    }
}

/// Array data assembled from mapped files whose *layout* has been checked
/// (buffer sizes and alignment, child lengths, the ends of offsets: Arrow's
/// O(1)-per-node `ArrayData::validate`) but whose *contents* have not
/// (every offset, UTF-8, dictionary keys, union type ids, null counts).
///
/// It is sound to hold and to inspect as bytes; it is handed out as Arrow
/// data only through [`Unvalidated::full`] (Arrow's full validation),
/// [`Unvalidated::range`] (a row range, after a validator that must check
/// everything `validate_full` would for that range), or
/// [`Unvalidated::trusted`] (a caller of an `unsafe fn` vouched for it).
#[derive(Debug, Clone)]
pub(crate) struct Unvalidated(arrow_data::ArrayData);

impl Unvalidated {
    /// Builds the data, taking `nulls` from `null_count` without counting
    /// the bitmap, and checks its layout.
    ///
    /// # Errors
    /// Arrow's layout errors.
    pub(crate) fn new(
        builder: arrow_data::ArrayDataBuilder,
    ) -> std::result::Result<Unvalidated, arrow_schema::ArrowError> {
        // SAFETY: the data never leaves `Unvalidated` except through `full`
        // (Arrow's full validation), `range` (a complete validator of the
        // range) or `trusted` (vouched for by an `unsafe fn`'s caller). Until
        // then it is only inspected: `validate` below and the validators
        // are written for data that may be invalid (they check sizes before
        // they index).
        let data = unsafe { builder.build_unchecked() };
        data.validate()?;
        Ok(Unvalidated(data))
    }

    /// The data, for reading lengths and offsets while validating.
    pub(crate) fn peek(&self) -> &arrow_data::ArrayData {
        &self.0
    }

    /// The whole data, after Arrow's full validation.
    ///
    /// # Errors
    /// Arrow's validation errors.
    pub(crate) fn full(
        &self,
    ) -> std::result::Result<arrow_data::ArrayData, arrow_schema::ArrowError> {
        self.0.validate_full()?;
        Ok(self.0.clone())
    }

    /// Elements `offset..offset + len`, after `validator` accepted them; the
    /// validator must check everything Arrow's `validate_full` checks for
    /// that slice (the table reader's range validator does).
    ///
    /// # Errors
    /// The validator's.
    pub(crate) fn range<E>(
        &self,
        offset: usize,
        len: usize,
        validator: impl FnOnce(&arrow_data::ArrayData) -> std::result::Result<(), E>,
    ) -> std::result::Result<arrow_data::ArrayData, E> {
        let slice = slice_data(&self.0, offset, len);
        validator(&slice)?;
        Ok(slice)
    }

    /// The whole data unvalidated, for a caller that vouched for it.
    pub(crate) fn trusted(&self, _vouched: &Trusted) -> arrow_data::ArrayData {
        self.0.clone()
    }
}

/// Elements `offset..offset + len` of `d`, for every type in the form
/// `StructArray::from(ArrayData)` expects: a struct's children are not
/// sliced, its offset moves (`ArrayData::slice` slices them *and* moves the
/// offset, which `StructArray` then applies twice).
///
/// # Panics
/// If the range is outside `d`.
pub(crate) fn slice_data(
    d: &arrow_data::ArrayData,
    offset: usize,
    len: usize,
) -> arrow_data::ArrayData {
    assert!(
        offset.checked_add(len).is_some_and(|end| end <= d.len()),
        "slice out of range"
    );
    if !matches!(d.data_type(), arrow_schema::DataType::Struct(_)) {
        return d.slice(offset, len);
    }
    let nulls = d.nulls().map(|n| n.slice(offset, len));
    let builder = d
        .clone()
        .into_builder()
        .offset(d.offset() + offset)
        .len(len)
        .nulls(nulls);
    // SAFETY: the range lies inside `d` (asserted above) and nothing else
    // changes: the result is valid exactly when `d` is, as for the other
    // types' `ArrayData::slice`.
    unsafe { builder.build_unchecked() }
}

/// Copies `bytes` into a new 64-byte-aligned buffer, byte-swapping each
/// element when `swap` is set. This is the explicit-copy path for
/// misaligned or big-endian data.
pub(crate) fn copy_native(bytes: &[u8], dtype: &Dtype, swap: bool) -> Buffer {
    let mut out = MutableBuffer::from_len_zeroed(bytes.len());
    out.as_slice_mut().copy_from_slice(bytes);
    let unit = dtype.swap_unit();
    if swap && unit > 1 {
        for chunk in out.as_slice_mut().chunks_exact_mut(unit) {
            chunk.reverse();
        }
    }
    out.into()
}

// ---------------------------------------------------------------------------
// The registry of live maps and the SIGBUS handler (`crate::sigbus`).
//
// A touched page past the end of a truncated file raises SIGBUS in the
// thread that touched it. The handler may only use async-signal-safe code:
// no allocation, no lock the interrupted code may hold. So the registry is
// a list of fixed-size chunks of slots made of atomics; chunks are
// allocated (in ordinary code, by `register`) but never freed, so the
// handler can walk them without synchronisation beyond atomic loads. Each
// slot holds an address range and the message line about its file, rendered
// when the map was made.

/// Slots per chunk of the registry.
const SLOTS: usize = 64;
/// Slot states.
const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const LIVE: u8 = 2;

struct Slot {
    state: AtomicU8,
    /// Signal handlers reading this slot: `unregister` waits for them
    /// before freeing the message.
    readers: AtomicUsize,
    start: AtomicUsize,
    end: AtomicUsize,
    /// The message line, a leaked `Box<[u8]>` of `msg_len` bytes.
    msg: AtomicPtr<u8>,
    msg_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)] // a template: each use is a new slot
const EMPTY_SLOT: Slot = Slot {
    state: AtomicU8::new(FREE),
    readers: AtomicUsize::new(0),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    msg: AtomicPtr::new(std::ptr::null_mut()),
    msg_len: AtomicUsize::new(0),
};

struct Chunk {
    slots: [Slot; SLOTS],
    next: AtomicPtr<Chunk>,
}

/// The newest chunk; each links to the one before it.
static CHUNKS: AtomicPtr<Chunk> = AtomicPtr::new(std::ptr::null_mut());

/// The chunks, newest first.
fn chunks() -> impl Iterator<Item = &'static Chunk> {
    let mut next = CHUNKS.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: chunks are leaked boxes, never freed, published with
        // Release after being fully initialised.
        let chunk: &'static Chunk = unsafe { next.as_ref()? };
        next = chunk.next.load(Ordering::Acquire);
        Some(chunk)
    })
}

/// An address range in the registry of live maps; removed on drop.
struct LiveMap {
    slot: &'static Slot,
}

impl std::fmt::Debug for LiveMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveMap")
    }
}

impl LiveMap {
    /// Records that `len` bytes from `start` map `path`. `None` only if
    /// the range is empty.
    fn register(start: *const u8, len: usize, path: &Path) -> Option<LiveMap> {
        if len == 0 {
            return None;
        }
        let msg = truncated_message(path).into_boxed_slice();
        let slot = claim_slot();
        slot.start.store(start as usize, Ordering::Relaxed);
        slot.end.store(start as usize + len, Ordering::Relaxed);
        slot.msg_len.store(msg.len(), Ordering::Relaxed);
        slot.msg
            .store(Box::into_raw(msg).cast::<u8>(), Ordering::Relaxed);
        slot.state.store(LIVE, Ordering::Release);
        Some(LiveMap { slot })
    }
}

impl Drop for LiveMap {
    fn drop(&mut self) {
        let slot = self.slot;
        slot.state.store(CLAIMED, Ordering::SeqCst);
        // A handler that counted itself in before the store above may still
        // read the message; one that counts itself in after it sees CLAIMED.
        while slot.readers.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
        let msg = slot.msg.swap(std::ptr::null_mut(), Ordering::Relaxed);
        let len = slot.msg_len.load(Ordering::Relaxed);
        // SAFETY: `msg` is the `Box<[u8]>` of `len` bytes leaked by
        // `register`; no handler reads it any more (readers is 0 and the
        // slot is not LIVE), and the slot is ours until marked FREE.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(msg, len)) });
        slot.state.store(FREE, Ordering::Release);
    }
}

/// A free slot, now CLAIMED by the caller; a new chunk if none is free.
fn claim_slot() -> &'static Slot {
    for chunk in chunks() {
        for slot in &chunk.slots {
            if slot
                .state
                .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return slot;
            }
        }
    }
    let chunk: &'static Chunk = Box::leak(Box::new(Chunk {
        slots: [EMPTY_SLOT; SLOTS],
        next: AtomicPtr::new(std::ptr::null_mut()),
    }));
    chunk.slots[0].state.store(CLAIMED, Ordering::Relaxed);
    let mut head = CHUNKS.load(Ordering::Acquire);
    loop {
        chunk.next.store(head, Ordering::Relaxed);
        let new = (chunk as *const Chunk).cast_mut();
        match CHUNKS.compare_exchange(head, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return &chunk.slots[0],
            Err(h) => head = h,
        }
    }
}

/// The line the handler prints about `path`, control characters escaped
/// so that a file name cannot drive the terminal.
fn truncated_message(path: &Path) -> Vec<u8> {
    let name: String = path
        .display()
        .to_string()
        .chars()
        .flat_map(|c| -> Box<dyn Iterator<Item = char>> {
            if c.is_control() {
                Box::new(c.escape_default())
            } else {
                Box::new(std::iter::once(c))
            }
        })
        .collect();
    format!("mmarrow: {name}: the file was truncated while mapped (SIGBUS)\n").into_bytes()
}

/// Runs `f` on the message of the live map holding `addr`, if any.
/// Async-signal-safe: atomics only.
fn with_live_map(addr: usize, mut f: impl FnMut(&[u8])) -> bool {
    for chunk in chunks() {
        for slot in &chunk.slots {
            slot.readers.fetch_add(1, Ordering::SeqCst);
            let hit = slot.state.load(Ordering::SeqCst) == LIVE
                && (slot.start.load(Ordering::Relaxed)..slot.end.load(Ordering::Relaxed))
                    .contains(&addr);
            if hit {
                let msg = slot.msg.load(Ordering::Relaxed);
                let len = slot.msg_len.load(Ordering::Relaxed);
                // SAFETY: the slot is LIVE and counted as read by us, so
                // `Drop for LiveMap` cannot free the message meanwhile.
                f(unsafe { std::slice::from_raw_parts(msg, len) });
            }
            slot.readers.fetch_sub(1, Ordering::SeqCst);
            if hit {
                return true;
            }
        }
    }
    false
}

/// The disposition of SIGBUS before ours, for faults outside mmarrow's maps.
static PREVIOUS: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();
/// The exit code after a truncated map (`sigbus::install_handler`).
static EXIT_CODE: AtomicI32 = AtomicI32::new(2);
/// Set by the first handler that reports; later faults only wait for the exit.
static REPORTED: AtomicBool = AtomicBool::new(false);
/// Write end of the pipe that wakes the clean-up thread.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// How long the faulting thread waits for the clean-up before exiting anyway.
const CLEANUP_WAIT_MS: u64 = 10_000;

/// Installs the SIGBUS handler (once) and the thread that removes the
/// temporary outputs of conversions after a truncated map. See
/// [`crate::sigbus::install_handler`].
pub(crate) fn install_sigbus_handler(exit_code: u8, cleanup: fn()) -> Result<()> {
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    EXIT_CODE.store(i32::from(exit_code), Ordering::Relaxed);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    let fail = |op: &'static str| Error::new(ErrorKind::io(op, std::io::Error::last_os_error()));
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(fail("SIGBUS handler: pipe"));
    }
    let [read_fd, write_fd] = fds;
    std::thread::Builder::new()
        .name("mmarrow-sigbus".into())
        .spawn(move || cleanup_after_sigbus(read_fd, cleanup))
        .map_err(|e| Error::new(ErrorKind::io("SIGBUS handler: spawn", e)))?;
    WAKE_FD.store(write_fd, Ordering::Release);
    // SAFETY: sigaction with a null new action only reads the current one
    // into `old`, a plain C struct that zeroes are valid for.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as just said.
    if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) } != 0 {
        return Err(fail("SIGBUS handler: sigaction"));
    }
    let _ = PREVIOUS.set(old);
    // SAFETY: zeroes are a valid `sigaction`; the fields are set below.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `new` is a valid action whose handler is async-signal-safe
    // (`on_sigbus`); `sa_mask` is a valid sigset to empty.
    let ok = unsafe {
        libc::sigemptyset(&mut new.sa_mask);
        libc::sigaction(libc::SIGBUS, &new, std::ptr::null_mut())
    };
    if ok != 0 {
        return Err(fail("SIGBUS handler: sigaction"));
    }
    *installed = true;
    Ok(())
}

/// The clean-up thread: waits for the handler's wake-up, runs `cleanup`
/// (removing the temporary outputs) in ordinary (not signal) context, and
/// exits. The clean-up is passed in, so this module depends on no other.
fn cleanup_after_sigbus(read_fd: libc::c_int, cleanup: fn()) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into `byte` from a pipe this thread owns.
        let n = unsafe { libc::read(read_fd, (&raw mut byte).cast(), 1) };
        if n == 1 {
            break;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
    cleanup();
    // SAFETY: _exit ends the process without running atexit handlers or
    // flushing buffers that a stopped thread may hold locked.
    unsafe { libc::_exit(EXIT_CODE.load(Ordering::Relaxed)) }
}

/// The SIGBUS handler. Async-signal-safe: atomics, write(2), nanosleep(2),
/// sigaction(2), raise(3) and _exit(2) only.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler;
    // si_addr is the faulting address for a kernel-raised SIGBUS.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code > 0: raised by the kernel for a fault (not kill/raise/sigqueue).
    let ours = code > 0
        && with_live_map(addr, |msg| {
            if !REPORTED.swap(true, Ordering::SeqCst) {
                // SAFETY: writes `msg`, a live byte slice, to stderr.
                let _ = unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
                let fd = WAKE_FD.load(Ordering::Acquire);
                // SAFETY: writes one byte from a local to the wake-up pipe.
                let _ = unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
            }
        });
    if !ours {
        // Not a map of ours: give the fault back to the previous
        // disposition (the faulting access repeats when we return; a sent
        // signal is raised again, and delivered once we return).
        // SAFETY: restores a disposition read by sigaction, or the default.
        unsafe {
            match PREVIOUS.get() {
                Some(old) => libc::sigaction(libc::SIGBUS, old, std::ptr::null_mut()),
                None => {
                    libc::signal(libc::SIGBUS, libc::SIG_DFL);
                    0
                }
            };
            if code <= 0 {
                libc::raise(libc::SIGBUS);
            }
        }
        return;
    }
    // The clean-up thread exits the process; returning would repeat the
    // fault. Wait for it, but not forever.
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    for _ in 0..CLEANUP_WAIT_MS / 100 {
        // SAFETY: sleeps; `pause` is a valid timespec.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
    }
    // SAFETY: ends the process at once (async-signal-safe).
    unsafe { libc::_exit(EXIT_CODE.load(Ordering::Relaxed)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn mapped_buffer_points_into_the_file_and_outlives_its_maker() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let buf = map_prefix(&f, Path::new("t"), 6).unwrap();
        drop(f);
        assert_eq!(buf.as_slice(), &[1, 2, 3, 4, 5, 6]);
        // Page-aligned: the map starts on a page boundary.
        assert_eq!(buf.as_ptr() as usize % 4096, 0);
    }

    #[test]
    fn copy_native_swaps_each_element() {
        let d = Dtype::parse(">i4").unwrap();
        let b = copy_native(&[0, 0, 0, 1, 0, 0, 1, 0], &d, true);
        assert_eq!(b.as_slice(), &[1, 0, 0, 0, 0, 1, 0, 0]);
        let c = Dtype::parse(">c8").unwrap();
        let b = copy_native(&[0, 0, 0, 1, 0, 0, 0, 2], &c, true);
        assert_eq!(b.as_slice(), &[1, 0, 0, 0, 2, 0, 0, 0]);
    }
}

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

use arrow_buffer::{Buffer, MutableBuffer};

use crate::dtype::{Dtype, Element};
use crate::error::{Error, ErrorKind, Result};

/// The owner of one read-only memory map. Arrow buffers built by mmarrow
/// over mapped data keep an `Arc` to it; the map is unmapped when the last
/// of them is dropped.
#[derive(Debug)]
pub struct MappedRegion {
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
    let region = MappedRegion { map };
    Ok(Buffer::from(bytes::Bytes::from_owner(region)))
}

/// Maps the first `len` bytes of `file` writable: shared (changes reach the
/// file) or private copy-on-write (changes stay in this process). The file
/// must be at least `len` bytes long.
pub(crate) fn map_mut(
    file: &File,
    path: &Path,
    len: u64,
    private: bool,
) -> Result<memmap2::MmapMut> {
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
    map.map_err(|e| Error::io(path, "mmap", e))
}

/// Turns a writable map into a read-only one owned by [`MappedRegion`] and
/// returns it as one Arrow buffer. Nothing can write through it afterwards.
pub(crate) fn freeze(map: memmap2::MmapMut, path: &Path) -> Result<Buffer> {
    let map = map
        .make_read_only()
        .map_err(|e| Error::io(path, "mprotect", e))?;
    Ok(Buffer::from(bytes::Bytes::from_owner(MappedRegion { map })))
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

/// Builds array data without validating offsets, UTF-8 or null counts,
/// using `null_count` for the validity bitmap. Sizes and alignment were
/// checked by the caller in O(1).
pub(crate) fn build_trusted(
    builder: arrow_data::ArrayDataBuilder,
    nulls: Option<(arrow_buffer::BooleanBuffer, usize)>,
    _vouched: &Trusted,
) -> arrow_data::ArrayData {
    // SAFETY: a `Trusted` exists only if a caller of an `unsafe fn` vouched
    // for the offsets, UTF-8 and null count (`Trusted::vouch`); buffer sizes
    // and alignment were checked by the caller.
    unsafe {
        let nulls = nulls.map(|(bits, n)| arrow_buffer::NullBuffer::new_unchecked(bits, n));
        builder.nulls(nulls).build_unchecked()
    }
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

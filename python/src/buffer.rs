//! The binding's only `unsafe`: exporting the map through the buffer
//! protocol, borrowing the memory of buffers Python passes in, string
//! views over a checked string column's own data, and tables opened
//! `trusted=True`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr;

use pyo3::buffer::{Element, PyBuffer};
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

/// What the buffer protocol describes of an array: fixed when the array
/// is made, so the pointers handed to consumers stay valid while it lives.
pub struct BufferLayout {
    /// Address of the first byte of the data (inside the map).
    pub ptr: usize,
    /// Bytes of data.
    pub nbytes: usize,
    /// True unless the array was opened writable.
    pub readonly: bool,
    /// Bytes per element.
    pub itemsize: usize,
    /// The PEP 3118 format, where the dtype has one.
    pub format: Option<CString>,
    /// Dimensions.
    pub shape: Vec<isize>,
    /// Bytes between consecutive elements of each dimension.
    pub strides: Vec<isize>,
    /// True when `strides` are C order.
    pub c_contiguous: bool,
}

/// Fills `view` for `obj`, an `Array`, as `__getbuffer__` must.
///
/// # Safety
/// `view` must be the valid, writable `Py_buffer` CPython passed to
/// `__getbuffer__` for `obj`.
pub unsafe fn fill_view(
    obj: Bound<'_, PyAny>,
    view: *mut ffi::Py_buffer,
    flags: c_int,
) -> PyResult<()> {
    let array = obj.cast::<crate::array::Array>()?.get();
    let b = &array.buf;
    if view.is_null() {
        return Err(PyBufferError::new_err("view is null"));
    }
    if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE && b.readonly {
        return Err(PyBufferError::new_err(
            "array is read-only (open it with mode=\"r+\", \"w+\" or \"c\" to write)",
        ));
    }
    let Some(format) = b.format.as_ref() else {
        return Err(PyBufferError::new_err(
            "dtype has no buffer-protocol format; numpy reads it through __array_interface__",
        ));
    };
    let wants_strides = flags & ffi::PyBUF_STRIDES == ffi::PyBUF_STRIDES;
    if !wants_strides && !b.c_contiguous {
        return Err(PyBufferError::new_err(
            "array is in Fortran order: the consumer must accept strides",
        ));
    }
    // SAFETY: `view` is valid and writable (this function's contract). The
    // pointers stored in it (data, format, shape, strides) belong to
    // `array`, whose layout never changes, and `obj` (a strong reference
    // stored in `view.obj`) keeps it alive until CPython releases the view.
    unsafe {
        (*view).buf = b.ptr as *mut std::os::raw::c_void;
        (*view).len = b.nbytes as isize;
        (*view).readonly = c_int::from(b.readonly);
        (*view).itemsize = b.itemsize as isize;
        (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT {
            format.as_ptr() as *mut _
        } else {
            ptr::null_mut()
        };
        (*view).ndim = b.shape.len() as c_int;
        (*view).shape = if flags & ffi::PyBUF_ND == ffi::PyBUF_ND {
            b.shape.as_ptr() as *mut _
        } else {
            ptr::null_mut()
        };
        (*view).strides = if wants_strides {
            b.strides.as_ptr() as *mut _
        } else {
            ptr::null_mut()
        };
        (*view).suboffsets = ptr::null_mut();
        (*view).internal = ptr::null_mut();
        (*view).obj = obj.into_ptr();
    }
    Ok(())
}

/// A C-contiguous buffer a Python object lends, held (so the exporter can
/// neither free nor resize it) while this lives.
pub struct Contiguous<T: Element> {
    buf: PyBuffer<T>,
    _t: PhantomData<T>,
}

impl<T: Element> Contiguous<T> {
    /// Borrows the buffer of `obj`, which must be C-contiguous with items of `T`.
    pub fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buf = PyBuffer::<T>::get(obj)?;
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err("buffer is not C-contiguous"));
        }
        Ok(Contiguous {
            buf,
            _t: PhantomData,
        })
    }

    /// Dimensions of the buffer.
    pub fn ndim(&self) -> usize {
        self.buf.dimensions()
    }

    /// The items.
    pub fn slice(&self) -> &[T] {
        let n = self.buf.item_count();
        if n == 0 {
            return &[];
        }
        // SAFETY: the buffer is held by `self.buf` (so the memory stays
        // valid and its size fixed), C-contiguous with `n` items of `T`
        // (checked by `PyBuffer::<T>::get` and `get`); Python code may
        // write it concurrently only in a program that races on the
        // buffer, as with any C extension reading a buffer.
        unsafe { std::slice::from_raw_parts(self.buf.buf_ptr() as *const T, n) }
    }

    /// The items, writable.
    pub fn slice_mut(&mut self) -> PyResult<&mut [T]> {
        if self.buf.readonly() {
            return Err(PyValueError::new_err("buffer is read-only"));
        }
        let n = self.buf.item_count();
        if n == 0 {
            return Ok(&mut []);
        }
        // SAFETY: as `slice`; the buffer is writable (checked above) and
        // borrowed mutably here, once, for as long as `self` is.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.buf.buf_ptr() as *mut T, n) })
    }
}

/// A string (`utf8`) or binary view array of `views` over the one data
/// buffer `values`, unchecked: [`crate::layout::view_array`] made every
/// view with `make_view` from the bytes of `values` between two offsets of
/// a valid string or binary array (`utf8` only when it was a string one),
/// at an offset below `u32::MAX`, one per row of `nulls`.
pub fn views_over(
    views: Vec<u128>,
    values: arrow_buffer::Buffer,
    nulls: Option<arrow_buffer::NullBuffer>,
    utf8: bool,
) -> arrow_array::ArrayRef {
    use arrow_array::{BinaryViewArray, StringViewArray};
    use std::sync::Arc;
    let (views, buffers) = (views.into(), vec![values]);
    // SAFETY: by this function's contract each view was made by
    // `make_view(&values[start..end], 0, start)`, so its buffer index (0),
    // offset, length and prefix are in bounds and agree with `values`, and
    // there is one per row of `nulls`; for `utf8`, the bytes between each
    // pair of offsets of a valid string array are UTF-8 (the table checked
    // the slice when it made it, or the caller opened it trusted).
    // That is everything `try_new` would check.
    unsafe {
        if utf8 {
            Arc::new(StringViewArray::new_unchecked(views, buffers, nulls))
        } else {
            Arc::new(BinaryViewArray::new_unchecked(views, buffers, nulls))
        }
    }
}

/// `o` without the content checks, for `open_table(..., trusted=True)`.
pub fn trusted(o: mmarrow::TableOptions) -> mmarrow::TableOptions {
    // SAFETY: `TableOptions::trusted` asks the caller to vouch that the
    // files hold what mmarrow wrote (or passed `verify`). The Python caller
    // does so by passing `trusted=True`, which the docstring of
    // `mmarrow.open_table` documents as exactly that promise, with the
    // consequence of breaking it (a crash or wrong values).
    unsafe { o.trusted() }
}

//! `mmarrow._native.Array`: a mapped array file as Arrow (PyCapsule
//! interface), numpy (`__array_interface__`, the buffer protocol) and
//! Polars, without copying.

use std::ffi::CString;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, StructArray};
use arrow_schema::{Field, FieldRef};
use mmarrow::array::{ArrowOptions, TensorLayout};
use mmarrow::dtype::{ByteOrder, Kind};
use mmarrow::shape::{Order, ShapeSpec};
use mmarrow::{Dtype, MmArray, MmArrayMut, Mode, OpenOptions};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PySlice, PyTuple};
use pyo3_arrow::ffi::{
    to_array_pycapsules, to_schema_pycapsule, to_stream_pycapsule, ArrayIterator,
};

use crate::buffer::{self, BufferLayout};
use crate::error::IntoPy;

/// The data behind an [`Array`]: a read-only map (Arrow-exportable) or a
/// writable one (numpy and the buffer protocol only).
enum View {
    Read(MmArray),
    Write(MmArrayMut),
}

/// A mapped array file. See `mmarrow.open` for the Python documentation.
#[pyclass(module = "mmarrow._native", frozen)]
pub struct Array {
    view: View,
    layout: TensorLayout,
    /// What the buffer protocol and `__array_interface__` describe.
    pub(crate) buf: BufferLayout,
}

/// `"array"`, `"tensor"` or `"list"` as a [`TensorLayout`].
pub fn parse_layout(name: &str) -> PyResult<TensorLayout> {
    match name {
        "array" | "nested" => Ok(TensorLayout::Nested),
        "tensor" | "fixed_shape_tensor" => Ok(TensorLayout::FixedShapeTensor),
        "list" | "fixed_size_list" => Ok(TensorLayout::FixedSizeList),
        other => Err(PyValueError::new_err(format!(
            "tensor_layout must be \"array\", \"tensor\" or \"list\", not {other:?}"
        ))),
    }
}

fn layout_name(layout: TensorLayout) -> &'static str {
    match layout {
        TensorLayout::Nested => "array",
        TensorLayout::FixedShapeTensor => "tensor",
        TensorLayout::FixedSizeList => "list",
    }
}

/// The PEP 3118 format of `dtype`, where the struct module has one.
fn buffer_format(dtype: &Dtype) -> Option<CString> {
    let n = dtype.itemsize();
    let code = match (dtype.kind(), n) {
        (Kind::Bool, 1) => "?".to_string(),
        (Kind::Int, 1) => "b".into(),
        (Kind::Int, 2) => "h".into(),
        (Kind::Int, 4) => "i".into(),
        (Kind::Int, 8) => "q".into(),
        (Kind::UInt, 1) => "B".into(),
        (Kind::UInt, 2) => "H".into(),
        (Kind::UInt, 4) => "I".into(),
        (Kind::UInt, 8) => "Q".into(),
        (Kind::Float, 2) => "e".into(),
        (Kind::Float, 4) => "f".into(),
        (Kind::Float, 8) => "d".into(),
        (Kind::Complex, 8) => "Zf".into(),
        (Kind::Complex, 16) => "Zd".into(),
        (Kind::Bytes, n) => format!("{n}s"),
        // datetime64, timedelta64 and void have no struct-module code:
        // numpy reads them through __array_interface__ instead.
        _ => return None,
    };
    let order = match dtype.byte_order() {
        ByteOrder::Big => ">",
        ByteOrder::Little => "<",
        ByteOrder::NotApplicable => "",
    };
    CString::new(format!("{order}{code}")).ok()
}

/// The buffer layout of an array of `dtype` and `shape` at `ptr`.
fn describe(
    dtype: &Dtype,
    shape: &[u64],
    order: Order,
    ptr: usize,
    readonly: bool,
) -> BufferLayout {
    let itemsize = dtype.itemsize();
    let dims: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
    let mut strides = vec![0isize; dims.len()];
    let mut step = itemsize as isize;
    match order {
        Order::C => {
            for (s, d) in strides.iter_mut().zip(&dims).rev() {
                *s = step;
                step *= *d;
            }
        }
        Order::F => {
            for (s, d) in strides.iter_mut().zip(&dims) {
                *s = step;
                step *= *d;
            }
        }
    }
    let nbytes = shape.iter().product::<u64>() as usize * itemsize;
    BufferLayout {
        ptr,
        nbytes,
        readonly,
        itemsize,
        format: buffer_format(dtype),
        shape: dims,
        strides,
        c_contiguous: order == Order::C || shape.len() <= 1,
    }
}

impl Array {
    fn from_read(a: MmArray, layout: TensorLayout) -> Self {
        let buf = describe(
            a.dtype(),
            a.shape(),
            a.order(),
            a.data_buffer().as_ptr() as usize,
            true,
        );
        Array {
            view: View::Read(a),
            layout,
            buf,
        }
    }

    fn from_write(mut a: MmArrayMut) -> Self {
        let readonly = false;
        let ptr = a.as_bytes_mut().as_mut_ptr() as usize;
        let buf = describe(a.dtype(), a.shape(), a.order(), ptr, readonly);
        Array {
            view: View::Write(a),
            layout: TensorLayout::default(),
            buf,
        }
    }

    fn dtype_ref(&self) -> &Dtype {
        match &self.view {
            View::Read(a) => a.dtype(),
            View::Write(a) => a.dtype(),
        }
    }

    fn shape_ref(&self) -> &[u64] {
        match &self.view {
            View::Read(a) => a.shape(),
            View::Write(a) => a.shape(),
        }
    }

    fn order(&self) -> Order {
        match &self.view {
            View::Read(a) => a.order(),
            View::Write(a) => a.order(),
        }
    }

    /// The read-only array, or why a writable one cannot go to Arrow.
    fn readable(&self) -> PyResult<&MmArray> {
        match &self.view {
            View::Read(a) => Ok(a),
            View::Write(a) => Err(PyTypeError::new_err(format!(
                "{}: an array opened with mode={:?} is a writable numpy view, never shared \
                 with Arrow (whose buffers are immutable); flush() it and open it with mode=\"r\"",
                a.path().display(),
                a.mode().to_string()
            ))),
        }
    }

    fn options(&self) -> ArrowOptions {
        ArrowOptions::new().tensor(self.layout)
    }

    fn arrow(&self) -> PyResult<(FieldRef, ArrayRef)> {
        let a = self.readable()?;
        let field = a.field_with(self.options()).py()?;
        let array = a.to_arrow_with(self.options()).py()?;
        Ok((Arc::new(field), array))
    }

    fn rows(&self) -> PyResult<u64> {
        self.shape_ref()
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d array"))
    }
}

/// Opens `path` as `mmarrow.open` documents (the Python wrapper passes
/// numpy's typestr for `dtype`).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // numpy.memmap's parameters
#[pyo3(signature = (path, dtype=None, shape=None, offset=None, order=None, mode="r", overwrite=false))]
pub fn open(
    py: Python<'_>,
    path: PathBuf,
    dtype: Option<&str>,
    shape: Option<Vec<i64>>,
    offset: Option<u64>,
    order: Option<&str>,
    mode: &str,
    overwrite: bool,
) -> PyResult<Array> {
    let mut o = OpenOptions::new().overwrite(overwrite);
    if let Some(offset) = offset {
        o = o.offset(offset);
    }
    if let Some(d) = dtype {
        o = o.try_with_dtype(d).py()?;
    }
    if let Some(s) = shape {
        o = o.shape(ShapeSpec::from_signed(&s).py()?);
    }
    if let Some(order) = order {
        o = o.order(match order {
            "C" | "c" => Order::C,
            "F" | "f" => Order::F,
            other => {
                return Err(PyValueError::new_err(format!(
                    "order must be \"C\" or \"F\", not {other:?}"
                )))
            }
        });
    }
    let mode: Mode = match mode {
        "readonly" => Mode::ReadOnly,
        "readwrite" => Mode::ReadWrite,
        "write" => Mode::Create,
        "copyonwrite" => Mode::CopyOnWrite,
        m => m.parse().map_err(|_| {
            PyValueError::new_err(format!(
                "mode must be one of \"r\", \"r+\", \"w+\", \"c\", not {m:?}"
            ))
        })?,
    };
    let o = o.mode(mode);
    py.detach(|| match mode {
        Mode::ReadOnly => o
            .open(&path)
            .map(|a| Array::from_read(a, TensorLayout::default())),
        _ => o.open_mut(&path).map(Array::from_write),
    })
    .py()
}

#[pymethods]
impl Array {
    /// The file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        match &self.view {
            View::Read(a) => a.path().to_path_buf(),
            View::Write(a) => a.path().to_path_buf(),
        }
    }

    /// The shape, as a tuple of ints.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.shape_ref())
    }

    /// numpy's typestr of the dtype (`'<f4'`).
    #[getter]
    fn typestr(&self) -> String {
        self.dtype_ref().typestr()
    }

    /// The dtype, as a `numpy.dtype`.
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("numpy")?
            .getattr("dtype")?
            .call1((self.dtype_ref().typestr(),))
    }

    /// `"C"` or `"F"`.
    #[getter(order)]
    fn order_name(&self) -> &'static str {
        match self.order() {
            Order::C => "C",
            Order::F => "F",
        }
    }

    /// The open mode: `"r"`, `"r+"`, `"w+"` or `"c"`.
    #[getter]
    fn mode(&self) -> String {
        match &self.view {
            View::Read(_) => Mode::ReadOnly.to_string(),
            View::Write(a) => a.mode().to_string(),
        }
    }

    /// Byte offset of the data in the file.
    #[getter]
    fn offset(&self) -> u64 {
        match &self.view {
            View::Read(a) => a.offset(),
            View::Write(a) => a.offset(),
        }
    }

    /// Number of dimensions.
    #[getter]
    fn ndim(&self) -> usize {
        self.shape_ref().len()
    }

    /// Bytes of data in this view.
    #[getter]
    fn nbytes(&self) -> usize {
        self.buf.nbytes
    }

    /// The column name used in Arrow schemas (from the sidecar, else the file stem).
    #[getter]
    fn name(&self) -> PyResult<String> {
        Ok(self.readable().map(|a| a.name()).unwrap_or_else(|_| {
            self.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }))
    }

    /// How N-D rows appear in Arrow: `"tensor"` (the `arrow.fixed_shape_tensor`
    /// extension, the default), `"array"` (nested FixedSizeLists) or `"list"`.
    #[getter]
    fn tensor_layout(&self) -> &'static str {
        layout_name(self.layout)
    }

    /// The `(start, end)` addresses of the memory map behind the data, or
    /// `None` when the data is a copy (e.g. a byte-swapped view).
    #[getter]
    fn mapped_range(&self) -> Option<(usize, usize)> {
        match &self.view {
            View::Read(a) => a.mapped_range().map(|r: Range<usize>| (r.start, r.end)),
            View::Write(_) => Some((self.buf.ptr, self.buf.ptr + self.buf.nbytes)),
        }
    }

    /// True when no byte of the data was copied.
    #[getter]
    fn is_zero_copy(&self) -> bool {
        match &self.view {
            View::Read(a) => a.is_zero_copy(),
            View::Write(_) => true,
        }
    }

    /// True for arrays opened with a writable mode (`r+`, `w+`, `c`).
    #[getter]
    fn writable(&self) -> bool {
        !self.buf.readonly
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.rows()? as usize)
    }

    fn __repr__(&self) -> String {
        format!(
            "mmarrow.Array({:?}, dtype={}, shape={:?}, mode={:?})",
            self.path().display().to_string(),
            self.dtype_ref().name(),
            self.shape_ref(),
            self.mode()
        )
    }

    /// The same data with another Arrow layout for N-D rows (no copy).
    fn with_tensor_layout(&self, tensor_layout: &str) -> PyResult<Array> {
        let layout = parse_layout(tensor_layout)?;
        Ok(Array::from_read(self.readable()?.clone(), layout))
    }

    /// Rows `start..stop` as a new array over the same map (no copy).
    fn slice(&self, start: u64, stop: u64) -> PyResult<Array> {
        let a = self.readable()?;
        Ok(Array::from_read(a.slice(start..stop).py()?, self.layout))
    }

    /// `a[i:j]` (step 1) is a zero-copy `Array`; any other key indexes the
    /// numpy view (`np.asarray(a)[key]`).
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.get();
        if let (Ok(s), View::Read(_)) = (key.cast::<PySlice>(), &me.view) {
            let n = me.rows()?;
            let idx = s.indices(n as isize)?;
            if idx.step == 1 && (me.order() == Order::C || me.ndim() == 1) {
                let stop = idx.stop.max(idx.start);
                return Ok(Bound::new(py, me.slice(idx.start as u64, stop as u64)?)?.into_any());
            }
        }
        numpy_view(slf)?.get_item(key)
    }

    /// Writes through the numpy view (`np.asarray(a)[key] = value`).
    fn __setitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        numpy_view(slf)?.set_item(key, value)
    }

    /// The data as a numpy array over the map (no copy; read-only unless
    /// the array was opened writable).
    fn to_numpy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        numpy_view(slf)
    }

    /// The rows `indices` gathered into a new numpy array (GIL released
    /// while copying). Negative indices count from the end.
    fn take<'py>(
        slf: &Bound<'py, Self>,
        indices: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let a = me.readable()?;
        let rows = crate::table::row_indices(py, indices, me.rows()?, a.path())?;
        let row_bytes =
            me.dtype_ref().itemsize() * me.shape_ref()[1..].iter().product::<u64>() as usize;
        // Gathered as bytes into a fresh uint8 array, then viewed as the
        // dtype and shaped: three cheap numpy calls whatever the dtype.
        let np = py.import("numpy")?;
        let out = np.call_method1("empty", (rows.len() * row_bytes, "uint8"))?;
        {
            let mut dst = buffer::Contiguous::<u8>::get(&out)?;
            let dst = dst.slice_mut()?;
            py.detach(|| a.take_into(&rows, dst)).py()?;
        }
        let mut shape = vec![rows.len() as u64];
        shape.extend_from_slice(&me.shape_ref()[1..]);
        out.call_method1("view", (me.dtype_ref().typestr(),))?
            .call_method1("reshape", (PyTuple::new(py, &shape)?,))
    }

    /// Writes changes of a writable map to the file (msync); a no-op for
    /// read-only arrays. An error for copy-on-write maps.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        match &self.view {
            View::Read(_) => Ok(()),
            View::Write(a) => py.detach(|| a.flush()).py(),
        }
    }

    /// The Arrow schema of the array's one column, as a pyarrow `Schema`
    /// when pyarrow is installed.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let schema = self.readable()?.schema_with(self.options()).py()?;
        crate::table::schema_object(py, schema)
    }

    /// The array as a pyarrow array (no copy): a `FixedShapeTensorArray`
    /// for N-D rows in the default layout.
    fn to_pyarrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("pyarrow")?.call_method1("array", (slf,))
    }

    /// The array as a Polars Series (no copy). N-D rows become
    /// `Array(dtype, shape=row_shape)` with the default `tensor_layout="array"`.
    #[pyo3(signature = (tensor_layout="array"))]
    fn to_polars<'py>(slf: &Bound<'py, Self>, tensor_layout: &str) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let view = Bound::new(py, me.with_tensor_layout(tensor_layout)?)?;
        py.import("polars")?
            .getattr("Series")?
            .call1((me.name()?, view))
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let (field, _) = self.arrow_field_only()?;
        Ok(to_schema_pycapsule(py, field.as_ref())?)
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (field, array) = self.arrow()?;
        Ok(to_array_pycapsules(
            py,
            field,
            array.as_ref(),
            requested_schema,
        )?)
    }

    /// A stream of one record batch: the array as a one-column table
    /// (named as `name`), for `pa.table`, `RecordBatchReader.from_stream`,
    /// `pl.DataFrame` and DuckDB's `select ... from a`.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let batch = self.readable()?.to_record_batch_with(self.options()).py()?;
        let schema = batch.schema();
        let field = Field::new_struct("", schema.fields().clone(), false)
            .with_metadata(schema.metadata().clone());
        let array: ArrayRef = Arc::new(StructArray::from(batch));
        let reader = ArrayIterator::new(vec![Ok(array)].into_iter(), Arc::new(field));
        Ok(to_stream_pycapsule(py, Box::new(reader), requested_schema)?)
    }

    /// numpy's array interface (version 3) over the map.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("version", 3)?;
        d.set_item("shape", PyTuple::new(py, self.shape_ref())?)?;
        d.set_item("typestr", self.dtype_ref().typestr())?;
        d.set_item("data", (self.buf.ptr, self.buf.readonly))?;
        if self.buf.c_contiguous {
            d.set_item("strides", py.None())?;
        } else {
            d.set_item("strides", PyTuple::new(py, &self.buf.strides)?)?;
        }
        Ok(d)
    }

    /// The buffer protocol: typed where the struct module has a code for
    /// the dtype (datetime64 and timedelta64 go through
    /// `__array_interface__`), read-only unless opened writable.
    ///
    /// # Safety
    /// Called by CPython with a valid `view` (pyo3's contract).
    #[allow(unsafe_code)] // pyo3's signature for the buffer protocol
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: std::os::raw::c_int,
    ) -> PyResult<()> {
        // SAFETY: forwarded from CPython: `view` is valid to write; the
        // layout's pointers live as long as `slf`, which the view holds.
        unsafe { buffer::fill_view(slf.into_any(), view, flags) }
    }

    /// # Safety
    /// Called by CPython with the view `__getbuffer__` filled.
    #[allow(unsafe_code)] // pyo3's signature for the buffer protocol
    unsafe fn __releasebuffer__(&self, _view: *mut pyo3::ffi::Py_buffer) {}
}

impl Array {
    fn arrow_field_only(&self) -> PyResult<(FieldRef, ())> {
        let a = self.readable()?;
        Ok((Arc::new(a.field_with(self.options()).py()?), ()))
    }
}

/// `numpy.asarray(a)`: a view over the map that keeps `a` alive.
fn numpy_view<'py>(slf: &Bound<'py, Array>) -> PyResult<Bound<'py, PyAny>> {
    slf.py().import("numpy")?.call_method1("asarray", (slf,))
}

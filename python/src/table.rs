//! `mmarrow._native.Table`: a table directory as an Arrow stream
//! (zero-copy record batches over the mapped column files).

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{Field, FieldRef, Schema, SchemaRef};
use mmarrow::array::TensorLayout;
use mmarrow::TableOptions;
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyCapsule, PyDict, PyInt, PyList, PyTuple};
use pyo3_arrow::ffi::{to_schema_pycapsule, to_stream_pycapsule, ArrayIterator};
use pyo3_arrow::{PyArray, PyRecordBatch, PySchema};

use crate::buffer::Contiguous;
use crate::error::IntoPy;
use crate::layout;

/// `schema` as a pyarrow `Schema` when pyarrow is installed, else as an
/// object with `__arrow_c_schema__`.
pub fn schema_object(py: Python<'_>, schema: SchemaRef) -> PyResult<Bound<'_, PyAny>> {
    let s = PySchema::new(schema);
    match py.import("pyarrow") {
        Ok(_) => s.into_pyarrow(py),
        Err(_) => Ok(Bound::new(py, s)?.into_any()),
    }
}

/// A table directory opened by `mmarrow.open_table`, or rows of one.
#[pyclass(module = "mmarrow._native", frozen)]
pub struct Table {
    table: Arc<mmarrow::Table>,
    rows: Range<u64>,
    /// How `arrow.fixed_shape_tensor` columns are exported.
    layout: TensorLayout,
    /// Per stored column, whether it is exported as Arrow string/binary
    /// views (`with_string_view`); empty when views are off.
    views: Arc<[bool]>,
}

/// Opens the table in `path`, only `columns` (in that order) when given;
/// without the content checks when `trusted` (see `mmarrow.open_table`).
#[pyfunction]
#[pyo3(signature = (path, columns=None, *, trusted=false))]
pub fn open_table(
    py: Python<'_>,
    path: PathBuf,
    columns: Option<Vec<String>>,
    trusted: bool,
) -> PyResult<Table> {
    let mut o = TableOptions::new();
    if let Some(c) = &columns {
        o = o.project(&c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    if trusted {
        o = crate::buffer::trusted(o);
    }
    let table = py.detach(|| o.open(&path)).py()?;
    let rows = 0..table.num_rows();
    Ok(Table {
        table: Arc::new(table),
        rows,
        layout: TensorLayout::FixedShapeTensor,
        views: Arc::new([]),
    })
}

/// Checks everything of the table or array file in `path` that opening
/// leaves to the moment arrays are made (offsets, UTF-8, dictionary keys,
/// null counts, value ranges), and for a table the checksum of every
/// committed byte; as `mmarrow verify`.
#[pyfunction]
pub fn verify<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match py.detach(|| mmarrow::verify(&path)).py()? {
        mmarrow::Verified::Table { table, checksums } => {
            d.set_item("kind", "table")?;
            d.set_item("rows", table.num_rows())?;
            d.set_item("columns", table.schema().fields().len())?;
            d.set_item("checksummed_bytes", checksums.bytes)?;
            d.set_item("unchecked_bytes", checksums.unchecked_bytes)?;
        }
        mmarrow::Verified::Array(a) => {
            d.set_item("kind", "array")?;
            d.set_item("rows", a.len())?;
            d.set_item("dtype", a.dtype().to_string())?;
        }
    }
    Ok(d)
}

impl Table {
    fn len(&self) -> u64 {
        self.rows.end - self.rows.start
    }

    /// This view with other rows, layout or views.
    fn with(&self, rows: Range<u64>, layout: TensorLayout, views: Arc<[bool]>) -> Table {
        Table {
            table: self.table.clone(),
            rows,
            layout,
            views,
        }
    }

    /// Whether stored column `i` is exported as views.
    fn is_view(&self, i: usize) -> bool {
        self.views.get(i).copied().unwrap_or(false)
    }

    /// The schema as exported in `layout` (and as views where `self.views`).
    fn export_schema(&self, layout: TensorLayout) -> SchemaRef {
        let s = self.table.schema();
        let fields: Vec<FieldRef> = s
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match layout::view_type(f.data_type()) {
                Some(t) if self.is_view(i) => Arc::new(f.as_ref().clone().with_data_type(t)),
                _ => layout::field(f, layout),
            })
            .collect();
        Arc::new(Schema::new_with_metadata(fields, s.metadata().clone()))
    }

    /// Rows `range` (relative to this view) as one record batch, no copy.
    fn batch(&self, range: Range<u64>) -> mmarrow::Result<RecordBatch> {
        let start = self.rows.start;
        self.table.slice(start + range.start..start + range.end)
    }
}

#[pymethods]
impl Table {
    /// The table directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.table.path().to_path_buf()
    }

    /// Committed rows in this view.
    fn __len__(&self) -> usize {
        self.len() as usize
    }

    /// Column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.table
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The schema, as a pyarrow `Schema` when pyarrow is installed.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        schema_object(py, self.export_schema(self.layout))
    }

    fn __repr__(&self) -> String {
        format!(
            "mmarrow.Table({:?}, rows={}, columns={:?})",
            self.table.path().display().to_string(),
            self.len(),
            self.columns()
        )
    }

    /// Rows `start..stop` as a table over the same maps (no copy).
    #[pyo3(signature = (start, stop=None))]
    fn slice(&self, start: u64, stop: Option<u64>) -> PyResult<Table> {
        let n = self.len();
        let stop = stop.unwrap_or(n);
        if start > stop || stop > n {
            return Err(PyIndexError::new_err(format!(
                "{}: row range {start}..{stop} is outside the {n} rows",
                self.table.path().display()
            )));
        }
        Ok(self.with(
            self.rows.start + start..self.rows.start + stop,
            self.layout,
            self.views.clone(),
        ))
    }

    /// The rows `indices` (any order, repeats allowed, negative from the
    /// end) gathered into a new record batch — pyarrow's `RecordBatch`
    /// when pyarrow is installed. The GIL is released while gathering.
    fn take<'py>(
        &self,
        py: Python<'py>,
        indices: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rows = row_indices(py, indices, self.len(), self.table.path())?;
        let (rows, start, table) = (rows.as_slice(), self.rows.start, &self.table);
        let batch = py
            .detach(|| {
                if start == 0 {
                    table.take(rows)
                } else {
                    let shifted: Vec<u64> = rows.iter().map(|r| r + start).collect();
                    table.take(&shifted)
                }
            })
            .py()?;
        let batch = PyRecordBatch::new(batch);
        match py.import("pyarrow") {
            Ok(_) => batch.into_pyarrow(py),
            Err(_) => Ok(Bound::new(py, batch)?.into_any()),
        }
    }

    /// The table as a pyarrow `Table` (no copy).
    fn to_pyarrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("pyarrow")?.call_method1("table", (slf,))
    }

    /// The same rows with tensor columns exported in another layout:
    /// `"tensor"` (as stored, the default), `"array"` (nested
    /// FixedSizeLists: Polars' `Array(T, shape)`) or `"list"` (flat).
    fn with_tensor_layout(&self, tensor_layout: &str) -> PyResult<Table> {
        Ok(self.with(
            self.rows.clone(),
            crate::array::parse_layout(tensor_layout)?,
            self.views.clone(),
        ))
    }

    /// The same rows with string and binary columns exported as Arrow
    /// views (`string_view`, `binary_view`) when `on`: 16-byte views
    /// made per row that point into the mapped data, which is not copied.
    /// Polars holds strings as views, so it imports these columns as they
    /// are instead of converting every string. A column whose data ends
    /// beyond 4 GiB (past a view's offset field) stays as stored.
    #[pyo3(signature = (on=true))]
    fn with_string_view(&self, py: Python<'_>, on: bool) -> PyResult<Table> {
        let views: Arc<[bool]> = if on {
            let n = self.table.num_rows();
            let last = py
                .detach(|| self.table.slice(n.saturating_sub(1)..n))
                .py()?;
            let fields = self.table.schema().fields().clone();
            fields
                .iter()
                .zip(last.columns())
                .map(|(f, c)| {
                    layout::view_type(f.data_type()).is_some()
                        && layout::data_end(c.as_ref()).unwrap_or(0) < u64::from(u32::MAX)
                })
                .collect()
        } else {
            Arc::new([])
        };
        Ok(self.with(self.rows.clone(), self.layout, views))
    }

    /// The table as a Polars `DataFrame` (no copy of the data). FixedSizeList
    /// columns become `Array` columns, and so do tensor columns with the
    /// default `tensor_layout="array"` (`"tensor"` keeps Polars'
    /// `Extension`); strings reach Polars as views into the mapped data
    /// (`with_string_view`), so the frame's only new memory is 16 bytes
    /// per string.
    #[pyo3(signature = (tensor_layout="array"))]
    fn to_polars<'py>(&self, py: Python<'py>, tensor_layout: &str) -> PyResult<Bound<'py, PyAny>> {
        let view = self
            .with_tensor_layout(tensor_layout)?
            .with_string_view(py, true)?;
        py.import("polars")?
            .call_method1("DataFrame", (Bound::new(py, view)?,))
    }

    /// Per-chunk statistics of this view's rows, for skipping chunks
    /// (`scan_polars` uses them): `{"ranges": [(start, stop)...],
    /// "columns": {name: {"null_count", "min", "max", "min_exact",
    /// "max_exact"}}}` with Arrow arrays (one value per chunk) as values;
    /// `min`/`max` are `None` for types without an order.
    fn statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py.detach(|| self.table.statistics()).py()?;
        let keep: Vec<usize> = (0..stats.num_chunks())
            .filter(|&i| {
                let r = stats.chunk_range(i);
                r.start < self.rows.end && r.end > self.rows.start
            })
            .collect();
        let ranges = PyList::empty(py);
        for &i in &keep {
            let r = stats.chunk_range(i);
            let start = r.start.max(self.rows.start) - self.rows.start;
            let end = r.end.min(self.rows.end) - self.rows.start;
            ranges.append((start, end))?;
        }
        let take = |a: &dyn arrow_array::Array| -> PyResult<ArrayRef> {
            let idx = arrow_array::UInt64Array::from_iter_values(keep.iter().map(|&i| i as u64));
            arrow_select_take(a, &idx)
        };
        let columns = PyDict::new(py);
        for c in stats.columns() {
            let d = PyDict::new(py);
            let export = |name: &str, a: ArrayRef| -> PyResult<()> {
                let field = Field::new(name, a.data_type().clone(), true);
                d.set_item(name, Bound::new(py, PyArray::new(a, field.into()))?)
            };
            export("null_count", take(c.null_counts())?)?;
            match (c.min(), c.max()) {
                (Some(min), Some(max)) => {
                    export("min", take(min.as_ref())?)?;
                    export("max", take(max.as_ref())?)?;
                    export("min_exact", take(c.min_exact())?)?;
                    export("max_exact", take(c.max_exact())?)?;
                }
                _ => {
                    for k in ["min", "max", "min_exact", "max_exact"] {
                        d.set_item(k, py.None())?;
                    }
                }
            }
            columns.set_item(c.field().name(), d)?;
        }
        let out = PyDict::new(py);
        out.set_item("ranges", ranges)?;
        out.set_item("columns", columns)?;
        Ok(out)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        Ok(to_schema_pycapsule(
            py,
            self.export_schema(self.layout).as_ref(),
        )?)
    }

    /// The rows as an Arrow C stream of record batches of at most
    /// `batch_rows` rows (default: one batch), no copy.
    #[pyo3(signature = (requested_schema=None, batch_rows=None, tensor_layout=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
        batch_rows: Option<u64>,
        tensor_layout: Option<&str>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let layout = match tensor_layout {
            Some(l) => crate::array::parse_layout(l)?,
            None => self.layout,
        };
        let n = self.len();
        let step = batch_rows.unwrap_or(n).max(1);
        if batch_rows == Some(0) {
            return Err(PyValueError::new_err("batch_rows must be at least 1"));
        }
        let schema = self.export_schema(layout);
        let this = self.with(self.rows.clone(), layout, self.views.clone());
        let count = if n == 0 { 1 } else { n.div_ceil(step) };
        let fields = schema.fields().clone();
        let batches = (0..count).map(move |i| {
            let start = i * step;
            let batch = this
                .batch(start..(start + step).min(n))
                .map_err(|e| arrow_schema::ArrowError::ExternalError(Box::new(e)))?;
            let stored = this.table.schema();
            let columns = stored
                .fields()
                .iter()
                .zip(batch.columns())
                .enumerate()
                .map(|(i, (f, c))| {
                    if this.is_view(i) {
                        layout::view_array(c)
                    } else {
                        layout::array(f, c, this.layout)
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(StructArray::try_new(fields.clone(), columns, None)?) as ArrayRef)
        });
        let field = Field::new_struct("", schema.fields().clone(), false)
            .with_metadata(schema.metadata().clone());
        let reader = ArrayIterator::new(batches, field.into());
        Ok(to_stream_pycapsule(py, Box::new(reader), requested_schema)?)
    }
}

/// `indices` (a Python int, a list or tuple of ints, or any integer
/// array-like; negative ones count from the end of `n` rows) as row
/// numbers, checked against `n`.
///
/// Ints, lists and tuples are read directly and int64 buffers (numpy's
/// default integer arrays) borrowed: a data loader's `take([i])` per
/// sample costs no numpy calls. Anything else goes through
/// `numpy.asarray`, and must have an integer dtype: floats are not
/// truncated and booleans are not read as 0 and 1 (numpy would read them
/// as a mask), both are a `TypeError`.
pub fn row_indices(
    py: Python<'_>,
    indices: &Bound<'_, PyAny>,
    n: u64,
    path: &std::path::Path,
) -> PyResult<Vec<u64>> {
    let out_of_range = |i: &dyn std::fmt::Display| {
        PyIndexError::new_err(format!(
            "{}: index {i} is out of range for {n} rows",
            path.display()
        ))
    };
    let check = |i: i64| -> PyResult<u64> {
        let r = if i < 0 {
            i.checked_add_unsigned(n).unwrap_or(-1)
        } else {
            i
        };
        if r < 0 || r as u64 >= n {
            return Err(out_of_range(&i));
        }
        Ok(r as u64)
    };
    // A Python int that is not a bool, in the i64 range.
    let int = |x: &Bound<'_, PyAny>| -> Option<i64> {
        if x.is_instance_of::<PyBool>() {
            return None;
        }
        x.cast::<PyInt>().ok()?.extract::<i64>().ok()
    };
    if let Some(i) = int(indices) {
        return Ok(vec![check(i)?]);
    }
    let seq = if let Ok(l) = indices.cast::<PyList>() {
        l.iter().map(|x| int(&x)).collect::<Option<Vec<_>>>()
    } else if let Ok(t) = indices.cast::<PyTuple>() {
        t.iter().map(|x| int(&x)).collect::<Option<Vec<_>>>()
    } else {
        None
    };
    if let Some(v) = seq {
        return v.into_iter().map(check).collect();
    }
    if let Ok(b) = Contiguous::<i64>::get(indices) {
        if b.ndim() == 1 {
            return b.slice().iter().map(|&i| check(i)).collect();
        }
    }
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (indices,))?;
    if arr.getattr("size")?.extract::<usize>()? == 0 {
        return Ok(Vec::new());
    }
    let dtype = arr.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if kind != "i" && kind != "u" {
        return Err(PyTypeError::new_err(format!(
            "{}: row indices must be integers, not {}",
            path.display(),
            dtype.str()?
        )));
    }
    if kind == "u" && dtype.getattr("itemsize")?.extract::<usize>()? == 8 {
        // uint64 above i64::MAX would wrap to a negative index in int64.
        let hi: u64 = arr.call_method0("max")?.extract()?;
        if hi > i64::MAX as u64 {
            return Err(out_of_range(&hi));
        }
    }
    let idx = np.call_method1(
        "ascontiguousarray",
        (arr.call_method1("reshape", (-1,))?, "int64"),
    )?;
    let b = Contiguous::<i64>::get(&idx)?;
    b.slice().iter().map(|&i| check(i)).collect()
}

/// The values of `a` at `idx` (statistics of the chunks a view covers).
fn arrow_select_take(
    a: &dyn arrow_array::Array,
    idx: &arrow_array::UInt64Array,
) -> PyResult<ArrayRef> {
    arrow_select::take::take(a, idx, None).map_err(|e| PyValueError::new_err(e.to_string()))
}

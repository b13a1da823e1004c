//! `mmarrow._native.ArrayWriter` and `TableWriter`: appends with commits,
//! as context managers (commit on a clean exit, discard the uncommitted
//! rows on an exception).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema};

use mmarrow::write::WriterOptions;
use mmarrow::{Dtype, TableWriter as RsTableWriter};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};
use pyo3_arrow::{PyArray, PySchema};

use crate::buffer::Contiguous;
use crate::error::{to_py, IntoPy};

fn closed() -> PyErr {
    PyRuntimeError::new_err("writer is closed")
}

/// Appends whole rows to an array file. See `mmarrow.ArrayWriter`.
#[pyclass(module = "mmarrow._native", frozen)]
pub struct ArrayWriter {
    inner: Mutex<Option<mmarrow::ArrayWriter>>,
    typestr: String,
    row_shape: Vec<u64>,
}

impl ArrayWriter {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut mmarrow::ArrayWriter) -> mmarrow::Result<T> + Send,
    ) -> PyResult<T> {
        let mut guard = self.inner.lock().map_err(|_| closed())?;
        let w = guard.as_mut().ok_or_else(closed)?;
        py.detach(|| f(w)).py()
    }

    fn create(path: PathBuf, o: WriterOptions) -> PyResult<Self> {
        let w = o.create(&path).py()?;
        Ok(ArrayWriter {
            typestr: w.dtype().typestr(),
            row_shape: w.row_shape().to_vec(),
            inner: Mutex::new(Some(w)),
        })
    }
}

#[pymethods]
impl ArrayWriter {
    /// Creates `path` (raw file + sidecar, or `.npy` by its name) for rows
    /// of `row_shape` elements of `dtype` (numpy's typestr or name).
    #[new]
    #[pyo3(signature = (path, dtype, row_shape=Vec::new(), overwrite=false))]
    fn new(path: PathBuf, dtype: &str, row_shape: Vec<u64>, overwrite: bool) -> PyResult<Self> {
        let dtype = Dtype::parse(dtype).py()?;
        Self::create(
            path,
            WriterOptions::new(dtype, &row_shape).overwrite(overwrite),
        )
    }

    /// numpy's typestr of the file's dtype.
    #[getter]
    fn typestr(&self) -> String {
        self.typestr.clone()
    }

    /// The shape of each row.
    #[getter]
    fn row_shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.row_shape)
    }

    /// Rows committed so far.
    #[getter]
    fn committed_rows(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |w| Ok(w.committed_rows()))
    }

    /// Rows appended since the last commit.
    #[getter]
    fn pending_rows(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |w| Ok(w.pending_rows()))
    }

    /// Appends rows given as raw bytes in the file's dtype, byte order
    /// and C order (the Python `append` passes numpy arrays here).
    fn append_bytes(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let buf = Contiguous::<u8>::get(data)?;
        let bytes = buf.slice();
        self.with(py, |w| w.append_bytes(bytes))
    }

    /// Appends the rows of an Arrow array (any `__arrow_c_array__` object).
    fn append_arrow(&self, py: Python<'_>, array: PyArray) -> PyResult<()> {
        let (array, _) = array.into_inner();
        self.with(py, |w| w.append_array(array.as_ref()))
    }

    /// Makes the appended rows durable and visible to readers; returns the
    /// committed row count.
    fn commit(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |w| w.commit())
    }

    /// Closes the writer, discarding rows appended since the last commit.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let w = self.inner.lock().map_err(|_| closed())?.take();
        py.detach(move || drop(w));
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Commits on a clean exit; on an exception discards the uncommitted rows.
    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let clean = exc_type.is_none_or(|t| t.is_none());
        let open = self.inner.lock().map_err(|_| closed())?.is_some();
        if clean && open {
            self.commit(py)?;
        }
        self.close(py)?;
        Ok(false)
    }
}

/// Appends record batches to a table directory. See `mmarrow.TableWriter`.
#[pyclass(module = "mmarrow._native", frozen)]
pub struct TableWriter {
    inner: Mutex<Option<RsTableWriter>>,
}

impl TableWriter {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut RsTableWriter) -> mmarrow::Result<T> + Send,
    ) -> PyResult<T> {
        let mut guard = self.inner.lock().map_err(|_| closed())?;
        let w = guard.as_mut().ok_or_else(closed)?;
        py.detach(|| f(w)).py()
    }
}

#[pymethods]
impl TableWriter {
    /// Creates the table directory `path` for rows of `schema` (any
    /// `__arrow_c_schema__` object, e.g. a `pyarrow.Schema`).
    #[new]
    #[pyo3(signature = (path, schema, overwrite=false))]
    fn new(py: Python<'_>, path: PathBuf, schema: PySchema, overwrite: bool) -> PyResult<Self> {
        let schema = schema.into_inner();
        let o = mmarrow::table::TableWriterOptions::new().overwrite(overwrite);
        let w = py.detach(|| o.create(&path, schema)).py()?;
        Ok(TableWriter {
            inner: Mutex::new(Some(w)),
        })
    }

    /// Rows committed so far.
    #[getter]
    fn committed_rows(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |w| Ok(w.committed_rows()))
    }

    /// Rows appended since the last commit.
    #[getter]
    fn pending_rows(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |w| Ok(w.pending_rows()))
    }

    /// The table's schema, as a pyarrow `Schema` when pyarrow is installed.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.with(py, |w| Ok(w.schema()))?;
        crate::table::schema_object(py, s)
    }

    /// Appends rows: a record batch, table, or any Arrow PyCapsule object
    /// (`__arrow_c_array__` of a struct, or `__arrow_c_stream__`).
    fn append(&self, py: Python<'_>, data: AnyRecordBatch) -> PyResult<()> {
        let reader = data.into_reader()?;
        let mut guard = self.inner.lock().map_err(|_| closed())?;
        let w = guard.as_mut().ok_or_else(closed)?;
        let schema = w.schema();
        py.detach(move || -> PyResult<()> {
            let arrow_err = |e: arrow_schema::ArrowError| PyValueError::new_err(e.to_string());
            for batch in reader {
                let batch = conform(batch.map_err(arrow_err)?, &schema).map_err(arrow_err)?;
                w.append(&batch).map_err(crate::error::to_py)?;
            }
            Ok(())
        })
    }

    /// Makes the appended rows durable and visible to readers; returns the
    /// committed row count.
    fn commit(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |w| w.commit())
    }

    /// Closes the writer, discarding rows appended since the last commit.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let w = self.inner.lock().map_err(|_| closed())?.take();
        py.detach(move || drop(w));
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Commits on a clean exit; on an exception discards the uncommitted rows.
    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let clean = exc_type.is_none_or(|t| t.is_none());
        let open = self.inner.lock().map_err(|_| closed())?.is_some();
        if clean && open {
            self.commit(py)?;
        }
        self.close(py)?;
        Ok(false)
    }
}

/// `t` with every string, binary and list type in its plain form (`Utf8`,
/// `Binary`, `List`), so representations that differ only in layout
/// (Polars exports `Utf8View` and `LargeList`) compare equal.
fn plain(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => DataType::List(Arc::new(
            f.as_ref().clone().with_data_type(plain(f.data_type())),
        )),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(
            Arc::new(f.as_ref().clone().with_data_type(plain(f.data_type()))),
            *n,
        ),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Arc::new(f.as_ref().clone().with_data_type(plain(f.data_type()))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `batch` with the columns whose type differs from `schema`'s only in
/// such a representation cast to the table's type (other differences are
/// left for the writer to refuse, with its message).
fn conform(batch: RecordBatch, schema: &Schema) -> Result<RecordBatch, arrow_schema::ArrowError> {
    if batch.num_columns() != schema.fields().len()
        || batch
            .schema()
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.data_type() == b.data_type())
    {
        return Ok(batch);
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (c, want) in batch.columns().iter().zip(schema.fields()) {
        let t = want.data_type();
        if c.data_type() != t && plain(c.data_type()) == plain(t) {
            columns.push(arrow_cast::cast(c.as_ref(), t)?);
        } else {
            columns.push(c.clone());
        }
    }
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Arc::new(f.as_ref().clone().with_data_type(c.data_type().clone())))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(
            fields,
            batch.schema().metadata().clone(),
        )),
        columns,
    )
}

/// Writes Arrow data (any `__arrow_c_array__` or `__arrow_c_stream__`
/// object) to `path`: a struct array, record batch or table becomes a
/// table directory, any other array an array file whose dtype and row
/// shape follow the Arrow type. Returns the rows written.
#[pyfunction]
#[pyo3(signature = (path, data, overwrite=false))]
pub fn save_arrow(py: Python<'_>, path: PathBuf, data: AnyArray, overwrite: bool) -> PyResult<u64> {
    let reader = data.into_reader()?;
    let field = reader.field();
    let arrow_err = |e: arrow_schema::ArrowError| PyValueError::new_err(e.to_string());
    if let DataType::Struct(fields) = field.data_type() {
        let schema = Arc::new(Schema::new(fields.clone()));
        let o = mmarrow::table::TableWriterOptions::new().overwrite(overwrite);
        py.detach(move || -> PyResult<u64> {
            let mut w = o.create(&path, schema.clone()).map_err(to_py)?;
            for array in reader {
                let array = array.map_err(arrow_err)?;
                let s = array.as_struct();
                let batch = RecordBatch::try_new(schema.clone(), s.columns().to_vec())
                    .map_err(arrow_err)?;
                w.append(&batch).map_err(to_py)?;
            }
            w.commit().map_err(to_py)
        })
    } else {
        let o = WriterOptions::for_arrow_field(&field)
            .py()?
            .overwrite(overwrite);
        py.detach(move || -> PyResult<u64> {
            let mut w = o.create(&path).map_err(to_py)?;
            for array in reader {
                w.append_array(array.map_err(arrow_err)?.as_ref())
                    .map_err(to_py)?;
            }
            w.commit().map_err(to_py)
        })
    }
}

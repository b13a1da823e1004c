//! Conversions (`mmarrow.convert`, `to_parquet`, `from_parquet`) through
//! the library's `mmarrow::convert::convert`, with the GIL released and
//! progress reported to an optional Python callable.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mmarrow::convert::{Compression, ConvertOptions, Format, Progress};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::IntoPy;

/// Calls `callback(rows_done, rows_total, bytes_done, bytes_total)` as a
/// conversion advances, from whichever thread reports.
struct PyProgress {
    callback: Py<PyAny>,
    rows: AtomicU64,
    bytes: AtomicU64,
    done_rows: AtomicU64,
    done_bytes: AtomicU64,
}

impl PyProgress {
    fn report(&self) {
        let args = (
            self.done_rows.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
            self.done_bytes.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        );
        Python::attach(|py| {
            // A failing callback must not abort (or panic) the
            // conversion: Python reports it as an unraisable exception.
            if let Err(e) = self.callback.call1(py, args) {
                e.write_unraisable(py, Some(self.callback.bind(py)));
            }
        });
    }
}

impl Progress for PyProgress {
    fn start(&self, rows: u64, bytes: u64) {
        self.rows.store(rows, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
        self.done_rows.store(0, Ordering::Relaxed);
        self.done_bytes.store(0, Ordering::Relaxed);
        self.report();
    }

    fn advance(&self, rows: u64, bytes: u64) {
        self.done_rows.fetch_add(rows, Ordering::Relaxed);
        self.done_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.report();
    }
}

fn format(name: &str) -> PyResult<Format> {
    match name {
        "array" | "npy" | "raw" => Ok(Format::Array),
        "parquet" => Ok(Format::Parquet),
        "ipc" | "arrow" | "feather" => Ok(Format::Ipc),
        "table" => Ok(Format::Table),
        other => Err(PyValueError::new_err(format!(
            "format must be \"array\", \"parquet\", \"ipc\" or \"table\", not {other:?}"
        ))),
    }
}

/// Converts `src` to `dst` as `mmarrow convert` does; see `mmarrow.convert`.
#[pyfunction]
#[pyo3(signature = (
    src, dst, *, source_format=None, destination_format=None, column=None, table=false,
    compression=None, row_group_rows=None, threads=None, overwrite=false, if_stale=false,
    durable=true, progress=None, string_view=false,
))]
#[allow(clippy::too_many_arguments)]
pub fn convert<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
    source_format: Option<&str>,
    destination_format: Option<&str>,
    column: Option<String>,
    table: bool,
    compression: Option<&str>,
    row_group_rows: Option<u64>,
    threads: Option<usize>,
    overwrite: bool,
    if_stale: bool,
    durable: bool,
    progress: Option<Py<PyAny>>,
    string_view: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let mut o = ConvertOptions::new()
        .overwrite(overwrite)
        .if_stale(if_stale)
        .durable(durable)
        .string_view(string_view)
        .table(table);
    if let Some(f) = source_format {
        o = o.source_format(format(f)?);
    }
    if let Some(f) = destination_format {
        o = o.destination_format(format(f)?);
    }
    if let Some(c) = column {
        o = o.column(c);
    }
    if let Some(c) = compression {
        o = o.compression(c.parse::<Compression>().py()?);
    }
    if let Some(r) = row_group_rows {
        o = o.row_group_rows(r);
    }
    if let Some(t) = threads {
        o = o.threads(t);
    }
    if let Some(callback) = progress {
        o = o.progress(Arc::new(PyProgress {
            callback,
            rows: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            done_rows: AtomicU64::new(0),
            done_bytes: AtomicU64::new(0),
        }));
    }
    let s = py
        .detach(|| mmarrow::convert::convert(&src, &dst, &o))
        .py()?;
    let d = PyDict::new(py);
    d.set_item("rows", s.rows)?;
    d.set_item("data_bytes", s.data_bytes)?;
    d.set_item("output_bytes", s.output_bytes)?;
    d.set_item("groups", s.groups)?;
    d.set_item("fast_path", s.fast_path)?;
    d.set_item("up_to_date", s.up_to_date)?;
    Ok(d)
}

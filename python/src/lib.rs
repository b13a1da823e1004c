//! `mmarrow._native`, the extension module of the `mmarrow` Python
//! package: mmarrow's arrays and tables as zero-copy numpy, pyarrow,
//! Polars and DuckDB objects through the Arrow PyCapsule interface, its
//! writers and its conversions. The pure-Python package `python/mmarrow/`
//! wraps it; its docstrings and `.pyi` stubs are the Python documentation.
//!
//! Everything here calls the `mmarrow` library; nothing re-implements it.
//! The GIL is released (`py.detach`) while the library opens, converts,
//! gathers rows or writes.

mod array;
mod buffer;
mod convert;
mod error;
mod layout;
mod table;
mod writer;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<array::Array>()?;
    m.add_class::<table::Table>()?;
    m.add_class::<writer::ArrayWriter>()?;
    m.add_class::<writer::TableWriter>()?;
    m.add_function(wrap_pyfunction!(array::open, m)?)?;
    m.add_function(wrap_pyfunction!(table::open_table, m)?)?;
    m.add_function(wrap_pyfunction!(table::verify, m)?)?;
    m.add_function(wrap_pyfunction!(writer::save_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(convert::convert, m)?)?;
    Ok(())
}

//! The array-output sink: decoded Arrow arrays appended to an array file
//! through [`ArrayWriter`], the row shape of variable lists learnt from the
//! data, and finishing the output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait,
};
use arrow_schema::{DataType, Field, FieldRef};

use super::options::ConvertOptions;
use super::output::{ConvertSummary, Output};
use super::spec::ArraySpec;
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::is_npy_path;
use crate::write::{ArrayWriter, Durability, OutputFormat, WriterOptions};

/// Writes one column's arrays, in order, to the array file under an
/// [`Output`]'s temporary name; the file is created at the first rows.
pub(crate) struct ArraySink<'a> {
    src: &'a Path,
    field: Field,
    spec: ArraySpec,
    tmp: PathBuf,
    format: OutputFormat,
    options: WriterOptions,
    /// The row shape, with a list length learnt from the first rows.
    learnt: Vec<u64>,
    writer: Option<ArrayWriter>,
}

impl<'a> ArraySink<'a> {
    /// A sink for column `field` of `src` (`spec` being what an array file
    /// holds of it), written as `.npy` if `dst` says so, raw + sidecar
    /// otherwise.
    pub fn new(src: &'a Path, field: Field, spec: ArraySpec, out: &Output, dst: &Path) -> Self {
        let format = if is_npy_path(dst) {
            OutputFormat::Npy
        } else {
            OutputFormat::Raw
        };
        let learnt = spec.row_shape.clone();
        let options = writer_options(&spec, &spec.fixed_row_shape(), &field, format);
        ArraySink {
            src,
            field,
            spec,
            tmp: out.path().to_path_buf(),
            format,
            options,
            learnt,
            writer: None,
        }
    }

    /// The writer, created with the row shape known so far.
    pub fn writer(&mut self) -> Result<&mut ArrayWriter> {
        if self.writer.is_none() {
            let w = self.options.clone().overwrite(true).create(&self.tmp)?;
            self.writer = Some(w);
        }
        Ok(self.writer.as_mut().expect("just created"))
    }

    /// Appends `a` (variable lists of one length become fixed-size lists,
    /// the length learnt from the first rows) and reports its rows to
    /// `o`'s progress.
    pub fn append(&mut self, a: &ArrayRef, o: &ConvertOptions) -> Result<()> {
        let a = fixed_lists(a, &mut self.learnt).map_err(|r| self.column_error(r))?;
        if self.writer.is_none() && self.learnt != self.spec.row_shape {
            self.options = writer_options(&self.spec, &self.learnt, &self.field, self.format);
        }
        let (field, src) = (self.field.clone(), self.src);
        self.writer()?
            .append_array(a.as_ref())
            .map_err(|e| nulls_error(e, &field, src))?;
        let rows = a.len() as u64;
        o.advance(rows, rows * self.spec.row_bytes_hint());
        Ok(())
    }

    /// A Format error about this column of the source.
    pub fn column_error(&self, reason: String) -> Error {
        ErrorKind::Format {
            reason: format!("column {:?} {reason}", self.field.name()),
        }
        .at(self.src)
    }

    /// Commits the array (creating it empty if no rows came) and fsyncs
    /// it, ready for `out` to rename.
    pub fn finish(
        mut self,
        out: &Output,
        groups: usize,
        fast_path: bool,
    ) -> Result<ConvertSummary> {
        let w = self.writer()?;
        w.commit()?;
        let rows = w.committed_rows();
        let row_bytes = w.row_shape().iter().product::<u64>() * w.dtype().itemsize() as u64;
        drop(self.writer.take());
        out.sync_with_sidecar()?;
        let output_bytes = std::fs::metadata(out.path())
            .map_err(|e| Error::io(out.path(), "stat", e))?
            .len();
        Ok(ConvertSummary {
            rows,
            data_bytes: rows * row_bytes,
            output_bytes,
            groups,
            fast_path,
            up_to_date: false,
        })
    }
}

fn writer_options(
    spec: &ArraySpec,
    row_shape: &[u64],
    field: &Field,
    format: OutputFormat,
) -> WriterOptions {
    WriterOptions::new(spec.dtype, row_shape)
        .durability(Durability::Process)
        .name(field.name().clone())
        .format(format)
}

/// Turns the writer's null error into one that names the source column.
pub(crate) fn nulls_error(e: Error, field: &Field, src: &Path) -> Error {
    match e.kind() {
        ErrorKind::HasNulls { nulls } => ErrorKind::Format { reason: format!(
                "column {:?} has {nulls} nulls in a row group; an array file cannot hold nulls (convert it to a table instead)",
                field.name()
            ) }.at(src),
        _ => e,
    }
}

/// Turns variable lists whose rows all have one length into fixed-size
/// lists (zero-copy), learning the length from the first non-empty data,
/// and Arrow's bit-packed booleans into numpy's one byte per value.
pub(crate) fn fixed_lists(
    a: &ArrayRef,
    row_shape: &mut [u64],
) -> std::result::Result<ArrayRef, String> {
    fn convert<O: OffsetSizeTrait>(
        l: &GenericListArray<O>,
        row_shape: &mut [u64],
    ) -> std::result::Result<ArrayRef, String> {
        if l.null_count() > 0 {
            return Err(format!(
                "has {} null lists, which an array file cannot hold",
                l.null_count()
            ));
        }
        let offsets = l.value_offsets();
        let first = offsets.first().map_or(0, |o| o.as_usize());
        let len = if l.is_empty() {
            row_shape[0] as usize
        } else {
            offsets[1].as_usize() - first
        };
        if row_shape[0] == 0 {
            if len == 0 {
                return Err(
                    "holds empty lists; an array file needs rows of one non-zero length".into(),
                );
            }
            row_shape[0] = len as u64;
        }
        let n = row_shape[0] as usize;
        if offsets
            .windows(2)
            .any(|w| w[1].as_usize() - w[0].as_usize() != n)
        {
            return Err(format!(
                "holds lists of different lengths (expected {n} per row)"
            ));
        }
        let values = l.values().slice(first, l.len() * n);
        let item: FieldRef = Arc::new(Field::new("item", values.data_type().clone(), true));
        let fsl =
            FixedSizeListArray::try_new(item, n as i32, values, None).map_err(|e| e.to_string())?;
        Ok(Arc::new(fsl))
    }
    match a.data_type() {
        DataType::List(_) => convert(
            a.as_any()
                .downcast_ref::<GenericListArray<i32>>()
                .expect("list"),
            row_shape,
        ),
        DataType::LargeList(_) => convert(
            a.as_any()
                .downcast_ref::<GenericListArray<i64>>()
                .expect("large list"),
            row_shape,
        ),
        DataType::Boolean => {
            // Bit-packed booleans become numpy's one byte per value.
            let b = a.as_any().downcast_ref::<BooleanArray>().expect("boolean");
            if b.null_count() > 0 {
                return Ok(a.clone()); // reported as nulls by the writer
            }
            let bytes: Vec<i8> = b.values().iter().map(i8::from).collect();
            Ok(Arc::new(arrow_array::Int8Array::from(bytes)))
        }
        _ => Ok(a.clone()),
    }
}

//! `mmarrow head`: the first rows as a table.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, FixedSizeBinaryArray, FixedSizeListArray, RecordBatch, StringArray,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{Field, Schema};
use mmarrow::array::{ArrowOptions, BoolLayout};

use crate::common::{printable, ArrayArgs, Layout};
use crate::CliError;

/// Arguments of `mmarrow head`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub array: ArrayArgs,
    /// Number of rows to print.
    #[arg(short = 'n', long = "rows", default_value_t = 10)]
    pub rows: u64,
    /// Elements shown per list cell before eliding (0: all).
    #[arg(long, default_value_t = 8)]
    pub max_items: usize,
    /// Arrow layout of N-D arrays.
    #[arg(long, value_enum, default_value_t = Layout::Tensor)]
    pub layout: Layout,
}

pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    if mmarrow::table::is_table(&a.array.path) {
        let t = mmarrow::Table::open(&a.array.path)?;
        let n = a.rows.min(t.num_rows());
        writeln!(out, "{}", render(&t.slice(0..n)?, a.max_items)?)?;
        if n < t.num_rows() {
            writeln!(out, "{} of {} rows", n, t.num_rows())?;
        }
        return Ok(());
    }
    let array = a.array.options()?.open(&a.array.path)?;
    let n = a.rows.min(array.len());
    // Display only: a big-endian or misaligned file is copied, but only the rows shown.
    // A 0-d array is one scalar, shown whole (it has no rows to slice).
    let view = if array.shape().is_empty() {
        array.to_arrow_compatible()
    } else {
        array.slice(0..n)?.to_arrow_compatible()
    };
    // bool shows as true/false (a copy of the shown rows only).
    let options = ArrowOptions::new()
        .tensor(a.layout.into())
        .bools(BoolLayout::Boolean);
    let batch = view.to_record_batch_with(options)?;
    let text = render(&batch, a.max_items)?;
    writeln!(out, "{text}")?;
    if n < array.len() {
        writeln!(out, "{} of {} rows", n, array.len())?;
    }
    if !view.is_zero_copy() {
        let why: Vec<String> = view.copy_reasons().iter().map(|r| r.to_string()).collect();
        writeln!(out, "(shown from a copy: {})", why.join(", "))?;
    }
    Ok(())
}

/// Formats each cell as text (eliding long lists) and pretty-prints the table.
fn render(batch: &RecordBatch, max_items: usize) -> Result<String, CliError> {
    let fmt = FormatOptions::default().with_null("null");
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let cells: Vec<String> = (0..col.len())
            .map(|i| cell(col.as_ref(), i, max_items, &fmt))
            .collect::<Result<_, _>>()
            .map_err(mmarrow::Error::from)?;
        fields.push(Field::new(
            printable(f.name()),
            arrow_schema::DataType::Utf8,
            false,
        ));
        columns.push(Arc::new(StringArray::from(cells)));
    }
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    let strings = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &opts)
        .map_err(mmarrow::Error::from)?;
    Ok(arrow_cast::pretty::pretty_format_batches(&[strings])
        .map_err(mmarrow::Error::from)?
        .to_string())
}

fn cell(
    col: &dyn Array,
    i: usize,
    max_items: usize,
    fmt: &FormatOptions,
) -> Result<String, arrow_schema::ArrowError> {
    if let Some(list) = col.as_any().downcast_ref::<FixedSizeListArray>() {
        let values = list.value(i);
        let shown = if max_items == 0 {
            values.len()
        } else {
            values.len().min(max_items)
        };
        let mut parts = Vec::with_capacity(shown + 1);
        for j in 0..shown {
            parts.push(cell(values.as_ref(), j, max_items, fmt)?);
        }
        if shown < values.len() {
            parts.push(format!("… {} more", values.len() - shown));
        }
        return Ok(format!("[{}]", parts.join(", ")));
    }
    if let Some(b) = col.as_any().downcast_ref::<FixedSizeBinaryArray>() {
        // numpy-style bytes literal, trailing NULs of S<n> padding dropped.
        let v = b.value(i);
        let end = v.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
        let text: String = v[..end]
            .iter()
            .flat_map(|&c| std::ascii::escape_default(c))
            .map(char::from)
            .collect();
        return Ok(format!("b'{text}'"));
    }
    let f = ArrayFormatter::try_new(col, fmt)?;
    // One table line per row: control characters are shown escaped.
    Ok(printable(&f.value(i).to_string()).into_owned())
}

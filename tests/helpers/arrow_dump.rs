//! Test helper for the Python interop harness: opens an array file through
//! the library and prints, as one JSON document, the Arrow schema (types,
//! field metadata) and each column's leaf values as little-endian hex bytes,
//! so numpy's view can be compared byte for byte.
//!
//! `arrow_dump PATH [--copy] [--layout tensor|list|nested] [--boolean]
//!  [--dtype D --shape S --offset N --order C|F]`
//!
//! Exit code 2 and one line on stderr for errors, like the CLI.

use std::process::ExitCode;

use arrow_array::{Array, ArrayRef, FixedSizeListArray};
use mmarrow::array::{ArrowOptions, BoolLayout, TensorLayout};
use mmarrow::open::CopyPolicy;
use mmarrow::shape::Order;
use mmarrow::OpenOptions;
use serde_json::{json, Value};

fn main() -> ExitCode {
    match run() {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("arrow_dump: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<Value, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: arrow_dump PATH [options]")?;
    let mut opts = OpenOptions::new();
    let mut arrow = ArrowOptions::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--copy" => opts = opts.copy(CopyPolicy::Allow),
            "--boolean" => arrow = arrow.bools(BoolLayout::Boolean),
            "--layout" => {
                arrow = arrow.tensor(match val()?.as_str() {
                    "tensor" => TensorLayout::FixedShapeTensor,
                    "list" => TensorLayout::FixedSizeList,
                    "nested" => TensorLayout::Nested,
                    other => return Err(format!("unknown layout {other}").into()),
                })
            }
            "--dtype" => opts = opts.try_with_dtype(&val()?)?,
            "--shape" => opts = opts.try_with_shape(&val()?)?,
            "--offset" => opts = opts.offset(val()?.parse()?),
            "--order" => opts = opts.order(val()?.parse::<Order>()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let array = opts.open(&path)?;
    let batch = array.to_record_batch_with(arrow)?;
    let schema = batch.schema();
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            json!({
                "name": f.name(),
                "arrow_type": f.data_type().to_string(),
                "nullable": f.is_nullable(),
                "metadata": f.metadata(),
                "len": c.len(),
                "leaf_hex": hex(&leaf_bytes(c)),
                "in_map": in_map(c, array.mapped_range()),
            })
        })
        .collect();
    Ok(json!({
        "dtype": array.dtype().typestr(),
        "shape": array.shape(),
        "order": array.order().to_string(),
        "zero_copy": array.is_zero_copy(),
        "copy_reasons": array.copy_reasons().iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "schema_metadata": schema.metadata(),
        "num_rows": batch.num_rows(),
        "columns": columns,
    }))
}

/// The innermost values of a (possibly nested) FixedSizeList, as bytes.
fn leaf(c: &ArrayRef) -> ArrayRef {
    match c.as_any().downcast_ref::<FixedSizeListArray>() {
        Some(l) => leaf(l.values()),
        None => c.clone(),
    }
}

fn leaf_bytes(c: &ArrayRef) -> Vec<u8> {
    let l = leaf(c);
    let data = l.to_data();
    let width = match data.data_type().primitive_width() {
        Some(w) => w,
        None => match data.data_type() {
            arrow_schema::DataType::FixedSizeBinary(w) => *w as usize,
            arrow_schema::DataType::Boolean => {
                // Bit-packed: expand to one byte per value like numpy's bool.
                let b = l
                    .as_any()
                    .downcast_ref::<arrow_array::BooleanArray>()
                    .unwrap();
                return b.iter().map(|v| v.unwrap_or(false) as u8).collect();
            }
            t => panic!("unexpected leaf type {t}"),
        },
    };
    let buf = &data.buffers()[0];
    buf.as_slice()[data.offset() * width..(data.offset() + data.len()) * width].to_vec()
}

fn in_map(c: &ArrayRef, map: Option<std::ops::Range<usize>>) -> bool {
    let l = leaf(c);
    let data = l.to_data();
    let p = data.buffers()[0].as_ptr() as usize;
    map.is_some_and(|m| m.contains(&p) || data.is_empty())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

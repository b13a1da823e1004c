//! `mmarrow cat`: concatenate array files along the first axis.

use std::io::Write;
use std::path::{Path, PathBuf};

use mmarrow::shape::Order;
use mmarrow::write::{Durability, WriterOptions};
use mmarrow::{Error, ErrorKind, MmArray};

use crate::CliError;

/// Rows are copied in slices of about this many bytes.
const CHUNK_BYTES: u64 = 8 << 20;

/// Arguments of `mmarrow cat`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The output file: raw data plus sidecar, or .npy when the name ends in .npy.
    pub out: PathBuf,
    /// Input array files with the same dtype and row shape.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    let inputs: Vec<MmArray> = a
        .inputs
        .iter()
        .map(mmarrow::open)
        .collect::<Result<_, _>>()?;
    check_compatible(&inputs)?;
    check_not_an_input(&a.out, &a.inputs)?;
    let first = &inputs[0];
    let mut w = WriterOptions::new(*first.dtype(), first.row_shape())
        .overwrite(a.force)
        .durability(Durability::Fsync)
        .create(&a.out)?;
    let result = (|| {
        let row_bytes = first.row_elements() * first.dtype().itemsize() as u64;
        let rows_per_chunk = (CHUNK_BYTES / row_bytes.max(1)).max(1);
        for input in &inputs {
            let mut start = 0;
            while start < input.len() {
                let end = (start + rows_per_chunk).min(input.len());
                w.append_bytes(input.slice(start..end)?.data_buffer().as_slice())?;
                start = end;
            }
        }
        w.finish()
    })();
    match result {
        Ok(array) => {
            writeln!(
                out,
                "wrote {}: {} {} from {} files",
                a.out.display(),
                array.dtype(),
                crate::info::shape_text(array.shape()),
                inputs.len()
            )?;
            Ok(())
        }
        Err(e) => {
            // No partial output: remove what this command created.
            let _ = std::fs::remove_file(&a.out);
            let _ = std::fs::remove_file(mmarrow::format::sidecar_path(&a.out));
            Err(e.into())
        }
    }
}

fn check_compatible(inputs: &[MmArray]) -> Result<(), Error> {
    let first = &inputs[0];
    for a in inputs {
        if a.order() == Order::F && a.shape().len() > 1 {
            return Err(ErrorKind::InvalidRequest {
                reason: "cat joins C-order rows; this array is Fortran-order".into(),
            }
            .at(a.path()));
        }
        if a.shape().is_empty() {
            return Err(ErrorKind::InvalidRequest {
                reason: "a 0-D array has no rows to concatenate".into(),
            }
            .at(a.path()));
        }
        if a.dtype() != first.dtype() {
            return Err(ErrorKind::TypeMismatch {
                expected: format!(
                    "{} (the dtype of {})",
                    first.dtype(),
                    first.path().display()
                ),
                given: a.dtype().typestr(),
            }
            .at(a.path()));
        }
        if a.row_shape() != first.row_shape() {
            return Err(ErrorKind::RowShapeMismatch {
                expected: format!("{:?} (as in {})", first.row_shape(), first.path().display()),
                given: format!("{:?}", a.row_shape()),
            }
            .at(a.path()));
        }
    }
    Ok(())
}

/// Refuses to write over one of the inputs (which is mapped while we write).
fn check_not_an_input(out: &Path, inputs: &[PathBuf]) -> Result<(), Error> {
    let Ok(out_c) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    for i in inputs {
        if i.canonicalize().is_ok_and(|c| c == out_c) {
            return Err(ErrorKind::InvalidRequest {
                reason: "the output is also an input".into(),
            }
            .at(out));
        }
    }
    Ok(())
}

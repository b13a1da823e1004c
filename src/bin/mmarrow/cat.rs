//! `mmarrow cat`: concatenate array files along the first axis.

use std::io::Write;
use std::path::PathBuf;

use mmarrow::shape::Order;
use mmarrow::write::{ArrayWriter, Durability, WriterOptions};
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
    /// Add the rows to the end of an existing output (same dtype and row
    /// shape), e.g. to continue one a killed run left; created if missing.
    #[arg(long, conflicts_with = "force")]
    pub append: bool,
    /// Commit (make durable and visible) every this many bytes, so a kill
    /// keeps what was copied.
    #[arg(long, default_value_t = 64 << 20, hide = true)]
    pub commit_every: u64,
}

/// Copies the inputs' rows through the crash-safe ArrayWriter, committing
/// every `--commit-every` bytes: after a kill the output holds the rows
/// committed so far (a whole-row prefix of the concatenation; `mmarrow
/// info` shows how many), which `--append` can continue. After an error, an
/// output this run created is removed (nothing blocks a rerun); with
/// `--append`, the rows committed before the error stay.
pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    let inputs: Vec<MmArray> = a
        .inputs
        .iter()
        .map(mmarrow::open)
        .collect::<Result<_, _>>()?;
    check_compatible(&inputs)?;
    // By file identity, before anything is created or truncated.
    mmarrow::write::check_not_an_input(&a.out, &a.inputs)?;
    let first = &inputs[0];
    let existing = std::fs::symlink_metadata(&a.out).is_ok();
    let (mut w, created) = if a.append && existing {
        let w = ArrayWriter::open(&a.out, Durability::Fsync)?;
        check_appendable(&w, first)?;
        (w, false)
    } else {
        let w = WriterOptions::new(*first.dtype(), first.row_shape())
            .overwrite(a.force)
            .durability(Durability::Fsync)
            .create(&a.out)?;
        (w, true)
    };
    let before = w.committed_rows();
    let result = (|| {
        let row_bytes = first.row_elements() * first.dtype().itemsize() as u64;
        let rows_per_chunk = (CHUNK_BYTES / row_bytes.max(1)).max(1);
        let mut pending = 0u64;
        for input in &inputs {
            let mut start = 0;
            while start < input.len() {
                let end = (start + rows_per_chunk).min(input.len());
                w.append_bytes(input.slice(start..end)?.data_buffer().as_slice())?;
                pending += (end - start) * row_bytes;
                if pending >= a.commit_every {
                    w.commit()?;
                    pending = 0;
                    pause_point("cat-committed");
                }
                start = end;
            }
        }
        w.finish()
    })();
    match result {
        Ok(array) => {
            let what = if created { "wrote" } else { "appended to" };
            writeln!(
                out,
                "{what} {}: {} rows from {} files, now {} {}",
                a.out.display(),
                array.len() - before,
                inputs.len(),
                array.dtype(),
                crate::info::shape_text(array.shape()),
            )?;
            Ok(())
        }
        Err(e) => {
            if created {
                // No partial output from an error: remove what this run created.
                let _ = std::fs::remove_file(&a.out);
                let _ = std::fs::remove_file(mmarrow::format::sidecar_path(&a.out));
            }
            Err(e.into())
        }
    }
}

/// Refuses to append rows of another dtype or row shape than the output's.
fn check_appendable(w: &ArrayWriter, first: &MmArray) -> Result<(), Error> {
    if w.dtype() != first.dtype() {
        return Err(ErrorKind::TypeMismatch {
            expected: w.dtype().typestr(),
            given: format!(
                "{} (the dtype of {})",
                first.dtype().typestr(),
                first.path().display()
            ),
        }
        .at(w.path()));
    }
    if w.row_shape() != first.row_shape() {
        return Err(ErrorKind::RowShapeMismatch {
            expected: format!("{:?}", w.row_shape()),
            given: format!("{:?} (as in {})", first.row_shape(), first.path().display()),
        }
        .at(w.path()));
    }
    Ok(())
}

/// Test hook (feature `test-helpers`): as the library's, stops here to be
/// killed when `MMARROW_TEST_PAUSE_AT` names `step`.
fn pause_point(step: &str) {
    #[cfg(feature = "test-helpers")]
    if std::env::var_os("MMARROW_TEST_PAUSE_AT").is_some_and(|s| s == step) {
        eprintln!("mmarrow-test: paused at {step}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    #[cfg(not(feature = "test-helpers"))]
    let _ = step;
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

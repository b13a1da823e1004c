//! `mmarrow verify`: check every offset, UTF-8 string and null count, and
//! every committed byte range against its checksum.

use std::io::Write;
use std::path::PathBuf;

use crate::common::printable_path;
use crate::CliError;

/// Arguments of `mmarrow verify`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A table directory or an array file.
    pub path: PathBuf,
}

pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    match mmarrow::verify(&a.path)? {
        mmarrow::Verified::Table {
            table: t,
            checksums: sums,
        } => {
            let unchecked = match sums.unchecked_bytes {
                0 => String::new(),
                n => {
                    format!(
                        "; {n} bytes committed before the table had a commit log have no checksum"
                    )
                }
            };
            writeln!(
                out,
                "{}: ok, {} rows, {} columns, {} bytes match their checksums{unchecked}",
                printable_path(&a.path),
                t.num_rows(),
                t.schema().fields().len(),
                sums.bytes,
            )?;
        }
        mmarrow::Verified::Array(array) => {
            writeln!(
                out,
                "{}: ok, {} rows of {}{}",
                printable_path(&a.path),
                array.len(),
                array.dtype(),
                if array.zero_copy_blocker().is_some() {
                    " (not zero-copy)"
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(())
}

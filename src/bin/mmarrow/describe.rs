//! `mmarrow describe`: write the sidecar of an existing raw file.

use std::io::Write;
use std::path::PathBuf;

use mmarrow::format::sidecar_path;
use mmarrow::shape::Order;

use crate::common::{parse_order, printable_path};
use crate::CliError;

/// Arguments of `mmarrow describe`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The raw data file.
    pub path: PathBuf,
    /// Element type: numpy typestr or name (<f4, float32, int64, S16, datetime64[ns]...).
    #[arg(long)]
    pub dtype: String,
    /// Shape, e.g. 1000,128 or -1,128 (one -1 is inferred from the file size). Default: -1.
    #[arg(long, allow_hyphen_values = true)]
    pub shape: Option<String>,
    /// Byte offset of the first element.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Memory order: C (row-major) or F (column-major).
    #[arg(long, value_parser = parse_order, default_value = "C")]
    pub order: Order,
    /// Replace an existing sidecar.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    let mut o = mmarrow::OpenOptions::new()
        .try_with_dtype(&a.dtype)?
        .offset(a.offset)
        .order(a.order);
    if let Some(s) = &a.shape {
        o = o.try_with_shape(s)?;
    }
    let array = mmarrow::describe(&a.path, &o.clone().overwrite(a.force))?;
    writeln!(
        out,
        "{}: {} {} order {} offset {}",
        printable_path(&sidecar_path(&a.path)),
        array.dtype(),
        crate::info::shape_text(array.shape()),
        array.order(),
        array.offset()
    )?;
    Ok(())
}

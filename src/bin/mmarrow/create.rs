//! `mmarrow create`: a new zero-filled array file (numpy.memmap mode w+).

use std::io::Write;
use std::path::PathBuf;

use mmarrow::shape::Order;
use mmarrow::Mode;

use crate::common::parse_order;
use crate::CliError;

/// Arguments of `mmarrow create`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The file to create: raw data plus sidecar, or .npy when the name ends in .npy.
    pub path: PathBuf,
    /// Element type: numpy typestr or name (<f4, float32, int64, S16, datetime64[ns]...).
    #[arg(long)]
    pub dtype: String,
    /// Shape, every dimension given, e.g. 1000000,1024.
    #[arg(long, allow_hyphen_values = true)]
    pub shape: String,
    /// Byte offset of the data in a raw file (the bytes before it are zero).
    #[arg(long)]
    pub offset: Option<u64>,
    /// Memory order: C (row-major) or F (column-major).
    #[arg(long, value_parser = parse_order, default_value = "C")]
    pub order: Order,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(a: Args, out: &mut impl Write) -> Result<(), CliError> {
    let mut o = mmarrow::OpenOptions::new()
        .mode(Mode::Create)
        .overwrite(a.force)
        .try_with_dtype(&a.dtype)?
        .try_with_shape(&a.shape)?
        .order(a.order);
    if let Some(off) = a.offset {
        o = o.offset(off);
    }
    let array = o.open_mut(&a.path)?;
    writeln!(
        out,
        "created {}: {} {} order {} offset {}",
        a.path.display(),
        array.dtype(),
        crate::info::shape_text(array.shape()),
        array.order(),
        array.offset()
    )?;
    Ok(())
}

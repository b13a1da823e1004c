//! Options shared by the subcommands that open an array file.

use std::path::PathBuf;

use mmarrow::array::TensorLayout;
use mmarrow::shape::Order;
use mmarrow::OpenOptions;

/// How to open PATH when it has no sidecar (or to check against the sidecar).
#[derive(clap::Args, Debug)]
pub(crate) struct ArrayArgs {
    /// The array file (raw with a sidecar, or .npy).
    pub path: PathBuf,
    /// dtype of a raw file without a sidecar: numpy typestr or name (<f4, float32, S16...).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Shape, e.g. 1000,128 or -1,128 (one -1 is inferred from the file size).
    #[arg(long, allow_hyphen_values = true)]
    pub shape: Option<String>,
    /// Byte offset of the first element.
    #[arg(long)]
    pub offset: Option<u64>,
    /// Memory order: C (row-major) or F (column-major).
    #[arg(long, value_parser = parse_order)]
    pub order: Option<Order>,
}

impl ArrayArgs {
    /// True when no option describes the file (it must describe itself).
    pub fn is_unannotated(&self) -> bool {
        self.dtype.is_none()
            && self.shape.is_none()
            && self.offset.is_none()
            && self.order.is_none()
    }

    /// The library options these arguments describe.
    pub fn options(&self) -> mmarrow::Result<OpenOptions> {
        let mut o = OpenOptions::new();
        if let Some(d) = &self.dtype {
            o = o.try_with_dtype(d)?;
        }
        if let Some(s) = &self.shape {
            o = o.try_with_shape(s)?;
        }
        if let Some(off) = self.offset {
            o = o.offset(off);
        }
        if let Some(ord) = self.order {
            o = o.order(ord);
        }
        Ok(o)
    }
}

pub(crate) fn parse_order(s: &str) -> Result<Order, String> {
    s.parse::<Order>()
        .map_err(|_| format!("{s:?} is not C or F"))
}

/// `--layout` values for N-D arrays.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub(crate) enum Layout {
    /// FixedSizeList with the arrow.fixed_shape_tensor extension.
    #[default]
    Tensor,
    /// Plain FixedSizeList.
    List,
    /// Nested FixedSizeLists, one per dimension.
    Nested,
}

impl From<Layout> for TensorLayout {
    fn from(l: Layout) -> Self {
        match l {
            Layout::Tensor => TensorLayout::FixedShapeTensor,
            Layout::List => TensorLayout::FixedSizeList,
            Layout::Nested => TensorLayout::Nested,
        }
    }
}

/// `text` with control characters (newlines, tabs, terminal escape
/// sequences) shown as Rust escapes, for printing text that came from a
/// file or the command line: a name cannot drive the terminal or split a
/// line.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`printable`] for a path.
pub(crate) fn printable_path(path: &std::path::Path) -> String {
    printable(&path.display().to_string()).into_owned()
}

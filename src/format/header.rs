//! [`ArrayHeader`]: what describes an array file's data, whichever header
//! recorded it (a sidecar, a `.npy` header, or the caller's options).

use std::collections::BTreeMap;

use crate::dtype::Dtype;
use crate::shape::Order;

/// Where an opened array's description came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderSource {
    /// The sidecar next to the data file.
    Sidecar,
    /// The file's own `.npy` header, of this (major, minor) version.
    Npy {
        /// Format version of the header.
        version: (u8, u8),
    },
    /// The caller's options alone (no sidecar, not `.npy`).
    Options,
}

/// The description of an array file's data: the one type that the sidecar,
/// the `.npy` header, [`crate::open()`], [`crate::MmArray`] and
/// [`crate::MmArrayMut`] share.
///
/// ```
/// use mmarrow::format::ArrayHeader;
/// let h = ArrayHeader::new("float32".parse()?, vec![1000, 128]);
/// assert_eq!(h.len(), 1000);
/// assert_eq!(h.row_shape(), &[128]);
/// assert_eq!(h.nbytes(), Some(1000 * 128 * 4));
/// # Ok::<(), mmarrow::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayHeader {
    /// Element type as stored in the file.
    pub dtype: Dtype,
    /// Shape; the first dimension is the number of rows (empty for a 0-D array).
    pub shape: Vec<u64>,
    /// Memory order of the elements.
    pub order: Order,
    /// Byte offset of the first element in the file.
    pub offset: u64,
    /// Column name, if recorded (else the file name gives it).
    pub name: Option<String>,
    /// User metadata (string keys and values), carried to Arrow schemas.
    pub metadata: BTreeMap<String, String>,
}

impl ArrayHeader {
    /// A C-order header at offset 0, with no name and no metadata.
    pub fn new(dtype: Dtype, shape: Vec<u64>) -> Self {
        ArrayHeader {
            dtype,
            shape,
            order: Order::C,
            offset: 0,
            name: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Number of rows (1 for a 0-D array).
    pub fn len(&self) -> u64 {
        self.shape.first().copied().unwrap_or(1)
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one row (`shape[1..]`).
    pub fn row_shape(&self) -> &[u64] {
        self.shape.get(1..).unwrap_or(&[])
    }

    /// Elements per row.
    pub fn row_elements(&self) -> u64 {
        self.row_shape().iter().product()
    }

    /// Bytes of data, or `None` when that overflows 64 bits.
    pub fn nbytes(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(self.dtype.itemsize() as u64, |a, &d| a.checked_mul(d))
    }
}

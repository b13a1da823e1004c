//! Shapes, memory order, checked byte counts and `-1` inference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dtype::Dtype;
use crate::error::{Error, ErrorKind, Result, ShapeDisplay};

/// Memory order of an N-D array, as numpy's `order=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Order {
    /// Row-major (C): the last index varies fastest. Each row is contiguous.
    #[default]
    C,
    /// Column-major (Fortran): the first index varies fastest. Each column
    /// of a 2-D array is contiguous.
    F,
}

impl FromStr for Order {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "C" | "c" => Ok(Order::C),
            "F" | "f" => Ok(Order::F),
            other => Err(Error::new(ErrorKind::InvalidOption {
                option: "order",
                value: other.to_string(),
                reason: "use C (row-major) or F (column-major)".into(),
            })),
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::C => "C",
            Order::F => "F",
        })
    }
}

/// A shape as a user gives it: each dimension known, or at most one `-1`
/// to be inferred from the file size.
///
/// Parses `1000,128`, `-1,128`, `(1000, 128)`, `[5]`, `5` and `()`.
///
/// ```
/// use mmarrow::shape::ShapeSpec;
/// let s: ShapeSpec = "-1,128".parse().unwrap();
/// assert_eq!(s.dims(), &[None, Some(128)]);
/// assert_eq!(s.resolve_for_count(256).unwrap(), vec![2, 128]);
/// assert!("-1,-1".parse::<ShapeSpec>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShapeSpec {
    dims: Vec<Option<u64>>,
}

impl ShapeSpec {
    /// A fully known shape.
    pub fn known(dims: &[u64]) -> Self {
        ShapeSpec {
            dims: dims.iter().copied().map(Some).collect(),
        }
    }

    /// Builds a spec from signed dims as numpy users write them (`-1` = infer).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidShape`] for negative dims other than `-1`, or more than one `-1`.
    pub fn from_signed(dims: &[i64]) -> Result<Self> {
        let text = || {
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut out = Vec::with_capacity(dims.len());
        for &d in dims {
            out.push(match d {
                -1 => None,
                d if d < 0 => {
                    return Err(Error::new(ErrorKind::InvalidShape {
                        shape: text(),
                        reason: format!(
                            "negative dimension {d} (only -1, meaning 'infer', is allowed)"
                        ),
                    }))
                }
                d => Some(d as u64),
            });
        }
        if out.iter().filter(|d| d.is_none()).count() > 1 {
            return Err(Error::new(ErrorKind::InvalidShape {
                shape: text(),
                reason: "at most one dimension can be -1".into(),
            }));
        }
        Ok(ShapeSpec { dims: out })
    }

    /// Each dimension, `None` for the one to infer.
    pub fn dims(&self) -> &[Option<u64>] {
        &self.dims
    }

    /// True when no dimension is inferred.
    pub fn is_known(&self) -> bool {
        self.dims.iter().all(Option::is_some)
    }

    /// The known dims, if none is inferred.
    pub fn to_known(&self) -> Option<Vec<u64>> {
        self.dims.iter().copied().collect()
    }

    /// Resolves the shape for a total element count.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidShape`] when the known dims do not fit `count` elements.
    pub fn resolve_for_count(&self, count: u64) -> Result<Vec<u64>> {
        let known: Option<u64> = self
            .dims
            .iter()
            .flatten()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let mismatch = || {
            Error::new(ErrorKind::InvalidShape {
                shape: self.to_string(),
                reason: format!("does not fit {count} elements"),
            })
        };
        let known = known.ok_or_else(mismatch)?;
        match self.dims.iter().position(Option::is_none) {
            None if known == count => Ok(self.to_known().unwrap_or_default()),
            None => Err(mismatch()),
            Some(i) => {
                if known == 0 || !count.is_multiple_of(known) {
                    return Err(mismatch());
                }
                let mut v: Vec<u64> = self.dims.iter().map(|d| d.unwrap_or(1)).collect();
                v[i] = count / known;
                Ok(v)
            }
        }
    }
}

impl FromStr for ShapeSpec {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        let s = text.trim();
        let inner = s
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .or_else(|| s.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
            .unwrap_or(s);
        let mut dims = Vec::new();
        // `1000x128` is accepted as well as `1000,128`; with a comma present
        // an `x` is part of a (bad) token, so the error quotes that token.
        let parts: Vec<&str> = if inner.contains(',') {
            inner.split(',').collect()
        } else {
            inner.split('x').collect()
        };
        let last = parts.len() - 1;
        for (i, part) in parts.iter().enumerate() {
            let p = part.trim();
            if p.is_empty() && i == last {
                continue; // `(5,)` and `()`
            }
            let bad = |reason: String| {
                Error::new(ErrorKind::InvalidShape {
                    shape: text.to_string(),
                    reason,
                })
            };
            let d: i64 = p.parse().map_err(|_| {
                let digits = p.strip_prefix('-').unwrap_or(p);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    bad(format!("dimension {p} is out of range"))
                } else if p.is_empty() {
                    bad("empty dimension".into())
                } else {
                    bad(format!("{p:?} is not an integer"))
                }
            })?;
            dims.push(d);
        }
        if dims.is_empty() && !(inner.trim().is_empty() && s != inner) {
            return Err(Error::new(ErrorKind::InvalidShape {
                shape: text.to_string(),
                reason: "no dimensions (write () for a scalar)".into(),
            }));
        }
        ShapeSpec::from_signed(&dims).map_err(|e| match e.into_kind() {
            ErrorKind::InvalidShape { reason, .. } => Error::new(ErrorKind::InvalidShape {
                shape: text.to_string(),
                reason,
            }),
            kind => Error::new(kind),
        })
    }
}

impl fmt::Display for ShapeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Some(d) => write!(f, "{d}")?,
                None => f.write_str("-1")?,
            }
        }
        if self.dims.len() == 1 {
            f.write_str(",")?;
        }
        f.write_str(")")
    }
}

impl From<&[u64]> for ShapeSpec {
    fn from(dims: &[u64]) -> Self {
        ShapeSpec::known(dims)
    }
}

impl<const N: usize> From<[u64; N]> for ShapeSpec {
    /// A fully known shape: `OpenOptions::new().shape([1000, 3])`.
    fn from(dims: [u64; N]) -> Self {
        ShapeSpec::known(&dims)
    }
}

impl From<Vec<u64>> for ShapeSpec {
    fn from(dims: Vec<u64>) -> Self {
        ShapeSpec::known(&dims)
    }
}

/// Number of elements of `shape`, checked.
pub(crate) fn element_count(shape: &[u64], dtype: &Dtype) -> Result<u64> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| overflow(shape, dtype))
}

/// Number of bytes `shape` of `dtype` takes, checked.
pub(crate) fn byte_count(shape: &[u64], dtype: &Dtype) -> Result<u64> {
    element_count(shape, dtype)?
        .checked_mul(dtype.itemsize() as u64)
        .ok_or_else(|| overflow(shape, dtype))
}

/// The largest list size Arrow has (`FixedSizeList` sizes are `i32`).
pub(crate) const MAX_ARROW_LIST: u64 = i32::MAX as u64;

/// Checks that one row of `shape` (`shape[1..]`, times 2 for complex
/// values, which become pairs) fits an Arrow `FixedSizeList`, as a whole and
/// per dimension (the nested layout has one list level per dimension).
///
/// # Errors
/// [`ErrorKind::InvalidShape`] naming the row's element count.
pub(crate) fn check_row_fits_arrow(shape: &[u64], dtype: &Dtype) -> Result<()> {
    let row = shape.get(1..).unwrap_or(&[]);
    let pair = if dtype.kind() == crate::dtype::Kind::Complex {
        2
    } else {
        1
    };
    let elements = row
        .iter()
        .try_fold(pair, |a: u64, &d| a.checked_mul(d))
        .unwrap_or(u64::MAX);
    let widest = row.iter().copied().max().unwrap_or(0);
    if elements > MAX_ARROW_LIST || widest > MAX_ARROW_LIST {
        return Err(Error::new(ErrorKind::InvalidShape {
            shape: ShapeDisplay(shape).to_string(),
            reason: format!(
                "a row of {} elements does not fit an Arrow list (at most {MAX_ARROW_LIST} per row and per dimension)",
                if elements == u64::MAX { "more than 2^64".to_string() } else { elements.to_string() }
            ),
        }));
    }
    Ok(())
}

fn overflow(shape: &[u64], dtype: &Dtype) -> Error {
    Error::new(ErrorKind::ShapeOverflow {
        shape: ShapeDisplay(shape).to_string(),
        dtype: dtype.typestr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_wider_than_an_arrow_list_are_refused() {
        let f4 = Dtype::parse("f4").unwrap();
        let c8 = Dtype::parse("c8").unwrap();
        check_row_fits_arrow(&[2, 1 << 30], &f4).unwrap();
        check_row_fits_arrow(&[2, i32::MAX as u64], &f4).unwrap();
        for shape in [
            &[2, 4294967297][..],
            &[0, 4294967297],
            &[2, 65536, 65536],
            &[2, 0, 4294967297],
            &[1, u64::MAX, u64::MAX],
        ] {
            let e = check_row_fits_arrow(shape, &f4).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::InvalidShape { .. }), "{e}");
            assert!(e.to_string().contains("does not fit an Arrow list"), "{e}");
        }
        // Complex values are pairs: half the elements fit.
        assert!(check_row_fits_arrow(&[2, i32::MAX as u64], &c8).is_err());
        check_row_fits_arrow(&[2, (1 << 30) - 1], &c8).unwrap();
        check_row_fits_arrow(&[], &f4).unwrap();
        check_row_fits_arrow(&[5], &f4).unwrap();
    }

    fn spec(s: &str) -> ShapeSpec {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_ways_users_type_shapes() {
        assert_eq!(spec("-1,128").dims(), &[None, Some(128)]);
        assert_eq!(spec("(1000, 128)").dims(), &[Some(1000), Some(128)]);
        assert_eq!(spec("[5]").dims(), &[Some(5)]);
        assert_eq!(spec("(5,)").dims(), &[Some(5)]);
        assert_eq!(spec("7").dims(), &[Some(7)]);
        assert_eq!(spec("2x3x4").dims(), &[Some(2), Some(3), Some(4)]);
        assert_eq!(spec("()").dims(), &[] as &[Option<u64>]);
        assert_eq!(spec("0,128").dims(), &[Some(0), Some(128)]);
    }

    #[test]
    fn refuses_two_inferred_dims() {
        assert!(matches!(
            "-1,-1".parse::<ShapeSpec>().map_err(Error::into_kind),
            Err(ErrorKind::InvalidShape { .. })
        ));
    }

    #[test]
    fn refuses_negative_dims_other_than_minus_one() {
        let e = "-2,3".parse::<ShapeSpec>().unwrap_err();
        assert!(e.to_string().contains("negative dimension -2"), "{e}");
    }

    #[test]
    fn refuses_garbage() {
        for s in ["", "a,b", "1.5", "1,,x", "99999999999999999999"] {
            assert!(s.parse::<ShapeSpec>().is_err(), "{s}");
        }
    }

    #[test]
    fn infers_the_missing_dim() {
        assert_eq!(spec("-1,4").resolve_for_count(12).unwrap(), vec![3, 4]);
        assert_eq!(spec("3,-1").resolve_for_count(12).unwrap(), vec![3, 4]);
        assert_eq!(spec("-1").resolve_for_count(0).unwrap(), vec![0]);
        assert!(spec("-1,5").resolve_for_count(12).is_err());
        assert!(spec("-1,0").resolve_for_count(0).is_err());
        assert!(spec("3,4").resolve_for_count(13).is_err());
    }

    #[test]
    fn detects_overflowing_element_counts() {
        let d = Dtype::parse("f8").unwrap();
        assert!(matches!(
            byte_count(&[u64::MAX / 2, 3], &d).map_err(Error::into_kind),
            Err(ErrorKind::ShapeOverflow { .. })
        ));
        assert!(matches!(
            byte_count(&[u64::MAX / 4], &d).map_err(Error::into_kind),
            Err(ErrorKind::ShapeOverflow { .. })
        ));
        assert_eq!(byte_count(&[0, u64::MAX], &d).unwrap(), 0);
    }

    #[test]
    fn displays_like_numpy() {
        assert_eq!(spec("5").to_string(), "(5,)");
        assert_eq!(spec("-1,3").to_string(), "(-1, 3)");
    }
}

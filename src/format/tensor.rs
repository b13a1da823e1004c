//! The canonical `arrow.fixed_shape_tensor` extension metadata, written in
//! the specification's form and read leniently.
//!
//! The spec's JSON is `{"shape":[2,5]}` with optional `"dim_names"` (strings)
//! and `"permutation"` (ints), omitted when empty. pyarrow writes and
//! expects exactly that. arrow-rs 59's own extension type instead writes
//! `"permutations"` and explicit `null`s, which pyarrow refuses, so mmarrow
//! does not use it: it writes the spec form and reads both spellings.

use std::collections::HashMap;

use arrow_schema::Field;
use serde::{Deserialize, Serialize};

use crate::dtype::{EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY};
use crate::error::{Error, ErrorKind, Result};

/// The extension name of Arrow's fixed-shape tensor type.
pub const FIXED_SHAPE_TENSOR: &str = "arrow.fixed_shape_tensor";

/// The metadata of an `arrow.fixed_shape_tensor` column.
///
/// ```
/// use mmarrow::format::TensorMetadata;
/// let m = TensorMetadata::new(vec![2, 5]);
/// assert_eq!(m.to_json(), r#"{"shape":[2,5]}"#);
/// // arrow-rs 59 spelling, accepted on read:
/// let m2 = TensorMetadata::from_json(r#"{"shape":[2,5],"dim_names":null,"permutations":null}"#).unwrap();
/// assert_eq!(m, m2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorMetadata {
    /// The shape of each tensor (one per row), row-major.
    pub shape: Vec<u64>,
    /// Optional names of the dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim_names: Option<Vec<String>>,
    /// Optional physical-to-logical permutation of the dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permutation: Option<Vec<u64>>,
}

#[derive(Deserialize)]
struct Lenient {
    shape: Option<Vec<u64>>,
    #[serde(default)]
    dim_names: Option<Vec<String>>,
    #[serde(default)]
    permutation: Option<Vec<u64>>,
    #[serde(default)]
    permutations: Option<Vec<u64>>,
}

impl TensorMetadata {
    /// Metadata with only a shape.
    pub fn new(shape: Vec<u64>) -> Self {
        TensorMetadata {
            shape,
            dim_names: None,
            permutation: None,
        }
    }

    /// The spec's JSON: `{"shape":[...]}`, with `dim_names` and
    /// `permutation` only when present.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("tensor metadata serializes")
    }

    /// Parses the metadata, accepting `permutation` or arrow-rs's
    /// `permutations` and `null` for absent fields, and validates it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidTensorMetadata`] for bad JSON, a missing shape, names
    /// or a permutation of the wrong length, or a permutation that is not one.
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::new(ErrorKind::InvalidTensorMetadata { reason });
        let l: Lenient = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let shape = l.shape.ok_or_else(|| bad("missing \"shape\"".into()))?;
        let permutation = match (l.permutation, l.permutations) {
            (Some(_), Some(_)) => {
                return Err(bad("both \"permutation\" and \"permutations\" given".into()))
            }
            (p, q) => p.or(q),
        };
        let m = TensorMetadata {
            dim_names: l.dim_names.filter(|v| !v.is_empty()),
            permutation: permutation.filter(|v| !v.is_empty()),
            shape,
        };
        if let Some(n) = &m.dim_names {
            if n.len() != m.shape.len() {
                return Err(bad(format!(
                    "{} dim_names for {} dimensions",
                    n.len(),
                    m.shape.len()
                )));
            }
        }
        if let Some(p) = &m.permutation {
            let mut seen = vec![false; m.shape.len()];
            if p.len() != m.shape.len()
                || !p.iter().all(|&i| {
                    (i as usize) < seen.len() && !std::mem::replace(&mut seen[i as usize], true)
                })
            {
                return Err(bad(format!(
                    "permutation {p:?} is not a permutation of {} dimensions",
                    m.shape.len()
                )));
            }
        }
        Ok(m)
    }

    /// Number of elements of one tensor.
    pub fn size(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
    }

    /// Reads the metadata from a field, if the field is a fixed-shape tensor.
    ///
    /// # Errors
    /// As [`TensorMetadata::from_json`].
    pub fn from_field(field: &Field) -> Result<Option<Self>> {
        match field.metadata().get(EXTENSION_NAME_KEY) {
            Some(n) if n == FIXED_SHAPE_TENSOR => {
                let json = field
                    .metadata()
                    .get(EXTENSION_METADATA_KEY)
                    .map(String::as_str)
                    .unwrap_or("");
                Self::from_json(json).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The two field-metadata entries that mark a field as this tensor type.
    pub fn field_metadata(&self) -> HashMap<String, String> {
        [
            (
                EXTENSION_NAME_KEY.to_string(),
                FIXED_SHAPE_TENSOR.to_string(),
            ),
            (EXTENSION_METADATA_KEY.to_string(), self.to_json()),
        ]
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_spec_form_and_omits_empty_fields() {
        let mut m = TensorMetadata::new(vec![3, 4]);
        assert_eq!(m.to_json(), r#"{"shape":[3,4]}"#);
        m.dim_names = Some(vec!["h".into(), "w".into()]);
        m.permutation = Some(vec![1, 0]);
        assert_eq!(
            m.to_json(),
            r#"{"shape":[3,4],"dim_names":["h","w"],"permutation":[1,0]}"#
        );
        assert_eq!(TensorMetadata::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn reads_both_spellings_and_nulls() {
        let a = TensorMetadata::from_json(r#"{"shape":[2,3],"permutation":[1,0]}"#).unwrap();
        let b =
            TensorMetadata::from_json(r#"{"shape":[2,3],"dim_names":null,"permutations":[1,0]}"#)
                .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.permutation, Some(vec![1, 0]));
    }

    #[test]
    fn refuses_inconsistent_metadata() {
        for j in [
            "",
            "{}",
            r#"{"shape":"x"}"#,
            r#"{"shape":[2,3],"dim_names":["a"]}"#,
            r#"{"shape":[2,3],"permutation":[0,0]}"#,
            r#"{"shape":[2,3],"permutation":[0,2]}"#,
            r#"{"shape":[2,3],"permutation":[0,1],"permutations":[0,1]}"#,
        ] {
            assert!(TensorMetadata::from_json(j).is_err(), "{j}");
        }
    }
}

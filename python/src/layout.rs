//! Table columns of the `arrow.fixed_shape_tensor` extension in the other
//! layouts of `mmarrow::array::TensorLayout`, over the same buffers: Polars
//! shows the extension as an `Extension` on which `.arr` fails, but a
//! nested FixedSizeList as `Array(T, shape=...)`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array as _, ArrayRef, FixedSizeListArray};
use arrow_schema::{ArrowError, DataType, Field, FieldRef};
use mmarrow::array::TensorLayout;
use mmarrow::format::{TensorMetadata, EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY};

/// The tensor shape of `field` when it is a row-major fixed-shape tensor
/// that `layout` asks to show otherwise.
fn tensor_shape(field: &Field, layout: TensorLayout) -> Option<Vec<u64>> {
    if layout == TensorLayout::FixedShapeTensor {
        return None;
    }
    let meta = TensorMetadata::from_field(field).ok()??;
    let identity = meta
        .permutation
        .as_ref()
        .is_none_or(|p| p.iter().enumerate().all(|(i, &d)| i as u64 == d));
    matches!(field.data_type(), DataType::FixedSizeList(..))
        .then_some(meta.shape)
        .filter(|s| identity && !s.is_empty())
}

/// The list type of `shape` over items of `item`: one level per
/// dimension (nested) or one level of their product.
fn list_type(item: &FieldRef, shape: &[u64], layout: TensorLayout) -> DataType {
    let dims: Vec<u64> = match layout {
        TensorLayout::Nested => shape.to_vec(),
        _ => vec![shape.iter().product()],
    };
    let mut t = DataType::FixedSizeList(item.clone(), *dims.last().unwrap_or(&1) as i32);
    for &d in dims.iter().rev().skip(1) {
        t = DataType::FixedSizeList(Arc::new(Field::new_list_field(t, false)), d as i32);
    }
    t
}

/// `field` in `layout`: a tensor field loses its extension metadata and
/// gets the layout's list type; other fields are unchanged.
pub fn field(field: &FieldRef, layout: TensorLayout) -> FieldRef {
    let Some(shape) = tensor_shape(field, layout) else {
        return field.clone();
    };
    let DataType::FixedSizeList(item, _) = field.data_type() else {
        return field.clone();
    };
    let mut metadata = field.metadata().clone();
    metadata.remove(EXTENSION_NAME_KEY);
    metadata.remove(EXTENSION_METADATA_KEY);
    Arc::new(
        Field::new(
            field.name(),
            list_type(item, &shape, layout),
            field.is_nullable(),
        )
        .with_metadata(metadata),
    )
}

/// `array` (a column of `field`) in `layout`, without copying.
///
/// # Errors
/// When the column's lengths do not match its tensor shape.
pub fn array(
    field: &FieldRef,
    array: &ArrayRef,
    layout: TensorLayout,
) -> Result<ArrayRef, ArrowError> {
    let Some(shape) = tensor_shape(field, layout) else {
        return Ok(array.clone());
    };
    let Some(list) = array.as_fixed_size_list_opt() else {
        return Ok(array.clone());
    };
    let DataType::FixedSizeList(item, _) = field.data_type() else {
        return Ok(array.clone());
    };
    let dims: Vec<u64> = match layout {
        TensorLayout::Nested => shape,
        _ => vec![shape.iter().product()],
    };
    let mut values = list.values().clone();
    let mut item = item.clone();
    // Innermost levels first; the outermost keeps the column's nulls.
    for (level, &d) in dims.iter().enumerate().rev() {
        let nulls = if level == 0 {
            list.nulls().cloned()
        } else {
            None
        };
        let l = FixedSizeListArray::try_new(item.clone(), d as i32, values, nulls)?;
        item = Arc::new(Field::new_list_field(l.data_type().clone(), false));
        values = Arc::new(l);
    }
    Ok(values)
}

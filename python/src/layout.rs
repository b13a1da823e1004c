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

/// The Arrow view type of a string or binary type (`Utf8View`,
/// `BinaryView`): what Polars holds its strings in, so it imports such
/// columns without converting them.
pub fn view_type(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 => Some(DataType::Utf8View),
        DataType::Binary | DataType::LargeBinary => Some(DataType::BinaryView),
        _ => None,
    }
}

/// The end of the data of a string or binary column: its last offset
/// (absolute in the values buffer, also for a slice), or `None` for other
/// types. A column can be exported as views over its own data buffer
/// while this stays below `u32::MAX` (the offset field of a view).
pub fn data_end(array: &dyn arrow_array::Array) -> Option<u64> {
    Some(match array.data_type() {
        DataType::Utf8 => *array.as_string::<i32>().offsets().last()? as u64,
        DataType::LargeUtf8 => *array.as_string::<i64>().offsets().last()? as u64,
        DataType::Binary => *array.as_binary::<i32>().offsets().last()? as u64,
        DataType::LargeBinary => *array.as_binary::<i64>().offsets().last()? as u64,
        _ => return None,
    })
}

/// Views of the items between `offsets` in the one data buffer `values`.
fn views_of<O: arrow_array::OffsetSizeTrait>(
    offsets: &arrow_buffer::OffsetBuffer<O>,
    values: &arrow_buffer::Buffer,
) -> Vec<u128> {
    let data = values.as_slice();
    offsets
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0].as_usize(), w[1].as_usize());
            view(data, start, end)
        })
        .collect()
}

/// The view of `data[start..end]` in buffer 0, as
/// `arrow_array::builder::make_view` makes it (the layout of the Arrow
/// spec: length; then up to 12 inline bytes zero-padded, or a 4-byte
/// prefix, the buffer index and the offset), but without a call per
/// item: an inline item is one 16-byte load, masked, where the buffer
/// has 16 bytes from `start`.
#[inline]
fn view(data: &[u8], start: usize, end: usize) -> u128 {
    let item = &data[start..end];
    let len = item.len();
    if len > 12 {
        let prefix = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
        return len as u128 | (prefix as u128) << 32 | (start as u128) << 96;
    }
    match data.get(start..start + 16) {
        Some(window) => {
            let word = u128::from_le_bytes(window.try_into().expect("16 bytes"));
            let inline = word & ((1u128 << (8 * len)) - 1);
            len as u128 | inline << 32
        }
        None => arrow_array::builder::make_view(item, 0, start as u32),
    }
}

/// `array` (a string or binary column) as its [`view_type`], the views
/// pointing into the column's own data buffer: only the 16-byte views are
/// new, no string is copied.
///
/// # Errors
/// When the data ends beyond `u32::MAX` (a view could not point to it
/// without copying), or the type has no view type.
pub fn view_array(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    if data_end(array.as_ref()).is_some_and(|end| end >= u64::from(u32::MAX)) {
        return Err(ArrowError::InvalidArgumentError(
            "string data beyond 4 GiB cannot be exported as views without copying".into(),
        ));
    }
    let ((views, values), utf8) = match array.data_type() {
        DataType::Utf8 => (views_and_data(array.as_string::<i32>()), true),
        DataType::LargeUtf8 => (views_and_data(array.as_string::<i64>()), true),
        DataType::Binary => (views_and_data(array.as_binary::<i32>()), false),
        DataType::LargeBinary => (views_and_data(array.as_binary::<i64>()), false),
        t => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "{t} has no view type"
            )))
        }
    };
    let nulls = array.nulls().cloned();
    Ok(crate::buffer::views_over(views, values, nulls, utf8))
}

/// The views of `a`'s items and the data buffer they point into.
fn views_and_data<T: arrow_array::types::ByteArrayType>(
    a: &arrow_array::GenericByteArray<T>,
) -> (Vec<u128>, arrow_buffer::Buffer) {
    (views_of(a.offsets(), a.values()), a.values().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_make_views() {
        let data: Vec<u8> = (0..200u8).collect();
        for start in 0..data.len() {
            for end in start..data.len().min(start + 40) {
                assert_eq!(
                    view(&data, start, end),
                    arrow_array::builder::make_view(&data[start..end], 0, start as u32),
                    "{start}..{end}"
                );
            }
        }
    }
}

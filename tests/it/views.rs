//! Arrow views: zero-copy proof, layouts, dtypes, orders, copies on request, slicing.

use std::io::{Seek, SeekFrom, Write};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, StructArray};
use arrow_schema::{DataType, TimeUnit};
use mmarrow::array::{ArrowOptions, BoolLayout, CopyReason, TensorLayout};
use mmarrow::format::{EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY};
use mmarrow::open::CopyPolicy;
use mmarrow::ErrorKind;
use mmarrow::{open, Error, OpenOptions};

use crate::common::{f32_bytes, npy, Dir};

fn leaf(a: &ArrayRef) -> ArrayRef {
    match a.as_any().downcast_ref::<FixedSizeListArray>() {
        Some(l) => leaf(l.values()),
        None => a.clone(),
    }
}

fn leaf_ptr(a: &ArrayRef) -> usize {
    leaf(a).to_data().buffers()[0].as_ptr() as usize
}

fn f32_file(d: &Dir, name: &str, n: usize, shape: &str) -> mmarrow::MmArray {
    let p = d.file(name, &f32_bytes((0..n).map(|v| v as f32)));
    mmarrow::describe(
        &p,
        &OpenOptions::new()
            .try_with_dtype("f4")
            .unwrap()
            .try_with_shape(shape)
            .unwrap(),
    )
    .unwrap();
    open(&p).unwrap()
}

#[test]
fn buffers_point_into_the_map_for_every_layout() {
    let d = Dir::new();
    let a = f32_file(&d, "t.f32", 24, "-1,2,3");
    let map = a.mapped_range().unwrap();
    for layout in [
        TensorLayout::FixedShapeTensor,
        TensorLayout::FixedSizeList,
        TensorLayout::Nested,
    ] {
        let arr = a.to_arrow_with(ArrowOptions::new().tensor(layout)).unwrap();
        let p = leaf_ptr(&arr);
        assert_eq!(
            p, map.start,
            "{layout:?}: the data starts the map at offset 0"
        );
        assert!(map.contains(&(p + 24 * 4 - 1)));
    }
    // A row slice still points into the same map, 6 floats per row further on.
    let s = a.slice(2..4).unwrap().to_arrow().unwrap();
    assert_eq!(leaf_ptr(&s), map.start + 2 * 6 * 4);
}

#[test]
fn npy_buffer_starts_after_the_header_inside_the_map() {
    let d = Dir::new();
    let p = d.file(
        "x.npy",
        &npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
            &[1i64, 2, 3]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>(),
        ),
    );
    let a = open(&p).unwrap();
    assert_eq!(a.offset(), 128);
    let arr = a.to_arrow().unwrap();
    assert_eq!(leaf_ptr(&arr), a.mapped_range().unwrap().start + 128);
    assert_eq!(arr.as_primitive::<Int64Type>().values(), &[1, 2, 3]);
}

#[test]
fn arrays_outlive_the_mmarray_that_made_them() {
    let d = Dir::new();
    let arr = {
        let a = f32_file(&d, "x.f32", 5, "-1");
        a.to_arrow().unwrap()
    };
    assert_eq!(
        arr.as_primitive::<Float32Type>().values(),
        &[0.0, 1.0, 2.0, 3.0, 4.0]
    );
}

#[test]
fn tensor_field_carries_the_spec_metadata_and_nullable_items() {
    let d = Dir::new();
    let a = f32_file(&d, "t.f32", 24, "-1,2,3");
    let f = a.field().unwrap();
    assert!(f.is_nullable());
    assert_eq!(f.metadata()[EXTENSION_NAME_KEY], "arrow.fixed_shape_tensor");
    assert_eq!(f.metadata()[EXTENSION_METADATA_KEY], r#"{"shape":[2,3]}"#);
    match f.data_type() {
        DataType::FixedSizeList(item, 6) => {
            assert!(item.is_nullable());
            assert_eq!(item.data_type(), &DataType::Float32);
        }
        t => panic!("{t}"),
    }
    let plain = a
        .field_with(ArrowOptions::new().tensor(TensorLayout::FixedSizeList))
        .unwrap();
    assert!(plain.metadata().is_empty());
    let nested = a
        .to_arrow_with(ArrowOptions::new().tensor(TensorLayout::Nested))
        .unwrap();
    let outer = nested.as_fixed_size_list();
    assert_eq!(outer.value_length(), 2);
    let inner = outer.values().as_fixed_size_list();
    assert_eq!(inner.value_length(), 3);
    assert_eq!(inner.len(), 8);
    assert_eq!(
        inner.values().as_primitive::<Float32Type>().values()[6..9],
        [6.0, 7.0, 8.0]
    );
}

#[test]
fn record_batch_is_named_from_sidecar_or_stem_with_metadata() {
    let d = Dir::new();
    let p = d.file("emb.vectors.f32", &f32_bytes([1.0, 2.0]));
    let a = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .open(&p)
        .unwrap();
    assert_eq!(a.to_record_batch().unwrap().schema().field(0).name(), "emb");
    d.sidecar(
        &p,
        r#"{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[2],"name":"vec","metadata":{"model":"m1"}}"#,
    );
    let b = open(&p).unwrap().to_record_batch().unwrap();
    assert_eq!(b.schema().field(0).name(), "vec");
    assert_eq!(b.schema().metadata()["model"], "m1");
}

#[test]
fn every_dtype_maps_to_its_arrow_type() {
    let d = Dir::new();
    let cases: &[(&str, DataType)] = &[
        ("i1", DataType::Int8),
        ("<i2", DataType::Int16),
        ("<u4", DataType::UInt32),
        ("<u8", DataType::UInt64),
        ("<f2", DataType::Float16),
        ("<f8", DataType::Float64),
        ("<M8[us]", DataType::Timestamp(TimeUnit::Microsecond, None)),
        ("<m8[s]", DataType::Duration(TimeUnit::Second)),
        ("|S8", DataType::FixedSizeBinary(8)),
        ("|V16", DataType::FixedSizeBinary(16)),
    ];
    for (dt, want) in cases {
        let p = d.file(
            &format!("x{}", dt.replace(['<', '|', '[', ']'], "")),
            &[0u8; 64],
        );
        let a = OpenOptions::new()
            .try_with_dtype(dt)
            .unwrap()
            .open(&p)
            .unwrap();
        let arr = a.to_arrow().unwrap();
        assert_eq!(arr.data_type(), want, "{dt}");
        assert_eq!(
            leaf_ptr(&arr),
            a.mapped_range().unwrap().start,
            "{dt} zero-copy"
        );
    }
}

#[test]
fn complex_is_a_list_of_two_floats() {
    let d = Dir::new();
    let p = d.file("c.c8", &f32_bytes([1.0, 2.0, 3.0, -4.0]));
    let a = OpenOptions::new()
        .try_with_dtype("complex64")
        .unwrap()
        .open(&p)
        .unwrap();
    let arr = a.to_arrow().unwrap();
    let l = arr.as_fixed_size_list();
    assert_eq!((l.len(), l.value_length()), (2, 2));
    assert_eq!(
        l.value(1).as_primitive::<Float32Type>().values(),
        &[3.0, -4.0]
    );
    // N-D complex: a tensor whose last dimension is (real, imaginary).
    let a = OpenOptions::new()
        .try_with_dtype("c8")
        .unwrap()
        .try_with_shape("1,2")
        .unwrap()
        .open(&p)
        .unwrap();
    assert_eq!(
        a.field().unwrap().metadata()[EXTENSION_METADATA_KEY],
        r#"{"shape":[2,2]}"#
    );
}

#[test]
fn bool_is_bool8_zero_copy_or_boolean_by_request() {
    let d = Dir::new();
    let p = d.file("b.bool", &[1, 0, 1, 1]);
    let a = OpenOptions::new()
        .try_with_dtype("bool")
        .unwrap()
        .open(&p)
        .unwrap();
    let b = a.to_record_batch().unwrap();
    let f = b.schema().field(0).clone();
    assert_eq!(f.data_type(), &DataType::Int8);
    assert_eq!(f.metadata()[EXTENSION_NAME_KEY], "arrow.bool8");
    assert_eq!(leaf_ptr(b.column(0)), a.mapped_range().unwrap().start);
    let bools = a
        .to_arrow_with(ArrowOptions::new().bools(BoolLayout::Boolean))
        .unwrap();
    let v: Vec<bool> = bools.as_boolean().iter().map(Option::unwrap).collect();
    assert_eq!(v, [true, false, true, true]);
}

#[test]
fn fortran_2d_is_contiguous_columns_zero_copy() {
    let d = Dir::new();
    // (3, 2) in F order: column 0 = [0, 1, 2], column 1 = [3, 4, 5].
    let p = d.file(
        "f.f8",
        &(0..6)
            .flat_map(|v| (v as f64).to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let a = OpenOptions::new()
        .try_with_dtype("f8")
        .unwrap()
        .try_with_shape("3,2")
        .unwrap()
        .order(mmarrow::shape::Order::F)
        .open(&p)
        .unwrap();
    let b = a.to_record_batch().unwrap();
    assert_eq!(b.num_columns(), 2);
    assert_eq!(b.schema().field(1).name(), "f_1");
    assert_eq!(
        b.column(1).as_primitive::<Float64Type>().values(),
        &[3.0, 4.0, 5.0]
    );
    let map = a.mapped_range().unwrap();
    assert_eq!(leaf_ptr(b.column(1)), map.start + 24);
    // to_arrow gives the same columns as a struct.
    let s = a.to_arrow().unwrap();
    assert_eq!(
        s.as_any()
            .downcast_ref::<StructArray>()
            .unwrap()
            .num_columns(),
        2
    );
    // Row slices select within each column.
    let rows = a.slice(1..3).unwrap().to_record_batch().unwrap();
    assert_eq!(
        rows.column(0).as_primitive::<Float64Type>().values(),
        &[1.0, 2.0]
    );
    assert_eq!(
        rows.column(1).as_primitive::<Float64Type>().values(),
        &[4.0, 5.0]
    );
}

#[test]
fn fortran_nd_is_refused_or_transposed_on_request() {
    let d = Dir::new();
    let p = d.file("f.f4", &f32_bytes((0..12).map(|v| v as f32)));
    let opts = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("2,3,2")
        .unwrap()
        .order(mmarrow::shape::Order::F);
    let e = opts.open(&p).unwrap().to_arrow().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::FortranTensor { .. }), "{e}");
    let a = opts.clone().copy(CopyPolicy::Allow).open(&p).unwrap();
    assert_eq!(a.copy_reasons(), &[CopyReason::Transpose]);
    assert!(!a.is_zero_copy());
    assert!(a.mapped_range().is_none());
    let arr = a.to_arrow().unwrap();
    let vals = leaf(&arr);
    // C-order element (i, j, k) = F element i + 2j + 6k.
    let want: Vec<f32> = (0..2)
        .flat_map(|i| (0..3).flat_map(move |j| (0..2).map(move |k| (i + 2 * j + 6 * k) as f32)))
        .collect();
    assert_eq!(vals.as_primitive::<Float32Type>().values(), &want[..]);
}

#[test]
fn misaligned_offset_is_refused_or_copied_on_request() {
    let d = Dir::new();
    let mut bytes = vec![0xAA, 0xBB];
    bytes.extend(f32_bytes([1.5, 2.5]));
    let p = d.file("m.f4", &bytes);
    let opts = OpenOptions::new().try_with_dtype("f4").unwrap().offset(2);
    let a = opts.open(&p).unwrap();
    let e = a.to_arrow().unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Misaligned {
                offset: 2,
                align: 4,
                ..
            }
        ),
        "{e}"
    );
    let c = opts.copy(CopyPolicy::Allow).open(&p).unwrap();
    assert_eq!(c.copy_reasons(), &[CopyReason::Misaligned]);
    assert_eq!(
        c.to_arrow().unwrap().as_primitive::<Float32Type>().values(),
        &[1.5, 2.5]
    );
}

#[test]
fn big_endian_is_refused_or_swapped_on_request() {
    let d = Dir::new();
    let p = d.file(
        "be.npy",
        &npy(
            "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }",
            &[0, 0, 0, 5, 0xFF, 0xFF, 0xFF, 0xFE],
        ),
    );
    let e = open(&p).unwrap().to_arrow().unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::NonNativeByteOrder { .. }),
        "{e}"
    );
    let a = OpenOptions::new().copy(CopyPolicy::Allow).open(&p).unwrap();
    assert_eq!(a.copy_reasons(), &[CopyReason::ByteSwap]);
    assert_eq!(a.dtype().typestr(), "<i4");
    assert_eq!(
        a.to_arrow().unwrap().as_primitive::<Int32Type>().values(),
        &[5, -2]
    );
}

#[test]
fn zero_copy_data_is_never_copied_even_when_allowed() {
    let d = Dir::new();
    let p = d.file("ok.f4", &f32_bytes([1.0]));
    let a = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .copy(CopyPolicy::Allow)
        .open(&p)
        .unwrap();
    assert!(a.is_zero_copy());
    assert_eq!(
        leaf_ptr(&a.to_arrow().unwrap()),
        a.mapped_range().unwrap().start
    );
}

#[test]
fn files_over_4_gib_work() {
    let d = Dir::new();
    let p = d.path("big.f4");
    let mut f = std::fs::File::create(&p).unwrap();
    let rows: u64 = (5 << 30) / (1024 * 4); // 5 GiB of (rows, 1024) f32, sparse
    f.set_len(rows * 1024 * 4).unwrap();
    // Mark the last row past the 4 GiB boundary.
    f.seek(SeekFrom::Start((rows - 1) * 4096)).unwrap();
    f.write_all(&f32_bytes([42.0, 43.0])).unwrap();
    drop(f);
    let a = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("-1,1024")
        .unwrap()
        .open(&p)
        .unwrap();
    assert_eq!(a.shape(), &[rows, 1024]);
    let last = a.slice(rows - 1..rows).unwrap().to_arrow().unwrap();
    let v = leaf(&last);
    assert_eq!(
        &v.as_primitive::<Float32Type>().values()[..3],
        &[42.0, 43.0, 0.0]
    );
    assert_eq!(a.to_arrow().unwrap().len() as u64, rows);
}

#[test]
fn slices_and_batches() {
    let d = Dir::new();
    let a = f32_file(&d, "s.f32", 30, "-1,3");
    let s = a.slice(8..10).unwrap();
    assert_eq!(s.shape(), &[2, 3]);
    let v = leaf(&s.to_arrow().unwrap());
    assert_eq!(
        v.as_primitive::<Float32Type>().values(),
        &[24.0, 25.0, 26.0, 27.0, 28.0, 29.0]
    );
    assert!(matches!(
        a.slice(5..11).map_err(Error::into_kind),
        Err(ErrorKind::InvalidRequest { .. })
    ));
    let sizes: Vec<usize> = a
        .batches(4, ArrowOptions::new())
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert!(a.batches(0, ArrowOptions::new()).is_err());
}

#[test]
fn trailing_bytes_past_the_shape_are_ignored() {
    let d = Dir::new();
    let p = d.file("t.f32", &f32_bytes([1.0, 2.0, 3.0]));
    let a = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("2")
        .unwrap()
        .open(&p)
        .unwrap();
    assert_eq!(a.to_arrow().unwrap().len(), 2);
}

#[test]
fn zero_width_rows_keep_their_row_count() {
    let d = Dir::new();
    let p = d.file("thin.i2", &[]);
    for (shape, layout) in [
        ("3,0", TensorLayout::FixedShapeTensor),
        ("3,0,2", TensorLayout::FixedSizeList),
        ("3,2,0", TensorLayout::Nested),
    ] {
        let a = OpenOptions::new()
            .try_with_dtype("i2")
            .unwrap()
            .try_with_shape(shape)
            .unwrap()
            .open(&p)
            .unwrap();
        let b = a
            .to_record_batch_with(ArrowOptions::new().tensor(layout))
            .unwrap();
        assert_eq!(b.num_rows(), 3, "{shape}");
        assert_eq!(b.column(0).len(), 3, "{shape}");
    }
    let f = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("3,0")
        .unwrap()
        .order(mmarrow::shape::Order::F)
        .open(&p)
        .unwrap();
    let b = f.to_record_batch().unwrap();
    assert_eq!((b.num_rows(), b.num_columns()), (3, 0));
    assert_eq!(f.to_arrow().unwrap().len(), 3);
}

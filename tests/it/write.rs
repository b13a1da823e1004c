//! numpy.memmap's write modes and the streaming writer.

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, Int32Array};
use arrow_schema::{DataType, Field};
use std::sync::Arc;

use mmarrow::shape::Order;
use mmarrow::write::{Durability, OutputFormat, WriterOptions};
use mmarrow::ErrorKind;
use mmarrow::{open, ArrayWriter, Dtype, Error, Mode, OpenOptions};

use crate::common::{f32_bytes, retry_locked, Dir};

fn create(path: &std::path::Path, dtype: &str, shape: &str) -> mmarrow::MmArrayMut {
    OpenOptions::new()
        .mode(Mode::Create)
        .try_with_dtype(dtype)
        .unwrap()
        .try_with_shape(shape)
        .unwrap()
        .open_mut(path)
        .unwrap()
}

#[test]
fn create_makes_a_zero_filled_sparse_file_and_its_sidecar() {
    let d = Dir::new();
    let p = d.path("big.f32");
    let mut a = create(&p, "f4", "1048576,256"); // 1 GiB
    assert!(a.as_slice::<f32>().unwrap()[..10].iter().all(|&v| v == 0.0));
    a.row_mut::<f32>(1000).unwrap()[3] = 2.5;
    a.flush().unwrap();
    drop(a);
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!(m.len(), 1 << 30);
    assert!(
        m.blocks() * 512 < 1 << 20,
        "file should be sparse: {} blocks",
        m.blocks()
    );
    let r = open(&p).unwrap();
    assert_eq!(r.shape(), &[1048576, 256]);
    let row = r.slice(1000..1001).unwrap().to_arrow().unwrap();
    let v = row
        .as_fixed_size_list()
        .values()
        .as_primitive::<Float32Type>()
        .values()[3];
    assert_eq!(v, 2.5);
}

#[test]
fn create_npy_writes_a_header_and_freeze_gives_zero_copy_arrow() {
    let d = Dir::new();
    let p = d.path("x.npy");
    let mut a = create(&p, "int32", "3,2");
    a.as_mut_slice::<i32>()
        .unwrap()
        .copy_from_slice(&[1, 2, 3, 4, 5, 6]);
    let frozen = a.freeze().unwrap();
    let arr = frozen.to_arrow().unwrap();
    let vals = arr.as_fixed_size_list().values().clone();
    let m = frozen.mapped_range().unwrap();
    assert!(m.contains(&(vals.to_data().buffers()[0].as_ptr() as usize)));
    let again = open(&p).unwrap();
    assert_eq!(again.offset() % 64, 0);
    let b = again.to_arrow().unwrap();
    let v = b
        .as_fixed_size_list()
        .values()
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap()
        .values()
        .to_vec();
    assert_eq!(v, [1, 2, 3, 4, 5, 6]);
    assert!(!mmarrow::format::sidecar_path(&p).exists());
}

#[test]
fn create_needs_a_shape_and_refuses_existing_files() {
    let d = Dir::new();
    let p = d.path("a.f32");
    let e = OpenOptions::new()
        .mode(Mode::Create)
        .try_with_dtype("f4")
        .unwrap()
        .open_mut(&p)
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::MissingOption {
                option: "shape",
                ..
            }
        ),
        "{e}"
    );
    let e = OpenOptions::new()
        .mode(Mode::Create)
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("-1,3")
        .unwrap()
        .open_mut(&p)
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::MissingOption {
                option: "shape",
                ..
            }
        ),
        "{e}"
    );
    assert!(!p.exists());
    let p = d.file("b.f32", &f32_bytes([7.0]));
    let e = OpenOptions::new()
        .mode(Mode::Create)
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("4")
        .unwrap()
        .open_mut(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AlreadyExists), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), f32_bytes([7.0]));
    let a = OpenOptions::new()
        .mode(Mode::Create)
        .overwrite(true)
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("4")
        .unwrap()
        .open_mut(&p)
        .unwrap();
    assert_eq!(a.as_slice::<f32>().unwrap(), &[0.0; 4]);
}

#[test]
fn read_write_changes_the_file_in_place() {
    let d = Dir::new();
    let p = d.file("a.f32", &f32_bytes([1.0, 2.0, 3.0, 4.0]));
    mmarrow::describe(
        &p,
        &OpenOptions::new()
            .try_with_dtype("f4")
            .unwrap()
            .try_with_shape("2,2")
            .unwrap(),
    )
    .unwrap();
    let mut a = OpenOptions::new()
        .mode(Mode::ReadWrite)
        .open_mut(&p)
        .unwrap();
    a.as_mut_slice::<f32>().unwrap()[3] = 40.0;
    a.flush_rows(1..2).unwrap();
    drop(a);
    assert_eq!(std::fs::read(&p).unwrap(), f32_bytes([1.0, 2.0, 3.0, 40.0]));
    // Wrong element type: typed error.
    let mut a = OpenOptions::new()
        .mode(Mode::ReadWrite)
        .open_mut(&p)
        .unwrap();
    assert!(matches!(
        a.as_mut_slice::<f64>().map_err(Error::into_kind),
        Err(ErrorKind::TypeMismatch { .. })
    ));
    assert!(matches!(
        a.row_mut::<f32>(2).map_err(Error::into_kind),
        Err(ErrorKind::InvalidRequest { .. })
    ));
}

#[test]
fn read_write_grows_a_file_when_the_shape_reaches_past_its_end() {
    let d = Dir::new();
    let p = d.file("g.f32", &f32_bytes([1.0, 2.0]));
    let mut a = OpenOptions::new()
        .mode(Mode::ReadWrite)
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("6")
        .unwrap()
        .offset(8)
        .open_mut(&p)
        .unwrap();
    a.as_mut_slice::<f32>().unwrap()[5] = 9.0;
    drop(a);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.len(), 8 + 24);
    assert_eq!(&bytes[..8], &f32_bytes([1.0, 2.0])[..]);
    assert_eq!(&bytes[28..], &f32_bytes([9.0])[..]);
}

#[test]
fn copy_on_write_never_touches_the_file() {
    let d = Dir::new();
    let p = d.file("c.f32", &f32_bytes([1.0, 2.0]));
    let mut a = OpenOptions::new()
        .mode(Mode::CopyOnWrite)
        .try_with_dtype("f4")
        .unwrap()
        .open_mut(&p)
        .unwrap();
    a.as_mut_slice::<f32>().unwrap()[0] = 100.0;
    assert_eq!(a.as_slice::<f32>().unwrap(), &[100.0, 2.0]);
    let e = a.flush().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotWritable { .. }), "{e}");
    let frozen = a.freeze().unwrap();
    assert_eq!(
        frozen
            .to_arrow()
            .unwrap()
            .as_primitive::<Float32Type>()
            .values(),
        &[100.0, 2.0]
    );
    assert_eq!(std::fs::read(&p).unwrap(), f32_bytes([1.0, 2.0]));
}

#[test]
fn read_only_mode_cannot_write_and_open_refuses_write_modes() {
    let d = Dir::new();
    let p = d.file("r.f32", &f32_bytes([1.0]));
    let e = OpenOptions::new()
        .try_with_dtype("f4")
        .unwrap()
        .open_mut(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotWritable { .. }), "{e}");
    let e = OpenOptions::new()
        .mode(Mode::ReadWrite)
        .try_with_dtype("f4")
        .unwrap()
        .open(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidRequest { .. }), "{e}");
    assert_eq!("w+".parse::<Mode>().unwrap(), Mode::Create);
    assert!("x".parse::<Mode>().is_err());
}

#[test]
fn one_writer_at_a_time_readers_never_blocked() {
    let d = Dir::new();
    let p = d.path("l.f32");
    let mut w = ArrayWriter::create(&p, Dtype::parse("f4").unwrap(), &[2]).unwrap();
    w.append(&[1.0f32, 2.0]).unwrap();
    w.commit().unwrap();
    let e = ArrayWriter::open(&p, Durability::Fsync).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Locked), "{e}");
    assert!(e
        .to_string()
        .contains("already being written by another process"));
    let e = OpenOptions::new()
        .mode(Mode::ReadWrite)
        .open_mut(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Locked), "{e}");
    assert_eq!(open(&p).unwrap().shape(), &[1, 2]);
    drop(w);
    retry_locked(|| ArrayWriter::open(&p, Durability::Fsync)).unwrap();
}

#[test]
fn readers_see_exactly_the_committed_prefix() {
    for name in ["p.f32", "p.npy"] {
        let d = Dir::new();
        let p = d.path(name);
        let mut w = ArrayWriter::create(&p, Dtype::parse("f4").unwrap(), &[3]).unwrap();
        assert_eq!(open(&p).unwrap().shape(), &[0, 3]);
        w.append(&[1.0f32; 6]).unwrap();
        w.commit().unwrap();
        w.append(&[2.0f32; 3 * 1000]).unwrap(); // written past the committed end, not committed
        let r = open(&p).unwrap();
        assert_eq!(r.shape(), &[2, 3], "{name}");
        assert_eq!(w.commit().unwrap(), 1002);
        assert_eq!(open(&p).unwrap().shape(), &[1002, 3]);
        // The earlier reader still sees its snapshot.
        assert_eq!(r.to_arrow().unwrap().len(), 2);
    }
}

#[test]
fn drop_discards_uncommitted_rows_and_reopen_appends() {
    let d = Dir::new();
    let p = d.path("a.npy");
    let mut w = ArrayWriter::create(&p, Dtype::parse("i4").unwrap(), &[]).unwrap();
    w.append(&[1i32, 2, 3]).unwrap();
    w.commit().unwrap();
    w.append(&vec![9i32; 1 << 20]).unwrap(); // past the buffer: written to the file
    drop(w);
    let header = open(&p).unwrap().offset();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), header + 12);
    let mut w = retry_locked(|| ArrayWriter::open(&p, Durability::Fsync)).unwrap();
    assert_eq!(w.committed_rows(), 3);
    w.append(&[4i32]).unwrap();
    let a = w.finish().unwrap();
    assert_eq!(
        a.to_arrow()
            .unwrap()
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .values(),
        &[1, 2, 3, 4]
    );
}

#[test]
fn reopen_cleans_up_bytes_a_crashed_writer_left() {
    let d = Dir::new();
    let p = d.path("c.f32");
    let mut w = ArrayWriter::create(&p, Dtype::parse("f4").unwrap(), &[]).unwrap();
    w.append(&[1.0f32, 2.0]).unwrap();
    w.commit().unwrap();
    drop(w);
    // A crashed writer's garbage: a torn row past the committed end.
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .write_all(&[1, 2, 3])
        .unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 11);
    assert_eq!(open(&p).unwrap().shape(), &[2]);
    drop(retry_locked(|| ArrayWriter::open(&p, Durability::Fsync)).unwrap());
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 8);
    assert_eq!(open(&p).unwrap().shape(), &[2]);
}

#[test]
fn append_checks_type_and_row_shape() {
    let d = Dir::new();
    let p = d.path("t.f32");
    let mut w = ArrayWriter::create(&p, Dtype::parse("f4").unwrap(), &[2, 3]).unwrap();
    let e = w.append(&[1i32; 6]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TypeMismatch { .. }), "{e}");
    let e = w.append(&[1.0f32; 5]).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::RowShapeMismatch { .. }),
        "{e}"
    );
    // Arrow: a tensor-like FixedSizeList of 6, or nested 2 x 3, both fine.
    let values: ArrayRef = Arc::new(Float32Array::from(
        (0..12).map(|v| v as f32).collect::<Vec<_>>(),
    ));
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let flat = FixedSizeListArray::try_new(item.clone(), 6, values.clone(), None).unwrap();
    w.append_array(&flat).unwrap();
    let inner = FixedSizeListArray::try_new(item.clone(), 3, values.clone(), None).unwrap();
    let inner_field = Arc::new(Field::new("item", inner.data_type().clone(), true));
    let nested = FixedSizeListArray::try_new(inner_field, 2, Arc::new(inner), None).unwrap();
    w.append_array(&nested.slice(1, 1)).unwrap();
    let wrong = FixedSizeListArray::try_new(item.clone(), 4, values.clone(), None).unwrap();
    assert!(matches!(
        w.append_array(&wrong).map_err(Error::into_kind),
        Err(ErrorKind::RowShapeMismatch { .. })
    ));
    let ints: ArrayRef = Arc::new(Int32Array::from(vec![1; 6]));
    let int_list = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Int32, true)),
        6,
        ints,
        None,
    )
    .unwrap();
    assert!(matches!(
        w.append_array(&int_list).map_err(Error::into_kind),
        Err(ErrorKind::TypeMismatch { .. })
    ));
    let with_nulls =
        FixedSizeListArray::try_new(item, 6, values, Some(vec![true, false].into())).unwrap();
    assert!(matches!(
        w.append_array(&with_nulls).map_err(Error::into_kind),
        Err(ErrorKind::HasNulls { .. })
    ));
    let a = w.finish().unwrap();
    assert_eq!(a.shape(), &[3, 2, 3]);
    let all = a.to_arrow().unwrap();
    let v = all
        .as_fixed_size_list()
        .values()
        .as_primitive::<Float32Type>()
        .values()
        .to_vec();
    let mut want: Vec<f32> = (0..12).map(|v| v as f32).collect();
    want.extend((6..12).map(|v| v as f32));
    assert_eq!(v, want);
}

#[test]
fn create_refuses_an_existing_file_without_overwrite() {
    let d = Dir::new();
    let p = d.file("e.npy", b"keep me");
    let e = ArrayWriter::create(&p, Dtype::parse("f4").unwrap(), &[]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AlreadyExists), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
    let w = WriterOptions::new(Dtype::parse("f4").unwrap(), &[])
        .overwrite(true)
        .format(OutputFormat::Raw)
        .create(&p)
        .unwrap();
    drop(w);
    assert_eq!(open(&p).unwrap().shape(), &[0]);
}

#[test]
fn fortran_files_cannot_be_appended_to() {
    let d = Dir::new();
    let p = d.file("f.f4", &f32_bytes([0.0; 4]));
    mmarrow::describe(
        &p,
        &OpenOptions::new()
            .try_with_dtype("f4")
            .unwrap()
            .try_with_shape("2,2")
            .unwrap()
            .order(Order::F),
    )
    .unwrap();
    assert!(matches!(
        ArrayWriter::open(&p, Durability::Fsync).map_err(Error::into_kind),
        Err(ErrorKind::InvalidRequest { .. })
    ));
}

#[test]
fn empty_arrays_can_be_created_and_viewed() {
    let d = Dir::new();
    for name in ["e.f8", "e.npy"] {
        let mut a = create(&d.path(name), "f8", "0,4");
        assert!(a.as_mut_slice::<f64>().unwrap().is_empty());
        assert!(a.as_slice::<f64>().unwrap().is_empty());
        let f = a.freeze().unwrap();
        assert_eq!(f.to_record_batch().unwrap().num_rows(), 0);
    }
}

#[test]
fn appending_to_an_npy_with_a_sidecar_updates_both() {
    let d = Dir::new();
    let p = d.path("x.npy");
    let mut w = ArrayWriter::create(&p, Dtype::parse("i8").unwrap(), &[3]).unwrap();
    w.append(&[1i64; 6]).unwrap();
    w.finish().unwrap();
    let header = open(&p).unwrap().offset();
    mmarrow::describe(
        &p,
        &OpenOptions::new()
            .try_with_dtype("i8")
            .unwrap()
            .try_with_shape("2,3")
            .unwrap()
            .offset(header),
    )
    .unwrap();
    let mut w = retry_locked(|| ArrayWriter::open(&p, Durability::Fsync)).unwrap();
    w.append(&[2i64; 3]).unwrap();
    w.finish().unwrap();
    // Through the sidecar, and through the .npy header alone.
    assert_eq!(open(&p).unwrap().shape(), &[3, 3]);
    std::fs::remove_file(mmarrow::format::sidecar_path(&p)).unwrap();
    assert_eq!(open(&p).unwrap().shape(), &[3, 3]);
}

#[test]
fn creating_an_npy_over_a_stale_sidecar() {
    let d = Dir::new();
    let p = d.path("s.npy");
    std::fs::write(mmarrow::format::sidecar_path(&p), "{}").unwrap();
    let e = OpenOptions::new()
        .mode(Mode::Create)
        .try_with_dtype("i8")
        .unwrap()
        .try_with_shape("5,3")
        .unwrap()
        .open_mut(&p)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AlreadyExists), "{e}");
    drop(
        OpenOptions::new()
            .mode(Mode::Create)
            .overwrite(true)
            .try_with_dtype("i8")
            .unwrap()
            .try_with_shape("5,3")
            .unwrap()
            .open_mut(&p)
            .unwrap(),
    );
    assert!(!mmarrow::format::sidecar_path(&p).exists());
    assert_eq!(open(&p).unwrap().shape(), &[5, 3]);
    std::fs::write(mmarrow::format::sidecar_path(&p), "{}").unwrap();
    let w = WriterOptions::new(Dtype::parse("f4").unwrap(), &[2])
        .overwrite(true)
        .create(&p)
        .unwrap();
    drop(w);
    assert_eq!(open(&p).unwrap().shape(), &[0, 2]);
}

//! Tables: round trips of every supported type, projections, appends,
//! and every kind of bad table directory.

use std::sync::Arc;

use arrow_array::builder::{Decimal128Builder, FixedSizeListBuilder, Float32Builder};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, DurationNanosecondArray,
    FixedSizeBinaryArray, Float64Array, Int16Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, TimestampMicrosecondArray, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema};
use mmarrow::format::TensorMetadata;
use mmarrow::table::TableWriterOptions;
use mmarrow::write::Durability;
use mmarrow::ErrorKind;
use mmarrow::{Error, Table, TableOptions, TableWriter};

use crate::common::{retry_locked, Dir};

fn sample(start: i64, n: usize) -> RecordBatch {
    let ids = Int64Array::from_iter_values(start..start + n as i64);
    let f = Float64Array::from_iter((0..n).map(|i| (i % 3 != 0).then_some(i as f64 * 0.5)));
    let s = StringArray::from_iter(
        (0..n).map(|i| (i % 4 != 1).then(|| format!("row {}", start + i as i64))),
    );
    let ls = LargeStringArray::from_iter_values((0..n).map(|i| "é".repeat(i % 5)));
    let b = BooleanArray::from_iter((0..n).map(|i| (i % 7 != 3).then_some(i % 2 == 0)));
    let ts = TimestampMicrosecondArray::from_iter_values(
        (0..n).map(|i| 1_700_000_000_000_000 + i as i64),
    )
    .with_timezone("Europe/Paris");
    let mut dec = Decimal128Builder::new();
    for i in 0..n {
        if i % 5 == 2 {
            dec.append_null();
        } else {
            dec.append_value(i as i128 * 1_000_000_007);
        }
    }
    let dec = dec.finish().with_precision_and_scale(38, 6).unwrap();
    let mut emb = FixedSizeListBuilder::new(Float32Builder::new(), 4);
    for i in 0..n {
        for j in 0..4 {
            emb.values().append_value((i * 4 + j) as f32);
        }
        emb.append(true);
    }
    let emb = emb.finish();
    let bin = BinaryArray::from_iter((0..n).map(|i| (i % 2 == 0).then(|| vec![i as u8; i % 3])));
    let fsb = FixedSizeBinaryArray::try_from_iter((0..n).map(|i| [i as u8, 1, 2])).unwrap();
    let d32 = Date32Array::from_iter_values((0..n).map(|i| 19000 + i as i32));
    let d64 = Date64Array::from_iter_values((0..n).map(|i| 1_600_000_000_000 + i as i64));
    let dur = DurationNanosecondArray::from_iter_values((0..n).map(|i| i as i64 * 7));
    let small = Int16Array::from_iter_values((0..n).map(|i| i as i16));
    let bytes = UInt8Array::from_iter((0..n).map(|i| (i % 9 != 0).then_some(i as u8)));
    let emb_field = Field::new("emb", emb.data_type().clone(), false)
        .with_metadata(TensorMetadata::new(vec![2, 2]).field_metadata());
    let fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("ls", DataType::LargeUtf8, false),
        Field::new("b", DataType::Boolean, true),
        Field::new("ts", ts.data_type().clone(), false),
        Field::new("dec", dec.data_type().clone(), true),
        emb_field,
        Field::new("bin", DataType::Binary, true),
        Field::new("fsb", DataType::FixedSizeBinary(3), false),
        Field::new("d32", DataType::Date32, false),
        Field::new("d64", DataType::Date64, false),
        Field::new("dur", dur.data_type().clone(), false),
        Field::new("small", DataType::Int16, false),
        Field::new("bytes", DataType::UInt8, true),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids),
        Arc::new(f),
        Arc::new(s),
        Arc::new(ls),
        Arc::new(b),
        Arc::new(ts),
        Arc::new(dec),
        Arc::new(emb),
        Arc::new(bin),
        Arc::new(fsb),
        Arc::new(d32),
        Arc::new(d64),
        Arc::new(dur),
        Arc::new(small),
        Arc::new(bytes),
    ];
    let schema =
        Schema::new(fields).with_metadata([("source".to_string(), "test".to_string())].into());
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn concat(b: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&b[0].schema(), b).unwrap()
}

#[test]
fn every_supported_type_round_trips_across_appends() {
    let d = Dir::new();
    let p = d.path("t");
    // Odd sizes and a sliced batch exercise bit merging and offset rebasing.
    let a = sample(0, 13);
    let b = sample(13, 30).slice(3, 22);
    let c = sample(100, 1);
    let mut w = TableWriter::create(&p, a.schema()).unwrap();
    w.append(&a).unwrap();
    w.commit().unwrap();
    w.append(&b).unwrap();
    drop(w); // b is not committed
    let mut w = retry_locked(|| TableWriter::open(&p, Durability::Fsync)).unwrap();
    assert_eq!(w.committed_rows(), 13);
    w.append(&b).unwrap();
    w.append(&c).unwrap();
    let t = w.finish().unwrap();
    let got = t.to_record_batch().unwrap();
    let want = concat(&[a.clone(), b, c]);
    assert_eq!(got.schema(), want.schema());
    assert_eq!(got, want);
    // Trusted (O(columns)) open gives the same batch.
    // SAFETY: the table was written by TableWriter just above and is not modified.
    #[allow(unsafe_code)]
    let trusted = unsafe { TableOptions::new().trusted() }.open(&p).unwrap();
    assert_eq!(trusted.to_record_batch().unwrap(), want);
    // Slices and batches.
    assert_eq!(t.slice(5..9).unwrap(), want.slice(5, 4));
    let sizes: Vec<usize> = t
        .batches(10)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .collect();
    assert_eq!(sizes, [10, 10, 10, 6]);
    mmarrow::table::verify_table(&p).unwrap();
}

#[test]
fn numeric_columns_are_plain_array_files_and_zero_copy() {
    let d = Dir::new();
    let p = d.path("t");
    let a = sample(0, 100);
    let mut w = TableWriter::create(&p, a.schema()).unwrap();
    w.append(&a).unwrap();
    let t = w.finish().unwrap();
    let ids = std::fs::read(p.join("c0.values")).unwrap();
    let want: Vec<u8> = (0..100i64).flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(ids, want);
    // The id column's buffer is the mapped file: a page-aligned address.
    let data = t.columns().unwrap()[0].to_data();
    assert_eq!(data.buffers()[0].as_ptr() as usize % 4096, 0);
    let manifest = std::fs::read_to_string(p.join("manifest.json")).unwrap();
    assert!(manifest.contains(r#""dtype": "<i8""#), "{manifest}");
}

#[test]
fn projection_maps_only_the_projected_columns() {
    let d = Dir::new();
    let p = d.path("t");
    let a = sample(0, 10);
    let mut w = TableWriter::create(&p, a.schema()).unwrap();
    w.append(&a).unwrap();
    w.finish().unwrap();
    std::fs::remove_file(p.join("c2.values")).unwrap(); // column "s" is gone
    assert!(Table::open(&p).is_err());
    let t = TableOptions::new()
        .project(&["emb", "id"])
        .open(&p)
        .unwrap();
    let b = t.to_record_batch().unwrap();
    assert_eq!(b.schema().field(0).name(), "emb");
    assert_eq!(b.column(1).as_ref(), a.column(0).as_ref());
    let e = TableOptions::new().project(&["nope"]).open(&p).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn schema_changes_are_refused_and_nested_types_held() {
    let d = Dir::new();
    let a = sample(0, 5);
    let mut w = TableWriter::create(d.path("t"), a.schema()).unwrap();
    let other =
        RecordBatch::try_from_iter([("id", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef)])
            .unwrap();
    let e = w.append(&other).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TypeMismatch { .. }), "{e}");
    w.append(&a).unwrap();
    assert_eq!(w.finish().unwrap().num_rows(), 5);
    // Every Arrow type can be held (format v2): a list column too.
    let list = Field::new(
        "l",
        DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
        true,
    );
    let mut w = TableWriter::create(d.path("u"), Arc::new(Schema::new(vec![list]))).unwrap();
    let lists =
        arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
        ]);
    w.append(&RecordBatch::try_from_iter([("l", Arc::new(lists.clone()) as ArrayRef)]).unwrap())
        .unwrap();
    let t = w.finish().unwrap();
    assert_eq!(
        t.to_record_batch().unwrap().column(0).as_ref(),
        &lists as &dyn Array
    );
    // A non-empty directory that is not a table is never overwritten.
    std::fs::create_dir(d.path("busy")).unwrap();
    std::fs::write(d.path("busy/keep"), b"x").unwrap();
    let e = TableWriterOptions::new()
        .overwrite(true)
        .create(d.path("busy"), a.schema())
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AlreadyExists), "{e}");
    assert!(d.path("busy/keep").exists());
}

fn table_with_strings(d: &Dir) -> std::path::PathBuf {
    let p = d.path("t");
    let batch = RecordBatch::try_from_iter([
        (
            "s",
            Arc::new(StringArray::from(vec!["ab", "c", "def"])) as ArrayRef,
        ),
        ("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
    ])
    .unwrap();
    let mut w = TableWriter::create(&p, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.finish().unwrap();
    p
}

fn edit_manifest(p: &std::path::Path, from: &str, to: &str) {
    let m = p.join("manifest.json");
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&m, text.replace(from, to)).unwrap();
}

#[test]
fn manifests_naming_files_outside_the_directory_are_refused() {
    for bad in ["../c1.values", "/etc/passwd", "sub/c1.values"] {
        let d = Dir::new();
        let p = table_with_strings(&d);
        edit_manifest(&p, "\"c1.values\"", &format!("{bad:?}"));
        let e = Table::open(&p).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidManifest { .. }),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains("plain file name"), "{e}");
    }
    // A symlink leading out of the directory.
    let d = Dir::new();
    let p = table_with_strings(&d);
    let outside = d.file("secret", &[0u8; 64]);
    std::fs::remove_file(p.join("c1.values")).unwrap();
    std::os::unix::fs::symlink(&outside, p.join("c1.values")).unwrap();
    let e = Table::open(&p).unwrap_err();
    assert!(e.to_string().contains("outside the table directory"), "{e}");
    assert!(TableWriter::open(&p, Durability::Fsync).is_err());
    // A symlink inside is fine.
    std::fs::remove_file(p.join("c1.values")).unwrap();
    std::fs::write(
        p.join("ids.bin"),
        (1..=3i64)
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::os::unix::fs::symlink(p.join("ids.bin"), p.join("c1.values")).unwrap();
    assert_eq!(Table::open(&p).unwrap().num_rows(), 3);
}

#[test]
fn missing_or_short_column_files_and_unequal_lengths() {
    let d = Dir::new();
    let p = table_with_strings(&d);
    std::fs::remove_file(p.join("c1.values")).unwrap();
    let e = Table::open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotFound), "{e}");
    let d = Dir::new();
    let p = table_with_strings(&d);
    // Column x holds 2 rows, the manifest says 3: columns of different lengths.
    std::fs::OpenOptions::new()
        .write(true)
        .open(p.join("c1.values"))
        .unwrap()
        .set_len(16)
        .unwrap();
    let e = Table::open(&p).unwrap_err();
    assert!(
        e.to_string()
            .contains("values file has 16 bytes, the committed rows need 24"),
        "{e}"
    );
}

#[test]
fn bad_offsets_are_caught_at_open_or_by_verify() {
    let d = Dir::new();
    let p = table_with_strings(&d);
    let off = p.join("c0.offsets");
    let mut o = std::fs::read(&off).unwrap();
    // Last offset past the values file: caught in O(1), even when trusted.
    o[12..16].copy_from_slice(&100i32.to_le_bytes());
    std::fs::write(&off, &o).unwrap();
    let e = Table::open(&p).unwrap_err();
    assert!(
        e.to_string().contains("outside the 6-byte values file"),
        "{e}"
    );
    #[allow(unsafe_code)]
    // SAFETY: only sizes are wrong here; the open must refuse the table
    // before any array is built from it.
    let trusted = unsafe { TableOptions::new().trusted() };
    assert!(trusted.open(&p).is_err());
    // Not monotonic (ends fine): the open is O(columns) and does not read
    // every offset; the column is refused where its arrays are made (whole
    // or by batch) and by verify, naming the offsets file.
    o[12..16].copy_from_slice(&6i32.to_le_bytes());
    o[4..8].copy_from_slice(&5i32.to_le_bytes());
    o[8..12].copy_from_slice(&1i32.to_le_bytes());
    std::fs::write(&off, &o).unwrap();
    let t = Table::open(&p).unwrap();
    for e in [
        t.to_record_batch().unwrap_err(),
        Table::open(&p)
            .unwrap()
            .batches(2)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err(),
        Table::open(&p).unwrap().slice(1..3).unwrap_err(),
    ] {
        assert!(matches!(e.kind(), ErrorKind::InvalidManifest { .. }), "{e}");
        assert!(e.to_string().contains("c0.offsets"), "{e}");
        assert!(!e.to_string().contains("Invalid argument"), "{e}");
    }
    // verify first finds the bytes changed since their commit, naming the
    // file and the range.
    let e = mmarrow::table::verify_table(&p).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::ChecksumMismatch {
                start: 4,
                end: 16,
                rows: (0, 3)
            }
        ),
        "{e}"
    );
    assert_eq!(e.path(), Some(off.as_path()));
}

#[test]
fn unknown_versions_and_broken_manifests() {
    let d = Dir::new();
    let p = table_with_strings(&d);
    edit_manifest(&p, "\"version\": 2", "\"version\": 3");
    assert!(matches!(
        Table::open(&p).map_err(Error::into_kind),
        Err(ErrorKind::UnsupportedVersion { found: 3, .. })
    ));
    std::fs::write(p.join("manifest.json"), "{oops").unwrap();
    assert!(matches!(
        Table::open(&p).map_err(Error::into_kind),
        Err(ErrorKind::InvalidManifest { .. })
    ));
    assert!(matches!(
        Table::open(d.path("nothing")).map_err(Error::into_kind),
        Err(ErrorKind::NotFound)
    ));
}

#[test]
fn one_table_writer_at_a_time() {
    let d = Dir::new();
    let a = sample(0, 3);
    let _w = TableWriter::create(d.path("t"), a.schema()).unwrap();
    assert!(matches!(
        TableWriter::open(d.path("t"), Durability::Fsync).map_err(Error::into_kind),
        Err(ErrorKind::Locked)
    ));
    assert_eq!(Table::open(d.path("t")).unwrap().num_rows(), 0);
}

#[test]
fn a_wrong_null_count_is_caught_by_full_validation() {
    let d = Dir::new();
    let p = d.path("t");
    let batch = RecordBatch::try_from_iter([(
        "x",
        Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)])) as ArrayRef,
    )])
    .unwrap();
    let mut w = TableWriter::create(&p, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.finish().unwrap();
    for (from, to) in [
        ("\"null_count\": 1", "\"null_count\": 2"),
        ("\"null_count\": 2", "\"null_count\": 0"),
    ] {
        edit_manifest(&p, from, to);
        // The open does not count bitmaps (O(columns)); the whole column,
        // and verify, do.
        let t = Table::open(&p).unwrap();
        for e in [
            t.to_record_batch().unwrap_err(),
            mmarrow::table::verify_table(&p).unwrap_err(),
        ] {
            assert!(matches!(e.kind(), ErrorKind::InvalidManifest { .. }), "{e}");
            assert!(e.to_string().contains("c0.validity"), "{e}");
        }
        // Batches count their own rows' nulls, whatever the manifest says;
        // a manifest saying 0 has its bitmap checked to be all set.
        match t.slice(0..3) {
            Ok(b) => {
                assert_eq!(to, "\"null_count\": 2");
                assert_eq!(b.column(0).null_count(), 1);
            }
            Err(e) => {
                assert_eq!(to, "\"null_count\": 0");
                assert!(e.to_string().contains("c0.validity"), "{e}");
            }
        }
    }
}

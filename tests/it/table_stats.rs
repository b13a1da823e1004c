//! Tables' per-chunk statistics and checksums (docs/FORMAT.md §5.6):
//! statistics equal to what the rows of each chunk hold, whatever the
//! batches and commits; every changed committed byte found by verify,
//! naming the file and range; a damaged commit log refused; tables
//! without a log (format v1) readable, with unknown statistics.

use std::sync::Arc;

use arrow_array::builder::{Decimal128Builder, ListBuilder, StringDictionaryBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray, UInt8Array,
};
use arrow_schema::DataType;
use mmarrow::write::Durability;
use mmarrow::{ErrorKind, Table, TableWriter};

use crate::common::Dir;

const N: u64 = 150_000;

/// Rows `start..start + n` of a table with one column of each statistics
/// kind (and a list, which has null counts only).
fn batch(start: u64, n: u64) -> RecordBatch {
    let rows = start..start + n;
    let i64s: Int64Array = rows
        .clone()
        .map(|i| (i % 11 != 3).then_some((i as i64 * 7919) % 100_003 - 50_000))
        .collect();
    let f64s: Float64Array = rows
        .clone()
        .map(|i| match i % 13 {
            0 => None,
            1 => Some(f64::NAN),
            _ => Some(((i * 31) % 1000) as f64 - 500.0),
        })
        .collect();
    // Long strings (past the 64-byte truncation) at the top and bottom of
    // the order.
    let strings: StringArray = rows
        .clone()
        .map(|i| match i % 17 {
            0 => None,
            1 => Some(format!("{}{i}", "A".repeat(80))),
            2 => Some(format!("{}{i}", "z".repeat(70))),
            _ => Some(format!("m{}", (i * 13) % 9973)),
        })
        .collect();
    let bools: BooleanArray = rows
        .clone()
        .map(|i| (i % 5 != 0).then_some(i < 70_000))
        .collect();
    let ts = TimestampMillisecondArray::from_iter(rows.clone().map(|i| Some(i as i64 * 1000)))
        .with_timezone("Europe/Paris");
    let dates: Date32Array = rows.clone().map(|i| Some((i % 3000) as i32)).collect();
    let u8s: UInt8Array = rows.clone().map(|i| Some((i % 200) as u8 + 10)).collect();
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    let mut dec = Decimal128Builder::new();
    let mut list = ListBuilder::new(arrow_array::builder::Int32Builder::new());
    for i in rows {
        match i % 7 {
            0 => dict.append_null(),
            k => dict.append_value(format!("cat{}", (k + start / 40_000) % 9)),
        }
        dec.append_value(i as i128 * 101 - 7_000_000);
        if i % 9 == 0 {
            list.append_null();
        } else {
            list.values().append_value(i as i32);
            list.append(true);
        }
    }
    let dec = dec.finish().with_precision_and_scale(12, 2).unwrap();
    RecordBatch::try_from_iter([
        ("i64", Arc::new(i64s) as ArrayRef),
        ("f64", Arc::new(f64s) as ArrayRef),
        ("s", Arc::new(strings) as ArrayRef),
        ("b", Arc::new(bools) as ArrayRef),
        ("ts", Arc::new(ts) as ArrayRef),
        ("d", Arc::new(dates) as ArrayRef),
        ("u8", Arc::new(u8s) as ArrayRef),
        ("cat", Arc::new(dict.finish()) as ArrayRef),
        ("dec", Arc::new(dec) as ArrayRef),
        ("list", Arc::new(list.finish()) as ArrayRef),
    ])
    .unwrap()
}

/// Writes the table in batches of 40,000 rows (crossing chunk
/// boundaries), committing every other batch, reopening the writer once.
fn write_table(path: &std::path::Path) {
    let nullable: Vec<_> = batch(0, 1)
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let schema = Arc::new(arrow_schema::Schema::new(nullable));
    let mut w = TableWriter::create(path, schema).unwrap();
    let mut start = 0;
    let mut k = 0;
    while start < N {
        let n = 40_000.min(N - start);
        w.append(&batch(start, n)).unwrap();
        start += n;
        k += 1;
        if k % 2 == 0 {
            w.commit().unwrap();
        }
        if k == 2 {
            drop(w);
            w = TableWriter::open(path, Durability::Fsync).unwrap();
        }
    }
    w.finish().unwrap();
}

/// The smallest and largest non-null, non-NaN values of `a` as strings of
/// the value type, found by a plain scan (independent of the writer).
fn extremes(a: &dyn Array) -> Option<(String, String)> {
    let a = match a.data_type() {
        DataType::Dictionary(_, v) => arrow_cast::cast(a, v).unwrap(),
        _ => arrow_array::make_array(a.to_data()),
    };
    let opts = arrow_cast::display::FormatOptions::default();
    let f = arrow_cast::display::ArrayFormatter::try_new(a.as_ref(), &opts).unwrap();
    let keep = |i: &usize| {
        a.is_valid(*i)
            && !matches!(a.data_type(), DataType::Float64 if a.as_primitive::<arrow_array::types::Float64Type>().value(*i).is_nan())
    };
    let idx: Vec<usize> = (0..a.len()).filter(keep).collect();
    if idx.is_empty() {
        return None;
    }
    // Order through arrow's sort (a comparison the writer does not use).
    let sorted = arrow_ord::sort::sort_to_indices(
        &arrow_select::take::take(
            a.as_ref(),
            &arrow_array::UInt32Array::from_iter_values(idx.iter().map(|&i| i as u32)),
            None,
        )
        .unwrap(),
        None,
        None,
    )
    .unwrap();
    let first = idx[sorted.value(0) as usize];
    let last = idx[sorted.value(sorted.len() - 1) as usize];
    Some((f.value(first).to_string(), f.value(last).to_string()))
}

fn cell(a: &ArrayRef, i: usize) -> String {
    let opts = arrow_cast::display::FormatOptions::default();
    arrow_cast::display::ArrayFormatter::try_new(a.as_ref(), &opts)
        .unwrap()
        .value(i)
        .to_string()
}

#[test]
fn statistics_are_those_of_each_chunks_rows() {
    let d = Dir::new();
    let p = d.path("t");
    write_table(&p);
    let t = Table::open(&p).unwrap();
    let stats = t.statistics().unwrap();
    assert_eq!(stats.chunk_rows(), mmarrow::table::CHUNK_ROWS);
    assert_eq!(stats.num_chunks(), 3);
    assert_eq!(stats.row_counts().values(), &[65_536, 65_536, 18_928]);
    let all = t.to_record_batch().unwrap();
    for (c, field) in t.schema().fields().iter().enumerate() {
        let s = stats.column(c);
        assert_eq!(s.field().name(), field.name());
        for i in 0..stats.num_chunks() {
            let r = stats.chunk_range(i);
            let rows = all
                .column(c)
                .slice(r.start as usize, (r.end - r.start) as usize);
            let what = format!("column {} chunk {i}", field.name());
            assert_eq!(
                s.null_counts().value(i),
                rows.logical_null_count() as u64,
                "{what}"
            );
            let (Some(min), Some(max)) = (s.min(), s.max()) else {
                assert_eq!(field.name(), "list", "{what}: no min/max");
                continue;
            };
            let (lo, hi) = extremes(rows.as_ref()).unwrap();
            if field.name() == "s" {
                // Long strings: a prefix below the smallest, a bound above
                // the largest, both marked inexact.
                let (m, x) = (
                    min.as_string::<i32>().value(i),
                    max.as_string::<i32>().value(i),
                );
                assert!(
                    lo.starts_with(m) && m.len() <= 64 && !s.min_exact().value(i),
                    "{what}: {m} {lo}"
                );
                assert!(
                    x > hi.as_str() && x.len() <= 64 && !s.max_exact().value(i),
                    "{what}: {x} {hi}"
                );
                continue;
            }
            assert_eq!(
                min.data_type(),
                &mmarrow_value_type(field.data_type()),
                "{what}"
            );
            assert_eq!((cell(min, i), cell(max, i)), (lo, hi), "{what}");
            assert!(s.min_exact().value(i) && s.max_exact().value(i), "{what}");
        }
    }
    // A projection gets its columns' statistics, in its order.
    let proj = mmarrow::TableOptions::new()
        .project(&["u8", "i64"])
        .open(&p)
        .unwrap()
        .statistics()
        .unwrap();
    assert_eq!(proj.column(0).field().name(), "u8");
    assert_eq!(
        proj.column(1)
            .max()
            .unwrap()
            .as_primitive::<Int64Type>()
            .values(),
        stats
            .column(0)
            .max()
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
    );
    let report = mmarrow::table::verify_table(&p)
        .unwrap()
        .checksum_report()
        .unwrap();
    assert_eq!(report.unchecked_bytes, 0);
    assert!(report.bytes >= t.data_bytes(), "{report:?}");
}

fn mmarrow_value_type(t: &DataType) -> DataType {
    match t {
        DataType::Dictionary(_, v) => v.as_ref().clone(),
        t => t.clone(),
    }
}

#[test]
fn every_changed_byte_is_found_naming_file_and_range() {
    let d = Dir::new();
    let p = d.path("t");
    write_table(&p);
    let m = mmarrow::table::check_structure(&p).unwrap();
    let files: Vec<(String, u64)> = m
        .columns
        .iter()
        .flat_map(|c| c.node.buffer_files())
        .map(|b| (b.file.clone(), b.length.unwrap()))
        .collect();
    assert!(files.len() > 15, "{files:?}");
    for (name, len) in files {
        if len == 0 {
            continue;
        }
        let path = p.join(&name);
        let orig = std::fs::read(&path).unwrap();
        for at in [0, len / 2, len - 1] {
            let mut bytes = orig.clone();
            // The lowest bit: in a bitmap's last byte it is committed.
            bytes[at as usize] ^= 1;
            std::fs::write(&path, &bytes).unwrap();
            let e = mmarrow::table::verify_table(&p).unwrap_err();
            match e.kind() {
                ErrorKind::ChecksumMismatch { start, end, rows } => {
                    assert!(*start <= at && at < *end, "{name}@{at}: {e}");
                    assert!(rows.0 < rows.1 || *start == 0, "{name}@{at}: {e}");
                }
                // The open's own checks see a first offset that is not 0
                // before any checksum is read.
                ErrorKind::InvalidManifest { .. } if Table::open(&p).is_err() => {}
                k => panic!("{name}@{at}: {k:?}"),
            }
            assert_eq!(e.path(), Some(path.as_path()), "{e}");
            assert!(e.to_string().contains(&name), "{e}");
        }
        std::fs::write(&path, &orig).unwrap();
    }
    mmarrow::table::verify_table(&p).unwrap();
}

#[test]
fn bits_past_the_committed_rows_are_not_checksummed_and_later_appends_keep_ranges_valid() {
    let d = Dir::new();
    let p = d.path("t");
    let b = |start: u64, n: u64| {
        RecordBatch::try_from_iter([(
            "b",
            Arc::new(BooleanArray::from_iter(
                (start..start + n).map(|i| (i % 3 != 0).then_some(i % 2 == 0)),
            )) as ArrayRef,
        )])
        .unwrap()
    };
    let mut w = TableWriter::create(&p, b(0, 1).schema()).unwrap();
    // 13 rows: each bitmap's last byte holds 5 committed bits.
    w.append(&b(0, 13)).unwrap();
    w.commit().unwrap();
    drop(w);
    for f in ["c0.validity", "c0.values"] {
        let path = p.join(f);
        let mut bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 2);
        bytes[1] ^= 0x80; // bit 15: not a committed row
        std::fs::write(&path, &bytes).unwrap();
    }
    mmarrow::table::verify_table(&p).unwrap();
    // Appends fill in those bits; every commit's range still verifies.
    let mut w = TableWriter::open(&p, Durability::Fsync).unwrap();
    for k in 0..5 {
        w.append(&b(13 + k * 3, 3)).unwrap();
        w.commit().unwrap();
    }
    let t = w.finish().unwrap();
    mmarrow::table::verify_table(&p).unwrap();
    let want = b(0, 28);
    assert_eq!(t.to_record_batch().unwrap().column(0), want.column(0));
    // A committed bit of the partial byte is checked.
    let path = p.join("c0.values");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3] ^= 0x01; // bit 24
    std::fs::write(&path, &bytes).unwrap();
    let e = mmarrow::table::verify_table(&p).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::ChecksumMismatch { .. }),
        "{e}"
    );
}

#[test]
fn a_damaged_commit_log_is_refused() {
    let d = Dir::new();
    let p = d.path("t");
    write_table(&p);
    let log = p.join(mmarrow::table::LOG_NAME);
    let orig = std::fs::read(&log).unwrap();
    let mut bytes = orig.clone();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(&log, &bytes).unwrap();
    let t = Table::open(&p).unwrap(); // the open does not read the log
    for e in [
        t.statistics().unwrap_err(),
        mmarrow::table::verify_table(&p).unwrap_err(),
    ] {
        assert!(matches!(e.kind(), ErrorKind::InvalidManifest { .. }), "{e}");
        assert_eq!(e.path(), Some(log.as_path()), "{e}");
        assert!(e.to_string().contains("checksum"), "{e}");
    }
    std::fs::write(&log, &orig[..orig.len() - 10]).unwrap();
    let e = t.statistics().unwrap_err();
    assert!(e.to_string().contains("shorter"), "{e}");
    std::fs::remove_file(&log).unwrap();
    assert!(t.statistics().is_err());
    // A writer refuses to append to a table whose log is short.
    std::fs::write(&log, &orig[..10]).unwrap();
    let e = TableWriter::open(&p, Durability::Fsync).unwrap_err();
    assert!(e.to_string().contains("commit log"), "{e}");
}

/// A format v1 table in `p` of one int64 column `x` holding `0..rows`,
/// its values in the file `file`.
fn v1_int64_table(p: &std::path::Path, file: &str, rows: u64) {
    std::fs::create_dir(p).unwrap();
    let values: Vec<u8> = (0..rows as i64).flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(p.join(file), &values).unwrap();
    std::fs::write(
        p.join("manifest.json"),
        format!(
            r#"{{"format":"mmarrow.table","version":1,"rows":{rows},"columns":[{{"field":{{"name":"x","type":{{"name":"int64"}},"nullable":false}},"files":{{"values":"{file}"}},"null_count":0}}]}}"#
        ),
    )
    .unwrap();
}

#[test]
fn a_v1_table_has_unknown_statistics_until_new_rows_fill_a_chunk() {
    let d = Dir::new();
    let p = d.path("t");
    let rows = 100_000u64;
    v1_int64_table(&p, "c0.values", rows);
    let t = Table::open(&p).unwrap();
    let s = t.statistics().unwrap();
    assert_eq!(s.num_chunks(), 2);
    assert_eq!(s.column(0).null_counts().null_count(), 2);
    assert_eq!(s.column(0).max().unwrap().null_count(), 2);
    let report = mmarrow::table::verify_table(&p)
        .unwrap()
        .checksum_report()
        .unwrap();
    assert_eq!((report.bytes, report.unchecked_bytes), (0, rows * 8));
    // 50,000 more rows: chunk 2 (rows 131,072..150,000) is all new.
    let mut w = TableWriter::open(&p, Durability::Fsync).unwrap();
    let x = Int64Array::from_iter_values(rows as i64..150_000);
    w.append(&RecordBatch::try_from_iter([("x", Arc::new(x) as ArrayRef)]).unwrap())
        .unwrap();
    let t = w.finish().unwrap();
    let s = t.statistics().unwrap();
    let max = s.column(0).max().unwrap().as_primitive::<Int64Type>();
    assert_eq!(max.iter().collect::<Vec<_>>(), [None, None, Some(149_999)]);
    let min = s.column(0).min().unwrap().as_primitive::<Int64Type>();
    assert_eq!(min.value(2), 131_072);
    let report = mmarrow::table::verify_table(&p)
        .unwrap()
        .checksum_report()
        .unwrap();
    assert_eq!((report.bytes, report.unchecked_bytes), (400_000, 800_000));
}

#[test]
fn statistics_of_more_chunks_than_a_table_may_have_are_refused() {
    // A null column holds any number of rows in no file at all.
    let d = Dir::new();
    let p = d.path("t");
    std::fs::create_dir(&p).unwrap();
    let rows = 1u64 << 50;
    std::fs::write(
        p.join("manifest.json"),
        format!(
            r#"{{"format":"mmarrow.table","version":2,"rows":{rows},"columns":[{{"field":{{"name":"n","type":{{"name":"null"}},"nullable":true}},"node":{{"length":{rows},"null_count":0,"buffers":[]}}}}]}}"#
        ),
    )
    .unwrap();
    let t = Table::open(&p).unwrap();
    assert_eq!(t.num_rows(), rows);
    let e = t.statistics().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidManifest { .. }), "{e}");
    assert!(e.to_string().contains("statistics chunks"), "{e}");
}

#[test]
fn a_v1_column_file_named_like_the_log_is_never_overwritten() {
    let d = Dir::new();
    let p = d.path("t");
    v1_int64_table(&p, "commits.log", 10);
    let mut w = TableWriter::open(&p, Durability::Fsync).unwrap();
    let x = Int64Array::from_iter_values(10..15);
    w.append(&RecordBatch::try_from_iter([("x", Arc::new(x) as ArrayRef)]).unwrap())
        .unwrap();
    let t = w.finish().unwrap();
    let got = t.to_record_batch().unwrap();
    let got = got.column(0).as_primitive::<Int64Type>();
    assert_eq!(got.values(), &(0..15).collect::<Vec<i64>>()[..]);
    let m = mmarrow::table::check_structure(&p).unwrap();
    assert_eq!(m.log.unwrap().file, "commits.1.log");
    mmarrow::table::verify_table(&p).unwrap();
}

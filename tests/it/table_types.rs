//! Format v2 holds every Arrow type: each column is the tree of its
//! `ArrayData`, appended batch by batch (offsets, view buffers, run ends and
//! union offsets rebased; dictionaries unified) and read back equal, whole
//! and by batches, after a writer reopened the table.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryViewBuilder, Int32Builder, ListBuilder, MapBuilder, StringBuilder,
    StringDictionaryBuilder, StringViewBuilder,
};
use arrow_array::types::{Int16Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Decimal256Array, Decimal32Array,
    Decimal64Array, DurationNanosecondArray, FixedSizeBinaryArray, Float16Array, Int32Array,
    Int64Array, IntervalDayTimeArray, IntervalMonthDayNanoArray, IntervalYearMonthArray,
    LargeListArray, LargeStringArray, ListViewArray, NullArray, RecordBatch, RunArray, StringArray,
    StructArray, Time32MillisecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    UnionArray,
};
use arrow_buffer::{i256, IntervalDayTime, IntervalMonthDayNano, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, UnionFields};
use mmarrow::write::Durability;
use mmarrow::{Table, TableOptions, TableWriter};

use crate::common::{retry_locked, Dir};

/// Rows `start..start + n` of a table with one column of each kind of
/// Arrow type; `salt` changes the dictionary's values between batches.
fn batch(start: usize, n: usize, salt: usize) -> RecordBatch {
    let idx: Vec<usize> = (start..start + n).collect();
    let i32s = |f: fn(usize) -> Option<i32>| {
        Int32Array::from(idx.iter().map(|&i| f(i)).collect::<Vec<_>>())
    };
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    cols.push(("null", Arc::new(NullArray::new(n))));
    cols.push((
        "bool",
        Arc::new(BooleanArray::from(
            idx.iter()
                .map(|&i| (i % 3 != 0).then_some(i % 2 == 0))
                .collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "i32",
        Arc::new(i32s(|i| (i % 4 != 1).then_some(i as i32 * 7))),
    ));
    cols.push((
        "f16",
        Arc::new(Float16Array::from(
            idx.iter()
                .map(|&i| half::f16::from_f32(i as f32 / 2.0))
                .collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "ts",
        Arc::new(
            TimestampMicrosecondArray::from(
                idx.iter()
                    .map(|&i| i as i64 * 1_000_003)
                    .collect::<Vec<_>>(),
            )
            .with_timezone("Asia/Tokyo"),
        ),
    ));
    cols.push((
        "t32",
        Arc::new(Time32MillisecondArray::from(
            idx.iter().map(|&i| i as i32 * 11).collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "t64",
        Arc::new(Time64NanosecondArray::from(
            idx.iter().map(|&i| i as i64 * 13).collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "dur",
        Arc::new(DurationNanosecondArray::from(
            idx.iter().map(|&i| -(i as i64)).collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "iym",
        Arc::new(IntervalYearMonthArray::from(
            idx.iter().map(|&i| i as i32).collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "idt",
        Arc::new(IntervalDayTimeArray::from(
            idx.iter()
                .map(|&i| IntervalDayTime::new(i as i32, -(i as i32)))
                .collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "imdn",
        Arc::new(IntervalMonthDayNanoArray::from(
            idx.iter()
                .map(|&i| IntervalMonthDayNano::new(1, i as i32, i as i64 * 5))
                .collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "d32",
        Arc::new(
            Decimal32Array::from(idx.iter().map(|&i| i as i32 - 50).collect::<Vec<_>>())
                .with_precision_and_scale(9, 2)
                .unwrap(),
        ),
    ));
    cols.push((
        "d64",
        Arc::new(
            Decimal64Array::from(idx.iter().map(|&i| i as i64 * 1000).collect::<Vec<_>>())
                .with_precision_and_scale(18, 3)
                .unwrap(),
        ),
    ));
    cols.push((
        "d128",
        Arc::new(
            Decimal128Array::from(
                idx.iter()
                    .map(|&i| Some(i as i128 * 10i128.pow(20)))
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(38, 4)
            .unwrap(),
        ),
    ));
    cols.push((
        "d256",
        Arc::new(
            Decimal256Array::from(
                idx.iter()
                    .map(|&i| i256::from_i128(i as i128 - 7))
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(76, 0)
            .unwrap(),
        ),
    ));
    cols.push((
        "fsb",
        Arc::new(
            FixedSizeBinaryArray::try_from_iter(idx.iter().map(|&i| (i as u32).to_le_bytes()))
                .unwrap(),
        ),
    ));
    cols.push((
        "s",
        Arc::new(StringArray::from(
            idx.iter()
                .map(|&i| (i % 5 != 0).then(|| format!("s{i}")))
                .collect::<Vec<_>>(),
        )),
    ));
    cols.push((
        "ls",
        Arc::new(LargeStringArray::from(
            idx.iter().map(|&i| "é".repeat(i % 4)).collect::<Vec<_>>(),
        )),
    ));
    let mut sv = StringViewBuilder::new();
    let mut bv = BinaryViewBuilder::new();
    for &i in &idx {
        if i % 6 == 0 {
            sv.append_null();
        } else {
            // Short (inline) and long (in a data buffer) values.
            sv.append_value(format!("view value {i} {}", "x".repeat(i % 20)));
        }
        bv.append_value(vec![i as u8; i % 17]);
    }
    cols.push(("sv", Arc::new(sv.finish())));
    cols.push(("bv", Arc::new(bv.finish())));
    let mut lb = ListBuilder::new(Int32Builder::new());
    for &i in &idx {
        if i % 7 == 3 {
            lb.append_null();
        } else {
            for j in 0..i % 4 {
                lb.values()
                    .append_option((j != 2).then_some((i * 10 + j) as i32));
            }
            lb.append(true);
        }
    }
    cols.push(("list", Arc::new(lb.finish())));
    let lens: Vec<usize> = idx.iter().map(|&i| i % 3).collect();
    let total: usize = lens.iter().sum();
    cols.push((
        "llist",
        Arc::new(LargeListArray::new(
            Arc::new(Field::new("item", DataType::Float32, false)),
            OffsetBuffer::from_lengths(lens.iter().copied()),
            Arc::new(arrow_array::Float32Array::from(
                (0..total)
                    .map(|k| (start * 3 + k) as f32)
                    .collect::<Vec<_>>(),
            )),
            None,
        )),
    ));
    // A list view whose views overlap and come in any order.
    let child = Int32Array::from(
        (0..n as i32 + 3)
            .map(|v| v + start as i32)
            .collect::<Vec<_>>(),
    );
    let offsets: Vec<i32> = (0..n as i32).rev().collect();
    let sizes: Vec<i32> = (0..n).map(|i| (i % 4) as i32).collect();
    cols.push((
        "lview",
        Arc::new(ListViewArray::new(
            Arc::new(Field::new("item", DataType::Int32, false)),
            ScalarBuffer::from(offsets),
            ScalarBuffer::from(sizes),
            Arc::new(child),
            Some(idx.iter().map(|&i| i % 9 != 4).collect::<Vec<_>>().into()),
        )),
    ));
    cols.push((
        "fsl",
        Arc::new(arrow_array::FixedSizeListArray::new(
            Arc::new(Field::new("item", DataType::Int32, true)),
            2,
            Arc::new(Int32Array::from(
                (0..2 * n)
                    .map(|k| (k % 3 != 0).then_some((2 * start + k) as i32))
                    .collect::<Vec<_>>(),
            )),
            Some(idx.iter().map(|&i| i % 5 != 2).collect::<Vec<_>>().into()),
        )),
    ));
    cols.push((
        "struct",
        Arc::new(StructArray::new(
            vec![
                Field::new("a", DataType::Int64, false),
                Field::new("b", DataType::Utf8, true),
            ]
            .into(),
            vec![
                Arc::new(Int64Array::from(
                    idx.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    idx.iter()
                        .map(|&i| (i % 2 == 0).then(|| i.to_string()))
                        .collect::<Vec<_>>(),
                )),
            ],
            Some(idx.iter().map(|&i| i % 8 != 7).collect::<Vec<_>>().into()),
        )),
    ));
    let mut mb = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    for &i in &idx {
        for j in 0..i % 3 {
            mb.keys().append_value(format!("k{j}"));
            mb.values().append_value((i + j) as i32);
        }
        mb.append(i % 10 != 9).unwrap();
    }
    cols.push(("map", Arc::new(mb.finish())));
    let mut db = StringDictionaryBuilder::<Int16Type>::new();
    for &i in &idx {
        if i % 11 == 5 {
            db.append_null();
        } else {
            db.append_value(format!("cat{}", (i + salt) % 4 + salt));
        }
    }
    cols.push(("dict", Arc::new(db.finish())));
    let fields = UnionFields::try_new(
        vec![0, 5],
        vec![
            Field::new("i", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ],
    )
    .unwrap();
    let type_ids: Vec<i8> = idx
        .iter()
        .map(|&i| if i % 3 == 0 { 5 } else { 0 })
        .collect();
    let n_s = type_ids.iter().filter(|&&t| t == 5).count();
    let (mut oi, mut os) = (0, 0);
    let dense_offsets: Vec<i32> = type_ids
        .iter()
        .map(|&t| {
            let c = if t == 5 { &mut os } else { &mut oi };
            *c += 1;
            *c - 1
        })
        .collect();
    cols.push((
        "dense",
        Arc::new(
            UnionArray::try_new(
                fields.clone(),
                type_ids.clone().into(),
                Some(dense_offsets.into()),
                vec![
                    Arc::new(Int32Array::from(
                        (0..n - n_s).map(|k| (k + start) as i32).collect::<Vec<_>>(),
                    )),
                    Arc::new(StringArray::from(
                        (0..n_s)
                            .map(|k| format!("u{}", k + start))
                            .collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap(),
        ),
    ));
    cols.push((
        "sparse",
        Arc::new(
            UnionArray::try_new(
                fields,
                type_ids.into(),
                None,
                vec![
                    Arc::new(i32s(|i| Some(i as i32))),
                    Arc::new(StringArray::from(
                        idx.iter().map(|&i| format!("p{i}")).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap(),
        ),
    ));
    // Runs of 3 that do not line up with batch boundaries.
    let runs = n.div_ceil(3);
    let run_ends: Vec<i32> = (1..=runs).map(|r| ((r * 3).min(n)) as i32).collect();
    cols.push((
        "ree",
        Arc::new(
            RunArray::<Int32Type>::try_new(
                &Int32Array::from(run_ends),
                &StringArray::from(
                    (0..runs)
                        .map(|r| format!("run{}", (start + r * 3) / 3))
                        .collect::<Vec<_>>(),
                ),
            )
            .unwrap(),
        ),
    ));
    RecordBatch::try_from_iter(cols).unwrap()
}

/// Logical equality: dictionaries by value, the rest by Arrow's `==`.
fn assert_same(got: &RecordBatch, want: &RecordBatch, what: &str) {
    assert_eq!(got.schema(), want.schema(), "{what}");
    assert_eq!(got.num_rows(), want.num_rows(), "{what}");
    for (i, f) in want.schema().fields().iter().enumerate() {
        let (g, w) = (got.column(i), want.column(i));
        if let DataType::Dictionary(_, v) = f.data_type() {
            let g = arrow_cast::cast(g, v).unwrap();
            let w = arrow_cast::cast(w, v).unwrap();
            assert_eq!(&g, &w, "{what}: column {}", f.name());
        } else if let DataType::RunEndEncoded(..) = f.data_type() {
            // Runs may be split at batch boundaries: compare the values.
            let (g, w) = (
                g.as_any().downcast_ref::<RunArray<Int32Type>>().unwrap(),
                w.as_any().downcast_ref::<RunArray<Int32Type>>().unwrap(),
            );
            let expand = |a: &RunArray<Int32Type>| -> Vec<Option<String>> {
                let v = a.downcast::<StringArray>().unwrap();
                v.into_iter().map(|s| s.map(str::to_string)).collect()
            };
            assert_eq!(expand(g), expand(w), "{what}: column {}", f.name());
        } else {
            assert_eq!(g.to_data(), w.to_data(), "{what}: column {}", f.name());
        }
    }
}

/// Concatenates batches (dictionaries and run ends as values).
fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}

#[test]
fn every_arrow_type_round_trips_through_appends_commits_and_a_reopen() {
    let d = Dir::new();
    let p = d.path("t");
    // One part sliced out of a bigger batch: its offsets, views, run ends
    // and union offsets do not start at 0.
    let parts = [
        batch(0, 10, 0),
        batch(10, 25, 1),
        batch(30, 20, 2).slice(5, 4),
        batch(36, 40, 0),
    ];
    let mut w = TableWriter::create(&p, parts[0].schema()).unwrap();
    w.append(&parts[0]).unwrap();
    w.append(&parts[1]).unwrap();
    w.commit().unwrap();
    // A batch sliced out of a bigger one (offsets not at 0).
    let big = batch(30, 20, 2);
    w.append(&big.slice(5, 1)).unwrap();
    drop(w);
    // The uncommitted row is gone; a reopened writer carries on.
    assert_eq!(Table::open(&p).unwrap().num_rows(), 35);
    let mut w = retry_locked(|| TableWriter::open(&p, Durability::Fsync)).unwrap();
    w.append(&parts[2]).unwrap();
    w.append(&parts[3]).unwrap();
    let t = w.finish().unwrap();
    let want = concat(&parts);
    assert_same(&t.to_record_batch().unwrap(), &want, "whole");
    // By batches through a fresh open: validated by range.
    let t = Table::open(&p).unwrap();
    let mut start = 0;
    for b in t.batches(9).unwrap() {
        let b = b.unwrap();
        for c in b.columns() {
            c.to_data().validate_full().unwrap();
        }
        assert_same(
            &b,
            &want.slice(start, b.num_rows()),
            &format!("batch at {start}"),
        );
        start += b.num_rows();
    }
    assert_eq!(start, 79);
    // The dictionary was unified: one value per distinct string.
    let m = mmarrow::format::Manifest::read(&p).unwrap();
    let dict = m.columns.iter().find(|c| c.field.name() == "dict").unwrap();
    let values = arrow_cast::cast(want.column_by_name("dict").unwrap(), &DataType::Utf8).unwrap();
    let distinct: std::collections::BTreeSet<&str> = values
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(
        dict.node.dictionary.as_ref().unwrap().length,
        distinct.len() as u64
    );
    mmarrow::table::verify_table(&p).unwrap();
    // Trusted and projected opens see the same.
    #[allow(unsafe_code)]
    // SAFETY: the files are what TableWriter wrote, verified just above.
    let trusted = unsafe { TableOptions::new().trusted() }.open(&p).unwrap();
    assert_same(&trusted.to_record_batch().unwrap(), &want, "trusted");
    let proj = TableOptions::new()
        .project(&["map", "sv"])
        .open(&p)
        .unwrap();
    assert_same(
        &proj.slice(3..50).unwrap(),
        &want
            .project(&[
                want.schema().index_of("map").unwrap(),
                want.schema().index_of("sv").unwrap(),
            ])
            .unwrap()
            .slice(3, 47),
        "projected",
    );
}

#[test]
fn numeric_leaves_are_plain_files_with_their_numpy_dtype() {
    let d = Dir::new();
    let p = d.path("t");
    let b = batch(0, 12, 0);
    let mut w = TableWriter::create(&p, b.schema()).unwrap();
    w.append(&b).unwrap();
    w.finish().unwrap();
    let text = std::fs::read_to_string(p.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let col = |name: &str| {
        m["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"]["name"] == name)
            .unwrap()
            .clone()
    };
    // i32: values as <i4, 12 of them.
    let i32s = &col("i32")["node"]["buffers"][0];
    assert_eq!(i32s["dtype"], "<i4");
    let bytes = std::fs::read(p.join(i32s["file"].as_str().unwrap())).unwrap();
    assert_eq!(
        i32::from_le_bytes(bytes[4 * 3..4 * 4].try_into().unwrap()),
        21
    );
    // The list's items are a child node of their own, <i4 too.
    assert_eq!(
        col("list")["node"]["children"][0]["buffers"][0]["dtype"],
        "<i4"
    );
    assert_eq!(col("list")["node"]["buffers"][0]["dtype"], "<i4");
    assert_eq!(col("llist")["node"]["buffers"][0]["dtype"], "<i8");
    assert_eq!(col("dict")["node"]["buffers"][0]["dtype"], "<i2");
    assert_eq!(col("d128")["node"]["buffers"][0]["dtype"], "|V16");
    assert_eq!(col("ts")["node"]["buffers"][0]["dtype"], "<M8[us]");
}

/// Damages one file of a table of `batch(0, 30, 0)` by `edit`; then the
/// table is refused with a typed error naming a file of that column —
/// at open, or where its arrays are made (whole and by batches) — and
/// never yields invalid Arrow data.
fn refused_after(name: &str, file: &str, edit: impl Fn(&mut Vec<u8>)) {
    let d = Dir::new();
    let p = d.path("t");
    let b = batch(0, 30, 0);
    let mut w = TableWriter::create(&p, b.schema()).unwrap();
    w.append(&b).unwrap();
    w.finish().unwrap();
    let path = p.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    edit(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    let column = b.schema().index_of(name).unwrap();
    let check = |e: mmarrow::Error, how: &str| {
        assert!(e.is_user_error(), "{name} {how}: {e}");
        let named = e
            .path()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().into_owned());
        let prefix = format!("c{column}.");
        assert!(
            named.as_deref().is_some_and(|f| f.starts_with(&prefix)),
            "{name} {how}: names {named:?}: {e}"
        );
    };
    let t = match TableOptions::new().project(&[name]).open(&p) {
        Err(e) => return check(e, "open"),
        Ok(t) => t,
    };
    check(t.to_record_batch().unwrap_err(), "whole");
    let t = TableOptions::new().project(&[name]).open(&p).unwrap();
    let errors: Vec<_> = t.batches(4).unwrap().filter_map(|b| b.err()).collect();
    assert!(!errors.is_empty(), "{name}: every batch was accepted");
    for e in errors {
        check(e, "batch");
    }
    check(mmarrow::table::verify_table(&p).unwrap_err(), "verify");
}

fn put_i32(at: usize, v: i32) -> impl Fn(&mut Vec<u8>) {
    move |b: &mut Vec<u8>| b[at * 4..at * 4 + 4].copy_from_slice(&v.to_le_bytes())
}

#[test]
fn damaged_nested_columns_are_refused_naming_their_files() {
    let col = |name: &str| batch(0, 1, 0).schema().index_of(name).unwrap();
    // A list offset past the items (the end is checked at open) and one
    // out of order (checked by the batch holding it).
    refused_after(
        "list",
        &format!("c{}.offsets", col("list")),
        put_i32(30, 1 << 20),
    );
    refused_after("list", &format!("c{}.offsets", col("list")), put_i32(17, 0));
    // A dictionary key past the dictionary.
    refused_after("dict", &format!("c{}.keys", col("dict")), |b| {
        b[20..22].copy_from_slice(&999i16.to_le_bytes())
    });
    // A union type id that is not one of the type's.
    refused_after("dense", &format!("c{}.type_ids", col("dense")), |b| {
        b[7] = 3
    });
    refused_after("sparse", &format!("c{}.type_ids", col("sparse")), |b| {
        b[7] = 3
    });
    // A dense union offset past its child.
    refused_after(
        "dense",
        &format!("c{}.offsets", col("dense")),
        put_i32(4, 1000),
    );
    // Run ends that decrease.
    refused_after("ree", &format!("c{}.0.values", col("ree")), put_i32(2, 1));
    // A list view past its items.
    refused_after(
        "lview",
        &format!("c{}.sizes", col("lview")),
        put_i32(5, 1000),
    );
    // A long string view pointing past its data buffer, and invalid UTF-8.
    refused_after("sv", &format!("c{}.data0", col("sv")), |b| b[3] = 0xff);
    refused_after("sv", &format!("c{}.views", col("sv")), |b| {
        b[16 * 29 + 12..16 * 29 + 16].copy_from_slice(&u32::MAX.to_le_bytes())
    });
    // A struct child's string offsets out of order.
    refused_after(
        "struct",
        &format!("c{}.1.offsets", col("struct")),
        put_i32(3, 1 << 16),
    );
}

#[test]
fn every_type_converts_to_ipc_and_back_and_parquet_refuses_what_it_cannot_hold() {
    use mmarrow::convert::{ipc_to_table, table_to_ipc, table_to_parquet, ConvertOptions};
    let d = Dir::new();
    let p = d.path("t");
    let b = batch(0, 50, 1);
    let mut w = TableWriter::create(&p, b.schema()).unwrap();
    w.append(&b.slice(0, 20)).unwrap();
    w.append(&b.slice(20, 30)).unwrap();
    let t = w.finish().unwrap();
    // Arrow IPC holds everything: table -> .arrow -> table, equal.
    let ipc = d.path("t.arrow");
    table_to_ipc(&t, &ipc, &ConvertOptions::new()).unwrap();
    let back = d.path("back");
    ipc_to_table(&ipc, &back, &ConvertOptions::new()).unwrap();
    let again = mmarrow::table::verify_table(&back).unwrap();
    assert_same(&again.to_record_batch().unwrap(), &b, "through IPC");
    // Parquet cannot hold unions or nanosecond intervals: refused before
    // anything is written, every such column named, the table named.
    let pq = d.path("t.parquet");
    let e = table_to_parquet(&t, &pq, &ConvertOptions::new()).unwrap_err();
    assert!(e.is_user_error(), "{e}");
    assert_eq!(e.path(), Some(p.as_path()), "{e}");
    let msg = e.to_string();
    for name in [
        "\"imdn\"",
        "\"dense\"",
        "\"sparse\"",
        "3 columns",
        "Arrow IPC",
    ] {
        assert!(msg.contains(name), "{name}: {msg}");
    }
    assert!(!pq.exists());
    // Everything else goes to Parquet and reads back with the same values.
    let schema = b.schema();
    let keep: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| !["imdn", "dense", "sparse"].contains(n))
        .collect();
    let t = TableOptions::new().project(&keep).open(&p).unwrap();
    table_to_parquet(&t, &pq, &ConvertOptions::new()).unwrap();
    let read: Vec<RecordBatch> = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
        std::fs::File::open(&pq).unwrap(),
        1024,
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    let read = concat(&read);
    let want = t.to_record_batch().unwrap();
    for (i, f) in want.schema().fields().iter().enumerate() {
        let got = arrow_cast::cast(read.column(i), f.data_type())
            .unwrap_or_else(|e| panic!("{}: {e}", f.name()));
        let want = want.column(i);
        if matches!(
            f.data_type(),
            DataType::Dictionary(..) | DataType::RunEndEncoded(..) | DataType::ListView(_)
        ) {
            // Compared as their plain values.
            let plain = |a: &ArrayRef| {
                arrow_cast::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
                    .map(|fmt| {
                        (0..a.len())
                            .map(|i| fmt.value(i).to_string())
                            .collect::<Vec<_>>()
                    })
                    .unwrap()
            };
            assert_eq!(plain(&got), plain(want), "{}", f.name());
        } else {
            assert_eq!(got.to_data(), want.to_data(), "{}", f.name());
        }
    }
}

#[test]
fn a_big_endian_ipc_file_is_refused_saying_so() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/peers/arrow-testing/bigendian-generated_primitive.arrow");
    let d = Dir::new();
    let e =
        mmarrow::convert::ipc_to_table(&src, d.path("t"), &mmarrow::convert::ConvertOptions::new())
            .unwrap_err();
    assert!(e.is_user_error(), "{e}");
    assert_eq!(e.path(), Some(src.as_path()), "{e}");
    assert!(e.to_string().contains("big-endian"), "{e}");
    assert!(!d.path("t").exists());
}

//! Hostile inputs the library must refuse quickly with a typed error: files
//! that are not regular files (a FIFO would block an open or a read
//! forever), and rows too wide for an Arrow list.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mmarrow::format::sidecar_path;
use mmarrow::{ErrorKind, OpenOptions, Table};

use crate::common::{f32_bytes, Dir};

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().unwrap().success();
    assert!(ok, "mkfifo {}", p.display());
}

/// Runs `f` on another thread and fails the test if it takes over 10 s
/// (the defect was an open that never returns).
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("hung on a FIFO")
}

#[test]
fn a_fifo_as_data_file_is_refused_without_blocking() {
    let d = Dir::new();
    let p = d.path("pipe.f32");
    mkfifo(&p);
    let q = p.clone();
    let e = within_10s(move || {
        OpenOptions::new()
            .try_with_dtype("f4")
            .unwrap()
            .open(&q)
            .unwrap_err()
    });
    assert!(
        matches!(e.kind(), ErrorKind::NotRegularFile { what: "FIFO" }),
        "{e}"
    );
    assert_eq!(e.path(), Some(p.as_path()));
    assert!(e.is_user_error());
}

#[test]
fn a_fifo_as_sidecar_is_refused_without_blocking() {
    let d = Dir::new();
    let p = d.file("x.f32", &f32_bytes([1.0, 2.0]));
    mkfifo(&sidecar_path(&p));
    let q = p.clone();
    let e = within_10s(move || mmarrow::open(&q).unwrap_err());
    assert!(matches!(e.kind(), ErrorKind::NotRegularFile { .. }), "{e}");
    assert_eq!(e.path(), Some(sidecar_path(&p).as_path()));
}

#[test]
fn a_fifo_as_manifest_or_column_file_is_refused_without_blocking() {
    use arrow_array::{Int64Array, RecordBatch};
    use std::sync::Arc;
    let d = Dir::new();
    let t = d.path("t");
    let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])
        .unwrap();
    let mut w = mmarrow::TableWriter::create(&t, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.commit().unwrap();
    drop(w);
    // A column file replaced by a FIFO.
    let column = std::fs::read_dir(&t)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("c0."))
        .expect("column 0's values file");
    std::fs::remove_file(&column).unwrap();
    mkfifo(&column);
    let t2 = t.clone();
    let e = within_10s(move || Table::open(&t2).unwrap_err());
    assert!(matches!(e.kind(), ErrorKind::NotRegularFile { .. }), "{e}");
    assert_eq!(e.path(), Some(column.as_path()));
    // The manifest replaced by a FIFO.
    let manifest = t.join(mmarrow::format::MANIFEST_NAME);
    std::fs::remove_file(&manifest).unwrap();
    mkfifo(&manifest);
    let t3 = t.clone();
    let e = within_10s(move || Table::open(&t3).unwrap_err());
    assert!(matches!(e.kind(), ErrorKind::NotRegularFile { .. }), "{e}");
    assert_eq!(e.path(), Some(manifest.as_path()));
}

#[test]
fn a_device_is_refused() {
    let e = OpenOptions::new()
        .try_with_dtype("u1")
        .unwrap()
        .open("/dev/zero")
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::NotRegularFile {
                what: "character device"
            }
        ),
        "{e}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_refuses_a_fifo_with_exit_2_for_every_reading_command() {
    use std::process::Stdio;
    use std::time::Instant;
    let d = Dir::new();
    let p = d.path("pipe.f32");
    mkfifo(&p);
    let out = d.path("out.parquet");
    let cases: Vec<Vec<String>> = vec![
        vec!["info".into(), p.display().to_string()],
        vec![
            "head".into(),
            p.display().to_string(),
            "--dtype".into(),
            "f4".into(),
        ],
        vec!["verify".into(), p.display().to_string()],
        vec![
            "to-parquet".into(),
            p.display().to_string(),
            out.display().to_string(),
        ],
        vec![
            "from-parquet".into(),
            p.display().to_string(),
            d.path("back.f32").display().to_string(),
        ],
    ];
    for args in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mmarrow"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("{args:?} hung on a FIFO");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("pipe.f32"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!out.exists());
    }
}

#[test]
fn a_row_wider_than_an_arrow_list_is_an_error_at_open() {
    let d = Dir::new();
    // 2 x 4294967297 would need 34 GB; an empty array of such rows needs none,
    // and a sidecar may claim anything: both must be refused at open.
    let p = d.file("wide.f32", &[0u8; 8]);
    d.sidecar(
        &p,
        r#"{"format":"mmarrow.array","version":1,"dtype":"<f4","shape":[0,4294967297]}"#,
    );
    let e = mmarrow::open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidShape { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&format!("{}: ", p.display())),
        "{e}"
    );
    assert!(e.to_string().contains("does not fit an Arrow list"), "{e}");
    // A sparse file that really holds 2 such rows.
    let big = d.path("big.u1");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 * 4294967297)
        .unwrap();
    let e = OpenOptions::new()
        .try_with_dtype("u1")
        .unwrap()
        .try_with_shape("2,4294967297")
        .unwrap()
        .open(&big)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidShape { .. }), "{e}");
    // Writers refuse such rows before creating anything.
    let e = mmarrow::write::WriterOptions::new("f4".parse().unwrap(), &[65536, 65536])
        .create(d.path("w.f32"))
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidShape { .. }), "{e}");
    assert!(!d.path("w.f32").exists());
    let e = OpenOptions::new()
        .mode(mmarrow::Mode::Create)
        .try_with_dtype("f4")
        .unwrap()
        .try_with_shape("0,4294967297")
        .unwrap()
        .open_mut(d.path("m.f32"))
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidShape { .. }), "{e}");
    assert!(!d.path("m.f32").exists());
}

#[test]
fn fixed_size_binary_0_is_a_typed_error_not_a_panic() {
    use arrow_array::{FixedSizeBinaryArray, RecordBatch};
    use std::sync::Arc;
    let d = Dir::new();
    let t = d.path("t");
    let batch =
        RecordBatch::try_from_iter([("z", Arc::new(FixedSizeBinaryArray::new_null(0, 3)) as _)])
            .unwrap();
    let mut w = mmarrow::TableWriter::create(&t, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.commit().unwrap();
    drop(w);
    let table = Table::open(&t).unwrap();
    let out = d.path("o.parquet");
    let e = mmarrow::convert::table_to_parquet(&table, &out, &Default::default()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Format { .. }), "{e}");
    assert_eq!(e.path(), Some(t.as_path()));
    assert!(e.to_string().contains("fixed_size_binary(0)"), "{e}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(d.dir.path()).unwrap().count(),
        1,
        "no temporary left"
    );
}

/// A one-column table of `array` in `d/name`; returns its directory.
fn table_of(d: &Dir, name: &str, array: arrow_array::ArrayRef) -> std::path::PathBuf {
    let t = d.path(name);
    let batch = arrow_array::RecordBatch::try_from_iter([("c", array)]).unwrap();
    let mut w = mmarrow::TableWriter::create(&t, batch.schema()).unwrap();
    w.append(&batch).unwrap();
    w.commit().unwrap();
    t
}

fn edit_manifest(t: &Path, from: &str, to: &str) {
    let m = t.join(mmarrow::format::MANIFEST_NAME);
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&m, text.replace(from, to)).unwrap();
}

#[test]
fn a_manifest_time_zone_arrow_cannot_apply_is_refused_at_open() {
    use arrow_array::TimestampMicrosecondArray;
    use std::sync::Arc;
    let d = Dir::new();
    let a = TimestampMicrosecondArray::from(vec![0, 1]).with_timezone("Europe/Paris");
    let t = table_of(&d, "t", Arc::new(a));
    Table::open(&t).unwrap();
    edit_manifest(&t, "Europe/Paris", "Mars/Olympus_Mons");
    let e = Table::open(&t).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidManifest { .. }), "{e}");
    assert!(e.to_string().contains("Mars/Olympus_Mons"), "{e}");
    assert!(mmarrow::table::verify_table(&t).is_err());
    edit_manifest(&t, "\"Mars/Olympus_Mons\"", "\"+05:30\"");
    Table::open(&t).unwrap();
}

#[test]
fn a_negative_or_fractional_null_count_is_refused() {
    use arrow_array::Int32Array;
    use std::sync::Arc;
    let d = Dir::new();
    let t = table_of(&d, "t", Arc::new(Int32Array::from(vec![Some(1), None])));
    for bad in ["-1", "1.5", "\"1\""] {
        let m = t.join(mmarrow::format::MANIFEST_NAME);
        let text = std::fs::read_to_string(&m).unwrap();
        let fixed = regex_free_replace_null_count(&text, bad);
        std::fs::write(&m, fixed).unwrap();
        let e = Table::open(&t).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidManifest { .. }),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains("null_count"), "{bad}: {e}");
    }
}

/// The manifest with its (only) `"null_count": N` value replaced by `with`.
fn regex_free_replace_null_count(text: &str, with: &str) -> String {
    let key = "\"null_count\": ";
    let start = text.find(key).expect("a null_count") + key.len();
    let end = start
        + text[start..]
            .find([',', '\n', '}'])
            .expect("the end of the value");
    format!("{}{with}{}", &text[..start], &text[end..])
}

#[test]
fn verify_finds_decimals_wider_than_their_precision() {
    use arrow_array::Decimal128Array;
    use std::sync::Arc;
    let d = Dir::new();
    let ok = Decimal128Array::from(vec![Some(99999), None, Some(-99999)])
        .with_precision_and_scale(5, 2)
        .unwrap();
    let t = table_of(&d, "ok", Arc::new(ok));
    mmarrow::table::verify_table(&t).unwrap();
    let wide = Decimal128Array::from(vec![Some(1), Some(1234567)])
        .with_precision_and_scale(5, 2)
        .unwrap();
    let t = table_of(&d, "wide", Arc::new(wide));
    let e = mmarrow::table::verify_table(&t).unwrap_err();
    assert!(e.to_string().contains("row 1"), "{e}");
    assert!(e.to_string().contains("5 digits"), "{e}");
    assert_eq!(e.path(), Some(t.as_path()));
}

#[test]
fn nested_columns_that_v1_refused_convert_to_a_table() {
    use arrow_array::{
        Array, ArrayRef, Int32Array, Int64Array, ListArray, RecordBatch, StructArray,
    };
    use arrow_schema::{DataType, Field};
    use std::sync::Arc;
    let d = Dir::new();
    let s = StructArray::from(vec![(
        Arc::new(Field::new("a", DataType::Int32, false)),
        Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
    )]);
    let inner = StructArray::from(vec![(
        Arc::new(Field::new("b", DataType::Int32, false)),
        Arc::new(Int32Array::from(vec![3, 4, 5])) as ArrayRef,
    )]);
    let l = ListArray::new(
        Arc::new(Field::new("item", inner.data_type().clone(), true)),
        arrow_buffer::OffsetBuffer::from_lengths([1, 2]),
        Arc::new(inner),
        None,
    );
    let batch = RecordBatch::try_from_iter([
        ("ok", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ("s", Arc::new(s) as ArrayRef),
        ("l", Arc::new(l) as ArrayRef),
    ])
    .unwrap();
    let src = d.path("nested.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&src).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // Format v2 holds every Arrow type: the nested columns that v1 refused
    // (issue 10 listed them all, naming the input) now convert and read back.
    let dst = d.path("cache");
    mmarrow::convert::parquet_to_table(&src, &dst, &Default::default()).unwrap();
    let back = mmarrow::table::verify_table(&dst)
        .unwrap()
        .to_record_batch()
        .unwrap();
    assert_eq!(back, batch);
}

/// A Parquet file with one required INT96 column `t` (Spark's legacy
/// timestamps) of `(julian day, nanoseconds of the day)` values.
fn int96_parquet(path: &Path, values: &[(u32, u64)]) {
    use parquet::data_type::{Int96, Int96Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type("message spark { required int96 t; }").unwrap(),
    );
    let props = Arc::new(WriterProperties::builder().build());
    let mut w =
        SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let vals: Vec<Int96> = values
        .iter()
        .map(|&(day, nanos)| {
            let mut v = Int96::new();
            v.set_data(nanos as u32, (nanos >> 32) as u32, day);
            v
        })
        .collect();
    col.typed::<Int96Type>()
        .write_batch(&vals, None, None)
        .unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

#[test]
fn int96_timestamps_outside_nanoseconds_are_an_error_or_read_in_a_coarser_unit() {
    use mmarrow::convert::{from_parquet, parquet_to_table, ConvertOptions};
    const EPOCH: u32 = 2_440_588; // the Julian day of 1970-01-01
    let d = Dir::new();
    // 2020-01-01 12:00:00.000000001 and 9999-12-31 (Spark's "max date").
    let src = d.path("spark.parquet");
    int96_parquet(&src, &[(2_458_850, 43_200_000_000_001), (5_373_484, 0)]);
    for dst in [d.path("t.M8"), d.path("table")] {
        let e = if dst.ends_with("table") {
            parquet_to_table(&src, &dst, &ConvertOptions::new())
        } else {
            from_parquet(&src, &dst, &ConvertOptions::new())
        }
        .unwrap_err();
        assert_eq!(e.path(), Some(src.as_path()), "{e}");
        assert!(e.to_string().contains("column \"t\" row 1"), "{e}");
        assert!(e.to_string().contains("--int96-unit"), "{e}");
        assert!(!dst.exists());
    }
    // Microseconds hold both values.
    let o = ConvertOptions::new().int96_unit(arrow_schema::TimeUnit::Microsecond);
    from_parquet(&src, d.path("t.M8"), &o).unwrap();
    let a = mmarrow::open(d.path("t.M8")).unwrap();
    assert_eq!(a.dtype().typestr(), "<M8[us]");
    let v = a.data_buffer().typed_data::<i64>().to_vec();
    let day_us = 86_400_000_000i64;
    assert_eq!(
        v,
        [
            (2_458_850 - EPOCH) as i64 * day_us + 43_200_000_000,
            (5_373_484 - EPOCH) as i64 * day_us
        ]
    );
    // Values that fit stay nanoseconds by default, exactly.
    let ok = d.path("ok.parquet");
    int96_parquet(&ok, &[(2_458_850, 43_200_000_000_001)]);
    from_parquet(&ok, d.path("ns.M8"), &ConvertOptions::new()).unwrap();
    let a = mmarrow::open(d.path("ns.M8")).unwrap();
    assert_eq!(a.dtype().typestr(), "<M8[ns]");
    assert_eq!(
        a.data_buffer().typed_data::<i64>(),
        [(2_458_850 - EPOCH) as i64 * 86_400_000_000_000 + 43_200_000_000_001]
    );
}

#[cfg(feature = "cli")]
#[test]
fn info_describes_parquet_and_arrow_ipc_files() {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let d = Dir::new();
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef,
        ),
    ])
    .unwrap();
    let pq = d.path("data.bin"); // named neither .parquet nor .arrow: the magic decides
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(2))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&pq).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let ipc = d.path("data.arrow");
    let mut w = arrow_ipc::writer::FileWriter::try_new(
        std::fs::File::create(&ipc).unwrap(),
        &batch.schema(),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let run = |p: &Path, json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mmarrow"));
        c.arg("info").arg(p);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let out = run(&pq, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("parquet: 3 rows, 2 row groups, 2 columns"),
        "{text}"
    );
    assert!(text.contains("codecs:    snappy"), "{text}");
    assert!(
        text.contains("id: Int64") && text.contains("s: Utf8"),
        "{text}"
    );
    let out = run(&ipc, true);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "arrow-ipc");
    assert_eq!(doc["rows"], 3);
    assert_eq!(doc["columns"][1]["name"], "s");
    // A truncated Parquet file: one line naming it, exit 2.
    let bytes = std::fs::read(&pq).unwrap();
    std::fs::write(&pq, &bytes[..bytes.len() - 9]).unwrap();
    let out = run(&pq, false);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("data.bin") && err.lines().count() == 1,
        "{err}"
    );
}

/// The Arrow IPC files of apache/arrow-testing on which arrow-ipc panics
/// or allocates gigabytes (tests/corpus/peers/arrow-testing/README.md).
fn arrow_testing_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/peers/arrow-testing");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "arrow"))
        .filter(|p| p.to_string_lossy().contains("clusterfuzz"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 5);
    v
}

#[test]
fn ipc_files_that_crash_arrow_ipc_are_typed_errors_naming_the_file() {
    use mmarrow::convert::{from_ipc, inspect, ipc_to_table, ConvertOptions};
    let d = Dir::new();
    for src in arrow_testing_files() {
        let o = ConvertOptions::new().overwrite(true);
        for (what, r) in [
            ("from_ipc", from_ipc(&src, d.path("a.f4"), &o).map(|_| ())),
            (
                "ipc_to_table",
                ipc_to_table(&src, d.path("t"), &o).map(|_| ()),
            ),
            ("inspect", inspect(&src).map(|_| ())),
        ] {
            let e = r.expect_err(what);
            assert_eq!(e.path(), Some(src.as_path()), "{what}: {e}");
            assert!(e.is_user_error(), "{what}: {e}");
        }
        assert_eq!(
            std::fs::read_dir(d.dir.path()).unwrap().count(),
            0,
            "nothing left"
        );
    }
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_reports_ipc_files_that_crash_arrow_ipc_in_one_line() {
    let d = Dir::new();
    for src in arrow_testing_files() {
        for args in [
            vec!["info".to_string(), src.display().to_string()],
            vec![
                "convert".to_string(),
                src.display().to_string(),
                d.path("t").display().to_string(),
                "--table".to_string(),
            ],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_mmarrow"))
                .args(&args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.starts_with("mmarrow: ")
                    && err.contains(src.file_name().unwrap().to_str().unwrap()),
                "{err}"
            );
        }
    }
}

/// parquet-testing's `repeated_no_annotation.parquet` declares 0 rows in
/// its footer and 6 in its row group: the parquet crate's reader stops at
/// the footer's count, and the table came out empty with exit 0 (found by
/// the corpus round trips of tests/python/test_corpus_interop.py). Every
/// row the row groups hold is read, as pyarrow reads them.
#[test]
fn a_footer_row_count_below_the_row_groups_loses_no_rows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/peers/parquet-testing/repeated_no_annotation.parquet");
    let d = Dir::new();
    let dst = d.path("t");
    let o = mmarrow::convert::ConvertOptions::new();
    mmarrow::convert::parquet_to_table(&src, &dst, &o).unwrap();
    let t = mmarrow::table::verify_table(&dst).unwrap();
    assert_eq!(t.num_rows(), 6);
    let ids = t.to_record_batch().unwrap();
    let ids = ids
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::Int32Array>()
        .unwrap();
    assert_eq!(ids.values(), &[1, 2, 3, 4, 5, 6]);
}

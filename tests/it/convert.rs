//! Conversion to and from Parquet and Arrow IPC.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, Float32Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mmarrow::convert::{convert, from_parquet, to_parquet, Compression, ConvertOptions};
use mmarrow::ErrorKind;
use mmarrow::{open, Error, OpenOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::common::Dir;

fn read_parquet(p: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(p).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}

/// A file of `rows` rows of shape `row` of `dtype`, filled with varied bytes.
fn sample(d: &Dir, name: &str, dtype: &str, rows: u64, row: &str) -> mmarrow::MmArray {
    let dt = mmarrow::Dtype::parse(dtype).unwrap();
    let per_row: u64 = row
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().unwrap())
        .product();
    let n = (rows * per_row) as usize * dt.itemsize();
    let bytes: Vec<u8> = (0..n).map(|i| ((i * 7919) % 251) as u8 & 0x3f).collect();
    let p = d.file(name, &bytes);
    let shape = if row.is_empty() {
        "-1".to_string()
    } else {
        format!("-1,{row}")
    };
    mmarrow::describe(
        &p,
        &OpenOptions::new()
            .try_with_dtype(dtype)
            .unwrap()
            .try_with_shape(&shape)
            .unwrap(),
    )
    .unwrap();
    open(&p).unwrap()
}

#[test]
fn fast_path_writes_what_the_generic_writer_writes() {
    let d = Dir::new();
    for (dtype, row) in [
        ("<f4", ""),
        ("<f4", "8"),
        ("<f8", "2,3"),
        ("<i4", ""),
        ("<u4", ""),
        ("<u8", ""),
        ("<f8", ""),
        ("<u8", "4"),
        ("<M8[ns]", ""),
        ("<M8[ms]", "2"),
        ("<m8[us]", ""),
        ("|S5", ""),
        ("<f2", "3"),
        ("<c8", ""),
        ("<c16", "2"),
    ] {
        let name = format!(
            "s{}{}",
            dtype.replace(['<', '|', '[', ']'], ""),
            row.replace(',', "x")
        );
        let a = sample(&d, &name, dtype, 1000, row);
        for c in [Compression::None, Compression::Snappy, Compression::Zstd(1)] {
            let o = ConvertOptions::new().compression(c).row_group_rows(300);
            let fast = d.path(&format!("{name}-{c}-fast.parquet"));
            let generic = d.path(&format!("{name}-{c}-generic.parquet"));
            let s = to_parquet(&a, &fast, &o).unwrap();
            assert!(s.fast_path, "{dtype} {row} should take the fast path");
            assert_eq!(s.groups, 4);
            let g = to_parquet(&a, &generic, &o.clone().fast_path(false)).unwrap();
            assert!(!g.fast_path);
            let (x, y) = (
                concat(&read_parquet(&fast)),
                concat(&read_parquet(&generic)),
            );
            assert_eq!(x, y, "{dtype} {row} {c}");
            assert_eq!(x.num_rows(), 1000);
            // And the values are the source's.
            assert_eq!(
                x.column(0).as_ref(),
                a.to_record_batch().unwrap().column(0).as_ref()
            );
            // Flat numeric columns carry the generic writer's row-group
            // statistics (min, max, no nulls).
            if row.is_empty() && !dtype.contains('S') && !dtype.contains('c') {
                let stats = |p: &Path| {
                    let r = SerializedFileReader::new(File::open(p).unwrap()).unwrap();
                    r.metadata()
                        .row_groups()
                        .iter()
                        .map(|g| {
                            let s = g.column(0).statistics().cloned();
                            s.map(|s| {
                                (
                                    s.min_bytes_opt().map(<[u8]>::to_vec),
                                    s.max_bytes_opt().map(<[u8]>::to_vec),
                                    s.null_count_opt().unwrap_or(0),
                                )
                            })
                        })
                        .collect::<Vec<_>>()
                };
                let want = stats(&generic);
                if dtype != "<f2" {
                    assert!(want.iter().all(Option::is_some), "{dtype}");
                    assert_eq!(stats(&fast), want, "{dtype} {c}");
                }
            }
        }
    }
}

#[test]
fn types_without_a_raw_parquet_form_take_the_generic_path() {
    let d = Dir::new();
    for dtype in ["|i1", "<u2", "|b1", "<M8[s]"] {
        let a = sample(
            &d,
            &format!("g{}", dtype.replace(['<', '|', '[', ']'], "")),
            dtype,
            100,
            "",
        );
        let p = d.path(&format!(
            "g{}.parquet",
            dtype.replace(['<', '|', '[', ']'], "")
        ));
        let s = to_parquet(&a, &p, &ConvertOptions::new()).unwrap();
        assert!(!s.fast_path, "{dtype}");
        assert_eq!(concat(&read_parquet(&p)).num_rows(), 100);
    }
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let d = Dir::new();
    let a = sample(&d, "t.f4", "<f4", 5000, "16");
    let one = d.path("one.parquet");
    let two = d.path("two.parquet");
    let o = ConvertOptions::new().row_group_rows(700);
    to_parquet(&a, &one, &o.clone().threads(1)).unwrap();
    to_parquet(&a, &two, &o.threads(2)).unwrap();
    assert_eq!(std::fs::read(one).unwrap(), std::fs::read(two).unwrap());
}

#[test]
fn round_trips_through_parquet_and_ipc() {
    let d = Dir::new();
    for (dtype, row) in [
        ("<f4", "8"),
        ("<i8", ""),
        ("<f8", "2,3"),
        ("|u1", "4"),
        ("|b1", ""),
        ("<M8[us]", ""),
    ] {
        let name = format!(
            "r{}{}",
            dtype.replace(['<', '|', '[', ']'], ""),
            row.replace(',', "x")
        );
        let a = sample(&d, &name, dtype, 777, row);
        for (mid, out) in [
            ("parquet", "npy"),
            ("parquet", "raw"),
            ("arrow", "npy"),
            ("feather", "bin"),
        ] {
            let m = d.path(&format!("{name}.{mid}"));
            let b = d.path(&format!("{name}-{mid}.{out}"));
            for fast in [true, false] {
                let o = ConvertOptions::new()
                    .row_group_rows(100)
                    .overwrite(true)
                    .fast_path(fast);
                convert(a.path(), &m, &o).unwrap();
                let s = convert(&m, &b, &o).unwrap();
                assert_eq!(s.rows, 777);
                let back = open(&b).unwrap();
                assert_eq!(back.shape(), a.shape(), "{name} via {mid}");
                assert_eq!(back.dtype(), a.dtype());
                assert_eq!(
                    back.data_buffer().as_slice(),
                    a.data_buffer().as_slice(),
                    "{name} via {mid}"
                );
            }
        }
    }
}

#[test]
fn page_level_reader_is_used_for_plain_pages() {
    let d = Dir::new();
    let a = sample(&d, "p.f4", "<f4", 2000, "32");
    let m = d.path("p.parquet");
    to_parquet(&a, &m, &ConvertOptions::new().row_group_rows(500)).unwrap();
    let s = from_parquet(&m, d.path("p.npy"), &ConvertOptions::new()).unwrap();
    assert!(s.fast_path);
    assert_eq!(
        open(d.path("p.npy")).unwrap().data_buffer().as_slice(),
        a.data_buffer().as_slice()
    );
    // Dictionary-encoded pages (the generic writer's default) are decoded
    // by the page-level reader too, from v1 and v2 data pages. All give the
    // values back.
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
    let batch = |values: Vec<i32>| {
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(values))]).unwrap()
    };
    // Few distinct values: long RLE runs of indices.
    let few = batch((0..1000).map(|i| i % 7).collect());
    // Many: bit-packed indices, and with a tiny dictionary limit the writer
    // falls back to plain pages mid-chunk, so one chunk holds a dictionary
    // page, dictionary-encoded pages and plain pages.
    let many = batch((0..1000).map(|i| (i * 7919) % 1000).collect());
    for (name, batch, props, page_level) in [
        ("dict", &few, None, true),
        ("dict-many", &many, None, true),
        (
            "fallback",
            &many,
            Some(
                parquet::file::properties::WriterProperties::builder()
                    .set_dictionary_page_size_limit(256)
                    .set_data_page_size_limit(256)
                    .build(),
            ),
            true,
        ),
        (
            "v2",
            &many,
            Some(
                parquet::file::properties::WriterProperties::builder()
                    .set_writer_version(parquet::file::properties::WriterVersion::PARQUET_2_0)
                    .build(),
            ),
            true,
        ),
    ] {
        let src = d.path(&format!("{name}.parquet"));
        let mut w =
            ArrowWriter::try_new(File::create(&src).unwrap(), schema.clone(), props).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        if name == "fallback" {
            use parquet::file::reader::{FileReader, SerializedFileReader};
            let r = SerializedFileReader::new(File::open(&src).unwrap()).unwrap();
            let mut pages = r
                .get_row_group(0)
                .unwrap()
                .get_column_page_reader(0)
                .unwrap();
            let mut kinds = Vec::new();
            while let Some(p) = pages.get_next_page().unwrap() {
                if let parquet::column::page::Page::DataPage { encoding, .. } = p {
                    kinds.push(format!("{encoding:?}"));
                }
            }
            assert!(kinds.iter().any(|k| k == "RLE_DICTIONARY"), "{kinds:?}");
            assert!(kinds.iter().any(|k| k == "PLAIN"), "{kinds:?}");
        }
        let dst = d.path(&format!("{name}.i4"));
        let s = from_parquet(&src, &dst, &ConvertOptions::new()).unwrap();
        assert_eq!(s.fast_path, page_level, "{name}");
        let back = open(&dst).unwrap().to_arrow().unwrap();
        assert_eq!(
            back.as_any().downcast_ref::<Int32Array>().unwrap(),
            batch
                .column(0)
                .as_any()
                .downcast_ref::<Int32Array>()
                .unwrap(),
            "{name}"
        );
    }
}

/// Row groups that take the page-level reader and row groups that need the
/// generic one, in one file: each lands at its place, whatever the threads.
#[test]
fn from_parquet_mixes_page_level_and_generic_row_groups() {
    use parquet::column::writer::ColumnCloseResult;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::writer::SerializedFileWriter;

    let d = Dir::new();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
    let write = |name: &str, dictionary: bool, v2: bool, values: Vec<i32>| {
        let p = d.path(name);
        let props = WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .set_writer_version(if v2 {
                parquet::file::properties::WriterVersion::PARQUET_2_0
            } else {
                parquet::file::properties::WriterVersion::PARQUET_1_0
            })
            .build();
        let mut w =
            ArrowWriter::try_new(File::create(&p).unwrap(), schema.clone(), Some(props)).unwrap();
        let b =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(values))]).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
        p
    };
    let dict_values: Vec<i32> = (0..3000).map(|i| i % 7).collect();
    let plain_values: Vec<i32> = (0..2500).map(|i| i * 31 + 5).collect();
    let v2_values: Vec<i32> = (0..1700).map(|i| 7 - i * 3).collect();
    let dict = write("dict.parquet", true, false, dict_values.clone());
    let plain = write("plain.parquet", false, false, plain_values.clone());
    // v2 data pages without a dictionary: DELTA_BINARY_PACKED, which the
    // page-level reader leaves to the generic one.
    let v2 = write("v2.parquet", false, true, v2_values.clone());
    // Splice their row groups into one file.
    let order = [&dict, &plain, &v2, &plain, &dict, &v2];
    let mixed = d.path("mixed.parquet");
    let first = SerializedFileReader::new(File::open(&dict).unwrap()).unwrap();
    let root = first
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema_ptr();
    let mut out = SerializedFileWriter::new(
        File::create(&mixed).unwrap(),
        root,
        Arc::new(WriterProperties::new()),
    )
    .unwrap();
    // Keep the Arrow schema, as the generic writer stores it.
    for kv in first
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
    {
        out.append_key_value_metadata(kv.clone());
    }
    for src in order {
        let input = File::open(src).unwrap();
        let reader = SerializedFileReader::new(input.try_clone().unwrap()).unwrap();
        let rg = reader.metadata().row_group(0);
        let mut g = out.next_row_group().unwrap();
        let c = rg.column(0).clone();
        let close = ColumnCloseResult {
            bytes_written: c.compressed_size() as u64,
            rows_written: rg.num_rows() as u64,
            metadata: c,
            bloom_filter: None,
            column_index: None,
            offset_index: None,
        };
        g.append_column(&input, close).unwrap();
        g.close().unwrap();
    }
    out.close().unwrap();
    let mut expected: Vec<i32> = Vec::new();
    for src in order {
        expected.extend_from_slice(if src == &dict {
            &dict_values
        } else if src == &plain {
            &plain_values
        } else {
            &v2_values
        });
    }
    let mut outputs = Vec::new();
    for (threads, fast) in [(1, true), (2, true), (2, false)] {
        let dst = d.path(&format!("mixed-{threads}-{fast}.i4"));
        let o = ConvertOptions::new().threads(threads).fast_path(fast);
        let s = from_parquet(&mixed, &dst, &o).unwrap();
        assert_eq!((s.rows, s.groups, s.fast_path), (14_400, 6, false));
        let back = open(&dst).unwrap().to_arrow().unwrap();
        let back = back.as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(back.values().as_ref(), &expected[..]);
        outputs.push(std::fs::read(&dst).unwrap());
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    // The plain and the dictionary file alone take the page-level path on
    // both thread counts; the delta-encoded v2 file does not.
    for (src, page_level) in [(&plain, true), (&dict, true), (&v2, false)] {
        for threads in [1, 2] {
            let dst = d.path(&format!("alone-{threads}.i4"));
            let o = ConvertOptions::new().threads(threads).overwrite(true);
            let s = from_parquet(src, &dst, &o).unwrap();
            assert_eq!(s.fast_path, page_level, "{}", src.display());
        }
    }
}

/// Without fsyncs every conversion writes the same bytes.
#[test]
fn non_durable_conversions_write_the_same_files() {
    let d = Dir::new();
    let a = sample(&d, "nd.f4", "<f4", 3000, "4");
    let read_all = |p: &Path| -> Vec<(String, Vec<u8>)> {
        if p.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let name = e.file_name().to_string_lossy().into_owned();
                    let mut bytes = std::fs::read(e.path()).unwrap();
                    if name == "manifest.json" {
                        // The recorded source is another file for each run.
                        let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                        m.as_object_mut().unwrap().remove("source");
                        bytes = m.to_string().into_bytes();
                    }
                    (name, bytes)
                })
                .collect();
            files.sort();
            files
        } else {
            vec![(String::new(), std::fs::read(p).unwrap())]
        }
    };
    for (name, fast) in [("p.parquet", true), ("g.parquet", false), ("i.arrow", true)] {
        let mut outputs = Vec::new();
        for durable in [true, false] {
            let o = ConvertOptions::new()
                .row_group_rows(700)
                .fast_path(fast)
                .durable(durable);
            let out = d.path(&format!("{durable}-{name}"));
            convert(a.path(), &out, &o).unwrap();
            // And back: an array file, and a table.
            let back = d.path(&format!("{durable}-{name}.f4"));
            convert(&out, &back, &o).unwrap();
            let table = d.path(&format!("{durable}-{name}-table"));
            if name.ends_with(".parquet") {
                mmarrow::convert::parquet_to_table(&out, &table, &o).unwrap();
            } else {
                mmarrow::convert::ipc_to_table(&out, &table, &o).unwrap();
            }
            outputs.push((read_all(&out), read_all(&back), read_all(&table)));
        }
        assert!(outputs[0] == outputs[1], "{name}");
        assert_eq!(outputs[0].1[0].1, a.data_buffer().as_slice());
    }
}

fn no_leftovers(dir: &Path, dst: &str) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "temporary file left: {name}");
        assert_ne!(name, dst, "partial destination left");
    }
}

#[test]
fn bad_inputs_give_typed_errors_and_no_output() {
    let d = Dir::new();
    let a = sample(&d, "a.f4", "<f4", 10, "");
    // DST exists without overwrite: untouched.
    let existing = d.file("exists.parquet", b"keep");
    let e = to_parquet(&a, &existing, &ConvertOptions::new()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AlreadyExists), "{e}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep");
    // DST in a missing directory.
    let e = to_parquet(&a, d.path("no/such/dir/x.parquet"), &ConvertOptions::new()).unwrap_err();
    assert!(e.is_user_error(), "{e}");
    // Corrupt and truncated Parquet.
    let good = d.path("good.parquet");
    to_parquet(&a, &good, &ConvertOptions::new()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let trunc = d.file("trunc.parquet", &bytes[..bytes.len() / 2]);
    let e = from_parquet(&trunc, d.path("t.npy"), &ConvertOptions::new()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Format { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&trunc.display().to_string()),
        "{e}"
    );
    let junk = d.file(
        "junk.parquet",
        b"this is not parquet at all, not even close",
    );
    assert!(matches!(
        from_parquet(&junk, d.path("j.npy"), &ConvertOptions::new()).map_err(Error::into_kind),
        Err(ErrorKind::Format { .. })
    ));
    let mut corrupt = bytes.clone();
    for b in corrupt.iter_mut().skip(4).take(200) {
        *b ^= 0x5a;
    }
    let cp = d.file("corrupt.parquet", &corrupt);
    assert!(from_parquet(&cp, d.path("c.npy"), &ConvertOptions::new()).is_err());
    // Unsupported column type, and several columns without a choice.
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("f", DataType::Float32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a", "b"])),
            Arc::new(Float32Array::from(vec![Some(1.0), None])),
        ],
    )
    .unwrap();
    let wide = d.path("wide.parquet");
    let mut w = ArrowWriter::try_new(File::create(&wide).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let e = from_parquet(&wide, d.path("w.npy"), &ConvertOptions::new()).unwrap_err();
    assert!(
        e.to_string().contains("--column") && e.to_string().contains("s, f"),
        "{e}"
    );
    let e = from_parquet(&wide, d.path("w.npy"), &ConvertOptions::new().column("s")).unwrap_err();
    assert!(e.to_string().contains("Utf8"), "{e}");
    let e = from_parquet(&wide, d.path("w.npy"), &ConvertOptions::new().column("f")).unwrap_err();
    assert!(e.to_string().contains("null"), "{e}");
    assert!(e.is_user_error());
    let e = from_parquet(&wide, d.path("w.npy"), &ConvertOptions::new().column("zz")).unwrap_err();
    assert!(e.to_string().contains("no column"), "{e}");
    // Options.
    assert!(matches!(
        "zstd:0".parse::<Compression>().map_err(Error::into_kind),
        Err(ErrorKind::InvalidOption { .. })
    ));
    assert!(matches!(
        "snappy:3".parse::<Compression>().map_err(Error::into_kind),
        Err(ErrorKind::InvalidOption { .. })
    ));
    let e = to_parquet(
        &a,
        d.path("rg.parquet"),
        &ConvertOptions::new().row_group_rows(0),
    )
    .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidOption { .. }), "{e}");
    no_leftovers(d.dir.path(), "w.npy");
    for name in ["t.npy", "j.npy", "c.npy", "rg.parquet"] {
        assert!(!d.path(name).exists(), "{name}");
    }
}

#[test]
fn tensor_schema_survives_in_the_file() {
    let d = Dir::new();
    let a = sample(&d, "e.f4", "<f4", 10, "2,5");
    let p = d.path("e.parquet");
    to_parquet(&a, &p, &ConvertOptions::new()).unwrap();
    let b = read_parquet(&p);
    let f = b[0].schema().field(0).clone();
    assert_eq!(
        f.metadata()[mmarrow::format::EXTENSION_NAME_KEY],
        "arrow.fixed_shape_tensor"
    );
    assert_eq!(
        f.metadata()[mmarrow::format::EXTENSION_METADATA_KEY],
        r#"{"shape":[2,5]}"#
    );
}

#[test]
fn convert_turns_a_source_of_several_columns_into_a_table() {
    use mmarrow::convert::Format;
    let d = Dir::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int32, false),
        Field::new("f", DataType::Float32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![1, 2, 3])),
            Arc::new(Float32Array::from(vec![0.5, 1.5, 2.5])),
        ],
    )
    .unwrap();
    let wide = d.path("wide.dat"); // not named .parquet: the format is given
    let mut w = ArrowWriter::try_new(File::create(&wide).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let o = ConvertOptions::new().source_format(Format::Parquet);
    // No column picked, a destination that is not .npy: a table.
    let s = convert(&wide, d.path("cache"), &o).unwrap();
    assert_eq!(s.rows, 3);
    assert_eq!(mmarrow::Table::open(d.path("cache")).unwrap().num_rows(), 3);
    // A column picked: that column as an array file.
    convert(&wide, d.path("n.i4"), &o.clone().column("n")).unwrap();
    assert_eq!(open(d.path("n.i4")).unwrap().len(), 3);
    // A .npy destination holds one column: refused, naming the choice.
    let e = convert(&wide, d.path("w.npy"), &o).unwrap_err();
    assert!(e.to_string().contains("--column"), "{e}");
    assert!(!d.path("w.npy").exists());
    // An explicit table, and the format by name.
    convert(&wide, d.path("t2"), &o.clone().table(true).column("n")).unwrap();
    assert!(Format::from_path(d.path("t2")) == Format::Table);
}

/// Parquet's DATE holds days: a date64 column is stored as date32 (as
/// pyarrow stores it, the Arrow schema in the file still saying date64),
/// and a date64 value that is not a whole day is refused, not truncated.
#[test]
fn date64_is_stored_as_days_and_a_partial_day_is_refused() {
    use std::sync::Arc;
    let d = crate::common::Dir::new();
    let write = |name: &str, ms: Vec<i64>| {
        let batch = arrow_array::RecordBatch::try_from_iter([(
            "d",
            Arc::new(arrow_array::Date64Array::from(ms)) as arrow_array::ArrayRef,
        )])
        .unwrap();
        let p = d.path(name);
        let mut w = mmarrow::TableWriter::create(&p, batch.schema()).unwrap();
        w.append(&batch).unwrap();
        w.finish().unwrap()
    };
    let o = mmarrow::convert::ConvertOptions::new();
    let whole = write("whole", vec![0, 86_400_000 * 19_000]);
    let out = d.path("whole.parquet");
    mmarrow::convert::table_to_parquet(&whole, &out, &o).unwrap();
    let f = std::fs::File::open(&out).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let leaf = r.parquet_schema().column(0);
    assert_eq!(leaf.physical_type(), parquet::basic::Type::INT32);
    assert_eq!(
        r.schema().field(0).data_type(),
        &arrow_schema::DataType::Date64
    );
    let b = r.build().unwrap().next().unwrap().unwrap();
    let got = b
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::Date64Array>()
        .unwrap();
    assert_eq!(got.values(), &[0, 86_400_000 * 19_000]);

    let partial = write("partial", vec![0, 86_400_000 + 1]);
    let e = mmarrow::convert::table_to_parquet(&partial, d.path("p.parquet"), &o).unwrap_err();
    assert!(e.to_string().contains("not a whole day"), "{e}");
    assert!(!d.path("p.parquet").exists());
}

/// `string_view`: a Parquet or IPC source's strings and binaries (top
/// level, large, in lists and structs) stored as views, with the same
/// values and chunk statistics as the plain cache; the page-level and the
/// generic reader agree; `if_stale` rebuilds a plain cache asked for views.
#[test]
fn string_view_stores_strings_as_views_with_the_same_values_and_statistics() {
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{ArrayRef, BinaryArray, LargeStringArray, StructArray};
    use mmarrow::convert::{ipc_to_table, parquet_to_table};
    let d = Dir::new();
    let rows = 70_000usize; // two statistics chunks
    let text = |i: usize| format!("row {i} {}", "é".repeat(i % 9));
    let mut list = ListBuilder::new(StringBuilder::new());
    for i in 0..rows {
        if i % 7 == 0 {
            list.append_null();
        } else {
            list.values().append_value(text(i));
            list.values().append_value("x");
            list.append(true);
        }
    }
    let st = StructArray::from(vec![
        (
            Arc::new(Field::new("a", DataType::Utf8, true)),
            Arc::new(StringArray::from_iter(
                (0..rows).map(|i| (i % 3 > 0).then(|| text(i))),
            )) as ArrayRef,
        ),
        (
            Arc::new(Field::new("n", DataType::Int32, false)),
            Arc::new(Int32Array::from_iter_values(0..rows as i32)) as ArrayRef,
        ),
    ]);
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int32Array::from_iter_values(0..rows as i32)) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter(
                (0..rows).map(|i| (i % 5 > 0).then(|| text(i))),
            )) as _,
        ),
        (
            "short",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("c{}", i % 100)),
            )),
        ),
        (
            "large",
            Arc::new(LargeStringArray::from_iter_values((0..rows).map(text))),
        ),
        (
            "bin",
            Arc::new(BinaryArray::from_iter_values(
                (0..rows).map(|i| vec![i as u8; i % 20]),
            )),
        ),
        ("list", Arc::new(list.finish())),
        ("st", Arc::new(st)),
    ])
    .unwrap();
    let pq = d.path("x.parquet");
    let mut w = ArrowWriter::try_new(File::create(&pq).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let ipc = d.path("x.arrow");
    let mut w =
        arrow_ipc::writer::FileWriter::try_new(File::create(&ipc).unwrap(), &batch.schema())
            .unwrap();
    w.write(&batch.slice(0, 30_000)).unwrap();
    w.write(&batch.slice(30_000, rows - 30_000)).unwrap();
    w.finish().unwrap();

    let views = ConvertOptions::new().string_view(true);
    let plain = d.path("plain");
    parquet_to_table(&pq, &plain, &ConvertOptions::new()).unwrap();
    let plain = mmarrow::Table::open(&plain).unwrap();
    for (name, make) in [
        (
            "fast",
            &(|o: &ConvertOptions, dst: &Path| parquet_to_table(&pq, dst, o))
                as &dyn Fn(&ConvertOptions, &Path) -> mmarrow::Result<_>,
        ),
        ("generic", &|o: &ConvertOptions, dst: &Path| {
            parquet_to_table(&pq, dst, &o.clone().fast_path(false))
        }),
        ("ipc", &|o: &ConvertOptions, dst: &Path| {
            ipc_to_table(&ipc, dst, o)
        }),
    ] {
        let dst = d.path(name);
        make(&views, &dst).unwrap();
        let t = mmarrow::Table::open(&dst).unwrap();
        let schema = t.schema();
        let ty = |i: usize| schema.field(i).data_type().clone();
        assert_eq!(ty(0), DataType::Int32, "{name}");
        for i in 1..4 {
            assert_eq!(ty(i), DataType::Utf8View, "{name}: column {i}");
        }
        assert_eq!(ty(4), DataType::BinaryView, "{name}");
        match ty(5) {
            DataType::List(f) => assert_eq!(f.data_type(), &DataType::Utf8View, "{name}"),
            t => panic!("{name}: {t}"),
        }
        match ty(6) {
            DataType::Struct(f) => {
                assert_eq!(f[0].data_type(), &DataType::Utf8View, "{name}");
                assert_eq!(f[1].data_type(), &DataType::Int32, "{name}");
            }
            t => panic!("{name}: {t}"),
        }
        // The values: the plain cache's, cast.
        let got = t.to_record_batch().unwrap();
        let base = plain.to_record_batch().unwrap();
        for (i, (g, b)) in got.columns().iter().zip(base.columns()).enumerate() {
            let b = arrow_cast::cast(b.as_ref(), g.data_type()).unwrap();
            assert_eq!(g.as_ref(), b.as_ref(), "{name}: column {i}");
        }
        // Batches validated range by range give the same rows.
        let sliced: Vec<RecordBatch> = t.batches(4096).unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(concat(&sliced), got, "{name}");
        // Chunk statistics: the same min/max as the plain cache's strings.
        let (sv, sp) = (t.statistics().unwrap(), plain.statistics().unwrap());
        assert_eq!(sv.num_chunks(), 2);
        for c in ["s", "short", "large"] {
            let (a, b) = (sv.column_by_name(c).unwrap(), sp.column_by_name(c).unwrap());
            let s = |x: Option<&ArrayRef>| {
                arrow_cast::cast(x.unwrap().as_ref(), &DataType::Utf8)
                    .unwrap()
                    .to_data()
            };
            assert_eq!(s(a.min()), s(b.min()), "{name}: {c}");
            assert_eq!(s(a.max()), s(b.max()), "{name}: {c}");
            assert_eq!(
                a.null_counts().to_data(),
                b.null_counts().to_data(),
                "{name}: {c}"
            );
        }
        mmarrow::table::verify_table(&dst).unwrap();
        if name == "fast" {
            assert!(mmarrow::table::verify_checksums(&dst).is_ok());
        }
    }
    // Page-level and generic: the same files.
    for f in std::fs::read_dir(d.path("fast")).unwrap() {
        let f = f.unwrap().file_name();
        if f == ".lock" {
            continue;
        }
        assert_eq!(
            std::fs::read(d.path("fast").join(&f)).unwrap(),
            std::fs::read(d.path("generic").join(&f)).unwrap(),
            "{f:?}"
        );
    }
    // `if_stale`: a plain cache asked for views is rebuilt, then current.
    let cache = d.path("cache");
    let stale = ConvertOptions::new().if_stale(true);
    assert!(!convert(&pq, &cache, &stale).unwrap().up_to_date);
    assert!(convert(&pq, &cache, &stale).unwrap().up_to_date);
    assert!(
        !convert(&pq, &cache, &stale.clone().string_view(true))
            .unwrap()
            .up_to_date
    );
    assert_eq!(
        mmarrow::Table::open(&cache)
            .unwrap()
            .schema()
            .field(1)
            .data_type(),
        &DataType::Utf8View
    );
    assert!(
        convert(&pq, &cache, &stale.clone().string_view(true))
            .unwrap()
            .up_to_date
    );
}

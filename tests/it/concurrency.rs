//! A writer appending and committing while reader processes open and scan
//! in a loop: every read must be a committed prefix with the right values.
//!
//! The run lasts `MMARROW_CONCURRENCY_SECS` seconds (default 30, the figure
//! docs/RELIABILITY.md quotes).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use mmarrow::write::Durability;
use mmarrow::{ArrayWriter, Dtype, Table};

use crate::common::Dir;

const READERS: usize = 4;

fn seconds() -> u64 {
    std::env::var("MMARROW_CONCURRENCY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// Reader entry point: does nothing unless re-executed by the test below.
#[test]
fn reader_entry() {
    let Ok(dir) = std::env::var("MMARROW_READER_DIR") else {
        return;
    };
    let until = Instant::now() + Duration::from_secs(seconds());
    let dir = Path::new(&dir);
    let (mut reads, mut last_array, mut last_table) = (0u64, 0u64, 0u64);
    while Instant::now() < until {
        last_array = check_array(&dir.join("a.i8"), last_array);
        last_table = check_table(&dir.join("t"), last_table);
        reads += 1;
    }
    println!("reads {reads} rows {last_array} {last_table}");
}

/// Opens the array, checks every value is its row index and that the
/// committed length never shrinks; returns it.
fn check_array(path: &Path, at_least: u64) -> u64 {
    let a = mmarrow::open(path).unwrap_or_else(|e| panic!("open while writing: {e}"));
    assert!(a.len() >= at_least, "{} rows after {at_least}", a.len());
    let values = a.data_buffer().typed_data::<i64>();
    for (i, &v) in values.iter().enumerate() {
        assert_eq!(v, i as i64, "array row {i} of {}", a.len());
    }
    a.len()
}

/// As [`check_array`] for the table: `n` is the row, `s` its decimal text
/// (null every 7th row), with Arrow's full validation at open.
fn check_table(dir: &Path, at_least: u64) -> u64 {
    let t = Table::open(dir).unwrap_or_else(|e| panic!("open table while writing: {e}"));
    assert!(t.num_rows() >= at_least);
    let b = t.to_record_batch().unwrap();
    let n = b.column(0).as_primitive::<Int64Type>();
    let s = b.column(1).as_string::<i32>();
    for i in 0..b.num_rows() {
        assert_eq!(n.value(i), i as i64, "table row {i}");
        if i % 7 == 0 {
            assert!(s.is_null(i), "table row {i}");
        } else {
            assert_eq!(s.value(i), i.to_string(), "table row {i}");
        }
    }
    t.num_rows()
}

fn table_batch(start: u64, n: u64) -> RecordBatch {
    let rows = start..start + n;
    let ids = Int64Array::from_iter_values(rows.clone().map(|i| i as i64));
    let text: StringArray = rows.map(|i| (i % 7 != 0).then(|| i.to_string())).collect();
    RecordBatch::try_from_iter([
        ("n", std::sync::Arc::new(ids) as ArrayRef),
        ("s", std::sync::Arc::new(text) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn readers_in_other_processes_see_only_committed_prefixes() {
    let d = Dir::new();
    let mut a = ArrayWriter::create(d.path("a.i8"), Dtype::parse("<i8").unwrap(), &[]).unwrap();
    let first = table_batch(0, 1);
    let mut t = mmarrow::table::TableWriterOptions::new()
        .durability(Durability::Process)
        .create(d.path("t"), first.schema())
        .unwrap();
    // Something to read from the first moment.
    a.append(&[0i64]).unwrap();
    a.commit().unwrap();
    t.append(&first).unwrap();
    t.commit().unwrap();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "concurrency::reader_entry",
                    "--nocapture",
                    "--test-threads=1",
                    "-q",
                ])
                .env("MMARROW_READER_DIR", d.dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(seconds());
    let (mut rows, mut commits) = (1u64, 0u64);
    let mut batch = 1u64;
    while Instant::now() < until {
        // Varying batch sizes; a pending (uncommitted) tail is on disk while
        // the readers run, so they must not see it.
        batch = batch * 31 % 2_003 + 1;
        let values: Vec<i64> = (rows..rows + batch).map(|i| i as i64).collect();
        a.append(&values).unwrap();
        t.append(&table_batch(rows, batch)).unwrap();
        rows += batch;
        if commits % 3 != 2 {
            a.commit().unwrap();
            t.commit().unwrap();
        }
        commits += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    a.commit().unwrap();
    t.commit().unwrap();
    let mut total_reads = 0;
    for r in readers {
        let out = r.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a reader failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reads: u64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("reads "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no read count in {stdout:?}"));
        assert!(reads > 0);
        total_reads += reads;
    }
    println!("{READERS} readers, {total_reads} reads, {commits} commits, {rows} rows");
    check_array(&d.path("a.i8"), rows);
    check_table(&d.path("t"), rows);
}

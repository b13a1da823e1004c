//! Crash safety: a writer process killed with SIGKILL at random moments, and
//! a writer that hits the file size limit mid-append.
//!
//! The child writer is this test binary itself, re-executed with
//! `MMARROW_CHILD` set so that only `child_writer_entry` runs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use mmarrow::write::Durability;
use mmarrow::ErrorKind;
use mmarrow::{open, ArrayWriter, Dtype};

use crate::common::retry_locked;

const ROW: usize = 16;

/// The deterministic pattern: element j of row i.
fn pattern(i: u64, j: usize) -> u32 {
    (i as u32).wrapping_mul(2654435761) ^ j as u32
}

fn rows(start: u64, n: u64) -> Vec<u32> {
    (start..start + n)
        .flat_map(|i| (0..ROW).map(move |j| pattern(i, j)))
        .collect()
}

/// Child entry point: does nothing unless re-executed by a parent test.
#[test]
fn child_writer_entry() {
    let Ok(job) = std::env::var("MMARROW_CHILD") else {
        return;
    };
    let path = std::env::var("MMARROW_CHILD_PATH").unwrap();
    match job.as_str() {
        "crash" => crash_child(Path::new(&path)),
        "fsize" => fsize_child(Path::new(&path)),
        "table" => table_child(Path::new(&path)),
        "convert" => convert_child(Path::new(&path)),
        _ => panic!("unknown job"),
    }
}

fn crash_child(path: &Path) {
    let mut w = if path.exists() {
        ArrayWriter::open(path, Durability::Process).unwrap()
    } else {
        ArrayWriter::create(path, Dtype::parse("<u4").unwrap(), &[ROW as u64]).unwrap()
    };
    let mut next = w.committed_rows();
    let mut batch = 1u64;
    loop {
        // Varying batch sizes, some past the writer's buffer so data hits the file before commit.
        batch = batch * 7 % 20_011 + 1;
        w.append(&rows(next, batch)).unwrap();
        next += batch;
        let committed = w.commit().unwrap();
        println!("committed {committed}");
    }
}

/// Limits the size of files this process writes to `bytes`; writing past
/// it fails with EFBIG instead of killing the process.
#[allow(unsafe_code)] // setrlimit and signal have no safe std wrapper
fn limit_file_size(bytes: u64) {
    // SAFETY: plain libc calls with valid arguments, made before any other
    // thread of this process touches signals or limits.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: bytes,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

/// Conversions whose output outgrows the file size limit: each must fail
/// with an error, whatever thread hits the limit.
fn convert_child(dir: &Path) {
    use mmarrow::convert::{from_parquet, to_parquet, Compression, ConvertOptions};
    limit_file_size(1 << 20);
    let array = open(dir.join("in.f4")).unwrap();
    for (i, c) in [Compression::None, Compression::Snappy, Compression::Zstd(1)]
        .into_iter()
        .enumerate()
    {
        let o = ConvertOptions::new().compression(c).threads(2);
        let r = to_parquet(&array, dir.join(format!("out{i}.parquet")), &o);
        println!(
            "to-parquet {c}: {}",
            r.err().map_or("ok".into(), |e| e.to_string())
        );
    }
    for fast in [true, false] {
        let o = ConvertOptions::new().threads(2).fast_path(fast);
        let r = from_parquet(dir.join("in.parquet"), dir.join("back.f4"), &o);
        println!(
            "from-parquet {fast}: {}",
            r.err().map_or("ok".into(), |e| e.to_string())
        );
    }
}

fn fsize_child(path: &Path) {
    limit_file_size(256 * 1024);
    let mut w = ArrayWriter::open(path, Durability::Fsync).unwrap();
    let mut next = w.committed_rows();
    loop {
        let r = w
            .append(&rows(next, 300))
            .and_then(|()| w.commit().map(|_| ()));
        match r {
            Ok(()) => {
                next += 300;
                println!("committed {next}");
            }
            Err(e) => {
                println!(
                    "error {}",
                    if e.is_user_error() {
                        "user"
                    } else {
                        "internal"
                    }
                );
                println!("message {e}");
                return;
            }
        }
    }
}

fn table_rows(start: u64, n: u64) -> arrow_array::RecordBatch {
    use arrow_array::{BooleanArray, Int64Array, StringArray};
    use std::sync::Arc;
    let ids = Int64Array::from_iter_values(start as i64..(start + n) as i64);
    let s = StringArray::from_iter(
        (start..start + n).map(|i| (i % 3 != 0).then(|| "x".repeat((i % 17) as usize))),
    );
    let b = BooleanArray::from_iter((start..start + n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)));
    arrow_array::RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as arrow_array::ArrayRef),
        ("s", Arc::new(s) as _),
        ("b", Arc::new(b) as _),
    ])
    .unwrap()
}

fn table_child(path: &Path) {
    let mut w = if path.exists() {
        mmarrow::TableWriter::open(path, Durability::Process).unwrap()
    } else {
        mmarrow::TableWriter::create(path, table_rows(0, 1).schema()).unwrap()
    };
    let mut next = w.committed_rows();
    let mut batch = 1u64;
    loop {
        batch = batch * 7 % 5003 + 1;
        w.append(&table_rows(next, batch)).unwrap();
        next += batch;
        println!("committed {}", w.commit().unwrap());
    }
}

fn spawn(job: &str, path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::child_writer_entry",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env("MMARROW_CHILD", job)
        .env("MMARROW_CHILD_PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Checks the file opens, holds at least `acked` rows, and every row is the pattern.
fn check(path: &Path, acked: u64) -> u64 {
    let a = open(path).unwrap_or_else(|e| panic!("reopen after kill: {e}"));
    let n = a.len();
    assert!(n >= acked, "{n} rows on disk, {acked} acknowledged");
    let arr = a.to_arrow().unwrap();
    let vals = arr
        .as_fixed_size_list()
        .values()
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec();
    assert_eq!(vals.len() as u64, n * ROW as u64);
    assert!(vals == rows(0, n), "rows differ from the pattern");
    n
}

/// Small deterministic PRNG (xorshift) for kill times.
fn next_rand(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Runs child `job` on `path` `kills` times, each killed with SIGKILL after
/// its first commit plus a random delay below `max_delay_us`; after each
/// kill `check(path, acknowledged)` verifies the file and returns its rows.
fn kill_loop(
    job: &str,
    path: &Path,
    kills: usize,
    seed: u64,
    max_delay_us: u64,
    check: impl Fn(&Path, u64) -> u64,
) {
    let mut rng = seed;
    let mut acked = 0u64;
    for _ in 0..kills {
        let mut child = spawn(job, path);
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("committed ") {
                    let _ = tx.send(n.parse::<u64>().unwrap());
                }
            }
        });
        // Wait for at least one commit of this run (so every run makes progress), then a random delay.
        let start = Instant::now();
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child commits");
        acked = acked.max(first);
        std::thread::sleep(Duration::from_micros(next_rand(&mut rng) % max_delay_us));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(n) = rx.try_recv() {
            acked = acked.max(n);
        }
        let n = check(path, acked);
        assert!(start.elapsed() < Duration::from_secs(60));
        acked = acked.max(n.min(acked));
    }
    assert!(acked > 0);
}

fn crash_loop(name: &str, kills: usize, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    kill_loop("crash", &dir.path().join(name), kills, seed, 40_000, check);
}

#[test]
fn sigkill_at_random_moments_never_loses_committed_rows_raw() {
    crash_loop("k.u4", 30, 0x9E3779B97F4A7C15);
}

#[test]
fn sigkill_at_random_moments_never_loses_committed_rows_npy() {
    crash_loop("k.npy", 30, 0xD1B54A32D192ED03);
}

#[test]
fn file_size_limit_mid_append_keeps_the_committed_state() {
    for name in ["f.u4", "f.npy"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut w =
            ArrayWriter::create(&path, Dtype::parse("<u4").unwrap(), &[ROW as u64]).unwrap();
        w.append(&rows(0, 10)).unwrap();
        w.finish().unwrap();
        let out = spawn("fsize", &path).wait_with_output().unwrap();
        assert!(out.status.success(), "child failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let last: u64 = text
            .lines()
            .filter_map(|l| l.strip_prefix("committed "))
            .map(|n| n.parse().unwrap())
            .max()
            .unwrap_or(10);
        assert!(
            text.contains("error user"),
            "child should stop on an error: {text}"
        );
        assert!(
            text.contains("File too large") || text.contains("too large"),
            "{text}"
        );
        let n = check(&path, last);
        assert_eq!(n, last, "exactly the last commit survives");
        // The file is at its committed length, so a new writer appends right away.
        let mut w = retry_locked(|| ArrayWriter::open(&path, Durability::Fsync)).unwrap();
        w.append(&rows(n, 1)).unwrap();
        w.finish().unwrap();
        check(&path, n + 1);
    }
}

/// A conversion that fails mid-stream (the file size limit, hit by any of
/// its threads) returns an error and leaves neither output nor temporary
/// file behind.
#[test]
fn conversions_past_the_file_size_limit_fail_cleanly() {
    use mmarrow::convert::{to_parquet, Compression, ConvertOptions};
    use mmarrow::OpenOptions;
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<u8> = (0..1_000_000u32)
        .flat_map(|i| (i as f32 * 0.37).sin().to_le_bytes())
        .collect();
    std::fs::write(dir.path().join("in.f4"), &values).unwrap();
    mmarrow::describe(
        dir.path().join("in.f4"),
        &OpenOptions::new()
            .try_with_dtype("f4")
            .unwrap()
            .try_with_shape("-1,8")
            .unwrap(),
    )
    .unwrap();
    let array = open(dir.path().join("in.f4")).unwrap();
    let o = ConvertOptions::new()
        .compression(Compression::None)
        .row_group_rows(20_000);
    to_parquet(&array, dir.path().join("in.parquet"), &o).unwrap();
    let out = spawn("convert", dir.path()).wait_with_output().unwrap();
    assert!(out.status.success(), "child failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("to-parquet") || l.starts_with("from-parquet"))
        .collect();
    assert_eq!(lines.len(), 5, "{text}");
    for l in lines {
        assert!(l.contains("too large"), "should fail on the limit: {l}");
    }
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["in.f4", "in.f4.mmarrow.json", "in.parquet"]);
}

#[test]
fn locked_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.u4");
    let _w = ArrayWriter::create(&path, Dtype::parse("<u4").unwrap(), &[]).unwrap();
    let e = ArrayWriter::open(&path, Durability::Fsync).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Locked));
    assert!(e.to_string().starts_with(&path.display().to_string()));
}

#[test]
fn sigkill_of_a_table_writer_keeps_every_column_at_the_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    kill_loop(
        "table",
        &dir.path().join("t"),
        15,
        0x2545F4914F6CDD1D,
        30_000,
        |path, acked| {
            // Full validation: offsets, UTF-8, null counts, equal column lengths.
            let t = mmarrow::Table::open(path).unwrap_or_else(|e| panic!("reopen after kill: {e}"));
            let n = t.num_rows();
            assert!(n >= acked, "{n} rows on disk, {acked} acknowledged");
            assert_eq!(
                t.to_record_batch().unwrap(),
                table_rows(0, n),
                "rows differ from the pattern"
            );
            n
        },
    );
}

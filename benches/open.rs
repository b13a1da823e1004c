//! Open latency: `mmarrow::open` + `to_arrow()` / `to_record_batch()` on a
//! 4 KiB and an 8 GiB (sparse) file, raw + sidecar and `.npy`, next to the
//! syscall floor (open + fstat + mmap + munmap + reading the sidecar bytes).
//!
//! Run: `cargo bench --bench open -- --warm-up-time 1 --measurement-time 3`.
//! `MMARROW_BENCH_LOOP=200000 cargo bench --bench open` skips criterion and
//! prints wall and CPU time per iteration of plain loops (see [`loop_mode`]),
//! the figure to trust when other processes load the machine.
//! The Python peers (numpy.memmap, np.load, pyarrow) are timed by
//! `benches/compare_open.py`; see BENCHMARKS.md.
//!
//! All files live in a temporary directory. The 8 GiB files are made with
//! `File::set_len` (sparse: no data block is written or read); opening maps
//! them, nothing touches their pages.

use std::fs::File;
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mmarrow::OpenOptions;

/// Rows of the 4 KiB files: 1024 × 1 float32.
const SMALL_ROWS: u64 = 1024;
/// Rows of the 8 GiB files: 2^31 × 1 float32.
const BIG_ROWS: u64 = 1 << 31;
/// float32.
const ITEM: u64 = 4;

struct Files {
    _dir: tempfile::TempDir,
    raw_small: PathBuf,
    raw_big: PathBuf,
    npy_small: PathBuf,
    npy_big: PathBuf,
}

/// A valid .npy v1.0 header for a C-order little-endian float32 array of
/// `shape`: 10-byte preamble (magic, version, u16 header length), then the
/// dict literal padded with spaces and ended by `\n` so that the data starts
/// on a 64-byte boundary.
fn npy_header(shape: &[u64]) -> Vec<u8> {
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = 10 + dict.len() + 1;
    let padded = unpadded.div_ceil(64) * 64;
    dict.push_str(&" ".repeat(padded - unpadded));
    dict.push('\n');
    let hlen = u16::try_from(dict.len()).expect("small header");
    let mut out = Vec::with_capacity(padded);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    assert_eq!(out.len() % 64, 0);
    out
}

/// A raw float32 file of `rows` × 1 (sparse when `sparse`), with its sidecar.
fn make_raw(path: &Path, rows: u64, sparse: bool) {
    let len = rows * ITEM;
    let mut f = File::create(path).unwrap();
    if sparse {
        f.set_len(len).unwrap();
    } else {
        let data: Vec<u8> = (0..rows as u32)
            .flat_map(|i| (i as f32).to_le_bytes())
            .collect();
        f.write_all(&data).unwrap();
    }
    drop(f);
    let options = OpenOptions::new()
        .try_with_dtype("float32")
        .unwrap()
        .try_with_shape(&format!("{rows},1"))
        .unwrap();
    mmarrow::describe(path, &options.clone().overwrite(true)).unwrap();
}

/// A .npy float32 file of `rows` × 1 (data sparse when `sparse`).
fn make_npy(path: &Path, rows: u64, sparse: bool) {
    let header = npy_header(&[rows, 1]);
    let mut f = File::create(path).unwrap();
    f.write_all(&header).unwrap();
    if sparse {
        f.set_len(header.len() as u64 + rows * ITEM).unwrap();
    } else {
        let data: Vec<u8> = (0..rows as u32)
            .flat_map(|i| (i as f32).to_le_bytes())
            .collect();
        f.write_all(&data).unwrap();
    }
}

fn setup() -> Files {
    let dir = tempfile::Builder::new()
        .prefix("mmarrow-bench-open-")
        .tempdir()
        .unwrap();
    let files = Files {
        raw_small: dir.path().join("small.f32"),
        raw_big: dir.path().join("big.f32"),
        npy_small: dir.path().join("small.npy"),
        npy_big: dir.path().join("big.npy"),
        _dir: dir,
    };
    make_raw(&files.raw_small, SMALL_ROWS, false);
    make_raw(&files.raw_big, BIG_ROWS, true);
    make_npy(&files.npy_small, SMALL_ROWS, false);
    make_npy(&files.npy_big, BIG_ROWS, true);

    // Check each file opens as intended, and that the big ones are sparse.
    for (path, rows) in [
        (&files.raw_small, SMALL_ROWS),
        (&files.raw_big, BIG_ROWS),
        (&files.npy_small, SMALL_ROWS),
        (&files.npy_big, BIG_ROWS),
    ] {
        let a = mmarrow::open(path).unwrap();
        assert_eq!(a.shape(), &[rows, 1], "{}", path.display());
        assert!(a.is_zero_copy());
        assert_eq!(a.to_arrow().unwrap().len() as u64, rows);
        assert_eq!(a.to_record_batch().unwrap().num_rows() as u64, rows);
        let m = std::fs::metadata(path).unwrap();
        eprintln!(
            "bench file {}: {} bytes, {} bytes allocated on disk",
            path.display(),
            m.len(),
            m.blocks() * 512
        );
        if rows == BIG_ROWS {
            assert!(
                m.blocks() * 512 < 1 << 20,
                "{} is not sparse",
                path.display()
            );
        }
    }
    files
}

/// The floor: what any reader of a raw file + sidecar must do — open and
/// read the sidecar's bytes, open and fstat the data file, mmap it, and
/// (when the result is dropped) munmap and close. No parsing, no Arrow.
fn syscalls_floor(data: &Path, sidecar: &Path) -> usize {
    let mut buf = [0u8; 4096];
    let mut sc = File::open(sidecar).unwrap();
    let mut n = 0;
    loop {
        let k = sc.read(&mut buf[n..]).unwrap();
        if k == 0 {
            break;
        }
        n += k;
    }
    drop(sc);
    let f = File::open(data).unwrap();
    let len = f.metadata().unwrap().len();
    #[allow(unsafe_code)]
    // SAFETY: read-only private map of a temporary file nothing else
    // touches; no page of it is read.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .len(len as usize)
            .map(&f)
            .unwrap()
    };
    black_box(map.as_ptr());
    black_box(&buf[..n]);
    n + map.len()
}

fn bench_open(c: &mut Criterion) {
    let files = setup();
    let cases = [
        ("raw-4KiB", &files.raw_small),
        ("raw-8GiB-sparse", &files.raw_big),
        ("npy-4KiB", &files.npy_small),
        ("npy-8GiB-sparse", &files.npy_big),
    ];

    // open + to_arrow(): the figure the goal is about.
    let mut g = c.benchmark_group("open");
    for (id, path) in cases {
        g.bench_function(id, |b| {
            b.iter(|| {
                let a = mmarrow::open(black_box(path)).unwrap();
                a.to_arrow().unwrap()
            })
        });
    }
    let small_sc = mmarrow::format::sidecar_path(&files.raw_small);
    let big_sc = mmarrow::format::sidecar_path(&files.raw_big);
    g.bench_function("syscalls-floor", |b| {
        b.iter(|| syscalls_floor(black_box(&files.raw_small), &small_sc))
    });
    g.bench_function("syscalls-floor-8GiB-sparse", |b| {
        b.iter(|| syscalls_floor(black_box(&files.raw_big), &big_sc))
    });
    g.finish();

    // open + to_record_batch().
    let mut g = c.benchmark_group("open_batch");
    for (id, path) in cases {
        g.bench_function(id, |b| {
            b.iter(|| {
                let a = mmarrow::open(black_box(path)).unwrap();
                a.to_record_batch().unwrap()
            })
        });
    }
    g.finish();

    // Where the time goes (4 KiB raw + sidecar): open alone, to_arrow alone
    // on an already opened array, and the sidecar read + parse alone.
    let mut g = c.benchmark_group("open_parts");
    g.bench_with_input(
        BenchmarkId::new("open-only", "raw-4KiB"),
        &files.raw_small,
        |b, p| b.iter(|| mmarrow::open(black_box(p)).unwrap()),
    );
    g.bench_with_input(
        BenchmarkId::new("open-only", "npy-4KiB"),
        &files.npy_small,
        |b, p| b.iter(|| mmarrow::open(black_box(p)).unwrap()),
    );
    let opened = mmarrow::open(&files.raw_small).unwrap();
    g.bench_function("to_arrow-only/raw-4KiB", |b| {
        b.iter(|| black_box(&opened).to_arrow().unwrap())
    });
    g.bench_function("to_record_batch-only/raw-4KiB", |b| {
        b.iter(|| black_box(&opened).to_record_batch().unwrap())
    });
    g.bench_function("sidecar-read/raw-4KiB", |b| {
        b.iter(|| mmarrow::format::Sidecar::read(black_box(&small_sc)).unwrap())
    });
    g.finish();
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns;
/// updated at least every scheduler tick, so exact to a few ms — use it over
/// loops of a second or more).
fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// `MMARROW_BENCH_LOOP=<iterations>`: instead of criterion, run each case in
/// a plain loop, cases alternating, for `MMARROW_BENCH_ROUNDS` (default 5)
/// rounds, and print the median and range of wall **and CPU** time per
/// iteration. CPU time leaves out time spent waiting for a core, so it stays
/// meaningful when other processes load the machine.
fn loop_mode(iterations: u64) {
    let rounds: usize = std::env::var("MMARROW_BENCH_ROUNDS")
        .ok()
        .map_or(5, |r| r.parse().expect("MMARROW_BENCH_ROUNDS is a number"));
    let files = setup();
    let small_sc = mmarrow::format::sidecar_path(&files.raw_small);
    let big_sc = mmarrow::format::sidecar_path(&files.raw_big);
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let arrow = |p: &'static str, path: &PathBuf| -> Case<'_> {
        let path = path.clone();
        (
            p,
            Box::new(move || {
                let a = mmarrow::open(black_box(&path)).unwrap();
                black_box(a.to_arrow().unwrap());
            }),
        )
    };
    let batch = |p: &'static str, path: &PathBuf| -> Case<'_> {
        let path = path.clone();
        (
            p,
            Box::new(move || {
                let a = mmarrow::open(black_box(&path)).unwrap();
                black_box(a.to_record_batch().unwrap());
            }),
        )
    };
    let cases: Vec<Case<'_>> = vec![
        arrow("open/raw-4KiB", &files.raw_small),
        arrow("open/raw-8GiB-sparse", &files.raw_big),
        arrow("open/npy-4KiB", &files.npy_small),
        arrow("open/npy-8GiB-sparse", &files.npy_big),
        (
            "open/syscalls-floor",
            Box::new(|| {
                black_box(syscalls_floor(black_box(&files.raw_small), &small_sc));
            }),
        ),
        (
            "open/syscalls-floor-8GiB-sparse",
            Box::new(|| {
                black_box(syscalls_floor(black_box(&files.raw_big), &big_sc));
            }),
        ),
        batch("open_batch/raw-4KiB", &files.raw_small),
        batch("open_batch/raw-8GiB-sparse", &files.raw_big),
        batch("open_batch/npy-4KiB", &files.npy_small),
        batch("open_batch/npy-8GiB-sparse", &files.npy_big),
    ];
    let mut wall = vec![Vec::new(); cases.len()];
    let mut cpu = vec![Vec::new(); cases.len()];
    for (_, f) in &cases {
        for _ in 0..iterations.min(10_000) {
            f(); // warm up
        }
    }
    for _ in 0..rounds {
        for (i, (_, f)) in cases.iter().enumerate() {
            let (t, c) = (std::time::Instant::now(), thread_cpu_ns());
            for _ in 0..iterations {
                f();
            }
            let c = thread_cpu_ns() - c;
            let t = t.elapsed();
            wall[i].push(t.as_secs_f64() * 1e6 / iterations as f64);
            cpu[i].push(c as f64 / 1e3 / iterations as f64);
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    println!("{iterations} iterations x {rounds} rounds (alternating); µs per iteration");
    println!("| id | wall median | wall range | CPU median | CPU range |");
    println!("|---|---:|---:|---:|---:|");
    for (i, (id, _)) in cases.iter().enumerate() {
        let (wm, wl, wh) = stats(&mut wall[i]);
        let (cm, cl, ch) = stats(&mut cpu[i]);
        println!("| {id} | {wm:.2} | {wl:.2}–{wh:.2} | {cm:.2} | {cl:.2}–{ch:.2} |");
    }
}

criterion_group!(benches, bench_open);

/// criterion's group, or [`loop_mode`] when `MMARROW_BENCH_LOOP` is set.
fn benches_or_loop() {
    match std::env::var("MMARROW_BENCH_LOOP") {
        Ok(n) => loop_mode(n.parse().expect("MMARROW_BENCH_LOOP is an iteration count")),
        Err(_) => benches(),
    }
}

criterion_main!(benches_or_loop);

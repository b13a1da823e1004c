//! Tables: open latency, projection, and a full scan against Parquet.
//!
//! One 10,000,000-row, 12-column table (nullable and string columns, see
//! [`schema`]) written by [`mmarrow::TableWriter`] in 1,000,000-row batches,
//! and the same rows as Parquet (parquet crate `ArrowWriter`, default
//! properties but zstd level 1). Both are built once and cached in
//! `target/bench-table/` (delete the directory to rebuild; a marker file is
//! written last, so an interrupted build is redone).
//!
//! Bench ids (every open includes `to_record_batch()` and the drop/unmap):
//! * `table/open-12cols-10M`: `TableOptions::new()` and `to_record_batch()`,
//!   which validates every column whole (every offset, UTF-8, null counts:
//!   O(rows) for string and nullable columns).
//! * `table/open-safe-first-batch-12cols-10M`: the default open (O(columns))
//!   and its first batch of 65,536 rows, validated as it is made.
//! * `scan/all-columns-batches-safe` / `-trusted`: open and read every batch
//!   of 65,536 rows, reducing every byte of every column, with the default
//!   open (each batch validated as it is made) or `trusted()`.
//! * `table/open-trusted-12cols-10M`: `TableOptions::trusted()`, O(columns).
//! * `table/project-2cols-trusted`, `table/project-2cols`: `id` (int64) and
//!   `x` (nullable float64) only; `table/project-2cols-nonnull`: `id` and
//!   `y` (float32, not nullable), fully validated.
//! * `scan/sum-f64-table`: open projected to `x` (full validation) + sum of
//!   the non-null values, read from the mapped file;
//!   `scan/sum-f64-table-opened`: the sum alone, over a table opened once.
//! * `scan/sum-f64-parquet-zstd`: `ParquetRecordBatchReader` projected to
//!   `x` (footer read included), then the same sum.
//! * `parts/*`: pieces of the open, to see where its time goes: the manifest
//!   read, `to_record_batch` alone, counting the nulls of `x` (arrow's
//!   `NullBuffer::new` and a POPCNT loop), the fully validated build of
//!   `x` as now and counting once (see [`build_x_full`]), mapping `x`'s
//!   80 MB values and
//!   faulting every page in (by touch, or `MAP_POPULATE`); the scan of `x`
//!   over files mapped directly, plain or with `MAP_POPULATE`.
//! * `floor/*`: the same sum over the column copied into anonymous memory.
//! * `write/append-commit-12cols-1M`: a new table of the same 12 columns,
//!   1,048,576 rows appended as 16 batches of 65,536 (built beforehand),
//!   committed every 4 batches, with `Durability::Process` (no fsync: the
//!   CPU cost of a commit — copying, checksums, statistics — rather than
//!   the disk's), in `target/bench-table/bench-table-write/`;
//!   `write/append-commit-12cols-1M-fsync`: the same with the default
//!   `Durability::Fsync`.
//!
//! Run: `cargo bench --bench table` (criterion, about 2 minutes once the
//! data exist). `MMARROW_BENCH_LOOP=<ms>` skips criterion and runs each case
//! for about `<ms>` milliseconds per round, cases alternating, for
//! `MMARROW_BENCH_ROUNDS` (default 7) rounds, printing the median and range
//! of wall and CPU time per iteration (see [`loop_mode`]). pyarrow's
//! zero-copy IPC open, the reference figure, is timed by
//! `benches/compare_table_open.py`; `benches/table_compare.sh` alternates
//! both and pools the rounds. See BENCHMARKS.md, "Tables: open, projection,
//! scan".

use std::fmt::Write as _;
use std::fs::File;
use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{LargeStringBuilder, StringBuilder};
use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, PrimitiveArray, RecordBatch, TimestampMicrosecondArray,
    UInt8Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use criterion::{criterion_group, criterion_main, Criterion};
use mmarrow::table::TableWriterOptions;
use mmarrow::write::Durability;
use mmarrow::{Table, TableOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// Rows of the table.
const ROWS: usize = 10_000_000;
/// Rows per appended batch (and per Parquet `write` call).
const BATCH: usize = 1_000_000;
/// The two numeric columns of the projection benches.
const PROJECTION: [&str; 2] = ["id", "x"];
/// Two non-nullable numeric columns (int64, float32).
const PROJECTION_NONNULL: [&str; 2] = ["id", "y"];
/// The float64 column summed by the scan benches (nullable).
const SUM_COLUMN: &str = "x";
/// Its index among the Parquet leaves (flat schema: the column index).
const SUM_LEAF: usize = 1;
/// Batch size of the Parquet reader: 8 Ki, 64 Ki and 1 Mi rows decode in
/// the same time within noise here (`MMARROW_PARQUET_BATCHES=1`, see
/// BENCHMARKS.md).
const PARQUET_BATCH: usize = 64 * 1024;
/// Bumped whenever the generated data change, to rebuild the cache.
const DATA_VERSION: &str = "v1";

struct Files {
    table: PathBuf,
    parquet: PathBuf,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float32, false),
        Field::new("qty", DataType::Int32, false),
        Field::new("code", DataType::Int16, false),
        Field::new("bucket", DataType::UInt8, false),
        Field::new("active", DataType::Boolean, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("comment", DataType::LargeUtf8, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("amount", DataType::Decimal128(18, 2), false),
        Field::new("day", DataType::Date32, false),
    ]))
}

/// splitmix64: a deterministic hash of the row number, so the data are the
/// same on every build without a random-number crate.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const FIRST: [&str; 16] = [
    "ada", "bo", "chen", "dara", "eli", "fatou", "gus", "hana", "ivo", "jun", "kofi", "lena", "mo",
    "nadia", "otto", "priya",
];
const COMMENTS: [&str; 12] = [
    "",
    "ok",
    "late delivery",
    "refund requested",
    "gift wrap, no invoice",
    "call before 9",
    "left at the door",
    "second attempt failed, customer away",
    "fragile",
    "priority",
    "address corrected by support after a phone call",
    "n/a",
];

/// Rows `start..start + n` of the table.
fn make_batch(schema: &SchemaRef, start: usize, n: usize) -> RecordBatch {
    let h: Vec<u64> = (start..start + n).map(|i| mix(i as u64)).collect();
    let id = Int64Array::from_iter_values((start..start + n).map(|i| i as i64));
    // Prices, 5 % null.
    let x = Float64Array::new(
        h.iter().map(|&h| (h % 1_000_000) as f64 / 100.0).collect(),
        Some(NullBuffer::from(
            h.iter().map(|&h| (h >> 20) % 20 != 0).collect::<Vec<_>>(),
        )),
    );
    let y = Float32Array::from_iter_values(h.iter().map(|&h| (h >> 32) as f32 / u32::MAX as f32));
    let qty = Int32Array::from_iter_values(h.iter().map(|&h| ((h >> 8) % 1000) as i32 - 100));
    let code = Int16Array::from_iter_values(h.iter().map(|&h| ((h >> 24) % 30_000) as i16));
    let bucket = UInt8Array::from_iter_values(h.iter().map(|&h| (h >> 40) as u8));
    // 1 % null.
    let active = BooleanArray::new(
        BooleanBuffer::from_iter(h.iter().map(|&h| h & (1 << 50) != 0)),
        Some(NullBuffer::from(
            h.iter().map(|&h| (h >> 51) % 100 != 0).collect::<Vec<_>>(),
        )),
    );
    // Short names like "nadia4711", 2 % null.
    let mut name = StringBuilder::with_capacity(n, n * 9);
    let mut s = String::new();
    for &h in &h {
        if (h >> 44) % 50 == 0 {
            name.append_null();
        } else {
            s.clear();
            write!(
                s,
                "{}{}",
                FIRST[(h >> 56) as usize % 16],
                (h >> 12) % 10_000
            )
            .unwrap();
            name.append_value(&s);
        }
    }
    let mut comment = LargeStringBuilder::with_capacity(n, n * 16);
    for &h in &h {
        comment.append_value(COMMENTS[(h >> 36) as usize % COMMENTS.len()]);
    }
    // One row per ms from 2024-01-01T00:00:00Z, with sub-ms jitter.
    let ts = TimestampMicrosecondArray::from_iter_values(
        (start..start + n)
            .zip(&h)
            .map(|(i, &h)| 1_704_067_200_000_000 + i as i64 * 1000 + (h % 1000) as i64),
    )
    .with_timezone("UTC");
    let amount = Decimal128Array::from_iter_values(h.iter().map(|&h| (h % 100_000_000) as i128))
        .with_precision_and_scale(18, 2)
        .unwrap();
    let day =
        Date32Array::from_iter_values((start..start + n).map(|i| 19_723 + (i / 86_400) as i32));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id),
        Arc::new(x),
        Arc::new(y),
        Arc::new(qty),
        Arc::new(code),
        Arc::new(bucket),
        Arc::new(active),
        Arc::new(name.finish()),
        Arc::new(comment.finish()),
        Arc::new(ts),
        Arc::new(amount),
        Arc::new(day),
    ];
    RecordBatch::try_new(schema.clone(), columns).unwrap()
}

/// Builds the table and the Parquet file unless a complete cache exists,
/// checks the table fully once, and reads every file so the page cache is hot.
fn setup() -> Files {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-table");
    let files = Files {
        table: dir.join("t12-10M"),
        parquet: dir.join("t12-10M.zstd1.parquet"),
    };
    let marker = dir.join(format!(".complete-{DATA_VERSION}"));
    if !marker.exists() {
        eprintln!(
            "building {} and {} ...",
            files.table.display(),
            files.parquet.display()
        );
        let t = Instant::now();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let schema = schema();
        let mut w = TableWriterOptions::new()
            .durability(Durability::Process)
            .create(&files.table, schema.clone())
            .unwrap();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
            .build();
        let mut pq = ArrowWriter::try_new(
            File::create(&files.parquet).unwrap(),
            schema.clone(),
            Some(props),
        )
        .unwrap();
        for start in (0..ROWS).step_by(BATCH) {
            let b = make_batch(&schema, start, BATCH.min(ROWS - start));
            w.append(&b).unwrap();
            pq.write(&b).unwrap();
        }
        w.commit().unwrap();
        drop(w);
        pq.close().unwrap();
        File::create(&marker).unwrap();
        eprintln!("built in {:.1} s", t.elapsed().as_secs_f64());
    }
    // Every offset, UTF-8 and null count checked once: the ground for the
    // trusted opens below.
    let t = mmarrow::table::verify_table(&files.table).unwrap();
    assert_eq!(t.num_rows(), ROWS as u64);
    assert_eq!(t.schema().fields().len(), 12);
    warm(&files);
    files
}

/// Reads every byte of the table's files and of the Parquet file.
fn warm(files: &Files) {
    let mut buf = vec![0u8; 1 << 20];
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&files.table)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.push(files.parquet.clone());
    for p in paths {
        let mut f = File::open(p).unwrap();
        while f.read(&mut buf).unwrap() > 0 {}
    }
}

/// For each byte of a validity word, the bit masks that keep (all ones) or
/// clear (zero) each of its eight values: masking with an integer AND needs
/// only SSE2, unlike a per-lane variable shift, and stays exact whatever
/// bytes (NaN, infinities) the null slots hold.
static BYTE_MASKS: [[u64; 8]; 256] = byte_masks();

const fn byte_masks() -> [[u64; 8]; 256] {
    let mut t = [[0u64; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            if (b >> j) & 1 == 1 {
                t[b][j] = u64::MAX;
            }
            j += 1;
        }
        b += 1;
    }
    t
}

/// Sum of the non-null values: 64 values per validity word, sixteen
/// accumulators (so the compiler can vectorize and hide the add latency),
/// null slots masked to +0.0 through [`BYTE_MASKS`].
fn sum_f64(a: &PrimitiveArray<Float64Type>) -> f64 {
    let v: &[f64] = a.values();
    // Two banks of eight accumulators, indexed by constants only, so they
    // stay in registers.
    let (mut lo, mut hi) = ([0f64; 8], [0f64; 8]);
    let Some(nulls) = a.nulls() else {
        let mut it = v.chunks_exact(16);
        for c in &mut it {
            for j in 0..8 {
                lo[j] += c[j];
                hi[j] += c[8 + j];
            }
        }
        return lo.iter().chain(&hi).sum::<f64>() + it.remainder().iter().sum::<f64>();
    };
    let bits = nulls.inner();
    let chunks = bits.inner().bit_chunks(bits.offset(), bits.len());
    let mut words = 0;
    for (w, vs) in chunks.iter().zip(v.chunks_exact(64)) {
        let vs: &[f64; 64] = vs.try_into().expect("64 values");
        for k in (0..8).step_by(2) {
            let m0 = &BYTE_MASKS[((w >> (k * 8)) & 0xff) as usize];
            let m1 = &BYTE_MASKS[((w >> (k * 8 + 8)) & 0xff) as usize];
            for j in 0..8 {
                lo[j] += f64::from_bits(vs[k * 8 + j].to_bits() & m0[j]);
                hi[j] += f64::from_bits(vs[k * 8 + 8 + j].to_bits() & m1[j]);
            }
        }
        words += 1;
    }
    let mut rest = 0.0;
    let r = chunks.remainder_bits();
    for (j, &x) in v[words * 64..].iter().enumerate() {
        if (r >> j) & 1 == 1 {
            rest += x;
        }
    }
    lo.iter().chain(&hi).sum::<f64>() + rest
}

fn open_full(dir: &Path) -> RecordBatch {
    TableOptions::new()
        .open(dir)
        .unwrap()
        .to_record_batch()
        .unwrap()
}

/// Opens without per-row validation.
#[allow(unsafe_code)]
fn open_trusted(dir: &Path, projection: Option<&[&str]>) -> RecordBatch {
    // SAFETY: the table was written by mmarrow's TableWriter (in `setup`, or
    // by an earlier run whose build completed: the marker file is created
    // only after `commit`), `setup` then checked every offset, UTF-8 and null
    // count with `verify_table`, and nothing writes to `target/bench-table`
    // while the bench runs — what `TableOptions::trusted` requires.
    let o = unsafe { TableOptions::new().trusted() };
    let o = match projection {
        Some(p) => o.project(p),
        None => o,
    };
    o.open(dir).unwrap().to_record_batch().unwrap()
}

/// The default (safe) open, O(columns), and the first of its batches:
/// only that batch's rows are validated.
fn open_safe_first_batch(dir: &Path) -> RecordBatch {
    let t = TableOptions::new().open(dir).unwrap();
    let first = t.batches(SCAN_BATCH).unwrap().next().unwrap().unwrap();
    first
}

/// Rows per batch of the full scans.
const SCAN_BATCH: u64 = 65_536;

/// A reduction over every byte of a batch's rows in every column (values
/// summed as words, validity counted), so that a scan reads all its data.
/// The table's columns are flat: fixed-width, bool and (large) utf8.
fn reduce(b: &RecordBatch) -> u64 {
    fn words(acc: u64, bytes: &[u8]) -> u64 {
        let mut it = bytes.chunks_exact(8);
        let acc = (&mut it).fold(acc, |a, c| {
            a.wrapping_add(u64::from_le_bytes(c.try_into().unwrap()))
        });
        it.remainder()
            .iter()
            .fold(acc, |a, x| a.wrapping_add(u64::from(*x)))
    }
    let mut acc = 0u64;
    for c in b.columns() {
        let d = c.to_data();
        let (off, len) = (d.offset(), d.len());
        if let Some(n) = d.nulls() {
            acc = acc.wrapping_add(n.null_count() as u64);
        }
        let buf = |i: usize| d.buffers()[i].as_slice();
        acc = match d.data_type() {
            DataType::Boolean => words(acc, &buf(0)[off / 8..(off + len).div_ceil(8)]),
            DataType::Utf8 => {
                let o = &d.buffers()[0].typed_data::<i32>()[off..=off + len];
                let offsets = arrow_buffer::ToByteSlice::to_byte_slice(o);
                words(words(acc, &buf(1)[o[0] as usize..o[len] as usize]), offsets)
            }
            DataType::LargeUtf8 => {
                let o = &d.buffers()[0].typed_data::<i64>()[off..=off + len];
                let offsets = arrow_buffer::ToByteSlice::to_byte_slice(o);
                words(words(acc, &buf(1)[o[0] as usize..o[len] as usize]), offsets)
            }
            t => {
                let w = t.primitive_width().unwrap();
                words(acc, &buf(0)[off * w..(off + len) * w])
            }
        };
    }
    acc
}

/// Opens the whole table and scans every batch of [`SCAN_BATCH`] rows.
fn scan_all(dir: &Path, trusted: bool) -> u64 {
    #[allow(unsafe_code)]
    let o = if trusted {
        // SAFETY: as in `open_trusted`: mmarrow wrote and verified these
        // files and nothing writes to them while the bench runs.
        unsafe { TableOptions::new().trusted() }
    } else {
        TableOptions::new()
    };
    let t = o.open(dir).unwrap();
    t.batches(SCAN_BATCH)
        .unwrap()
        .map(|b| reduce(&b.unwrap()))
        .fold(0, u64::wrapping_add)
}

fn open_project(dir: &Path) -> RecordBatch {
    TableOptions::new()
        .project(&PROJECTION)
        .open(dir)
        .unwrap()
        .to_record_batch()
        .unwrap()
}

/// Full validation of two non-nullable fixed-width columns: nothing is
/// O(rows), so this is O(columns) without `trusted`.
fn open_project_nonnull(dir: &Path) -> RecordBatch {
    TableOptions::new()
        .project(&PROJECTION_NONNULL)
        .open(dir)
        .unwrap()
        .to_record_batch()
        .unwrap()
}

fn column_f64(b: &RecordBatch, name: &str) -> Float64Array {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .clone()
}

/// The values file of the summed column, from the manifest.
fn x_values_path(dir: &Path) -> PathBuf {
    let m = mmarrow::format::Manifest::read(dir).unwrap();
    let c = m
        .columns
        .iter()
        .find(|c| c.field.name() == SUM_COLUMN)
        .unwrap();
    dir.join(&c.node.buffers[0].file)
}

/// Nulls in `bits`, counted 64 bits at a time with the POPCNT instruction
/// when the CPU has it (arrow-buffer, compiled for baseline x86-64, counts
/// without it).
fn count_zeros_popcnt(bits: &BooleanBuffer) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        #[target_feature(enable = "popcnt")]
        fn ones(c: arrow_buffer::bit_chunk_iterator::BitChunks<'_>) -> usize {
            c.iter().map(|w| w.count_ones() as usize).sum::<usize>()
                + c.remainder_bits().count_ones() as usize
        }
        let c = bits.inner().bit_chunks(bits.offset(), bits.len());
        #[allow(unsafe_code)]
        // SAFETY: the CPU has POPCNT (checked just above), the only
        // requirement of a `target_feature(enable = "popcnt")` function.
        return bits.len() - unsafe { ones(c) };
    }
    bits.len() - bits.count_set_bits()
}

/// Maps the file at `path` read-only (with `MAP_POPULATE` when `populate`),
/// reads one byte per 4 KiB page, unmaps: the page-fault cost a scan of a
/// freshly opened column pays.
#[allow(unsafe_code)]
fn map_touch(path: &Path, populate: bool) -> u64 {
    let f = File::open(path).unwrap();
    let mut o = memmap2::MmapOptions::new();
    if populate {
        o.populate();
    }
    // SAFETY: read-only private map of a bench file nothing writes to while
    // the bench runs.
    let m = unsafe { o.map(&f) }.unwrap();
    m.iter().step_by(4096).map(|&b| b as u64).sum()
}

/// The fully validated build of `x`'s array data from its mapped buffers,
/// as `src/table/read.rs` does it now (`count_once == false`: the bitmap
/// counted by `NullBuffer::new`, compared with the manifest, then counted
/// again by `ArrayDataBuilder::build`'s validation), or with the manifest's
/// count handed to the builder (`null_bit_buffer` + `null_count`), so that
/// `build` counts once and rejects a mismatch itself.
fn build_x_full(
    (bits, values, manifest_nulls): &(BooleanBuffer, arrow_buffer::Buffer, usize),
    count_once: bool,
) -> arrow_data::ArrayData {
    let b = arrow_data::ArrayDataBuilder::new(DataType::Float64)
        .len(ROWS)
        .add_buffer(values.clone());
    if count_once {
        b.null_bit_buffer(Some(bits.inner().clone()))
            .null_count(*manifest_nulls)
            .build()
            .unwrap()
    } else {
        let n = NullBuffer::new(bits.clone());
        assert_eq!(n.null_count(), *manifest_nulls);
        b.nulls(Some(n)).build().unwrap()
    }
}

/// Maps `path` read-only (with `MAP_POPULATE` when `populate`) as a buffer.
#[allow(unsafe_code)]
fn map_buffer(path: &Path, populate: bool) -> arrow_buffer::Buffer {
    let f = File::open(path).unwrap();
    let mut o = memmap2::MmapOptions::new();
    if populate {
        o.populate();
    }
    // SAFETY: read-only private map of a bench file nothing writes to while
    // the bench runs.
    let m = unsafe { o.map(&f) }.unwrap();
    arrow_buffer::Buffer::from(bytes::Bytes::from_owner(m))
}

/// What `scan/sum-f64-table` does, minus mmarrow: map `x`'s validity and
/// values files directly (`MAP_POPULATE` or not), sum, unmap. Emulates a
/// populate-on-open option for scans.
fn sum_mapped((validity, values): &(PathBuf, PathBuf), populate: bool) -> f64 {
    let bits = BooleanBuffer::new(map_buffer(validity, populate), 0, ROWS);
    let values = map_buffer(values, populate);
    let a = Float64Array::new(
        arrow_buffer::ScalarBuffer::new(values, 0, ROWS),
        Some(NullBuffer::new(bits)),
    );
    sum_f64(&a)
}

/// The summed column of `t`, copied into fresh anonymous memory (touched).
fn in_memory(t: &Table) -> Float64Array {
    let b = t.to_record_batch().unwrap();
    let a = column_f64(&b, SUM_COLUMN);
    Float64Array::new(a.values().to_vec().into(), a.nulls().cloned())
}

fn sum_table(dir: &Path) -> f64 {
    let b = TableOptions::new()
        .project(&[SUM_COLUMN])
        .open(dir)
        .unwrap()
        .to_record_batch()
        .unwrap();
    sum_f64(&column_f64(&b, SUM_COLUMN))
}

fn sum_parquet(path: &Path, batch: usize) -> f64 {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let mask = ProjectionMask::leaves(b.parquet_schema(), [SUM_LEAF]);
    let r = b
        .with_projection(mask)
        .with_batch_size(batch)
        .build()
        .unwrap();
    let mut s = 0.0;
    for b in r {
        s += sum_f64(&column_f64(&b.unwrap(), SUM_COLUMN));
    }
    s
}

type Case<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// Rows per batch and batches of the `write/*` case.
const WRITE_BATCH: usize = 64 * 1024;
const WRITE_BATCHES: usize = 16;

/// The `write/*` cases: a fresh table of `batches`, committed every 4.
fn write_table(dir: &Path, batches: &[RecordBatch], durability: Durability) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    let mut w = TableWriterOptions::new()
        .durability(durability)
        .create(dir, batches[0].schema())
        .unwrap();
    for (i, b) in batches.iter().enumerate() {
        w.append(b).unwrap();
        if i % 4 == 3 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
}

/// Every timed case, by bench id. `floor` holds the summed column copied
/// into anonymous memory: the `floor/*` cases sum it with and without its
/// validity bitmap, the ceiling for any scan of that column.
fn cases<'a>(f: &'a Files, opened: &'a Table, floor: &'a Float64Array) -> Vec<Case<'a>> {
    let (t, p) = (f.table.as_path(), f.parquet.as_path());
    let values = Float64Array::new(floor.values().clone(), None);
    // The mapped validity bitmap of `x` (pages already faulted in) and the
    // path of its values file, for the `parts/*` pieces of the full checks.
    let x_bits = column_f64(&opened.to_record_batch().unwrap(), SUM_COLUMN)
        .nulls()
        .unwrap()
        .inner()
        .clone();
    let x_values = x_values_path(t);
    let (x_bits2, x_values2) = (x_bits.clone(), x_values.clone());
    let x_files = (x_values.with_extension("validity"), x_values.clone());
    let x_files2 = x_files.clone();
    let x_data = (
        x_bits.clone(),
        column_f64(&opened.to_record_batch().unwrap(), SUM_COLUMN)
            .values()
            .inner()
            .clone(),
        opened.columns().unwrap()[0].null_count(),
    );
    let x_data2 = x_data.clone();
    let schema = schema();
    let write_batches: Vec<RecordBatch> = (0..WRITE_BATCHES)
        .map(|i| make_batch(&schema, i * WRITE_BATCH, WRITE_BATCH))
        .collect();
    let write_dir = t.with_file_name("bench-table-write");
    let (write_dir2, write_batches2) = (write_dir.clone(), write_batches.clone());
    vec![
        (
            "write/append-commit-12cols-1M",
            Box::new(move || {
                write_table(
                    black_box(&write_dir),
                    black_box(&write_batches),
                    Durability::Process,
                )
            }),
        ),
        (
            "write/append-commit-12cols-1M-fsync",
            Box::new(move || {
                write_table(
                    black_box(&write_dir2),
                    black_box(&write_batches2),
                    Durability::Fsync,
                )
            }),
        ),
        (
            "floor/sum-f64-memory-nullable",
            Box::new(move || {
                black_box(sum_f64(black_box(floor)));
            }),
        ),
        (
            "floor/sum-f64-memory-no-nulls",
            Box::new(move || {
                black_box(sum_f64(black_box(&values)));
            }),
        ),
        (
            "table/open-12cols-10M",
            Box::new(move || drop(black_box(open_full(black_box(t))))),
        ),
        (
            "table/open-safe-first-batch-12cols-10M",
            Box::new(move || drop(black_box(open_safe_first_batch(black_box(t))))),
        ),
        (
            "scan/all-columns-batches-safe",
            Box::new(move || {
                black_box(scan_all(black_box(t), false));
            }),
        ),
        (
            "scan/all-columns-batches-trusted",
            Box::new(move || {
                black_box(scan_all(black_box(t), true));
            }),
        ),
        (
            "table/open-trusted-12cols-10M",
            Box::new(move || drop(black_box(open_trusted(black_box(t), None)))),
        ),
        (
            "table/project-2cols-trusted",
            Box::new(move || drop(black_box(open_trusted(black_box(t), Some(&PROJECTION))))),
        ),
        (
            "table/project-2cols",
            Box::new(move || drop(black_box(open_project(black_box(t))))),
        ),
        (
            "table/project-2cols-nonnull",
            Box::new(move || drop(black_box(open_project_nonnull(black_box(t))))),
        ),
        (
            "parts/manifest-read",
            Box::new(move || {
                drop(black_box(
                    mmarrow::format::Manifest::read(black_box(t)).unwrap(),
                ))
            }),
        ),
        (
            "parts/to_record_batch-only",
            Box::new(move || drop(black_box(black_box(opened).to_record_batch().unwrap()))),
        ),
        (
            "parts/null-count-x-arrow",
            Box::new(move || {
                black_box(NullBuffer::new(black_box(x_bits.clone())).null_count());
            }),
        ),
        (
            "parts/null-count-x-popcnt",
            Box::new(move || {
                black_box(count_zeros_popcnt(black_box(&x_bits2)));
            }),
        ),
        (
            "parts/build-x-full-as-now",
            Box::new(move || {
                black_box(build_x_full(black_box(&x_data), false));
            }),
        ),
        (
            "parts/build-x-full-count-once",
            Box::new(move || {
                black_box(build_x_full(black_box(&x_data2), true));
            }),
        ),
        (
            "parts/map-touch-x-values",
            Box::new(move || {
                black_box(map_touch(black_box(&x_values), false));
            }),
        ),
        (
            "parts/map-populate-x-values",
            Box::new(move || {
                black_box(map_touch(black_box(&x_values2), true));
            }),
        ),
        (
            "scan/sum-f64-table",
            Box::new(move || {
                black_box(sum_table(black_box(t)));
            }),
        ),
        (
            "scan/sum-f64-table-opened",
            Box::new(move || {
                let b = black_box(opened).to_record_batch().unwrap();
                black_box(sum_f64(&column_f64(&b, SUM_COLUMN)));
            }),
        ),
        (
            "parts/sum-x-map-plain",
            Box::new(move || {
                black_box(sum_mapped(black_box(&x_files), false));
            }),
        ),
        (
            "parts/sum-x-map-populate",
            Box::new(move || {
                black_box(sum_mapped(black_box(&x_files2), true));
            }),
        ),
        (
            "scan/sum-f64-parquet-zstd",
            Box::new(move || {
                black_box(sum_parquet(black_box(p), PARQUET_BATCH));
            }),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let f = setup();
    let opened = TableOptions::new()
        .project(&[SUM_COLUMN])
        .open(&f.table)
        .unwrap();
    let floor = in_memory(&opened);
    // The same sum both ways (the Parquet file holds the same rows).
    let (a, b) = (sum_table(&f.table), sum_parquet(&f.parquet, PARQUET_BATCH));
    assert!((a - b).abs() <= 1e-9 * a.abs(), "{a} != {b}");
    let all = cases(&f, &opened, &floor);
    for group in ["table", "parts", "scan", "floor", "write"] {
        let mut g = c.benchmark_group(group);
        g.warm_up_time(std::time::Duration::from_secs(1));
        g.measurement_time(std::time::Duration::from_secs(4));
        g.sample_size(if group == "table" || group == "parts" {
            50
        } else {
            20
        });
        for (id, run) in all.iter().filter(|(id, _)| id.starts_with(group)) {
            let name = &id[group.len() + 1..];
            if name == "open-12cols-10M" {
                g.sample_size(10); // O(rows): ~10× slower than the others
            }
            g.bench_function(name, |b| b.iter(run));
            g.sample_size(if group == "table" || group == "parts" {
                50
            } else {
                20
            });
        }
        g.finish();
    }
}

/// CPU time of this thread (ns), from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// `MMARROW_BENCH_LOOP=<ms>`: each case in a plain loop of about `<ms>`
/// milliseconds (iterations calibrated once), cases alternating, for
/// `MMARROW_BENCH_ROUNDS` rounds (default 7); median and range of wall and
/// CPU time per iteration, in µs. `MMARROW_BENCH_FILTER=<substring>` keeps
/// only matching ids; `MMARROW_PARQUET_BATCHES=1` adds the Parquet scan at
/// 8 Ki and 1 Mi rows per batch; `MMARROW_BENCH_RAW=1` also prints every
/// round's figures to stderr (`raw <id> <wall µs> <CPU µs>`), for pooling
/// several runs.
fn loop_mode(ms: u64) {
    let rounds: usize = std::env::var("MMARROW_BENCH_ROUNDS")
        .ok()
        .map_or(7, |r| r.parse().expect("MMARROW_BENCH_ROUNDS is a number"));
    let filter = std::env::var("MMARROW_BENCH_FILTER").unwrap_or_default();
    let raw = std::env::var("MMARROW_BENCH_RAW").is_ok();
    let f = setup();
    let opened = TableOptions::new()
        .project(&[SUM_COLUMN])
        .open(&f.table)
        .unwrap();
    let floor = in_memory(&opened);
    let mut all = cases(&f, &opened, &floor);
    if std::env::var("MMARROW_PARQUET_BATCHES").is_ok() {
        let p = f.parquet.as_path();
        all.push((
            "scan/sum-f64-parquet-zstd-batch8Ki",
            Box::new(move || {
                black_box(sum_parquet(p, 8 * 1024));
            }),
        ));
        all.push((
            "scan/sum-f64-parquet-zstd-batch1Mi",
            Box::new(move || {
                black_box(sum_parquet(p, 1 << 20));
            }),
        ));
    }
    all.retain(|(id, _)| id.contains(&filter));
    let iters: Vec<u64> = all
        .iter()
        .map(|(_, run)| {
            let t = Instant::now();
            let mut n = 0u64;
            while t.elapsed().as_secs_f64() * 1e3 < ms as f64 / 2.0 || n < 3 {
                run();
                n += 1;
            }
            let per = t.elapsed().as_secs_f64() * 1e3 / n as f64;
            ((ms as f64 / per) as u64).max(3)
        })
        .collect();
    let mut wall = vec![Vec::new(); all.len()];
    let mut cpu = vec![Vec::new(); all.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in all.iter().enumerate() {
            let (t, c) = (Instant::now(), thread_cpu_ns());
            for _ in 0..iters[i] {
                run();
            }
            let c = thread_cpu_ns() - c;
            wall[i].push(t.elapsed().as_secs_f64() * 1e6 / iters[i] as f64);
            cpu[i].push(c as f64 / 1e3 / iters[i] as f64);
            if raw {
                eprintln!(
                    "raw\t{}\t{:.3}\t{:.3}",
                    all[i].0,
                    wall[i].last().unwrap(),
                    cpu[i].last().unwrap()
                );
            }
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    println!("{rounds} rounds (alternating), ~{ms} ms per case per round; µs per iteration");
    println!("| id | iterations/round | wall median | wall range | CPU median | CPU range |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, (id, _)) in all.iter().enumerate() {
        let (wm, wl, wh) = stats(&mut wall[i]);
        let (cm, cl, ch) = stats(&mut cpu[i]);
        println!(
            "| {id} | {} | {wm:.1} | {wl:.1}–{wh:.1} | {cm:.1} | {cl:.1}–{ch:.1} |",
            iters[i]
        );
    }
}

criterion_group!(benches, bench);

/// criterion's group, or [`loop_mode`] when `MMARROW_BENCH_LOOP` is set.
fn benches_or_loop() {
    match std::env::var("MMARROW_BENCH_LOOP") {
        Ok(ms) => loop_mode(
            ms.parse()
                .expect("MMARROW_BENCH_LOOP is milliseconds per case"),
        ),
        Err(_) => benches(),
    }
}

criterion_main!(benches_or_loop);

//! Fault injection (feature `fault-injection`): every write, fsync, rename
//! and length change of an array commit, a table commit and a conversion is
//! made to fail in turn — each hit of each point, up to a cap — and after
//! each failure reopening must give the last committed state, a retried
//! writer must carry on from it, and no temporary file may be left behind.
//! The counts printed are the figures of docs/RELIABILITY.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use mmarrow::fault;
use mmarrow::write::Durability;
use mmarrow::{ArrayWriter, Dtype, Table, TableWriter};

use crate::common::Dir;

/// Hits of one point tried at most this many times (the first hits and
/// the last one: commits repeat the same steps).
const MAX_HITS_TRIED: u64 = 6;

/// What a scenario committed before it stopped (at the end or at a fault).
struct Outcome {
    /// Rows (or outputs) whose commit returned `Ok`.
    committed: u64,
    /// Rows (or outputs) the commit that failed would have made visible: a
    /// fault after its header or rename took effect leaves them visible.
    attempted: u64,
    failed: bool,
}

impl Outcome {
    fn allows(&self, visible: u64) -> bool {
        visible == self.committed || (self.failed && visible == self.attempted)
    }
}

/// The points a scenario hits under `dir`, with their hit counts.
fn points_of(dir: &Path, scenario: &dyn Fn(&Path) -> Outcome) -> BTreeMap<&'static str, u64> {
    fault::record(Some(dir));
    let out = scenario(dir);
    let hits = fault::points_hit();
    fault::record(None);
    assert!(!out.failed, "the scenario fails without a fault");
    let mut m = BTreeMap::new();
    for h in hits {
        *m.entry(h).or_insert(0) += 1;
    }
    m
}

/// The hit numbers of a point seen `n` times that are tried.
fn tried(n: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (1..=n.min(MAX_HITS_TRIED - 1)).collect();
    if n >= MAX_HITS_TRIED {
        v.push(n);
    }
    v
}

/// Runs `scenario` in a fresh directory once per (point, hit) and calls
/// `check` after each injected failure. Returns (failures injected, points).
fn inject(
    scenario: &dyn Fn(&Path) -> Outcome,
    check: &dyn Fn(&Path, &Outcome, &str),
) -> (u64, usize) {
    let _serial = fault::lock();
    let probe = Dir::new();
    let points = points_of(probe.dir.path(), scenario);
    assert!(!points.is_empty());
    let mut injected = 0;
    for (&point, &n) in &points {
        for k in tried(n) {
            let d = Dir::new();
            fault::arm(d.dir.path(), point, k);
            let out = scenario(d.dir.path());
            let fired = fault::disarm();
            assert!(fired, "{point} #{k} did not fire");
            assert!(
                out.failed,
                "{point} #{k} fired but the scenario did not fail"
            );
            check(d.dir.path(), &out, &format!("{point} #{k}"));
            injected += 1;
        }
    }
    (injected, points.len())
}

/// No temporary or replaced-aside file is left in `dir` (recursively).
fn no_leftovers(dir: &Path, what: &str) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            !(name.contains(".tmp-") || name.contains(".old-")),
            "{what}: {name} left in {}",
            dir.display()
        );
        if e.file_type().unwrap().is_dir() {
            no_leftovers(&e.path(), what);
        }
    }
}

fn rows(start: u64, n: u64) -> Vec<i64> {
    (start..start + n).map(|i| i as i64 * 3 + 1).collect()
}

/// Array scenario: create, then three appends each committed (the middle
/// one large enough to go past the writer's buffer).
fn array_scenario(name: &'static str) -> impl Fn(&Path) -> Outcome {
    move |dir: &Path| {
        let path = dir.join(name);
        let (mut committed, mut attempted) = (0, 0);
        let mut run = || -> mmarrow::Result<()> {
            let mut w = ArrayWriter::create(&path, Dtype::parse("<i8")?, &[2])?;
            for (start, n) in [(0u64, 10u64), (10, 600_000), (600_010, 5)] {
                attempted = start + n;
                w.append(&rows(2 * start, 2 * n))?;
                committed = w.commit()?;
            }
            Ok(())
        };
        let failed = run().is_err();
        Outcome {
            committed,
            attempted,
            failed,
        }
    }
}

fn check_array(name: &'static str) -> impl Fn(&Path, &Outcome, &str) {
    move |dir: &Path, out: &Outcome, what: &str| {
        let path = dir.join(name);
        no_leftovers(dir, what);
        if !path.exists() {
            // Creation itself failed: nothing was ever committed.
            assert_eq!(out.committed, 0, "{what}");
            return;
        }
        let a = mmarrow::open(&path).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
        let n = a.len();
        assert!(
            out.allows(n),
            "{what}: {n} rows visible, committed {}",
            out.committed
        );
        assert_eq!(
            a.data_buffer().typed_data::<i64>(),
            rows(0, 2 * n),
            "{what}"
        );
        drop(a);
        // A writer reopened after the failure carries on from what is visible.
        let mut w = crate::common::retry_locked(|| ArrayWriter::open(&path, Durability::Fsync))
            .unwrap_or_else(|e| panic!("{what}: reopen for writing: {e}"));
        assert_eq!(w.committed_rows(), n, "{what}");
        w.append(&rows(2 * n, 2)).unwrap();
        assert_eq!(w.commit().unwrap(), n + 1, "{what}");
        drop(w);
        let again = mmarrow::open(&path).unwrap();
        assert_eq!(
            again.data_buffer().typed_data::<i64>(),
            rows(0, 2 * (n + 1)),
            "{what}"
        );
    }
}

#[test]
fn every_fault_in_an_array_commit_leaves_the_last_commit() {
    for name in ["a.i8", "a.npy"] {
        let (injected, points) = inject(&array_scenario(name), &check_array(name));
        println!("array {name}: {injected} faults injected at {points} points");
        assert!(points >= 5, "{name}: only {points} points");
    }
}

fn table_batch(start: u64, n: u64) -> RecordBatch {
    let ids = Int64Array::from_iter_values((start..start + n).map(|i| i as i64));
    let text: StringArray = (start..start + n)
        .map(|i| (i % 5 != 0).then(|| format!("v{i}")))
        .collect();
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("s", Arc::new(text) as ArrayRef),
    ])
    .unwrap()
}

fn table_scenario(dir: &Path) -> Outcome {
    let path = dir.join("t");
    let (mut committed, mut attempted) = (0, 0);
    let mut run = || -> mmarrow::Result<()> {
        let mut w = TableWriter::create(&path, table_batch(0, 1).schema())?;
        for (start, n) in [(0u64, 10u64), (10, 70_000), (70_010, 3)] {
            attempted = start + n;
            w.append(&table_batch(start, n))?;
            committed = w.commit()?;
        }
        Ok(())
    };
    let failed = run().is_err();
    Outcome {
        committed,
        attempted,
        failed,
    }
}

fn check_table(dir: &Path, out: &Outcome, what: &str) {
    let path = dir.join("t");
    no_leftovers(dir, what);
    let manifest = path.join(mmarrow::format::MANIFEST_NAME);
    if !manifest.exists() {
        assert_eq!(out.committed, 0, "{what}");
        return;
    }
    let t = mmarrow::table::verify_table(&path).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    let n = t.num_rows();
    assert!(
        out.allows(n),
        "{what}: {n} rows visible, committed {}",
        out.committed
    );
    same_rows(&t.to_record_batch().unwrap(), n, what);
    drop(t);
    let mut w = crate::common::retry_locked(|| TableWriter::open(&path, Durability::Fsync))
        .unwrap_or_else(|e| panic!("{what}: reopen for writing: {e}"));
    w.append(&table_batch(n, 2)).unwrap();
    assert_eq!(w.commit().unwrap(), n + 2, "{what}");
    drop(w);
    same_rows(
        &Table::open(&path).unwrap().to_record_batch().unwrap(),
        n + 2,
        what,
    );
}

/// `b` holds exactly rows `0..n` of the scenario's table.
fn same_rows(b: &RecordBatch, n: u64, what: &str) {
    let expected = table_batch(0, n);
    assert_eq!(b.num_rows() as u64, n, "{what}");
    assert_eq!(
        b.column(0).as_primitive::<Int64Type>().values(),
        expected.column(0).as_primitive::<Int64Type>().values(),
        "{what}"
    );
    let (got, want) = (
        b.column(1).as_string::<i32>(),
        expected.column(1).as_string::<i32>(),
    );
    assert_eq!(
        got.iter().collect::<Vec<_>>(),
        want.iter().collect::<Vec<_>>(),
        "{what}"
    );
}

#[test]
fn every_fault_in_a_table_commit_leaves_the_last_commit() {
    let (injected, points) = inject(&table_scenario, &check_table);
    println!("table: {injected} faults injected at {points} points");
    assert!(points >= 5, "only {points} points");
}

/// A table of 5 rows replaced by `TableWriterOptions::overwrite` with one
/// of 3 rows. `committed` is the stage reached: 0 nothing, 1 the old table
/// committed, 2 the new one created, 3 its rows committed.
fn overwrite_scenario(dir: &Path) -> Outcome {
    let path = dir.join("t");
    let mut stage = 0;
    let mut run = || -> mmarrow::Result<()> {
        let mut w = TableWriter::create(&path, table_batch(0, 1).schema())?;
        w.append(&table_batch(0, 5))?;
        w.commit()?;
        drop(w);
        stage = 1;
        let mut w = crate::common::retry_locked(|| {
            mmarrow::table::TableWriterOptions::new()
                .overwrite(true)
                .create(&path, table_batch(0, 1).schema())
        })?;
        stage = 2;
        w.append(&table_batch(0, 3))?;
        w.commit()?;
        stage = 3;
        Ok(())
    };
    let failed = run().is_err();
    Outcome {
        committed: stage,
        attempted: stage,
        failed,
    }
}

fn check_overwrite(dir: &Path, out: &Outcome, what: &str) {
    let path = dir.join("t");
    no_leftovers(dir, what);
    let visible = match mmarrow::table::verify_table(&path) {
        Ok(t) => t.num_rows(),
        Err(e) => {
            assert_eq!(out.committed, 0, "{what}: the old table was lost: {e}");
            return;
        }
    };
    // Before the new table is in place the old one stays whole; after, the
    // new one (empty, or with its rows once their commit returned).
    let allowed: &[u64] = match out.committed {
        0 => &[0, 5],
        1 => &[5, 0],
        2 => &[0, 3],
        _ => &[3],
    };
    assert!(
        allowed.contains(&visible),
        "{what}: {visible} rows at stage {}",
        out.committed
    );
    let t = Table::open(&path).unwrap();
    same_rows(&t.to_record_batch().unwrap(), visible, what);
}

#[test]
fn every_fault_in_a_table_overwrite_leaves_the_old_table_or_the_new_one() {
    let (injected, points) = inject(&overwrite_scenario, &check_overwrite);
    println!("table overwrite: {injected} faults injected at {points} points");
    assert!(points >= 5, "only {points} points");
}

/// The conversions' input, made once outside every armed directory.
fn conversion_input() -> &'static Path {
    static INPUT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = INPUT.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src.i8");
        let bytes: Vec<u8> = rows(0, 20_000)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(&src, bytes).unwrap();
        let o = mmarrow::OpenOptions::new()
            .try_with_dtype("<i8")
            .unwrap()
            .try_with_shape("-1,2")
            .unwrap();
        mmarrow::describe(&src, &o).unwrap();
        d
    });
    Box::leak(dir.path().join("src.i8").into_boxed_path())
}

/// Conversion scenario: an array to Parquet, that file back to an array,
/// and to a table: each output appears whole at its final rename or not
/// at all. `committed` counts the outputs that appeared.
fn conversion_scenario(dir: &Path) -> Outcome {
    use mmarrow::convert::{from_parquet, parquet_to_table, to_parquet, ConvertOptions};
    let src = conversion_input();
    let o = ConvertOptions::new().row_group_rows(1_000);
    let mut committed = 0;
    let mut run = || -> mmarrow::Result<()> {
        let a = mmarrow::open(src)?;
        to_parquet(&a, dir.join("x.parquet"), &o)?;
        committed += 1;
        from_parquet(dir.join("x.parquet"), dir.join("back.i8"), &o)?;
        committed += 1;
        parquet_to_table(dir.join("x.parquet"), dir.join("t"), &o)?;
        committed += 1;
        Ok(())
    };
    let failed = run().is_err();
    Outcome {
        committed,
        attempted: committed + 1,
        failed,
    }
}

fn check_conversion(dir: &Path, out: &Outcome, what: &str) {
    no_leftovers(dir, what);
    let outputs = [
        dir.join("x.parquet").exists(),
        dir.join("back.i8").exists() || mmarrow::format::sidecar_path(dir.join("back.i8")).exists(),
        dir.join("t").exists(),
    ];
    // The outputs that exist are a prefix of the three (the one that
    // failed may exist when only the fsync after its rename failed), and
    // each one that exists is whole.
    let visible = outputs.iter().take_while(|&&e| e).count() as u64;
    assert!(
        outputs.iter().skip(visible as usize).all(|&e| !e),
        "{what}: {outputs:?}"
    );
    assert!(
        out.allows(visible),
        "{what}: {visible} outputs, {} committed",
        out.committed
    );
    if visible >= 1 {
        let whole = mmarrow::convert::parquet_schema(dir.join("x.parquet"));
        assert!(whole.is_ok(), "{what}: the Parquet output is not whole");
    }
    if visible >= 2 {
        let back = mmarrow::open(dir.join("back.i8")).unwrap();
        assert_eq!(
            back.data_buffer().typed_data::<i64>(),
            rows(0, 20_000),
            "{what}"
        );
    }
    if visible >= 3 {
        let t = mmarrow::table::verify_table(dir.join("t")).unwrap();
        assert_eq!(t.num_rows(), 10_000, "{what}");
    }
}

#[test]
fn every_fault_in_a_conversion_leaves_no_output_or_a_whole_one() {
    let (injected, points) = inject(&conversion_scenario, &check_conversion);
    println!("conversions: {injected} faults injected at {points} points");
    assert!(points >= 3, "only {points} points");
}

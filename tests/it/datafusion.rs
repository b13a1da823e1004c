//! The DataFusion provider (feature `datafusion`): scans, pruning with
//! static and dynamic filters, datasets, registration, vector functions.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field};
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use mmarrow::datafusion::{session_context, session_context_with, MmarrowTable, SessionContextExt};

use crate::common::{npy, Dir};

const N: i64 = 300_000; // 5 statistics chunks (65,536 rows) in all

/// `id` 0..N, `x` = id / 1000 as float, `cat` one of 7, `emb` [id, 1, 2, 3] as f32.
fn table_batch(range: std::ops::Range<i64>) -> RecordBatch {
    let ids: Vec<i64> = range.collect();
    let emb: Vec<f32> = ids
        .iter()
        .flat_map(|&i| [i as f32, 1.0, 2.0, 3.0])
        .collect();
    let emb = FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float32, false)),
        4,
        Arc::new(Float32Array::from(emb)),
        None,
    );
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        (
            "x",
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|&i| i as f64 / 1000.0),
            )) as _,
        ),
        (
            "cat",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("c{}", i % 7)),
            )) as _,
        ),
        ("emb", Arc::new(emb) as _),
    ])
    .unwrap()
}

fn write_table(path: &Path, rows: std::ops::Range<i64>) {
    let b = table_batch(rows);
    let mut w = mmarrow::TableWriter::create(path, b.schema()).unwrap();
    w.append(&b).unwrap();
    w.finish().unwrap();
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sql(ctx: &SessionContext, q: &str) -> Vec<RecordBatch> {
    rt().block_on(async { ctx.sql(q).await?.collect().await })
        .unwrap()
}

fn sql_err(ctx: &SessionContext, q: &str) -> String {
    rt().block_on(async { ctx.sql(q).await?.collect().await })
        .unwrap_err()
        .to_string()
}

fn text(batches: &[RecordBatch]) -> String {
    arrow_cast::pretty::pretty_format_batches(batches)
        .unwrap()
        .to_string()
}

fn one_i64(b: &[RecordBatch]) -> i64 {
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

fn ctx2() -> SessionContext {
    session_context_with(SessionConfig::new().with_target_partitions(2))
}

/// A table `t` of the rows `rows` (as `write_table`) in a fresh directory,
/// registered as `t` in a 2-partition session.
fn table_ctx(rows: std::ops::Range<i64>) -> (Dir, SessionContext) {
    let d = Dir::new();
    write_table(&d.path("t"), rows);
    let ctx = ctx2();
    ctx.register_mmarrow("t", d.path("t")).unwrap();
    (d, ctx)
}

/// A metric summed over the plan's nodes.
fn metric(plan: &Arc<dyn ExecutionPlan>, name: &str) -> usize {
    let mut total = plan
        .metrics()
        .and_then(|m| m.sum_by_name(name))
        .map(|v| v.as_usize())
        .unwrap_or(0);
    for c in plan.children() {
        total += metric(c, name);
    }
    total
}

/// The physical plan as `EXPLAIN` shows it.
fn plan_text(plan: &Arc<dyn ExecutionPlan>) -> String {
    datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string()
}

fn run_plan(ctx: &SessionContext, q: &str) -> (Vec<RecordBatch>, Arc<dyn ExecutionPlan>) {
    let rt = rt();
    rt.block_on(async {
        let plan = ctx
            .sql(q)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let out = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        (out, plan)
    })
}

#[test]
fn queries_over_a_table_give_the_values_written() {
    let (_d, ctx) = table_ctx(0..N);
    let sum: i64 = (0..N).sum();
    assert_eq!(one_i64(&sql(&ctx, "SELECT sum(id) FROM t")), sum);
    let b = sql(
        &ctx,
        "SELECT cat, count(*) AS n FROM t GROUP BY cat ORDER BY cat",
    );
    let counts: Vec<i64> = b
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(counts.iter().sum::<i64>(), N);
    assert_eq!(counts.len(), 7);
    let b = sql(
        &ctx,
        "SELECT id, x, emb FROM t WHERE id IN (5, 299999) ORDER BY id",
    );
    let b = arrow_select::concat::concat_batches(&b[0].schema(), &b).unwrap();
    assert_eq!(
        b.column(0).as_primitive::<Int64Type>().values(),
        &[5, 299_999]
    );
    assert_eq!(
        b.column(1).as_primitive::<Float64Type>().values(),
        &[0.005, 299.999]
    );
    let emb = b.column(2).as_fixed_size_list();
    assert_eq!(
        emb.value(1).as_primitive::<Float32Type>().values(),
        &[299_999.0, 1.0, 2.0, 3.0]
    );
    // array_element on the embedding column
    let b = sql(&ctx, "SELECT sum(array_element(emb, 2)) FROM t");
    assert_eq!(
        b[0].column(0).as_primitive::<Float64Type>().value(0),
        N as f64
    );
}

#[test]
fn every_row_is_read_once_across_partitions_in_whole_chunks() {
    let d = Dir::new();
    write_table(&d.path("t"), 0..N);
    for partitions in [1, 2, 3, 8] {
        let ctx = session_context_with(
            SessionConfig::new()
                .with_target_partitions(partitions)
                .with_batch_size(1000),
        );
        ctx.register_mmarrow("t", d.path("t")).unwrap();
        let (out, plan) = run_plan(&ctx, "SELECT id FROM t");
        let mut ids: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert!(
            out.iter().all(|b| b.num_rows() <= 1000),
            "batches of the session's size"
        );
        ids.sort_unstable();
        assert!(
            ids == (0..N).collect::<Vec<_>>(),
            "{partitions} partitions: {} rows",
            ids.len()
        );
        let shown = plan_text(&plan);
        assert!(shown.contains("file_type=mmarrow"), "{shown}");
        if partitions > 1 {
            // ranges count rows and start on chunk boundaries
            let starts: Vec<u64> = shown
                .split(':')
                .skip(1)
                .filter_map(|s| s.split("..").next()?.parse().ok())
                .collect();
            assert!(
                starts.len() > 1 && starts.iter().all(|s| s % 65_536 == 0),
                "{shown}"
            );
        }
    }
}

#[test]
fn batches_point_into_the_mapped_files() {
    let (d, ctx) = table_ctx(0..N);
    let out = sql(&ctx, "SELECT id, cat FROM t");
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mapped_from = |p: usize| {
        maps.lines().find_map(|l| {
            let (range, rest) = l.split_once(' ')?;
            let (a, b) = range.split_once('-')?;
            let (a, b) = (
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            );
            (a..b)
                .contains(&p)
                .then(|| rest.split_whitespace().nth(4).unwrap_or("").to_string())
        })
    };
    let dir = d.path("t").canonicalize().unwrap();
    for b in &out {
        let ids = b.column(0).as_primitive::<Int64Type>().values().as_ptr() as usize;
        let cat = b.column(1).as_string::<i32>().values().as_ptr() as usize;
        for p in [ids, cat] {
            let file = mapped_from(p).unwrap_or_default();
            assert!(
                file.starts_with(dir.to_str().unwrap()),
                "buffer at {p:#x} is not in a map of the table ({file:?})"
            );
        }
    }
}

#[test]
fn a_static_filter_skips_chunks_its_statistics_exclude() {
    let (_d, ctx) = table_ctx(0..N);
    let q = "SELECT count(*) FROM t WHERE id BETWEEN 70000 AND 70010";
    let (out, plan) = run_plan(&ctx, q);
    assert_eq!(one_i64(&out), 11);
    assert_eq!(
        metric(&plan, "chunks_scanned"),
        1,
        "only the chunk holding 70000..70010"
    );
    assert_eq!(metric(&plan, "chunks_pruned_statistics"), 4);
    let explain = text(&sql(&ctx, &format!("EXPLAIN {q}")));
    assert!(
        explain.contains("pruning=4 of 5 chunks skipped by statistics"),
        "{explain}"
    );
    // A string predicate no chunk can exclude, and one that excludes all.
    assert_eq!(
        one_i64(&sql(&ctx, "SELECT count(*) FROM t WHERE cat = 'c3'")),
        (0..N).filter(|i| i % 7 == 3).count() as i64
    );
    let (out, plan) = run_plan(&ctx, "SELECT count(*) FROM t WHERE cat > 'zzz'");
    assert_eq!(one_i64(&out), 0);
    assert_eq!(metric(&plan, "chunks_scanned"), 0);
}

/// Each member keeps which chunks a static predicate leaves (planning and
/// every partition ask again): distinct predicates, more of them than it
/// keeps, each asked twice, keep their own answers.
#[test]
fn kept_pruning_answers_belong_to_their_predicate() {
    let (_d, ctx) = table_ctx(0..N);
    let queries: Vec<(String, i64, usize)> = (0..20i64)
        .map(|k| {
            // chunk k % 5 only, or from chunk k % 5 on
            let chunk = k % 5;
            let lo = chunk * 65_536 + k;
            if k % 2 == 0 {
                let q = format!(
                    "SELECT count(*) FROM t WHERE id BETWEEN {lo} AND {}",
                    lo + 9
                );
                (q, 10, 1)
            } else {
                let q = format!("SELECT count(*) FROM t WHERE id >= {lo}");
                (q, N - lo, (5 - chunk) as usize)
            }
        })
        .collect();
    for round in 0..2 {
        for (q, rows, chunks) in &queries {
            let (out, plan) = run_plan(&ctx, q);
            assert_eq!(one_i64(&out), *rows, "round {round}: {q}");
            assert_eq!(
                metric(&plan, "chunks_scanned"),
                *chunks,
                "round {round}: {q}"
            );
        }
    }
}

/// The partitions share out the chunks a filter leaves to read, not the
/// table's rows: `id < 2 chunks` on two partitions reads one chunk each.
#[test]
fn partitions_share_the_chunks_statistics_leave() {
    let (_d, ctx) = table_ctx(0..N);
    let q = "SELECT count(*) FROM t WHERE id < 131072";
    let (out, plan) = run_plan(&ctx, q);
    assert_eq!(one_i64(&out), 131_072);
    let shown = plan_text(&plan);
    assert!(
        shown.contains("2 groups: [[") && shown.contains(":0..65536], ["),
        "{shown}"
    );
    assert_eq!(metric(&plan, "chunks_scanned"), 2);
    // Without a filter, the rows are split as before.
    let (_, plan) = run_plan(&ctx, "SELECT count(x) FROM t");
    let shown = plan_text(&plan);
    assert!(!shown.contains(":0..65536]"), "{shown}");
}

#[test]
fn topk_dynamic_filters_skip_chunks_as_the_query_runs() {
    let d = Dir::new();
    write_table(&d.path("t"), 0..N);
    let ctx = session_context_with(SessionConfig::new().with_target_partitions(1));
    ctx.register_mmarrow("t", d.path("t")).unwrap();
    // Ascending ids: after the first chunk the top-10 threshold excludes every later one.
    let (out, plan) = run_plan(&ctx, "SELECT id FROM t ORDER BY x LIMIT 10");
    let ids: Vec<i64> = out
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    assert!(
        metric(&plan, "chunks_pruned_statistics") >= 3,
        "{}",
        metric(&plan, "chunks_pruned_statistics")
    );
    // Descending: the filter only tightens; the result is still right.
    let out = sql(&ctx, "SELECT id FROM t ORDER BY x DESC LIMIT 3");
    let ids: Vec<i64> = out
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, vec![N - 1, N - 2, N - 3]);
}

#[test]
fn hash_join_dynamic_filters_prune_the_probe_side() {
    let d = Dir::new();
    write_table(&d.path("big"), 0..N);
    write_table(&d.path("small"), 200_000..200_005);
    let ctx = session_context_with(SessionConfig::new().with_target_partitions(1));
    ctx.register_mmarrow("big", d.path("big")).unwrap();
    ctx.register_mmarrow("small", d.path("small")).unwrap();
    let (out, plan) = run_plan(
        &ctx,
        "SELECT count(*) FROM big JOIN small ON big.id = small.id",
    );
    assert_eq!(one_i64(&out), 5);
    assert!(
        metric(&plan, "chunks_pruned_statistics") >= 3,
        "{}",
        plan_text(&plan)
    );
}

#[test]
fn statistics_are_exact_and_answer_count_without_a_scan() {
    let d = Dir::new();
    write_table(&d.path("t"), 0..N);
    let t = MmarrowTable::open(d.path("t")).unwrap();
    let s = datafusion::catalog::TableProvider::statistics(&t).unwrap();
    use datafusion::common::stats::Precision;
    assert_eq!(s.num_rows, Precision::Exact(N as usize));
    assert_eq!(
        s.column_statistics[0].min_value,
        Precision::Exact(0i64.into())
    );
    assert_eq!(
        s.column_statistics[0].max_value,
        Precision::Exact((N - 1).into())
    );
    assert_eq!(s.column_statistics[0].null_count, Precision::Exact(0));
    assert!(
        matches!(s.column_statistics[1].max_value, Precision::Inexact(_)),
        "floats may hold NaN"
    );
    let ctx = ctx2();
    ctx.register_table("t", Arc::new(t)).unwrap();
    let (out, plan) = run_plan(&ctx, "SELECT count(*), min(id), max(id) FROM t");
    assert_eq!(
        text(&out)
            .lines()
            .nth(3)
            .unwrap()
            .split('|')
            .map(str::trim)
            .collect::<Vec<_>>()[1..4],
        ["300000", "0", "299999"]
    );
    let shown = plan_text(&plan);
    assert!(
        !shown.contains("DataSourceExec"),
        "answered from statistics: {shown}"
    );
}

#[test]
fn arrays_datasets_and_fortran_columns() {
    let d = Dir::new();
    std::fs::create_dir(d.path("shards")).unwrap();
    // Three .npy shards of 2-D float32 rows, as numpy dumps embeddings.
    let mut all = Vec::new();
    for s in 0..3 {
        let rows = 1000 + s * 10;
        let vals: Vec<f32> = (0..rows * 3).map(|i| (s * 100_000 + i) as f32).collect();
        all.extend(vals.chunks(3).map(|c| c.to_vec()));
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, 3), }}");
        std::fs::write(
            d.path(&format!("shards/emb_{s:03}.npy")),
            npy(&dict, &bytes),
        )
        .unwrap();
    }
    let ctx = ctx2();
    for (name, path) in [
        ("by_dir", d.path("shards")),
        ("by_glob", d.path("shards/emb_*.npy")),
    ] {
        let t = ctx.register_mmarrow(name, &path).unwrap();
        assert_eq!(t.paths().count(), 3);
        assert_eq!(
            datafusion::catalog::TableProvider::schema(t.as_ref())
                .field(0)
                .name(),
            "emb"
        );
        let out = sql(
            &ctx,
            &format!("SELECT count(*), sum(array_element(emb, 1)) FROM {name}"),
        );
        assert_eq!(
            out[0].column(0).as_primitive::<Int64Type>().value(0),
            all.len() as i64
        );
        let want: f64 = all.iter().map(|r| r[0] as f64).sum();
        assert_eq!(
            out[0].column(1).as_primitive::<Float64Type>().value(0),
            want
        );
    }
    // A shard of another row shape is refused, naming it.
    let bytes: Vec<u8> = (0..8).flat_map(|v| (v as f32).to_le_bytes()).collect();
    std::fs::write(
        d.path("shards/emb_003.npy"),
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
            &bytes,
        ),
    )
    .unwrap();
    let e = MmarrowTable::open(d.path("shards"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("emb_003.npy") && e.contains("first member"),
        "{e}"
    );

    // Fortran order (n, 2): two zero-copy columns.
    let vals: Vec<f64> = (0..10).map(f64::from).collect(); // column 0: 0..5, column 1: 5..10
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(
        d.path("f.npy"),
        npy(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (5, 2), }",
            &bytes,
        ),
    )
    .unwrap();
    ctx.register_mmarrow("f", d.path("f.npy")).unwrap();
    let out = sql(&ctx, "SELECT sum(f_0), sum(f_1) FROM f");
    assert_eq!(
        out[0].column(0).as_primitive::<Float64Type>().value(0),
        10.0
    );
    assert_eq!(
        out[0].column(1).as_primitive::<Float64Type>().value(0),
        35.0
    );
}

#[test]
fn a_file_that_shrank_is_an_error_not_a_crash() {
    let d = Dir::new();
    let vals: Vec<u8> = (0..100_000)
        .flat_map(|v: i32| (v as f64).to_le_bytes())
        .collect();
    let p = d.file(
        "x.npy",
        &npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (100000,), }",
            &vals,
        ),
    );
    let ctx = ctx2();
    ctx.register_mmarrow("x", &p).unwrap();
    assert_eq!(sql(&ctx, "SELECT sum(x) FROM x").len(), 1); // maps it: kept for later scans
    let unscanned = ctx2();
    unscanned.register_mmarrow("x", &p).unwrap();
    // Rewritten shorter (header and file both say 10 rows now).
    let short: Vec<u8> = (0..10)
        .flat_map(|v: i32| (v as f64).to_le_bytes())
        .collect();
    std::fs::write(
        &p,
        npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }",
            &short,
        ),
    )
    .unwrap();
    let e = sql_err(&ctx, "SELECT sum(x) FROM x");
    assert!(
        e.contains("x.npy")
            && e.contains("changed since it was opened")
            && e.contains("the array needs"),
        "{e}"
    );
    let e = sql_err(&unscanned, "SELECT sum(x) FROM x");
    assert!(
        e.contains("x.npy") && e.contains("it has 10 rows, the query was planned over 100000"),
        "{e}"
    );
}

#[test]
fn a_table_column_that_shrank_is_an_error_and_rows_planned_are_kept() {
    let (d, ctx) = table_ctx(0..N);
    let sum: i64 = (0..N).sum();
    assert_eq!(one_i64(&sql(&ctx, "SELECT sum(id) FROM t")), sum); // a scan: maps `id`
                                                                   // Rows appended after registration are not seen by this provider.
    let b = table_batch(N..N + 10);
    let mut w = mmarrow::TableWriter::open(d.path("t"), Default::default()).unwrap();
    w.append(&b).unwrap();
    w.finish().unwrap();
    assert_eq!(one_i64(&sql(&ctx, "SELECT sum(id) FROM t")), sum);
    assert_eq!(one_i64(&sql(&ctx, "SELECT count(id) FROM t")), N);
    let fresh = session_context();
    fresh.register_mmarrow("t", d.path("t")).unwrap();
    assert_eq!(one_i64(&sql(&fresh, "SELECT count(id) FROM t")), N + 10);
    // A column file cut short under the live maps.
    std::fs::File::options()
        .write(true)
        .open(d.path("t/c0.values"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    // Mapped by an earlier scan: the shrink is seen at the next one; not
    // yet mapped: the open finds the file shorter than its committed rows.
    let e = sql_err(&ctx, "SELECT sum(id) FROM t");
    assert!(
        e.contains("c0.values") && e.contains("changed since it was opened"),
        "{e}"
    );
    let e = sql_err(&fresh, "SELECT max(x) + sum(id) FROM t");
    assert!(
        e.contains("c0.values") && e.contains("the committed rows need"),
        "{e}"
    );
}

#[test]
fn create_external_table_stored_as_mmarrow() {
    let d = Dir::new();
    write_table(&d.path("t"), 0..1000);
    let ctx = session_context();
    let loc = d.path("t").display().to_string();
    sql(
        &ctx,
        &format!("CREATE EXTERNAL TABLE t STORED AS MMARROW LOCATION '{loc}'"),
    );
    assert_eq!(
        one_i64(&sql(&ctx, "SELECT count(*) FROM t WHERE id < 10")),
        10
    );
    let e = sql_err(
        &ctx,
        &format!(
            "CREATE EXTERNAL TABLE u STORED AS MMARROW LOCATION '{loc}' OPTIONS ('bogus' 'x')"
        ),
    );
    assert!(e.contains("unknown option"), "{e}");
    let e = sql_err(
        &ctx,
        &format!("CREATE EXTERNAL TABLE v STORED AS MMARROW LOCATION '{loc}/missing'"),
    );
    assert!(e.contains("missing"), "{e}");
    // The default formats are still there.
    let e = sql_err(
        &ctx,
        &format!("CREATE EXTERNAL TABLE w STORED AS PARQUET LOCATION '{loc}/nothing.parquet'"),
    );
    assert!(!e.contains("Unable to find factory"), "{e}");
}

#[test]
fn vector_functions_match_a_direct_computation() {
    let (_d, ctx) = table_ctx(0..2000);
    let q = [10.0f32, 1.0, 2.0, 4.0];
    let out = sql(&ctx, "SELECT id, l2_distance(emb, [10.0, 1.0, 2.0, 4.0]) AS l2, cosine_distance(emb, [10, 1, 2, 4]) AS cos, inner_product(emb, emb) AS ip FROM t ORDER BY l2 LIMIT 3");
    assert_eq!(out[0].schema().field(1).data_type(), &DataType::Float32);
    let ids: Vec<i64> = out
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, vec![10, 9, 11]);
    let b = &out[0];
    for r in 0..b.num_rows() {
        let id = b.column(0).as_primitive::<Int64Type>().value(r) as f32;
        let v = [id, 1.0, 2.0, 3.0];
        let l2 = v
            .iter()
            .zip(q)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt();
        let dot: f32 = v.iter().zip(q).map(|(a, b)| a * b).sum();
        let cos = 1.0
            - dot
                / (v.iter().map(|a| a * a).sum::<f32>().sqrt()
                    * q.iter().map(|a| a * a).sum::<f32>().sqrt());
        let ip: f32 = v.iter().map(|a| a * a).sum();
        assert!((b.column(1).as_primitive::<Float32Type>().value(r) - l2).abs() < 1e-4);
        assert!((b.column(2).as_primitive::<Float32Type>().value(r) - cos).abs() < 1e-5);
        assert!((b.column(3).as_primitive::<Float32Type>().value(r) - ip).abs() < 1e-2);
    }
    let e = sql_err(&ctx, "SELECT l2_distance(emb, [1.0, 2.0]) FROM t");
    assert!(e.contains("vectors of 4 and 2 elements"), "{e}");
    let e = sql_err(&ctx, "SELECT l2_distance(id, [1.0]) FROM t");
    assert!(e.contains("takes vectors"), "{e}");
}

#[test]
fn a_plan_decoded_elsewhere_needs_only_paths_ranges_and_the_source() {
    // What a distributed engine rebuilds: a fresh source (no members
    // cache), files named by object-store path, sizes and ranges in rows.
    use datafusion::datasource::listing::PartitionedFile;
    use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
    use datafusion::datasource::source::DataSourceExec;
    use datafusion::execution::object_store::ObjectStoreUrl;
    let d = Dir::new();
    write_table(&d.path("t b"), 0..N);
    let schema = mmarrow::Table::open(d.path("t b")).unwrap().schema();
    let loc = object_store::path::Path::from_iter(
        d.path("t b").iter().skip(1).map(|c| c.to_str().unwrap()),
    );
    let file = |a: i64, b: i64| {
        PartitionedFile::new_from_meta(object_store::ObjectMeta {
            location: loc.clone(),
            last_modified: Default::default(),
            size: N as u64,
            e_tag: None,
            version: None,
        })
        .with_range(a, b)
    };
    let source = mmarrow::datafusion::MmarrowSource::new(schema, Default::default());
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
        .with_file_groups(vec![
            FileGroup::new(vec![file(0, 1000)]),
            FileGroup::new(vec![file(1000, N)]),
        ])
        .with_projection_indices(Some(vec![0]))
        .unwrap()
        .build();
    let plan = DataSourceExec::from_data_source(config);
    // Work stealing lets one partition's stream take the others' files;
    // a distributed engine, which runs each partition alone, must turn it off.
    let mut config = SessionConfig::new();
    config
        .options_mut()
        .execution
        .enable_file_stream_work_stealing = false;
    let ctx = SessionContext::new_with_config(config);
    let rt = rt();
    for (part, want) in [(0usize, 0..1000i64), (1, 1000..N)] {
        let s = plan.execute(part, ctx.task_ctx()).unwrap();
        let out: Vec<RecordBatch> = rt
            .block_on(async { futures::TryStreamExt::try_collect(s).await })
            .unwrap();
        let ids: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        let want: Vec<i64> = want.collect();
        assert!(
            ids == want,
            "partition {part} read {} rows, not its {}",
            ids.len(),
            want.len()
        );
    }
}

#[test]
fn limits_stop_the_scan_early() {
    let (_d, ctx) = table_ctx(0..N);
    let (out, plan) = run_plan(&ctx, "SELECT id FROM t LIMIT 5");
    assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert!(
        metric(&plan, "chunks_scanned") <= 2,
        "{}",
        metric(&plan, "chunks_scanned")
    );
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::Command;

    fn mmarrow(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        use std::io::Write;
        let mut c = Command::new(env!("CARGO_BIN_EXE_mmarrow"));
        c.args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn sql_runs_statements_over_named_tables_and_times_them() {
        let d = Dir::new();
        write_table(&d.path("t.tbl"), 0..1000);
        let t = d.path("t.tbl").display().to_string();
        let (code, out, err) = mmarrow(
            &[
                "sql",
                "SELECT count(*) AS n FROM t; SELECT max(id) AS m FROM u",
                "--table",
                &t,
                "--table",
                &format!("u={t}"),
                "--timing",
            ],
            None,
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("| 1000 |") && out.contains("| 999 |"), "{out}");
        let timings: Vec<&str> = err.lines().filter(|l| l.ends_with(" µs")).collect();
        assert_eq!(timings.len(), 2, "{err}");
        assert!(timings[0].starts_with("statement 1: 1 rows in "), "{err}");
        // Empty statements between delimiters are skipped, not run.
        let (code, out, err) = mmarrow(
            &["sql", ";SELECT 7 AS a;; ;SELECT 8 AS b;", "--timing"],
            None,
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("| 7 |") && out.contains("| 8 |"), "{out}");
        assert_eq!(
            err.lines().filter(|l| l.ends_with(" µs")).count(),
            2,
            "{err}"
        );
        // From stdin: CREATE EXTERNAL TABLE, then a query.
        let script = format!("CREATE EXTERNAL TABLE z STORED AS MMARROW LOCATION '{t}';\nSELECT sum(id) AS s FROM z WHERE id < 10;");
        let (code, out, err) = mmarrow(&["sql", "-"], Some(&script));
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("| 45 |"), "{out}");
    }

    #[test]
    fn sql_errors_are_one_line_with_exit_2() {
        let d = Dir::new();
        write_table(&d.path("t"), 0..10);
        let t = d.path("t").display().to_string();
        for (args, want) in [
            (vec!["sql", "SELECT nope FROM t", "-t", &t], "nope"),
            (vec!["sql", "SELEC 1"], "SELEC"),
            // Two statements need a `;` between them.
            (vec!["sql", "SELECT 1 SELECT 2"], "end of statement"),
            (vec!["sql", ";; ;"], "no SQL statement"),
            (vec!["sql", "SELECT 1", "-t", "/nonexistent/x.npy"], "x.npy"),
        ] {
            let (code, out, err) = mmarrow(&args, None);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(out.is_empty());
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with("mmarrow: ") && err.contains(want), "{err}");
        }
    }

    #[test]
    fn sql_writes_results_by_extension_and_never_half_a_file() {
        let d = Dir::new();
        write_table(&d.path("t"), 0..5000);
        let t = d.path("t").display().to_string();
        let q = "SELECT id, cat FROM t WHERE id % 2 = 0";
        for name in ["o.parquet", "o.csv", "o.json", "o.arrow", "o_table"] {
            let o = d.path(name).display().to_string();
            let (code, out, err) = mmarrow(&["sql", q, "-t", &t, "-o", &o], None);
            assert_eq!(code, 0, "{name}: {err}");
            assert!(out.is_empty(), "{out}");
            // Read back through the same command (url tables, or the table).
            let back = if name == "o_table" {
                mmarrow(
                    &[
                        "sql",
                        "SELECT count(*) AS n, sum(id) AS s FROM o_table",
                        "-t",
                        &o,
                    ],
                    None,
                )
            } else {
                mmarrow(
                    &[
                        "sql",
                        &format!("SELECT count(*) AS n, sum(id) AS s FROM '{o}'"),
                    ],
                    None,
                )
            };
            assert_eq!(back.0, 0, "{name}: {}", back.2);
            assert!(back.1.contains("| 2500 | 6247500 |"), "{name}: {}", back.1);
            // Existing output: refused, then replaced with --force.
            let (code, _, err) = mmarrow(&["sql", q, "-t", &t, "-o", &o], None);
            assert_eq!(code, 2, "{err}");
            let (code, _, err) = mmarrow(&["sql", q, "-t", &t, "-o", &o, "--force"], None);
            assert_eq!(code, 0, "{err}");
        }
        // A failing query leaves no output and no temporary file.
        let o = d.path("bad.parquet").display().to_string();
        let (code, _, _) = mmarrow(
            &["sql", "SELECT 1 / (id - id) FROM t", "-t", &t, "-o", &o],
            None,
        );
        let left: Vec<_> = std::fs::read_dir(d.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.iter().all(|n| !n.to_string_lossy().contains("bad")),
            "{code}: {left:?}"
        );
    }
}

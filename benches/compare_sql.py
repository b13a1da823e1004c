#!/usr/bin/env python3
"""DataFusion over mmarrow tables (issue 13) against DataFusion over Parquet,
DataFusion over a MemTable of the same batches, DuckDB over the Parquet and
DuckDB over its native table, side by side in one run.

Data (made once under --dir by pyarrow/numpy; seeded):

  * t: 10,000,000 rows: id int64 (0..N, in order), x float64 (uniform),
       cat utf8 (100 values, uniform), ts timestamp[us] (one event per ms,
       in id order), emb fixed_size_list<float32, 16> (standard normal).
       As Parquet: zstd, 10 row groups (pyarrow). As an mmarrow table:
       `mmarrow convert t.parquet t`.
  * knn: 1,000,000 x 768 float32 (standard normal) as .npy (3 GB), for
       `ORDER BY l2_distance(emb, q) LIMIT 10` against DuckDB's
       `array_distance` over its native FLOAT[768] table.

Engines, each with 2 threads, page cache hot:

  * mmarrow   `mmarrow sql --timing` (the `release-lto` build with
              --features datafusion, as README says to install it; any
              other build with --mmarrow): the table registered with
              --table; each query
              run 7 times in one process, the per-statement µs it prints.
  * df_parquet the same process and session: `CREATE EXTERNAL TABLE p
              STORED AS PARQUET` (DataFusion 55.2's ParquetSource).
  * df_mem    the same process: `CREATE TABLE m AS SELECT * FROM t` (a
              MemTable holding the batches the mmarrow scan produced).
  * duckdb_pq / duckdb_native  DuckDB 2.0.1 in this Python process:
              a view over read_parquet, and `CREATE TABLE AS`; `SET threads = 2`.

Timing: mmarrow's figures are `--timing`'s, in-process (each statement's
parsing, planning, execution and printing); DuckDB's are wall time around
`con.sql(q).fetchall()`, its Python call included. The `SELECT 1` row is
each route's floor (a query that reads nothing).

Per round, each engine runs every query 7 times (the first is a warm-up
that is kept out); the round's figure is the median of the remaining 6.
Rounds alternate the engine order; the table gives the median over rounds
and the range. Prints ratios against the goals of issue 13.

Usage:
  cargo build --profile release-lto --features datafusion   # ~30 min from clean
  .venv/bin/python benches/compare_sql.py                 # ~6 min (+3 min inputs once)
  .venv/bin/python benches/compare_sql.py --rounds 3 --skip-knn
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = 10_000_000
KNN_ROWS, KNN_DIM = 1_000_000, 768
REPS = 7
# Each route's floor, a query that reads nothing: mmarrow's figures are
# in-process (`--timing`: parse, plan, run, print), DuckDB's are wall time
# around `con.sql(q).fetchall()` in this Python process.
FLOOR = "SELECT 1"

QUERIES = {
    "Q1": "SELECT sum(x), avg(x) FROM {t}",
    "Q2": "SELECT count(*) FROM {t} WHERE id BETWEEN 5000000 AND 5010000",
    "Q3": "SELECT cat, count(*), avg(x) FROM {t} GROUP BY cat",
    "Q4": "SELECT min(ts), max(ts) FROM {t} WHERE cat = 'c42'",
    "Q5": "SELECT id FROM {t} ORDER BY x DESC LIMIT 10",
}


def make_inputs(d: Path, mmarrow: Path, knn: bool) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    d.mkdir(parents=True, exist_ok=True)
    if not (d / "t").exists():
        rng = np.random.default_rng(42)
        ids = np.arange(N, dtype=np.int64)
        cats = pa.array([f"c{i}" for i in range(100)])
        cat = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 100, N).astype(np.int32)), cats).cast(pa.string())
        ts = (np.datetime64("2026-01-01T00:00:00", "us") + ids.astype("timedelta64[ms]")).astype("datetime64[us]")
        emb = pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(N * 16, dtype=np.float32)), 16)
        t = pa.table({"id": ids, "x": rng.random(N), "cat": cat, "ts": pa.array(ts, pa.timestamp("us")), "emb": emb})
        pq.write_table(t, d / "t.parquet", compression="zstd", row_group_size=N // 10)
        del t
        subprocess.run([str(mmarrow), "convert", str(d / "t.parquet"), str(d / "t"), "--quiet"], check=True)
    if knn and not (d / "knn.npy").exists():
        rng = np.random.default_rng(7)
        m = np.lib.format.open_memmap(d / "knn.npy", mode="w+", dtype=np.float32, shape=(KNN_ROWS, KNN_DIM))
        for s in range(0, KNN_ROWS, 100_000):
            m[s : s + 100_000] = rng.standard_normal((100_000, KNN_DIM), dtype=np.float32)
        m.flush()
        del m


def warm(paths: list[Path]) -> None:
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def run_datafusion(mmarrow: Path, d: Path, engines: list[str], knn_query: str | None) -> dict[str, dict[str, float]]:
    """One `mmarrow sql` process: each engine's queries REPS times; ms per query."""
    stmts, labels = [], []
    stmts.append("SET datafusion.execution.target_partitions = 2")
    labels.append(None)
    names = {"mmarrow": "t", "df_parquet": "p", "df_mem": "m"}
    if "df_parquet" in engines:
        stmts.append(f"CREATE EXTERNAL TABLE p STORED AS PARQUET LOCATION '{d / 't.parquet'}'")
        labels.append(None)
    if "df_mem" in engines:
        stmts.append("CREATE TABLE m AS SELECT * FROM t")
        labels.append(None)
    for e in engines:
        for q, sql in QUERIES.items():
            for _ in range(REPS):
                stmts.append(sql.format(t=names[e]))
                labels.append((e, q))
    for _ in range(REPS):
        stmts.append(FLOOR)
        labels.append(("mmarrow", FLOOR))
    if knn_query:
        for _ in range(REPS):
            stmts.append(knn_query)
            labels.append(("mmarrow", "kNN"))
    args = [str(mmarrow), "sql", ";\n".join(stmts), "--table", f"t={d / 't'}", "--timing"]
    if knn_query:
        args += ["--table", f"knn={d / 'knn.npy'}"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"mmarrow sql failed: {p.stderr}")
    times = [int(m.group(1)) / 1000 for m in re.finditer(r"rows in (\d+) µs", p.stderr)]
    assert len(times) == len(stmts), (len(times), len(stmts), p.stderr[-500:])
    out: dict[str, dict[str, list[float]]] = {}
    for label, ms in zip(labels, times):
        if label:
            out.setdefault(label[0], {}).setdefault(label[1], []).append(ms)
    return {e: {q: statistics.median(v[1:]) for q, v in qs.items()} for e, qs in out.items()}


def run_duckdb(con, engines: list[str], knn_query: str | None) -> dict[str, dict[str, float]]:
    names = {"duckdb_pq": "pq", "duckdb_native": "native"}
    out: dict[str, dict[str, float]] = {}
    for e in engines:
        for q, sql in QUERIES.items():
            ts = []
            for _ in range(REPS):
                t0 = time.perf_counter()
                con.sql(sql.format(t=names[e])).fetchall()
                ts.append((time.perf_counter() - t0) * 1000)
            out.setdefault(e, {})[q] = statistics.median(ts[1:])
    ts = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        con.sql(FLOOR).fetchall()
        ts.append((time.perf_counter() - t0) * 1000)
    out.setdefault("duckdb_native", {})[FLOOR] = statistics.median(ts[1:])
    if knn_query:
        ts = []
        for _ in range(REPS):
            t0 = time.perf_counter()
            con.sql(knn_query).fetchall()
            ts.append((time.perf_counter() - t0) * 1000)
        out.setdefault("duckdb_native", {})["kNN"] = statistics.median(ts[1:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mmarrow-bench-sql"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-knn", action="store_true")
    ap.add_argument("--mmarrow", type=Path, default=ROOT / "target/release-lto/mmarrow")
    a = ap.parse_args()
    if not a.mmarrow.is_file():
        sys.exit(
            f"{a.mmarrow} not found: cargo build --profile release-lto --features datafusion "
            "(or --mmarrow PATH for another build)"
        )
    import duckdb
    import numpy as np

    knn = not a.skip_knn
    make_inputs(a.dir, a.mmarrow, knn)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE VIEW pq AS SELECT * FROM read_parquet('{a.dir / 't.parquet'}')")
    con.execute(f"CREATE TABLE native AS SELECT * FROM read_parquet('{a.dir / 't.parquet'}')")
    q_df = q_duck = None
    if knn:
        import pyarrow as pa

        arr = np.load(a.dir / "knn.npy", mmap_mode="r")
        qv = np.asarray(arr[123_456], dtype=np.float32) + 0.001
        lit = ", ".join(f"{v:.7g}" for v in qv)
        tbl = pa.table({"emb": pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), KNN_DIM)})
        con.execute("CREATE TABLE knn AS SELECT * FROM tbl")
        del tbl
        q_df = f"SELECT l2_distance(knn, [{lit}]) AS d FROM knn ORDER BY d LIMIT 10"
        q_duck = f"SELECT array_distance(emb, [{lit}]::FLOAT[{KNN_DIM}]) AS d FROM knn ORDER BY d LIMIT 10"
    results: dict[str, dict[str, list[float]]] = {}
    df_engines = ["mmarrow", "df_parquet", "df_mem"]
    duck_engines = ["duckdb_pq", "duckdb_native"]
    for r in range(a.rounds):
        warm([a.dir / "t", a.dir / "t.parquet"] + ([a.dir / "knn.npy"] if knn else []))
        order = [0, 1] if r % 2 == 0 else [1, 0]
        for side in order:
            if side == 0:
                res = run_datafusion(a.mmarrow, a.dir, df_engines if r % 2 == 0 else df_engines[::-1], q_df)
            else:
                res = run_duckdb(con, duck_engines if r % 2 == 0 else duck_engines[::-1], q_duck)
            for e, qs in res.items():
                for q, ms in qs.items():
                    results.setdefault(e, {}).setdefault(q, []).append(ms)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    def med(e, q):
        return statistics.median(results[e][q])

    cols = ["mmarrow", "df_parquet", "df_mem", "duckdb_pq", "duckdb_native"]
    print(f"{a.rounds} rounds, median of {REPS - 1} runs each; ms, median [range over rounds]")
    print("| query | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for q in list(QUERIES) + [FLOOR] + (["kNN"] if knn else []):
        cells = []
        for e in cols:
            v = results.get(e, {}).get(q)
            digits = 2 if q == FLOOR else 1
            cells.append(f"{statistics.median(v):.{digits}f} [{min(v):.{digits}f}–{max(v):.{digits}f}]" if v else "—")
        print(f"| {q} | " + " | ".join(cells) + " |")
    print()
    print("Goals (ratios of medians):")
    for q in ["Q1", "Q4", "Q5"]:
        x = med("df_parquet", q) / med("mmarrow", q)
        print(f"  {q}: DataFusion-on-Parquet / mmarrow = {x:.2f}x (goal >= 3)  {'OK' if x >= 3 else 'MISSED'}")
    for q in QUERIES:
        x = med("duckdb_native", q) / med("mmarrow", q)
        print(f"  {q}: DuckDB native / mmarrow = {x:.2f}x (goal > 1)  {'OK' if x > 1 else 'MISSED'}")
    for q in QUERIES:
        x = med("mmarrow", q) / med("df_mem", q)
        print(f"  {q}: mmarrow / MemTable = {x:.2f}x (goal <= 1.2)  {'OK' if x <= 1.2 else 'MISSED'}")
    if knn:
        x = med("duckdb_native", "kNN") / med("mmarrow", "kNN")
        print(f"  kNN: DuckDB native array_distance / mmarrow = {x:.2f}x")


if __name__ == "__main__":
    main()

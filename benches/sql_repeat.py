#!/usr/bin/env python3
"""One short query many times: `mmarrow sql --timing` builds against DuckDB's
native table, alternated (issue 13's Q2; BENCHMARKS.md, "Q2 after stop 23").

Each build runs the query 300 times in one `mmarrow sql` process (the
per-statement µs of `--timing`, the first 11 dropped); DuckDB runs it 300
times through `con.sql(q).fetchall()` on its native table (`SET threads =
2`), and `SELECT 1` the same way (its route's floor). Prints the median µs
of each, per round. Needs the inputs of benches/compare_sql.py.

Usage:
  .venv/bin/python benches/sql_repeat.py --mmarrow target/release/mmarrow --mmarrow target/release-lto/mmarrow
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from pathlib import Path

Q2 = "SELECT count(*) FROM {t} WHERE id BETWEEN 5000000 AND 5010000"
RUNS, DROP = 300, 11


def run_mmarrow(binary: Path, d: Path, query: str) -> float:
    text = "SET datafusion.execution.target_partitions = 2;\n" + "".join(f"{query.format(t='t')};\n" for _ in range(RUNS))
    p = subprocess.run([str(binary), "sql", text, "-t", f"t={d / 't'}", "--timing"], capture_output=True, text=True, check=True)
    us = [int(m.group(1)) for m in re.finditer(r"rows in (\d+) µs", p.stderr)][1:]
    assert len(us) == RUNS, p.stderr[-300:]
    return statistics.median(us[DROP:])


def run_duckdb(con, q: str) -> float:
    ts = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        con.sql(q).fetchall()
        ts.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(ts[DROP:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mmarrow-bench-sql"))
    ap.add_argument("--mmarrow", type=Path, action="append", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--query", default=Q2, help="with {t} for the table name")
    a = ap.parse_args()
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE TABLE native AS SELECT * FROM read_parquet('{a.dir / 't.parquet'}')")
    print("| round | " + " | ".join(str(b) for b in a.mmarrow) + " | DuckDB native | DuckDB `SELECT 1` |")
    print("|---|" + "---:|" * (len(a.mmarrow) + 2))
    for r in range(a.rounds):
        cells = [f"{run_mmarrow(b, a.dir, a.query):.0f}" for b in a.mmarrow]
        cells += [f"{run_duckdb(con, a.query.format(t='native')):.0f}", f"{run_duckdb(con, 'SELECT 1'):.0f}"]
        print(f"| {r + 1} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""pyarrow's zero-copy open of Arrow IPC files: the reference figure for
`table/open-*` in `benches/table.rs`.

Times `pa.ipc.open_file(pa.memory_map(path)).read_all()` (the returned table
dropped inside the timed statement, so unmapping is timed too, as in the
Rust bench) on:

  * `ipc-f64-10M-1batch`: one float64 column of 10,000,000 rows (80 MB), one
    record batch: the figure the issue quotes (287-333 us for 512 MB);
  * `ipc-12cols-10M` (unless --no-12cols): the bench table's 12 columns and
    10,000,000 rows, read from the bench's Parquet file with pyarrow and
    written as IPC in 1,000,000-row batches (10 record batches, as the
    table was appended): the same data as the mmarrow table.

The files are made once in target/bench-table/ (run `cargo bench --bench
table` first for the Parquet source), then read in full so the page cache
is hot. Cases alternate round by round; each round is one `timeit` of
`number` calls (chosen once per case by `autorange`, >= 0.2 s); printed:
median and range (min-max) over the rounds of the per-call time, wall
(`time.perf_counter`) and CPU (`time.process_time`), in microseconds.

Usage: .venv/bin/python benches/compare_table_open.py [--rounds 7] [--no-12cols] [--raw]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)
import pyarrow.parquet as pq

ROWS = 10_000_000
BATCH = 1_000_000
HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "..", "target", "bench-table")


def make_files(no_12cols: bool) -> dict[str, str]:
    os.makedirs(DIR, exist_ok=True)
    files = {}
    one = os.path.join(DIR, "f64-10M-1batch.arrow")
    if not os.path.exists(one):
        t = pa.table({"x": pa.array(np.arange(ROWS, dtype="<f8") / 100.0)})
        with pa.ipc.new_file(one + ".tmp", t.schema) as w:
            w.write_table(t, max_chunksize=ROWS)
        os.replace(one + ".tmp", one)
    files["ipc-f64-10M-1batch"] = one
    if not no_12cols:
        twelve = os.path.join(DIR, "t12-10M.arrow")
        src = os.path.join(DIR, "t12-10M.zstd1.parquet")
        if not os.path.exists(twelve):
            if not os.path.exists(src):
                raise SystemExit(f"{src} is missing: run `cargo bench --bench table` first")
            t = pq.read_table(src)
            with pa.ipc.new_file(twelve + ".tmp", t.schema) as w:
                w.write_table(t, max_chunksize=BATCH)
            os.replace(twelve + ".tmp", twelve)
        files["ipc-12cols-10M"] = twelve
    for name, path in files.items():
        t = pa.ipc.open_file(pa.memory_map(path)).read_all()
        assert t.num_rows == ROWS, (name, t.num_rows)
        with open(path, "rb") as f:  # page cache hot
            while f.read(1 << 20):
                pass
    return files


def per_call(path: str, number: int) -> tuple[float, float]:
    """Wall and CPU time of one open + read_all + drop, averaged over `number`."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(number):
        pa.ipc.open_file(pa.memory_map(path)).read_all()
    w, c = time.perf_counter() - w0, time.process_time() - c0
    return w / number * 1e6, c / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-12cols", action="store_true")
    ap.add_argument("--raw", action="store_true",
                    help="also print every round to stderr: raw <id> <wall us> <CPU us>")
    args = ap.parse_args()
    files = make_files(args.no_12cols)
    numbers = {}
    for name, path in files.items():
        per_call(path, 200)  # warm up (imports, allocator)
        number = 1
        while True:  # like timeit.autorange: >= 0.2 s per round
            w, _ = per_call(path, number)
            if w * number >= 0.2e6:
                break
            number *= 2
        numbers[name] = number
    wall: dict[str, list[float]] = {n: [] for n in files}
    cpu: dict[str, list[float]] = {n: [] for n in files}
    for _ in range(args.rounds):
        for name, path in files.items():
            w, c = per_call(path, numbers[name])
            wall[name].append(w)
            cpu[name].append(c)
            if args.raw:
                print(f"raw\tpyarrow/{name}\t{w:.3f}\t{c:.3f}", file=sys.stderr)
    print(f"pyarrow {pa.__version__}, Python {platform.python_version()}; "
          f"{args.rounds} rounds (alternating); us per open + read_all + drop")
    print("| id | calls/round | wall median | wall range | CPU median | CPU range |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in files:
        w, c = wall[name], cpu[name]
        print(f"| pyarrow/{name} | {numbers[name]} | {statistics.median(w):.1f} | "
              f"{min(w):.1f}–{max(w):.1f} | {statistics.median(c):.1f} | {min(c):.1f}–{max(c):.1f} |")


if __name__ == "__main__":
    main()

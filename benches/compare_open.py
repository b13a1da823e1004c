#!/usr/bin/env python3
"""Open latency of the Python peers of `benches/open.rs`, in one run.

Times, with `timeit`, opening a 4 KiB and an 8 GiB *sparse* float32 file of
shape (rows, 1) as an array, without reading data:

  * numpy   `np.memmap(path, dtype='<f4', mode='r', shape=(rows, 1))` on a raw file
  * numpy   `np.load(path, mmap_mode='r')` on a .npy file (v1.0 header)
  * pyarrow `pa.ipc.open_file(pa.memory_map(path)).read_all()` on an Arrow
    IPC file of `fixed_size_list<float>[1]` (4 KiB and 64 MiB, written in
    full: an IPC file cannot be made sparse by `truncate`, and the open is
    zero-copy, so size matters little; see BENCHMARKS.md)
  * py-floor: `os.open` + `os.fstat` + `mmap.mmap` + close/unmap of the raw
    file — the Python-side floor, what `np.memmap` cannot go below.

Each returned object is dropped inside the timed statement, so unmapping is
timed too, as in the Rust bench. Tools are alternated round by round
(A B C ... A B C ...); each round is one `timeit` of `number` calls (chosen
once per case by `autorange`, ~0.2 s); the table gives the median over the
rounds and the range (min-max) of the per-call times, in microseconds.

`--timer cpu` times process CPU time (`time.process_time`) instead of wall
time: use it when other processes load the machine, since CPU time leaves
out the time spent waiting for a core.

Usage: .venv/bin/python benches/compare_open.py [--rounds 7] [--timer wall|cpu] [--dir DIR]
Run it right after `cargo bench --bench open` (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import mmap
import os
import platform
import statistics
import tempfile
import time
import timeit

import numpy as np
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)

SMALL_ROWS = 1024  # 4 KiB of float32
BIG_ROWS = 1 << 31  # 8 GiB of float32
IPC_MID_ROWS = 16 << 20  # 64 MiB of float32


def npy_header(shape: tuple[int, ...]) -> bytes:
    """A v1.0 .npy header for little-endian float32, C order, by hand:
    10-byte preamble + dict padded with spaces, ended by '\\n', so the data
    starts on a 64-byte boundary (the same bytes benches/open.rs writes)."""
    dims = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    d = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}"
    unpadded = 10 + len(d) + 1
    padded = -(-unpadded // 64) * 64
    d = d + " " * (padded - unpadded) + "\n"
    return b"\x93NUMPY\x01\x00" + len(d).to_bytes(2, "little") + d.encode("latin-1")


def make_files(d: str) -> dict[str, str]:
    p = {k: os.path.join(d, k) for k in ("small.f32", "big.f32", "small.npy", "big.npy",
                                          "small.arrow", "mid.arrow")}
    with open(p["small.f32"], "wb") as f:
        f.write(np.arange(SMALL_ROWS, dtype="<f4").tobytes())
    with open(p["big.f32"], "wb") as f:
        f.truncate(BIG_ROWS * 4)  # sparse
    with open(p["small.npy"], "wb") as f:
        f.write(npy_header((SMALL_ROWS, 1)))
        f.write(np.arange(SMALL_ROWS, dtype="<f4").tobytes())
    with open(p["big.npy"], "wb") as f:
        h = npy_header((BIG_ROWS, 1))
        f.write(h)
        f.truncate(len(h) + BIG_ROWS * 4)  # sparse
    for name, rows in (("small.arrow", SMALL_ROWS), ("mid.arrow", IPC_MID_ROWS)):
        values = pa.array(np.arange(rows, dtype="<f4"))
        col = pa.FixedSizeListArray.from_arrays(values, 1)
        table = pa.table({"x": col})
        with pa.OSFile(p[name], "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)

    # Sanity: shapes, and the big files really are sparse.
    assert np.memmap(p["small.f32"], dtype="<f4", mode="r", shape=(SMALL_ROWS, 1)).shape == (SMALL_ROWS, 1)
    assert np.load(p["big.npy"], mmap_mode="r").shape == (BIG_ROWS, 1)
    assert np.load(p["small.npy"], mmap_mode="r")[5, 0] == 5.0
    assert pa.ipc.open_file(pa.memory_map(p["mid.arrow"])).read_all().num_rows == IPC_MID_ROWS
    for k in ("big.f32", "big.npy"):
        st = os.stat(p[k])
        assert st.st_blocks * 512 < (1 << 20), f"{k} is not sparse"
    return p


def cases(p: dict[str, str]) -> list[tuple[str, str, str, dict]]:
    """(tool, size label, stmt, globals)."""
    g = {"np": np, "pa": pa, "os": os, "mmap": mmap, **{k.replace(".", "_"): v for k, v in p.items()},
         "SMALL": SMALL_ROWS, "BIG": BIG_ROWS}

    def floor(path: str) -> str:
        # open + fstat + mmap + munmap + close, as np.memmap does at least.
        return (f"fd = os.open({path}, os.O_RDONLY)\n"
                f"n = os.fstat(fd).st_size\n"
                f"m = mmap.mmap(fd, n, access=mmap.ACCESS_READ)\n"
                f"m.close(); os.close(fd)")

    return [
        ("np.memmap", "4KiB", "np.memmap(small_f32, dtype='<f4', mode='r', shape=(SMALL, 1))", g),
        ("np.memmap", "8GiB-sparse", "np.memmap(big_f32, dtype='<f4', mode='r', shape=(BIG, 1))", g),
        ("np.load(mmap_mode='r')", "4KiB", "np.load(small_npy, mmap_mode='r')", g),
        ("np.load(mmap_mode='r')", "8GiB-sparse", "np.load(big_npy, mmap_mode='r')", g),
        ("pa.memory_map+ipc read_all", "4KiB IPC", "pa.ipc.open_file(pa.memory_map(small_arrow)).read_all()", g),
        ("pa.memory_map+ipc read_all", "64MiB IPC", "pa.ipc.open_file(pa.memory_map(mid_arrow)).read_all()", g),
        ("py-floor (open+fstat+mmap+munmap)", "4KiB", floor("small_f32"), g),
        ("py-floor (open+fstat+mmap+munmap)", "8GiB-sparse", floor("big_f32"), g),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="rounds of all tools (>= 5)")
    ap.add_argument("--timer", choices=("wall", "cpu"), default="wall",
                    help="wall: time.perf_counter (default); cpu: time.process_time")
    ap.add_argument("--dir", help="directory for the test files (default: a temp dir)")
    args = ap.parse_args()
    if args.rounds < 5:
        ap.error("--rounds must be at least 5")

    with tempfile.TemporaryDirectory(prefix="mmarrow-compare-open-", dir=args.dir) as d:
        p = make_files(d)
        timers = []
        for tool, size, stmt, g in cases(p):
            clock = time.perf_counter if args.timer == "wall" else time.process_time
            t = timeit.Timer(stmt, timer=clock, globals=g)
            t.timeit(number=200)  # warm up (imports, page cache, allocator)
            number, _ = t.autorange()  # >= 0.2 s per round
            timers.append((tool, size, t, max(number, 1000)))

        results: dict[int, list[float]] = {i: [] for i in range(len(timers))}
        for _ in range(args.rounds):  # alternate: every tool once per round
            for i, (_, _, t, number) in enumerate(timers):
                results[i].append(t.timeit(number=number) / number * 1e6)

    print(f"python {platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}, "
          f"{os.cpu_count()} CPUs, {args.rounds} rounds (alternating), {args.timer} time per call, µs, "
          f"load average at end {os.getloadavg()[0]:.2f}")
    print(f"| {'tool':<34} | {'size':<12} | {'median µs':>9} | {'range µs':>13} | {'calls/round':>11} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 11}:|{'-' * 15}|{'-' * 12}:|")
    for i, (tool, size, _, number) in enumerate(timers):
        r = results[i]
        rng = f"{min(r):.1f}–{max(r):.1f}"
        print(f"| {tool:<34} | {size:<12} | {statistics.median(r):>9.1f} | {rng:>13} | {number:>11} |")


if __name__ == "__main__":
    main()

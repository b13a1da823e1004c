#!/usr/bin/env python3
"""The cache build (issue 12): Parquet -> zero-copy cache, mmarrow vs pyarrow
and polars, side by side in one run.

Inputs (made once by pyarrow with its defaults, `pq.write_table(t, p,
compression="zstd")`, under --dir):

  * cache:  2,000,000 rows (2 row groups of ~1 M): int64, float64 with 5 %
            nulls, float32, int32, nullable strings, 100-value category
            strings, nullable bool, timestamp[us], a 128-wide float32
            tensor; ~988 MB on disk, ~1,169 MB in Arrow
  * tensor: 1,000,000 x 128 float32 (standard normal): one row group
  * vector: 100,000,000 float32: pyarrow's default row groups (1 Mi rows)

Conversions (each its own process; the time is taken inside it, around
the conversion only, imports excluded):

  * cache   mmarrow `from-parquet SRC DIR` (a table; fsyncs)
            pyarrow `pq.read_table` + `pa.ipc.new_file` (no fsync)
            polars  `pl.read_parquet` + `write_ipc` (no fsync)
  * tensor, vector
            mmarrow `from-parquet SRC x.f32` (raw + sidecar; fsyncs)
            pyarrow `pq.read_table` -> values `.to_numpy()` -> `.tofile()`
  * stale   mmarrow `from-parquet SRC DIR --if-stale` on the built cache:
            the process's whole wall time (start to exit)

Method, as benches/compare_parquet.py: tools alternate (round r rotates the
order), >= 5 rounds; before each run the previous output is deleted, the
input re-read (page cache hot) and 2 GiB touched and freed right before the
timed region (memory the host reclaimed is first-touched at a fraction of
the speed); peak anonymous memory is RssAnon of /proc/PID/status sampled
every ~2 ms. Prints medians, ranges, ratios of medians and the goals.

Usage:
  cargo build --release
  .venv/bin/python benches/compare_cache.py            # ~6 min (inputs: +1 min once)
  .venv/bin/python benches/compare_cache.py --rounds 3 --cases cache
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_inputs(d: Path) -> dict[str, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    d.mkdir(parents=True, exist_ok=True)
    out = {"cache": d / "cache.parquet", "tensor": d / "tensor.parquet", "vector": d / "vector.parquet"}
    rng = np.random.default_rng(0)
    if not out["cache"].exists():
        n = 2_000_000
        strs = np.array([f"s{i}-{'x' * (i % 17)}" for i in range(1000)], dtype=object)
        cats = np.array([f"c{i}" for i in range(100)], dtype=object)
        t = pa.table({
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "x": pa.array(rng.standard_normal(n), mask=rng.random(n) < 0.05),
            "f": pa.array(rng.standard_normal(n).astype(np.float32)),
            "i": pa.array(rng.integers(-1000, 1000, n).astype(np.int32)),
            "s": pa.array(strs[rng.integers(0, 1000, n)], type=pa.string(), mask=rng.random(n) < 0.1),
            "cat": pa.array(cats[rng.integers(0, 100, n)], type=pa.string()),
            "b": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.02),
            "ts": pa.array(1_700_000_000_000_000 + np.arange(n, dtype=np.int64) * 1000, type=pa.timestamp("us")),
            "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 128).astype(np.float32)), 128),
        })  # fmt: skip
        pq.write_table(t, out["cache"], compression="zstd")
        del t
    if not out["tensor"].exists():
        m = rng.standard_normal((1_000_000, 128), dtype=np.float32)
        pq.write_table(pa.table({"x": pa.FixedShapeTensorArray.from_numpy_ndarray(m)}), out["tensor"], compression="zstd")
        del m
    if not out["vector"].exists():
        v = rng.standard_normal(100_000_000, dtype=np.float32)
        pq.write_table(pa.table({"x": v}), out["vector"], compression="zstd")
        del v
    return out


def _prewarm(nbytes: int) -> None:
    b = bytearray(nbytes)
    b[::4096] = b"\x01" * len(range(0, nbytes, 4096))
    del b


def driver(argv: list[str]) -> None:
    tool, case, src, dst, mmarrow = argv
    if tool == "mmarrow":
        _prewarm(2 << 30)
        cmd = [mmarrow, "from-parquet", src, dst, "-q"]
        print(json.dumps({"mark": time.monotonic()}), flush=True)
        os.execv(cmd[0], cmd)
    import pyarrow as pa
    import pyarrow.parquet as pq

    if tool == "polars":
        import polars as pl
    _prewarm(2 << 30)
    print(json.dumps({"mark": time.monotonic()}), flush=True)
    base = _rss_anon(os.getpid())
    t0 = time.monotonic()
    if tool == "pyarrow" and case == "cache":
        t = pq.read_table(src)
        with pa.OSFile(dst, "wb") as f, pa.ipc.new_file(f, t.schema) as w:
            w.write_table(t)
    elif tool == "pyarrow":
        t = pq.read_table(src)
        with open(dst, "wb") as f:
            for chunk in t.column(0).chunks:
                if isinstance(chunk, pa.ExtensionArray):
                    chunk = chunk.storage
                if pa.types.is_fixed_size_list(chunk.type):
                    chunk = chunk.flatten()
                chunk.to_numpy(zero_copy_only=True).tofile(f)
    elif tool == "polars":
        pl.read_parquet(src).write_ipc(dst)
    t1 = time.monotonic()
    print(json.dumps({"secs": t1 - t0, "base_kib": base}), flush=True)


def _rss_anon(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            s = f.read()
    except OSError:
        return 0
    i = s.find(b"RssAnon:")
    return int(s[i + 8 :].split()[0]) if i >= 0 else 0


def run(tool: str, case: str, src: Path, dst: Path, mmarrow: str) -> dict:
    if dst.is_dir():
        shutil.rmtree(dst)
    for p in (dst, Path(str(dst) + ".mmarrow.json")):
        if p.exists():
            p.unlink()
    with open(src, "rb") as f:  # page cache hot
        while f.read(64 << 20):
            pass
    proc = subprocess.Popen(
        [sys.executable, __file__, "_driver", tool, case, str(src), str(dst), mmarrow],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = [0]
    marks: list[float] = []

    def watch() -> None:
        # The driver's own prewarm (2 GiB) is not the tool's: the peak
        # counts from the mark (after it; for mmarrow, at the exec).
        while proc.poll() is None:
            if marks:
                peak[0] = max(peak[0], _rss_anon(proc.pid))
            time.sleep(0.002)

    th = threading.Thread(target=watch)
    th.start()
    first = proc.stdout.readline()
    marks.append(json.loads(first)["mark"])
    rest = proc.stdout.read()
    proc.wait()
    end = time.monotonic()
    th.join()
    assert proc.returncode == 0, (tool, case, proc.returncode, rest)
    if tool == "mmarrow":
        secs, base = end - marks[0], 0
    else:
        r = json.loads(rest.splitlines()[-1])
        secs, base = r["secs"], r["base_kib"]
    return {"secs": secs, "peak_mib": peak[0] / 1024, "base_mib": base / 1024}


def stale_run(src: Path, dst: Path, mmarrow: str) -> float:
    t0 = time.monotonic()
    out = subprocess.run([mmarrow, "from-parquet", str(src), str(dst), "--if-stale"], capture_output=True, text=True)
    t1 = time.monotonic()
    assert out.returncode == 0 and "up to date" in out.stdout, out
    return t1 - t0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_driver":
        return driver(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=str(ROOT / "target" / "bench-cache"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", default="cache,tensor,vector,stale")
    ap.add_argument("--mmarrow", default=str(ROOT / "target" / "release" / "mmarrow"))
    a = ap.parse_args()
    d = Path(a.dir)
    inputs = make_inputs(d)
    cases = a.cases.split(",")
    peers = {"cache": ["mmarrow", "pyarrow", "polars"], "tensor": ["mmarrow", "pyarrow"], "vector": ["mmarrow", "pyarrow"]}
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(a.rounds):
        for case in [c for c in cases if c in peers]:
            tools = peers[case]
            tools = tools[r % len(tools) :] + tools[: r % len(tools)]
            for tool in tools:
                dst = d / (f"out-{case}-{tool}" + ("" if tool == "mmarrow" and case == "cache" else ".f32" if tool == "mmarrow" else ".arrow" if case == "cache" else ".bin"))
                res = run(tool, case, inputs[case], dst, a.mmarrow)
                results.setdefault((case, tool), []).append(res)
                print(f"round {r} {case:6} {tool:8} {res['secs']:.3f} s  peak {res['peak_mib']:.0f} MiB", flush=True)
    print()
    print("| case | tool | seconds, median (range) | peak RssAnon MiB, median (base) | mmarrow's speed-up |")
    print("|---|---|---|---|---|")
    med = {}
    for (case, tool), rs in results.items():
        s = [x["secs"] for x in rs]
        med[(case, tool)] = statistics.median(s)
    for (case, tool), rs in results.items():
        s = [x["secs"] for x in rs]
        p = statistics.median(x["peak_mib"] for x in rs)
        b = statistics.median(x["base_mib"] for x in rs)
        ratio = "" if tool == "mmarrow" else f"{med[(case, tool)] / med[(case, 'mmarrow')]:.2f}x"
        print(f"| {case} | {tool} | {med[(case, tool)]:.3f} ({min(s):.3f}-{max(s):.3f}) | {p:.0f} ({b:.0f}) | {ratio} |")
    if "stale" in cases:
        cache_dir = d / "stale-cache"
        if not (cache_dir / "manifest.json").exists():
            subprocess.run([a.mmarrow, "from-parquet", str(inputs["cache"]), str(cache_dir), "-q", "--if-stale"], check=True)
        times = [stale_run(inputs["cache"], cache_dir, a.mmarrow) for _ in range(max(a.rounds, 5))]
        print(f"\nsecond --if-stale run (process start to exit): median {statistics.median(times) * 1e3:.1f} ms "
              f"({min(times) * 1e3:.1f}-{max(times) * 1e3:.1f})")  # fmt: skip
    print("\ngoals:")
    for case, goal, peers_ in (("cache", 3.0, ["pyarrow", "polars"]), ("tensor", 3.0, ["pyarrow"]), ("vector", 1.5, ["pyarrow"])):
        for p in peers_:
            if (case, p) in med:
                r = med[(case, p)] / med[(case, "mmarrow")]
                print(f"  {case} vs {p}: {r:.2f}x (goal >= {goal}x): {'met' if r >= goal else 'NOT met'}")
    if ("cache", "mmarrow") in results:
        p = max(x["peak_mib"] for x in results[("cache", "mmarrow")])
        print(f"  cache peak RssAnon {p:.0f} MiB (goal <= 256): {'met' if p <= 256 else 'NOT met'}")
    (d / "results.json").write_text(json.dumps({f"{c}/{t}": v for (c, t), v in results.items()}, indent=1))


if __name__ == "__main__":
    main()

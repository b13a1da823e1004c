#!/usr/bin/env python3
"""The Python package (issue 14): opening mapped data from Python, random
row access as a data loader does it, and a Polars scan, mmarrow against
numpy, pyarrow, Polars and Hugging Face `datasets`, side by side in one run.

Data (made once, seeded; under --dir unless said):

  * emb:   1,000,000 x 768 float32 (standard normal) as emb.npy (3.07 GB),
           the same values as an uncompressed Arrow IPC file emb.arrow (one
           fixed_size_list<float32, 768> column, batches of 65,536 rows)
           and as emb.parquet (uncompressed), from which `datasets` builds
           its own Arrow cache (once, under --dir/hf-cache).
  * cache: the 2,000,000-row, 9-column file of the cache-build issue
           (`make_inputs` of benches/compare_cache.py, under --dir/cache-inputs),
           as an mmarrow table (`mmarrow from-parquet SRC DIR`) and as an
           uncompressed IPC file (pyarrow `read_table` + `ipc.new_file`).
  * t:     the 10,000,000-row table of the DataFusion issue (`make_inputs` of
           benches/compare_sql.py, /tmp/mmarrow-bench-sql: t.parquet and the
           table t), and an uncompressed IPC copy t.arrow (its row groups as
           batches).

Cases (each run its own fresh process, page cache hot: every input is
re-read before each run; 4 GiB are touched and freed right before the
timed region, since memory the host took back is first-touched at a
fraction of the speed; imports are outside the timed region;
OPENBLAS_NUM_THREADS=1 in every driver):

  * open-array  open + a Polars Series of the whole array:
      mmarrow    `mmarrow.open(p).to_polars()` (Array(Float32, 768), no copy)
      np_series  `pl.Series(np.load(p, mmap_mode="r"))`
      from_numpy `pl.from_numpy(np.load(p, mmap_mode="r"))` (a DataFrame; copies)
      pyarrow    `pa.ipc.open_file(pa.memory_map(ipc)).read_all()` (an Arrow table)
      pa_polars  the same, then `pl.from_arrow(...)` (a Polars Series, as mmarrow's)
  * open-cache  open + a Polars DataFrame of the whole table:
      mmarrow    `mmarrow.open_table(d).to_polars()` (the cache as from-parquet
                 stores it: strings as offsets + bytes, made into views)
      mm_views   the same over the cache built with `--string-view`
                 (strings stored as Arrow views: Polars' layout, no new memory)
      mm_trusted `mmarrow.open_table(d_views, trusted=True).to_polars()`: no
                 content checks (UTF-8, null counts), as pyarrow's IPC open
      read_ipc   `pl.read_ipc(ipc)`
      pyarrow    `pa.ipc.open_file(pa.memory_map(ipc)).read_all()` (an Arrow table)
      pa_polars  the same, then `pl.from_arrow(...)` (a Polars DataFrame, as mmarrow's)
    For both: seconds from before the open to the result, and the growth of
    RssAnon (/proc/self/status) over the same span.
  * rows-1, rows-256  100,000 random rows of emb (seeded, with repeats),
    one at a time and in batches of 256; the timed loop only (the open is
    outside it):
      mmarrow    `a.take([i])`, `a.take(batch)`
      numpy      `m[[i]]`, `m[batch]` (fancy indexing of np.load mmap_mode="r")
      datasets   `ds[i]["emb"]`, `ds[batch]["emb"]` of
                 `Dataset.from_parquet(emb.parquet).with_format("numpy")`
  * scan  two filter + aggregate queries over t, each collected 7 times in one
    process per engine and round (the first, which maps and faults the
    pages, is reported apart; the figure is the median of the other 6):
      F1 `filter(cat == "c42").select(x.mean(), ts.min(), ts.max())`
      F2 `filter(id.is_between(5_000_000, 5_010_000)).select(x.sum(), len())`
      mmarrow `mmarrow.scan_polars(t)`, parquet `pl.scan_parquet`,
      ipc `pl.scan_ipc(t.arrow)`

Every run checks its result (shape, types and values sampled through it
against the others; the random-access runs checksum every 100th row they
fetched), and `verify` once compares the whole results of the tools.
Rounds alternate the tools (round r rotates the order); the table gives
medians over rounds with the range, and ratios of medians against the goals.

Usage:
  cargo build --release                                  # for `mmarrow from-parquet`
  pip install -r benches/requirements.txt                # datasets
  .venv/bin/python benches/compare_python.py             # ~8 min (+5 min inputs once)
  .venv/bin/python benches/compare_python.py --rounds 3 --cases open-array,rows-1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS, DIM = 1_000_000, 768
SAMPLES, BATCH = 100_000, 256
SQL_DIR = Path("/tmp/mmarrow-bench-sql")
REPS = 7

TOOLS = {
    "open-array": ["mmarrow", "np_series", "from_numpy", "pyarrow", "pa_polars"],
    "open-cache": ["mmarrow", "mm_views", "mm_trusted", "read_ipc", "pyarrow", "pa_polars"],
    "rows-1": ["mmarrow", "numpy", "datasets"],
    "rows-256": ["mmarrow", "numpy", "datasets"],
    "scan": ["mmarrow", "parquet", "ipc"],
}


def make_inputs(d: Path, mmarrow: str) -> dict[str, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT / "benches"))
    import compare_cache
    import compare_sql

    d.mkdir(parents=True, exist_ok=True)
    p = {
        "npy": d / "emb.npy",
        "emb_ipc": d / "emb.arrow",
        "emb_pq": d / "emb.parquet",
        "hf": d / "hf-cache",
        "cache": d / "cache",
        "cache_ipc": d / "cache.arrow",
        "cache_views": d / "cache-views",
        "t": SQL_DIR / "t",
        "t_pq": SQL_DIR / "t.parquet",
        "t_ipc": d / "t.arrow",
    }
    if not p["npy"].exists():
        rng = np.random.default_rng(14)
        m = np.lib.format.open_memmap(str(p["npy"]) + ".tmp.npy", mode="w+", dtype=np.float32, shape=(ROWS, DIM))
        for s in range(0, ROWS, 100_000):
            m[s : s + 100_000] = rng.standard_normal((100_000, DIM), dtype=np.float32)
        m.flush()
        del m
        os.rename(str(p["npy"]) + ".tmp.npy", p["npy"])
    if not p["emb_ipc"].exists() or not p["emb_pq"].exists():
        m = np.load(p["npy"], mmap_mode="r")
        schema = pa.schema([("emb", pa.list_(pa.float32(), DIM))])
        step = 65_536

        def batches():
            for s in range(0, ROWS, step):
                v = pa.array(np.ascontiguousarray(m[s : s + step]).reshape(-1))
                yield pa.record_batch([pa.FixedSizeListArray.from_arrays(v, DIM)], schema=schema)

        with pa.OSFile(str(p["emb_ipc"]), "wb") as f, pa.ipc.new_file(f, schema) as w:
            for b in batches():
                w.write_batch(b)
        with pq.ParquetWriter(p["emb_pq"], schema, compression="none") as w:
            for b in batches():
                w.write_batch(b, row_group_size=step)
    if not (p["hf"] / "done").exists():
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        from datasets import Dataset

        Dataset.from_parquet(str(p["emb_pq"]), cache_dir=str(p["hf"]))
        (p["hf"] / "done").write_text("")
    if not (p["cache"] / "manifest.json").exists():
        src = compare_cache.make_inputs(d / "cache-inputs")["cache"]
        subprocess.run([mmarrow, "from-parquet", str(src), str(p["cache"]), "-q", "--force"], check=True)
    if not (p["cache_views"] / "manifest.json").exists():
        src = compare_cache.make_inputs(d / "cache-inputs")["cache"]
        cmd = [mmarrow, "from-parquet", str(src), str(p["cache_views"]), "-q", "--force", "--string-view"]
        subprocess.run(cmd, check=True)
    if not p["cache_ipc"].exists():
        t = pq.read_table(d / "cache-inputs" / "cache.parquet")
        with pa.OSFile(str(p["cache_ipc"]), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
            w.write_table(t)
        del t
    compare_sql.make_inputs(SQL_DIR, Path(mmarrow), False)
    if not p["t_ipc"].exists():
        f = pq.ParquetFile(p["t_pq"])
        with pa.OSFile(str(p["t_ipc"]), "wb") as out, pa.ipc.new_file(out, f.schema_arrow) as w:
            for i in range(f.num_row_groups):
                w.write_table(f.read_row_group(i))
    return p


# ---------------------------------------------------------------- drivers


def _rss_anon() -> int:
    with open("/proc/self/status", "rb") as f:
        s = f.read()
    i = s.find(b"RssAnon:")
    return int(s[i + 8 :].split()[0]) * 1024


def _prewarm(nbytes: int) -> None:
    b = bytearray(nbytes)
    b[::4096] = b"\x01" * len(range(0, nbytes, 4096))
    del b


def _fingerprint_frame(df) -> dict:
    """Shape, types and values sampled through the frame (after the timing)."""
    n = df.height
    rows = df[[0, n // 3, n // 2, n - 1]]
    out = {"shape": list(df.shape), "schema": [f"{k}:{v}" for k, v in df.schema.items()]}
    out["rows"] = json.loads(rows.write_json())
    return out


def _fingerprint_array(first, middle, last, shape, dtype) -> dict:
    import numpy as np

    return {
        "shape": list(shape),
        "dtype": {"float": "float32"}.get(str(dtype), str(dtype).lower()),  # pyarrow's name, Polars'

        "rows": [float(np.asarray(r, dtype=np.float64).sum()) for r in (first, middle, last)],
    }


def drive_open(case: str, tool: str, p: dict[str, str]) -> dict:
    import numpy as np
    import polars as pl
    import pyarrow as pa

    import mmarrow

    _prewarm(4 << 30)
    base = _rss_anon()
    t0 = time.perf_counter()
    if case == "open-array":
        if tool == "mmarrow":
            r = mmarrow.open(p["npy"]).to_polars()
        elif tool == "np_series":
            r = pl.Series(np.load(p["npy"], mmap_mode="r"))
        elif tool == "from_numpy":
            r = pl.from_numpy(np.load(p["npy"], mmap_mode="r"))
        elif tool == "pyarrow":
            r = pa.ipc.open_file(pa.memory_map(p["emb_ipc"])).read_all()
        elif tool == "pa_polars":
            r = pl.from_arrow(pa.ipc.open_file(pa.memory_map(p["emb_ipc"])).read_all())["emb"]
    else:
        if tool == "mmarrow":
            r = mmarrow.open_table(p["cache"]).to_polars()
        elif tool == "mm_views":
            r = mmarrow.open_table(p["cache_views"]).to_polars()
        elif tool == "mm_trusted":
            r = mmarrow.open_table(p["cache_views"], trusted=True).to_polars()
        elif tool == "read_ipc":
            r = pl.read_ipc(p["cache_ipc"])
        elif tool == "pyarrow":
            r = pa.ipc.open_file(pa.memory_map(p["cache_ipc"])).read_all()
        elif tool == "pa_polars":
            r = pl.from_arrow(pa.ipc.open_file(pa.memory_map(p["cache_ipc"])).read_all())
    t1 = time.perf_counter()
    grown = _rss_anon() - base
    if case == "open-array":
        if tool == "pyarrow":
            col = r.column(0)
            shape, dtype = (len(col), col.type.list_size), col.type.value_type
            get = lambda i: col[i].values.to_numpy()  # noqa: E731
        elif tool == "from_numpy":
            shape, dtype = r.shape, r.dtypes[0]
            get = lambda i: r.row(i)  # noqa: E731
        else:
            shape, dtype = (len(r), r.dtype.size), r.dtype.inner
            get = lambda i: r[i].to_numpy()  # noqa: E731
        fp = _fingerprint_array(get(0), get(ROWS // 2), get(ROWS - 1), shape, dtype)
    else:
        fp = _fingerprint_frame(r if tool != "pyarrow" else pl.from_arrow(r))
    return {"secs": t1 - t0, "rss_anon_grown": grown, "check": fp}


def drive_rows(case: str, tool: str, p: dict[str, str]) -> dict:
    import numpy as np

    idx = np.random.default_rng(1414).integers(0, ROWS, SAMPLES)
    if tool == "mmarrow":
        import mmarrow

        a = mmarrow.open(p["npy"])
        one, many = (lambda i: a.take([i])), a.take
    elif tool == "numpy":
        m = np.load(p["npy"], mmap_mode="r")
        one, many = (lambda i: m[[i]]), (lambda b: m[b])
    else:
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        from datasets import Dataset

        ds = Dataset.from_parquet(p["emb_pq"], cache_dir=p["hf"]).with_format("numpy")
        one, many = (lambda i: ds[int(i)]["emb"]), (lambda b: ds[b]["emb"])
    kept = []
    _prewarm(1 << 30)
    if case == "rows-1":
        ids = idx.tolist()
        t0 = time.perf_counter()
        for k, i in enumerate(ids):
            r = one(i)
            if k % 100 == 0:
                kept.append(r)
        t1 = time.perf_counter()
    else:
        bs = [idx[s : s + BATCH] for s in range(0, SAMPLES, BATCH)]
        t0 = time.perf_counter()
        for k, b in enumerate(bs):
            r = many(b)
            if k % 100 == 0:
                kept.append(r)
        t1 = time.perf_counter()
    # One row comes back as (768,) from datasets, (1, 768) from the others.
    check = [[list(np.reshape(r, (-1, DIM)).shape), str(np.asarray(r).dtype), float(np.asarray(r, dtype=np.float64).sum())] for r in kept]
    return {"secs": t1 - t0, "check": check}


def scan_queries(pl):
    return {
        "F1": lambda lf: lf.filter(pl.col("cat") == "c42").select(
            pl.col("x").mean(), pl.col("ts").min().alias("ts_min"), pl.col("ts").max().alias("ts_max")
        ),
        "F2": lambda lf: lf.filter(pl.col("id").is_between(5_000_000, 5_010_000)).select(
            pl.col("x").sum(), pl.len()
        ),
    }


def drive_scan(tool: str, p: dict[str, str]) -> dict:
    import polars as pl
    import polars.selectors as cs

    import mmarrow

    make = {
        "mmarrow": lambda: mmarrow.scan_polars(p["t"]),
        "parquet": lambda: pl.scan_parquet(p["t_pq"]),
        "ipc": lambda: pl.scan_ipc(p["t_ipc"]),
    }[tool]
    out = {}
    for q, f in scan_queries(pl).items():
        ts = []
        for _ in range(REPS):
            t0 = time.perf_counter()
            r = f(make()).collect()
            ts.append(time.perf_counter() - t0)
        out[q] = {"first": ts[0], "secs": statistics.median(ts[1:]), "check": json.loads(r.with_columns(cs.float().round(9)).write_json())}
    return out


def driver(argv: list[str]) -> None:
    case, tool, paths = argv[0], argv[1], json.loads(argv[2])
    if case.startswith("open"):
        res = drive_open(case, tool, paths)
    elif case.startswith("rows"):
        res = drive_rows(case, tool, paths)
    else:
        res = drive_scan(tool, paths)
    print(json.dumps(res), flush=True)


def verify(p: dict[str, str]) -> None:
    """The whole results of the tools compared once (untimed)."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    import mmarrow

    m = np.load(p["npy"], mmap_mode="r")
    s = mmarrow.open(p["npy"]).to_polars()
    assert s.dtype == pl.Array(pl.Float32, DIM) and len(s) == ROWS
    assert s.equals(pl.Series(m), check_names=False), "open-array: mmarrow vs np_series"
    ipc = pa.ipc.open_file(pa.memory_map(p["emb_ipc"])).read_all()
    flat = ipc.column(0).combine_chunks().values.to_numpy()
    assert np.array_equal(flat.reshape(ROWS, DIM), m), "open-array: IPC copy"
    assert np.array_equal(pl.from_numpy(m).to_numpy(), m), "open-array: from_numpy"
    del s, ipc, flat
    a = mmarrow.open_table(p["cache"]).to_polars()
    b = pl.read_ipc(p["cache_ipc"])
    c = pl.from_arrow(pa.ipc.open_file(pa.memory_map(p["cache_ipc"])).read_all())
    v = mmarrow.open_table(p["cache_views"]).to_polars()
    assert mmarrow.verify(p["cache_views"])["rows"] == len(v)
    assert a.schema == b.schema == c.schema == v.schema, (a.schema, b.schema, c.schema, v.schema)
    assert a.equals(b) and a.equals(c) and a.equals(v), "open-cache: frames differ"
    del a, b, c, v
    idx = np.random.default_rng(1414).integers(0, ROWS, SAMPLES)[:4096]
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    from datasets import Dataset

    ds = Dataset.from_parquet(p["emb_pq"], cache_dir=p["hf"]).with_format("numpy")
    arr = mmarrow.open(p["npy"])
    want = m[idx]
    assert np.array_equal(arr.take(idx), want) and np.array_equal(ds[idx]["emb"], want), "rows"
    assert np.array_equal(arr.take([idx[7]])[0], ds[int(idx[7])]["emb"]), "rows: one"
    from polars.testing import assert_frame_equal

    lfs = {"mmarrow": mmarrow.scan_polars(p["t"]), "parquet": pl.scan_parquet(p["t_pq"]), "ipc": pl.scan_ipc(p["t_ipc"])}
    for q, f in scan_queries(pl).items():
        rs = {k: f(lf).collect() for k, lf in lfs.items()}
        for k in ("parquet", "ipc"):  # float sums in another order: equal to 1e-12
            assert_frame_equal(rs["mmarrow"], rs[k], rel_tol=1e-12)
    print("verify: every tool's results are equal", file=sys.stderr)


# ---------------------------------------------------------------- parent


def warm(paths: list[Path]) -> None:
    for p in paths:
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def inputs_of(case: str, tool: str, p: dict[str, Path]) -> list[Path]:
    if case == "open-array":
        return [p["emb_ipc"] if tool == "pyarrow" else p["npy"]]
    if case == "open-cache":
        return [{"mmarrow": p["cache"], "mm_views": p["cache_views"], "mm_trusted": p["cache_views"]}.get(tool, p["cache_ipc"])]
    if case.startswith("rows"):
        return [p["hf"] if tool == "datasets" else p["npy"]]
    return [{"mmarrow": p["t"], "parquet": p["t_pq"], "ipc": p["t_ipc"]}[tool]]


def run(case: str, tool: str, p: dict[str, Path]) -> dict:
    warm(inputs_of(case, tool, p))
    paths = json.dumps({k: str(v) for k, v in p.items()})
    # numpy's OpenBLAS threads spin on the 2 cores unless told not to
    # (a quarter of the samples of a random-access run); the same for all.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "_driver", case, tool, paths], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, (case, tool, out.stderr[-2000:])
    return json.loads(out.stdout.splitlines()[-1])


def fmt_secs(v: list[float]) -> str:
    m = statistics.median(v)
    if m < 0.01:
        return f"{m * 1e3:.3f} ms ({min(v) * 1e3:.3f}–{max(v) * 1e3:.3f})"
    return f"{m:.3f} s ({min(v):.3f}–{max(v):.3f})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_driver":
        return driver(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mmarrow-bench-python"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", default=",".join(TOOLS))
    ap.add_argument("--mmarrow", default=str(ROOT / "target" / "release" / "mmarrow"))
    ap.add_argument("--no-verify", action="store_true")
    a = ap.parse_args()
    p = make_inputs(a.dir, a.mmarrow)
    if not a.no_verify:
        verify({k: str(v) for k, v in p.items()})
    if a.rounds == 0:  # `--rounds 0`: the inputs and the verification only
        return
    cases = a.cases.split(",")
    res: dict[tuple[str, str], list[dict]] = {}
    checks: dict[str, object] = {}
    for r in range(a.rounds):
        for case in cases:
            tools = TOOLS[case][r % len(TOOLS[case]) :] + TOOLS[case][: r % len(TOOLS[case])]
            for tool in tools:
                x = run(case, tool, p)
                res.setdefault((case, tool), []).append(x)
                if case == "scan":
                    for q, v in x.items():
                        checks.setdefault(f"scan/{q}", v["check"])
                        assert v["check"] == checks[f"scan/{q}"], (q, tool, v["check"], checks[f"scan/{q}"])
                    print(f"round {r} {case:10} {tool:10} " + "  ".join(f"{q} {v['secs'] * 1e3:.1f} ms" for q, v in x.items()), flush=True)
                    continue
                checks.setdefault(case, x["check"])
                c, want = x["check"], checks[case]
                assert c == want, (case, tool, str(c)[:500], str(want)[:500])
                extra = f"  RssAnon +{x['rss_anon_grown'] / 2**20:.1f} MiB" if "rss_anon_grown" in x else ""
                print(f"round {r} {case:10} {tool:10} {x['secs'] * 1e3:10.3f} ms{extra}", flush=True)
    (a.dir / "results.json").write_text(json.dumps({f"{c}/{t}": v for (c, t), v in res.items()}, indent=1))

    med: dict[tuple[str, str], float] = {}
    print("\n| case | tool | time, median (range) | RssAnon growth, median (max) | mmarrow's speed-up |")
    print("|---|---|---|---|---|")
    for case in cases:
        if case == "scan":
            continue
        for tool in TOOLS[case]:
            v = [x["secs"] for x in res[(case, tool)]]
            med[(case, tool)] = statistics.median(v)
        for tool in TOOLS[case]:
            v = [x["secs"] for x in res[(case, tool)]]
            g = [x["rss_anon_grown"] / 2**20 for x in res[(case, tool)] if "rss_anon_grown" in x]
            mem = f"{statistics.median(g):.1f} MiB ({max(g):.1f})" if g else "—"
            ratio = "" if tool == "mmarrow" else f"{med[(case, tool)] / med[(case, 'mmarrow')]:.2f}×"
            print(f"| {case} | {tool} | {fmt_secs(v)} | {mem} | {ratio} |")
    if "scan" in cases:
        print("\n| query | tool | warm, median (range) | first collect in the process, median | mmarrow's speed-up |")
        print("|---|---|---|---|---|")
        for q in ("F1", "F2"):
            for tool in TOOLS["scan"]:
                med[(f"scan/{q}", tool)] = statistics.median(x[q]["secs"] for x in res[("scan", tool)])
            for tool in TOOLS["scan"]:
                v = [x[q]["secs"] for x in res[("scan", tool)]]
                f = statistics.median(x[q]["first"] for x in res[("scan", tool)])
                ratio = "" if tool == "mmarrow" else f"{med[(f'scan/{q}', tool)] / med[(f'scan/{q}', 'mmarrow')]:.2f}×"
                print(f"| {q} | {tool} | {fmt_secs(v)} | {f * 1e3:.1f} ms | {ratio} |")

    print("\ngoals (ratios of medians; above 1 = mmarrow faster):")

    def goal(case: str, peer: str, want: float, text: str, ours: str = "mmarrow") -> None:
        if (case, peer) in med and (case, ours) in med:
            x = med[(case, peer)] / med[(case, ours)]
            who = "" if ours == "mmarrow" else f" ({ours})"
            print(f"  {case}{who} vs {peer}: {x:.2f}x (goal {text}): {'met' if x >= want else 'NOT met'}")

    goal("open-array", "np_series", 1 / 1.5, "no slower; under 1.5x is noise")
    goal("open-array", "from_numpy", 100, ">= 100x")
    goal("open-array", "pyarrow", 1 / 1.5, "no slower; under 1.5x is noise")
    goal("open-array", "pa_polars", 1 / 1.5, "(equal work: a Polars Series) no slower")
    for ours in TOOLS["open-cache"][:3]:
        goal("open-cache", "read_ipc", 100, ">= 100x", ours)
        goal("open-cache", "pyarrow", 1 / 1.5, "no slower; under 1.5x is noise", ours)
        goal("open-cache", "pa_polars", 1 / 1.5, "(equal work: a Polars frame) no slower", ours)
        if ("open-cache", ours) in res:
            g = max(x["rss_anon_grown"] for x in res[("open-cache", ours)]) / 2**20
            print(f"  open-cache {ours} RssAnon growth, max {g:.1f} MiB (goal +0: no copy of the 1.2 GB of data)")
    for case in ("rows-1", "rows-256"):
        goal(case, "datasets", 10, ">= 10x")
        goal(case, "numpy", 1 / 1.5, "on par; under 1.5x is noise")


if __name__ == "__main__":
    main()

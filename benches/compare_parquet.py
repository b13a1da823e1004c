#!/usr/bin/env python3
"""Parquet conversion, both ways: mmarrow vs polars and pyarrow, in one run.

Inputs (built once with numpy, standard-normal float32 like embeddings):

  * tensor: 1,000,000 x 128 float32 (512 MB), a raw `.f32` file described
    with `mmarrow describe --shape -1,128`; row groups of 131,072 rows (64 MiB)
  * vector: 100,000,000 float32 (400 MB), `--shape -1`; row groups of
    16,777,216 values (the same 64 MiB)

Array -> Parquet, for codecs zstd (level 1 everywhere: polars defaults to 3),
snappy and none, each tool with the same codec, level and row-group size:

  * mmarrow  `mmarrow to-parquet SRC DST --compression C --row-group-size N`
             (release binary; its time is the one it prints, which covers
             open + convert + fsync + rename)
  * polars   `np.memmap` -> `pl.Series` -> `pl.DataFrame.write_parquet(
             compression=C, compression_level=1 for zstd, row_group_size=N)`
             (statistics on, its default)
  * pyarrow  `np.memmap` -> `pa.FixedShapeTensorArray.from_numpy_ndarray`
             (tensor) or `pa.array` (vector) -> `pq.write_table(
             row_group_size=N, compression=C, compression_level=1 for zstd,
             use_dictionary=False)` (statistics on, its default)

Parquet -> raw array (`.f32`), on mmarrow's and on pyarrow's Parquet files:

  * mmarrow  `mmarrow from-parquet SRC DST` (raw + sidecar; fsyncs)
  * pyarrow  `pq.read_table` -> per chunk: values (`.storage.flatten()` for
             tensors) `.to_numpy()` (zero-copy) -> `.tofile()` (no fsync)

Method (see "Measuring on this machine" in BENCHMARKS.md):
  * every conversion is its own process (a small driver: this file with
    `_driver`, run with the same Python), so peak memory is per process;
  * wall clock is taken inside the process around the conversion only
    (imports excluded, memmap/open included);
  * peak anonymous memory (`RssAnon` of /proc/PID/status, sampled every
    ~2 ms by a watcher thread of this script) over the timed region; the
    "base" column is RssAnon when the timed region starts (interpreter and
    libraries for the Python peers);
  * tools alternate (round r runs the tools in a rotated order), >= 5 rounds;
  * before each run: the previous output is deleted (its dirty pages are
    dropped, not written back), the input fsynced (an input written by an
    earlier run is not written back during this one) and re-read (page
    cache hot), then -- unless --no-prewarm -- the driver touches
    and frees 4x the array's size (at most 2 GiB) right before its timed
    region: on this VM, memory freed more than ~1 s earlier is handed back to the host and first-touched at
    0.5-0.8 GB/s instead of 5-7 GB/s, which would otherwise add seconds of
    noise to whichever tool allocates most;
  * before each run the script waits (up to --quiet-wait s, default 1) for
    the CPUs to be idle; "foreign" is the CPU time the rest of the machine
    used during the run, in % of one core: other jobs on the 2 cores make a
    run slower, so read rows with a high figure with care. On a machine
    shared with other jobs, --boost 15 (root) gives each conversion its own
    scheduler autogroup with nice -15, so that other sessions' processes
    take little CPU from it (they may still use the core it leaves idle).

Prints medians and ranges (min-max) of GB/s (10^9 bytes of raw array data
per second) and of peak anonymous MiB, the ratios to polars and pyarrow
(ratio of medians; in brackets the range of per-round ratios), and whether
each goal of the issue is met. Raw results go to DIR/results.json.

Usage:
  cargo build --release
  .venv/bin/python benches/compare_parquet.py --boost 15 --quiet-wait 0
                                                          # full run, ~7 min
  .venv/bin/python benches/compare_parquet.py --quick    # smoke test, ~1 min
Options: --runs N, --shm (work in /dev/shm instead of target/bench-parquet),
--cases tensor,vector, --codecs zstd,snappy,none, --directions write,read,
--mmarrow PATH, --no-prewarm, --quiet-wait S, --boost N, --peer-fsync
(peers fsync their output in the timed region too, as mmarrow does),
--mmarrow-no-fsync (mmarrow skips its fsyncs, as the peers do), --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREWARM_BYTES = 2 << 30
MB_LINE = re.compile(r"([0-9.]+) MB of data in ([0-9.]+) s \(([0-9]+) MB/s\)")


# --------------------------------------------------------------------------
# Drivers: one conversion in this process, JSON on stdout.


def _prewarm(nbytes: int) -> None:
    if nbytes > 0:
        b = bytearray(nbytes)  # calloc: untouched zero pages
        b[::4096] = b"\x01" * len(range(0, nbytes, 4096))  # touch every page
        del b  # munmap: the pages go back to the kernel's free lists, warm


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cpu_self() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def driver(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("tool")
    p.add_argument("direction")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--case")
    p.add_argument("--rows", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--codec")
    p.add_argument("--rg", type=int)
    p.add_argument("--prewarm", type=int, default=0)
    p.add_argument("--fsync", action="store_true")
    p.add_argument("--mm-no-fsync", action="store_true")
    p.add_argument("--mmarrow")
    p.add_argument("--boost", type=int, default=0)
    a = p.parse_args(argv)
    if a.boost:
        # This process leads its own session, so its own scheduler autogroup
        # (start_new_session): raise that group's weight against the other
        # sessions' groups, then this process's within it. Root only.
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(-a.boost))
            os.nice(-a.boost)
        except OSError as e:
            print(f"boost failed: {e}", file=sys.stderr)
    shape = (a.rows, a.width) if a.width else (a.rows,)

    if a.tool == "mmarrow":
        cmd = [a.mmarrow, "to-parquet" if a.direction == "write" else "from-parquet",
               a.src, a.dst, "--force", "-q"]
        if a.direction == "write":
            cmd += ["--compression", a.codec, "--row-group-size", str(a.rg)]
        if a.mm_no_fsync:
            cmd.append("--no-fsync")
        _prewarm(a.prewarm)
        # The watcher counts from here; exec keeps the pid (and its CPU times).
        print(json.dumps({"mark": time.monotonic(), "cpu0": _cpu_self()}), flush=True)
        os.execv(cmd[0], cmd)

    import numpy as np

    if a.tool == "polars":
        import polars as pl

        assert a.direction == "write"
        _prewarm(a.prewarm)
        c0, t0 = _cpu_self(), time.monotonic()
        m = np.memmap(a.src, dtype="<f4", mode="r", shape=shape)
        s = pl.Series("x", m)
        pl.DataFrame([s]).write_parquet(
            a.dst,
            compression="uncompressed" if a.codec == "none" else a.codec,
            compression_level=1 if a.codec == "zstd" else None,
            row_group_size=a.rg,
        )
        if a.fsync:
            _fsync(a.dst)
        t1 = time.monotonic()
    elif a.tool == "pyarrow" and a.direction == "write":
        import pyarrow as pa
        import pyarrow.parquet as pq

        _prewarm(a.prewarm)
        c0, t0 = _cpu_self(), time.monotonic()
        m = np.memmap(a.src, dtype="<f4", mode="r", shape=shape)
        arr = pa.FixedShapeTensorArray.from_numpy_ndarray(m) if a.width else pa.array(m)
        pq.write_table(
            pa.table({"x": arr}),
            a.dst,
            row_group_size=a.rg,
            compression=a.codec,
            compression_level=1 if a.codec == "zstd" else None,
            use_dictionary=False,
        )
        if a.fsync:
            _fsync(a.dst)
        t1 = time.monotonic()
    elif a.tool == "pyarrow" and a.direction == "read":
        import pyarrow as pa
        import pyarrow.parquet as pq

        _prewarm(a.prewarm)
        c0, t0 = _cpu_self(), time.monotonic()
        col = pq.read_table(a.src).column(0)
        with open(a.dst, "wb") as f:
            for ch in col.chunks:
                if isinstance(ch.type, pa.BaseExtensionType):
                    ch = ch.storage
                if pa.types.is_fixed_size_list(ch.type) or pa.types.is_list(ch.type):
                    ch = ch.flatten()
                ch.to_numpy(zero_copy_only=False).tofile(f)
            if a.fsync:
                f.flush()
                os.fsync(f.fileno())
        t1 = time.monotonic()
    else:
        raise SystemExit(f"unknown driver {a.tool} {a.direction}")
    print(json.dumps({"start": t0, "end": t1, "secs": t1 - t0, "cpu": _cpu_self() - c0}),
          flush=True)


# --------------------------------------------------------------------------
# Measuring one run.


def _status_anon_kib(fd: int) -> tuple[str, int] | None:
    """(process name, RssAnon in KiB) from /proc/PID/status."""
    try:
        s = os.pread(fd, 8192, 0)
    except OSError:
        return None
    i = s.find(b"RssAnon:")
    if i < 0:
        return None
    name = s[6: s.index(b"\n")].strip().decode()
    return name, int(s[i + 8: s.index(b"kB", i)])


def _cpu_busy() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / ticks


def measure(cmd: list[str], data_bytes: int) -> dict:
    """Runs one driver; returns seconds, GB/s, peak anon MiB and context."""
    samples: list[tuple[float, int]] = []
    busy0, self0 = _cpu_busy(), time.process_time()
    err = open(os.devnull, "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    done = threading.Event()

    def watch() -> None:
        try:
            fd = os.open(f"/proc/{proc.pid}/status", os.O_RDONLY)
        except OSError:
            return
        try:
            while not done.is_set():
                v = _status_anon_kib(fd)
                if v is None:
                    break
                samples.append((time.monotonic(), v[0], v[1]))
                time.sleep(0.002)
        finally:
            os.close(fd)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    out = proc.stdout.read().decode()
    errtxt = proc.stderr.read().decode()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    end_wall = time.monotonic()
    done.set()
    w.join()
    err.close()
    busy = _cpu_busy() - busy0
    own = time.process_time() - self0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}\n{errtxt}")
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    if "mark" in (lines[0] if lines else {}):
        # mmarrow: its own timing, from the "(N MB/s)" it prints.
        m = MB_LINE.search(out)
        if not m:
            raise RuntimeError(f"unexpected mmarrow output: {out}")
        mbps = float(m.group(3))
        secs = data_bytes / 1e6 / mbps
        # After exec (the process name changes): the wrapper's own memory
        # is not mmarrow's.
        window = [k for _, name, k in samples if name == "mmarrow"]
        cpu = ru.ru_utime + ru.ru_stime - lines[0]["cpu0"]
    else:
        secs = lines[-1]["secs"]
        cpu = lines[-1]["cpu"]
        start, end = lines[-1]["start"], lines[-1]["end"]
        window = [k for t, _, k in samples if start <= t <= end + 0.003]
    peak = max(window) if window else 0
    base = window[0] if window else 0
    child_cpu = ru.ru_utime + ru.ru_stime
    life = end_wall - (samples[0][0] if samples else end_wall)
    foreign = max(0.0, busy - child_cpu - own)
    return {
        "secs": secs,
        "gbps": data_bytes / 1e9 / secs,
        "peak_anon_mib": peak / 1024,
        "base_anon_mib": base / 1024,
        "child_cpu_s": child_cpu,
        "cpu_s": cpu,
        "foreign_pct": 100 * foreign / max(life, 1e-3),
        "samples": len(window),
    }


def wait_quiet(max_wait: float, threshold: float = 0.2) -> float:
    """Waits (up to max_wait s) until other processes use < threshold of a
    core over 0.25 s; returns the seconds waited."""
    t0 = time.monotonic()
    while True:
        b0, s0 = _cpu_busy(), time.process_time()
        time.sleep(0.25)
        if (_cpu_busy() - b0 - (time.process_time() - s0)) / 0.25 < threshold:
            break
        if time.monotonic() - t0 > max_wait:
            break
    return time.monotonic() - t0


def reread(path: str, buf: bytearray) -> None:
    """Reads a file through the page cache (keeps it hot)."""
    mv = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(mv):
            pass


def remove(path: str) -> None:
    for p in (path, path + ".json", path + ".mmarrow.json"):
        if os.path.exists(p):
            os.remove(p)
    # mmarrow's sidecar: any file next to `path` named after it.
    d, b = os.path.split(path)
    for name in os.listdir(d or "."):
        if name.startswith(b + ".") and name != b:
            os.remove(os.path.join(d, name))


# --------------------------------------------------------------------------
# Inputs.


def make_input(path: str, n_values: int, width: int, mmarrow: str) -> None:
    import numpy as np

    if not (os.path.exists(path) and os.path.getsize(path) == n_values * 4):
        rng = np.random.default_rng(0)
        with open(path + ".tmp", "wb") as f:
            step = 1 << 24
            for i in range(0, n_values, step):
                rng.standard_normal(min(step, n_values - i), dtype=np.float32).tofile(f)
        os.replace(path + ".tmp", path)
    shape = f"-1,{width}" if width else "-1"
    subprocess.run([mmarrow, "describe", "--dtype", "f4", "--shape", shape, "--force", path],
                   check=True, stdout=subprocess.DEVNULL)


def same_bytes(a: str, b: str) -> bool:
    import numpy as np

    if os.path.getsize(a) != os.path.getsize(b):
        return False
    x = np.memmap(a, dtype=np.uint8, mode="r")
    y = np.memmap(b, dtype=np.uint8, mode="r")
    step = 1 << 26
    return all(np.array_equal(x[i:i + step], y[i:i + step]) for i in range(0, len(x), step))


# --------------------------------------------------------------------------
# Reporting.


def med(v: list[float]) -> float:
    return statistics.median(v)


def fmt_range(v: list[float], nd: int) -> str:
    return f"{med(v):.{nd}f} ({min(v):.{nd}f}–{max(v):.{nd}f})"


def ratio(a: list[dict], b: list[dict], key: str = "gbps") -> tuple[float, float, float]:
    """Ratio of medians and the range of per-round ratios (paired by round)."""
    r = [x[key] / y[key] for x, y in zip(a, b)]
    return med([x[key] for x in a]) / med([y[key] for y in b]), min(r), max(r)


def fmt_ratio(t: tuple[float, float, float]) -> str:
    return f"{t[0]:.2f}× [{t[1]:.2f}–{t[2]:.2f}]"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_driver":
        driver(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small inputs, 2 rounds: a smoke test")
    ap.add_argument("--runs", type=int, help="rounds (default 5, 2 with --quick)")
    ap.add_argument("--shm", action="store_true", help="work in /dev/shm (tmpfs) instead of target/")
    ap.add_argument("--dir", help="work directory (default target/bench-parquet)")
    ap.add_argument("--cases", default="tensor,vector")
    ap.add_argument("--codecs", default="zstd,snappy,none")
    ap.add_argument("--directions", default="write,read")
    ap.add_argument("--mmarrow", default=os.path.join(ROOT, "target", "release", "mmarrow"))
    ap.add_argument("--no-prewarm", action="store_true")
    ap.add_argument("--peer-fsync", action="store_true",
                    help="peers fsync their output inside the timed region, as mmarrow does")
    ap.add_argument("--mmarrow-no-fsync", action="store_true",
                    help="mmarrow skips its fsyncs (--no-fsync), as the peers do by default")
    ap.add_argument("--quiet-wait", type=float, default=1.0,
                    help="before each run, wait up to this many seconds for other "
                         "processes to leave the CPUs idle (0: don't)")
    ap.add_argument("--boost", type=int, default=0, metavar="N",
                    help="run each conversion with scheduler priority raised by N "
                         "(its own session's autogroup and its nice value; needs root): "
                         "on a machine shared with other jobs. 0: off")
    ap.add_argument("--keep", action="store_true", help="keep inputs and outputs")
    args = ap.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    work = args.dir or ("/dev/shm/mmarrow-bench-parquet" if args.shm
                        else os.path.join(ROOT, "target", "bench-parquet"))
    if args.quick:
        work = os.path.join(work, "quick")
    os.makedirs(work, exist_ok=True)
    if not os.access(args.mmarrow, os.X_OK):
        raise SystemExit(f"{args.mmarrow} not found: run `cargo build --release` first")
    # A private copy: the binary must not change under a running benchmark.
    mm = os.path.join(work, "mmarrow")
    shutil.copy2(args.mmarrow, mm)
    prewarm = 0 if args.no_prewarm else PREWARM_BYTES

    scale = 10 if args.quick else 1
    cases = {
        "tensor": dict(rows=1_000_000 // scale, width=128, rg=131_072 // scale),
        "vector": dict(rows=100_000_000 // scale, width=0, rg=16_777_216 // scale),
    }
    codecs = args.codecs.split(",")
    directions = args.directions.split(",")
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    import numpy as np
    import importlib.metadata as md

    vers = {p: md.version(p) for p in ("numpy", "pyarrow", "polars")}
    mm_ver = subprocess.run([mm, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"# machine: {os.cpu_count()} CPUs, {cpu}, kernel {platform.release()}")
    print(f"# tools: {mm_ver}, numpy {vers['numpy']}, pyarrow {vers['pyarrow']}, "
          f"polars {vers['polars']}; work dir {work}; rounds {runs}; "
          f"prewarm {'off' if not prewarm else '4x data, at most 2 GiB'}; peer fsync {args.peer_fsync}; "
          f"mmarrow fsync {not args.mmarrow_no_fsync}; "
          f"boost {args.boost}")
    sys.stdout.flush()
    buf = bytearray(64 << 20)
    results: dict = {"machine": {"cpus": os.cpu_count(), "cpu": cpu}, "versions": vers,
                     "mmarrow": mm_ver, "runs": runs, "prewarm": bool(prewarm),
                     "peer_fsync": args.peer_fsync,
                     "mmarrow_fsync": not args.mmarrow_no_fsync, "boost": args.boost, "work": work, "cases": {}}
    t_start = time.monotonic()
    py = sys.executable
    me = os.path.abspath(__file__)

    def run(tool: str, direction: str, src: str, dst: str, c: dict, codec: str) -> dict:
        remove(dst)
        _fsync(src)  # an input written by an earlier run: no writeback during this one
        waited = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else 0.0
        reread(src, buf)
        data = c["rows"] * max(c["width"], 1) * 4
        cmd = [py, me, "_driver", tool, direction, src, dst, "--rows", str(c["rows"]),
               "--width", str(c["width"]), "--codec", codec, "--rg", str(c["rg"]),
               "--prewarm", str(min(prewarm, 4 * data)), "--mmarrow", mm]
        if args.peer_fsync:
            cmd.append("--fsync")
        if args.mmarrow_no_fsync:
            cmd.append("--mm-no-fsync")
        if args.boost:
            cmd += ["--boost", str(args.boost)]
        m = measure(cmd, data)
        m["waited_s"] = waited
        return m

    for case in args.cases.split(","):
        c = cases[case]
        src = os.path.join(work, f"{case}.f32")
        make_input(src, c["rows"] * max(c["width"], 1), c["width"], mm)
        data_bytes = c["rows"] * max(c["width"], 1) * 4
        print(f"\n## {case}: {c['rows']:,} x {c['width'] or 1} float32 = {data_bytes / 1e6:.0f} MB, "
              f"row groups of {c['rg']:,} rows", flush=True)
        res = results["cases"].setdefault(case, {"write": {}, "read": {}, "sizes": {}})
        writers = ["mmarrow", "polars", "pyarrow"]
        pq_of = {t: {k: os.path.join(work, f"{case}.{k}.{t}.parquet") for k in codecs} for t in writers}
        if "write" in directions:
            for r in range(runs):
                for codec in codecs:
                    order = writers[r % 3:] + writers[:r % 3]
                    for tool in order:
                        m = run(tool, "write", src, pq_of[tool][codec], c, codec)
                        res["write"].setdefault(codec, {}).setdefault(tool, []).append(m)
                print(f"  write round {r + 1}/{runs} done ({time.monotonic() - t_start:.0f} s)",
                      flush=True)
            for codec in codecs:
                res["sizes"][codec] = {t: os.path.getsize(pq_of[t][codec]) for t in writers}
                if not args.keep:
                    os.remove(pq_of["polars"][codec])
        if "read" in directions:
            readers = [("mmarrow", "mmarrow"), ("pyarrow", "mmarrow"),
                       ("mmarrow", "pyarrow"), ("pyarrow", "pyarrow")]
            for tool in ("mmarrow", "pyarrow"):
                for codec in codecs:
                    if not os.path.exists(pq_of[tool][codec]):
                        run(tool, "write", src, pq_of[tool][codec], c, codec)
            back = os.path.join(work, f"{case}.back.f32")
            for r in range(runs):
                for codec in codecs:
                    order = readers[r % 4:] + readers[:r % 4]
                    for tool, made_by in order:
                        m = run(tool, "read", pq_of[made_by][codec], back, c, codec)
                        if r == 0 and not same_bytes(src, back):
                            raise SystemExit(f"{tool} read of {made_by}'s {codec} file differs")
                        key = f"{tool}<-{made_by}"
                        res["read"].setdefault(codec, {}).setdefault(key, []).append(m)
                print(f"  read round {r + 1}/{runs} done ({time.monotonic() - t_start:.0f} s)",
                      flush=True)
            remove(back)
        if not args.keep:
            for t in writers:
                for k in codecs:
                    if os.path.exists(pq_of[t][k]):
                        os.remove(pq_of[t][k])
            remove(src)
    results["elapsed_s"] = time.monotonic() - t_start
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report(results)


def report(results: dict) -> None:
    goals: list[tuple[str, bool, str]] = []
    for case, res in results["cases"].items():
        if res["write"]:
            print(f"\n### {case} → Parquet (GB/s of array data; peak anon MiB; medians (min–max))\n")
            print("| codec | tool | GB/s | peak anon MiB | base anon MiB | file MB | CPU s | cores | foreign CPU % |")
            print("|---|---|---|---|---|---|---|---|---|")
            for codec, by in res["write"].items():
                for tool, ms in by.items():
                    size = res["sizes"].get(codec, {}).get(tool)
                    print(f"| {codec} | {tool} | {fmt_range([m['gbps'] for m in ms], 2)} | "
                          f"{fmt_range([m['peak_anon_mib'] for m in ms], 0)} | "
                          f"{med([m['base_anon_mib'] for m in ms]):.0f} | "
                          f"{size / 1e6 if size else float('nan'):.0f} | "
                          f"{med([m['cpu_s'] for m in ms]):.2f} | "
                          f"{med([m['cpu_s'] / m['secs'] for m in ms]):.2f} | "
                          f"{med([m['foreign_pct'] for m in ms]):.0f} |")
            print("\n| codec | mmarrow / polars | mmarrow / pyarrow | mmarrow peak anon / smaller peer's |")
            print("|---|---|---|---|")
            for codec, by in res["write"].items():
                rp, ra = ratio(by["mmarrow"], by["polars"]), ratio(by["mmarrow"], by["pyarrow"])
                mem_mm = med([m["peak_anon_mib"] for m in by["mmarrow"]])
                mem_peer = min(med([m["peak_anon_mib"] for m in by[t]]) for t in ("polars", "pyarrow"))
                print(f"| {codec} | {fmt_ratio(rp)} | {fmt_ratio(ra)} | {mem_mm / mem_peer:.3f} "
                      f"({mem_mm:.0f} / {mem_peer:.0f} MiB) |")
                need = {"none": 1.2, "snappy": 1.0, "zstd": 0.95}.get(codec)
                if need:
                    goals.append((f"{case} write {codec}: ≥ {need}× polars", rp[0] >= need, f"{rp[0]:.2f}×"))
                goals.append((f"{case} write {codec}: ≥ 2.5× pyarrow", ra[0] >= 2.5, f"{ra[0]:.2f}×"))
                goals.append((f"{case} write {codec}: ≤ ¼ of the smaller peer's peak anon",
                              mem_mm <= mem_peer / 4, f"{mem_mm / mem_peer:.3f}"))
        if res["read"]:
            need = 3.0 if case == "tensor" else 1.5
            print(f"\n### Parquet → raw {case} (tool<-writer of the Parquet file; medians (min–max))\n")
            print("| codec | reader<-file from | GB/s | peak anon MiB | base anon MiB | CPU s | cores | foreign CPU % |")
            print("|---|---|---|---|---|---|---|---|")
            for codec, by in res["read"].items():
                for key, ms in by.items():
                    print(f"| {codec} | {key} | {fmt_range([m['gbps'] for m in ms], 2)} | "
                          f"{fmt_range([m['peak_anon_mib'] for m in ms], 0)} | "
                          f"{med([m['base_anon_mib'] for m in ms]):.0f} | "
                          f"{med([m['cpu_s'] for m in ms]):.2f} | "
                          f"{med([m['cpu_s'] / m['secs'] for m in ms]):.2f} | "
                          f"{med([m['foreign_pct'] for m in ms]):.0f} |")
            print("\n| codec | mmarrow / pyarrow on pyarrow's file | on mmarrow's file | peak anon mmarrow / pyarrow |")
            print("|---|---|---|---|")
            for codec, by in res["read"].items():
                ra = ratio(by["mmarrow<-pyarrow"], by["pyarrow<-pyarrow"])
                rm = ratio(by["mmarrow<-mmarrow"], by["pyarrow<-mmarrow"])
                mem = (med([m["peak_anon_mib"] for m in by["mmarrow<-pyarrow"]])
                       / med([m["peak_anon_mib"] for m in by["pyarrow<-pyarrow"]]))
                print(f"| {codec} | {fmt_ratio(ra)} | {fmt_ratio(rm)} | {mem:.3f} |")
                goals.append((f"{case} read {codec}: ≥ {need}× pyarrow (pyarrow's file)", ra[0] >= need,
                              f"{ra[0]:.2f}×"))
                goals.append((f"{case} read {codec}: ≥ {need}× pyarrow (mmarrow's file)", rm[0] >= need,
                              f"{rm[0]:.2f}×"))
    if goals:
        print("\n### Goals\n")
        print("| goal | measured | status |")
        print("|---|---|---|")
        for g, ok, v in goals:
            print(f"| {g} | {v} | {'met' if ok else '**not met**'} |")
    print(f"\n(total {results.get('elapsed_s', 0):.0f} s)")


if __name__ == "__main__":
    main()

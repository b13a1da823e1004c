#!/usr/bin/env python3
"""Runs the Parquet and Arrow IPC files of the Apache test corpora through
the mmarrow CLI and checks that each gives a result or a typed error.

The corpora are the public repositories apache/parquet-testing and
apache/arrow-testing (clone them anywhere; they are not committed here):

    python3 scripts/peer_corpus.py PARQUET_TESTING_DIR ARROW_TESTING_DIR [--bin target/debug/mmarrow]

For every `*.parquet` file, every file under `arrow-ipc-file/` and every
`*.arrow_file`, it runs `mmarrow info FILE` and a conversion to a table
(`from-parquet`, or `convert` of a copy named `.arrow`), each in its own
process with a 60 s timeout and a 2 GiB address-space limit. A run passes
when it exits 0, or 2 with exactly one `mmarrow: ` line on stderr naming
the file; anything else (a panic, a signal, a hang, exit 1, a multi-line
message) is listed. Prints the counts docs/RELIABILITY.md quotes.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def limit():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(cmd, name):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=60, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return "hang (60 s)"
    err = p.stderr.decode(errors="replace").strip()
    if p.returncode == 0:
        return None
    if p.returncode == 2 and err.count("\n") == 0 and err.startswith("mmarrow: ") and name in err:
        return None
    if p.returncode < 0:
        return f"killed by signal {-p.returncode}: {err[:200]}"
    return f"exit {p.returncode}: {err[:300]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--bin", default=str(Path(__file__).resolve().parent.parent / "target/debug/mmarrow"))
    a = ap.parse_args()
    files = []
    for d in a.dirs:
        for p in sorted(Path(d).rglob("*")):
            if not p.is_file():
                continue
            if p.suffix == ".parquet":
                files.append(("parquet", p))
            elif p.parent.name == "arrow-ipc-file" and p.name != "README.md" or p.name.endswith(".arrow_file"):
                files.append(("ipc", p))
    stats = {"files": len(files), "ok": 0, "typed_error": 0, "bad": 0}
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, p in files:
            name = p.name
            src = p
            if kind == "ipc":
                src = Path(tmp) / (p.name + ".arrow")
                shutil.copyfile(p, src)
                name = src.name
            out = Path(tmp) / "out"
            results = [run([a.bin, "info", str(src)], name)]
            if kind == "parquet":
                results.append(run([a.bin, "from-parquet", str(src), str(out), "--table", "--force", "--quiet"], name))
            else:
                results.append(run([a.bin, "convert", str(src), str(out), "--table", "--force", "--quiet"], name))
            shutil.rmtree(out, ignore_errors=True)
            failures = [r for r in results if r]
            if failures:
                stats["bad"] += 1
                bad.append((p, failures))
            else:
                # exit 0 for both, or a typed error for one: count which.
                ok = subprocess.run([a.bin, "info", str(src)], capture_output=True, preexec_fn=limit).returncode == 0
                stats["ok" if ok else "typed_error"] += 1
            if kind == "ipc":
                src.unlink()
    for p, f in bad:
        print(f"{p}: {'; '.join(f)}")
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

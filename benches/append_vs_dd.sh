#!/usr/bin/env bash
# Append throughput of mmarrow's ArrayWriter against dd with the same
# durability, in one run on one disk (BENCHMARKS.md, "Append: mmarrow
# ArrayWriter vs dd conv=fsync").
#
#   A: dd if=/dev/zero of=FILE bs=4M count=256 conv=fsync      (1 GiB, one fsync)
#   B: append_bench FILE one-commit   (1 GiB of <f4 in 4 MiB appends, one durable commit)
#   C: append_bench FILE commit-64m   (the same, a durable commit every 64 MiB)
#
# Runs A B C A B C ... for ROUNDS rounds (default 9) after one untimed warm-up
# round, deleting the output and syncing between runs, then prints medians,
# ranges and the ratios B/A and C/A (throughput). The target: B/A >= 0.8,
# C/A >= 0.6. Each run reports its own span (open to last fsync returning):
# dd's "copied, S s" and append_bench's "seconds".
#
# Usage: benches/append_vs_dd.sh            (from the repo root)
#   MMARROW_BENCH_DIR=/some/dir   where the 1 GiB files go (default
#                                 target/bench-append; must be a real disk,
#                                 not tmpfs)
#   ROUNDS=N                      timed rounds (default 9, at least 5)
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9}
[ "$ROUNDS" -ge 5 ] || { echo "error: ROUNDS must be at least 5" >&2; exit 1; }
DIR=${MMARROW_BENCH_DIR:-target/bench-append}
mkdir -p "$DIR"
fstype=$(df --output=fstype "$DIR" | tail -1)
if [ "$fstype" = tmpfs ] || [ "$fstype" = ramfs ]; then
    echo "error: $DIR is on $fstype; fsync is free there. Use a real disk." >&2
    exit 1
fi

cargo build --release --features bench-helpers --example append_bench >&2
BIN=target/release/examples/append_bench  # benches/helpers/append_bench.rs

DD_FILE="$DIR/dd.bin"
MM_FILE="$DIR/append.f32"
RESULTS="$DIR/results.txt"
: >"$RESULTS"

clean() {
    rm -f "$DD_FILE" "$MM_FILE" "$MM_FILE".mmarrow.json "$DIR"/.append.f32*.tmp-*
    sync
    sleep 1
}

run_dd() {
    # dd's last stderr line: "1073741824 bytes (...) copied, 1.23 s, 870 MB/s"
    dd if=/dev/zero of="$DD_FILE" bs=4M count=256 conv=fsync 2>&1 |
        awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }'
}

run_mm() {
    "$BIN" "$MM_FILE" "$1" | sed -E 's/.*"seconds":([0-9.]+).*/\1/'
}

echo "dir: $DIR ($fstype, $(df -h --output=source "$DIR" | tail -1)); nproc $(nproc);" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
clean
echo "warm-up round (untimed)" >&2
run_dd >/dev/null; clean
run_mm one-commit >/dev/null; clean
run_mm commit-64m >/dev/null; clean

for r in $(seq 1 "$ROUNDS"); do
    a=$(run_dd); clean
    b=$(run_mm one-commit); clean
    c=$(run_mm commit-64m); clean
    echo "round $r: dd $a s, one-commit $b s, commit-64m $c s" >&2
    printf 'dd %s\none-commit %s\ncommit-64m %s\n' "$a" "$b" "$c" >>"$RESULTS"
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$RESULTS" <<'EOF'
import statistics, sys
secs = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    secs.setdefault(k, []).append(float(v))
GB = 2**30 / 1e6  # MB in the 1 GiB written
mbps = {k: [GB / s for s in v] for k, v in secs.items()}
med = {k: statistics.median(v) for k, v in mbps.items()}
print(f"{'run':<12} {'n':>2} {'median MB/s':>12} {'range MB/s':>16} {'median s':>9}")
for k in ("dd", "one-commit", "commit-64m"):
    v = mbps[k]
    print(f"{k:<12} {len(v):>2} {med[k]:>12.0f} {min(v):>7.0f} – {max(v):<6.0f} {statistics.median(secs[k]):>9.3f}")
# Per-round ratios show how much of the spread is the disk, not the writer.
for k, target in (("one-commit", 0.8), ("commit-64m", 0.6)):
    per_round = [m / d for m, d in zip(mbps[k], mbps["dd"])]
    r = med[k] / med["dd"]
    print(f"{k}/dd: {r:.2f}x of medians (target >= {target}x: {'met' if r >= target else 'NOT met'});"
          f" per-round ratios {min(per_round):.2f}–{max(per_round):.2f}, median {statistics.median(per_round):.2f}")
EOF

#!/usr/bin/env bash
# Alternates `benches/table.rs` (loop mode) and `benches/compare_table_open.py`
# (pyarrow's zero-copy IPC open) N times, then pools every round of every run
# and prints, per case, the median and range of wall and CPU time (µs).
#
# Usage: benches/table_compare.sh [alternations=5] [ms per case per round=300]
# Env: QUIET_WAIT (s, default 60): before each run, wait up to that long for
# the machine to be < 20 % busy over 1 s (the busy share is logged).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
MS=${2:-300}
QUIET_WAIT=${QUIET_WAIT:-60}
PY=${PY:-.venv/bin/python}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

busy() { # % of CPU time not idle over 1 s, all cores
  local a b
  read -r -a a < /proc/stat; sleep 1; read -r -a b < /proc/stat
  local t1=$((a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7]))
  local t2=$((b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7]))
  echo $((100 - 100 * (b[4] - a[4]) / (t2 - t1)))
}
wait_quiet() {
  local start=$SECONDS b
  while b=$(busy); [ "$b" -ge 20 ] && [ $((SECONDS - start)) -lt "$QUIET_WAIT" ]; do :; done
  echo "  busy before run: ${b}% (waited $((SECONDS - start)) s), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

cargo bench --bench table --no-run 2>/dev/null
bin=$(cargo bench --bench table --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))/\1/p')
for i in $(seq "$N"); do
  echo "alternation $i/$N" >&2
  wait_quiet
  MMARROW_BENCH_LOOP=$MS MMARROW_BENCH_ROUNDS=3 MMARROW_BENCH_RAW=1 "$bin" 2>>"$raw" >/dev/null
  wait_quiet
  "$PY" benches/compare_table_open.py --rounds 3 --raw 2>>"$raw" >/dev/null
done
"$PY" - "$raw" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("raw\t"):
        _, name, w, c = line.split("\t")
        rows.setdefault(name, ([], []))
        rows[name][0].append(float(w))
        rows[name][1].append(float(c))
print("| id | rounds | wall median | wall range | CPU median | CPU range |")
print("|---|---:|---:|---:|---:|---:|")
def fmt(x):
    return f"{x / 1000:.2f} ms" if x >= 10_000 else f"{x:.1f} µs"
for name, (w, c) in rows.items():
    print(f"| {name} | {len(w)} | {fmt(statistics.median(w))} | {fmt(min(w))}–{fmt(max(w))} "
          f"| {fmt(statistics.median(c))} | {fmt(min(c))}–{fmt(max(c))} |")
EOF

#!/usr/bin/env bash
# A/B of two mmarrow binaries (before and after a change), side by side in one run:
# to-parquet and from-parquet of a 1,000,000 x 128 float32 tensor (512 MB) and a
# 100,000,000 float32 vector (400 MB), codecs none and zstd, alternating A B, 5 rounds.
# Prints one line per conversion pair: CASE CODEC TOOL to=SECONDS from=SECONDS.
# Usage: bash benches/ab_convert.sh OLD_BINARY NEW_BINARY WORK_DIR
#   e.g. git worktree add /tmp/base <commit> &&
#        (cd /tmp/base && CARGO_TARGET_DIR=$PWD/target cargo build --release --bin mmarrow) ...
set -euo pipefail
A=$1; B=$2; D=$3
mkdir -p "$D"
PY=${PYTHON:-$(dirname "$0")/../.venv/bin/python}
if [ ! -f $D/t.f32 ]; then
  $PY -c "import numpy as np; r=np.random.default_rng(1); r.standard_normal((1000000,128),dtype=np.float32).tofile('$D/t.f32'); r.standard_normal(100000000,dtype=np.float32).tofile('$D/v.f32')"
  $B describe $D/t.f32 --dtype float32 --shape -1,128 --force >/dev/null
  $B describe $D/v.f32 --dtype float32 --force >/dev/null
fi
t() { local s=$(date +%s.%N); "$@" >/dev/null; local e=$(date +%s.%N); echo "$e - $s" | bc; }
for case in t v; do
for codec in none zstd; do
  for r in 1 2 3 4 5; do
    for tool in A B; do
      bin=${!tool}; cat $D/$case.f32 > /dev/null
      rm -f $D/o.parquet; ta=$(t $bin to-parquet $D/$case.f32 $D/o.parquet --compression $codec --force)
      rm -f $D/back.f32 $D/back.f32.mmarrow.json; tb=$(t $bin from-parquet $D/o.parquet $D/back.f32 --force)
      echo "$case $codec $tool to=$ta from=$tb"
    done
  done
done
done

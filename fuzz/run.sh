#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 600) on one core, growing the
# local corpus fuzz/corpus/TARGET from the committed seeds fuzz/seeds/TARGET.
#   fuzz/run.sh TARGET [SECONDS]
# Log: fuzz/logs/TARGET.fuzz.log (libFuzzer), fuzz/logs/TARGET.log (cargo). Crashes: fuzz/artifacts/TARGET/. Third-party
# decoder panics seen by the parquet and ipc targets: fuzz/third_party/TARGET/.
# -fork=1 with -ignore_crashes keeps one worker going past a crash, so a
# shallow known bug does not end the run; each crash is still saved.
set -euo pipefail
cd "$(dirname "$0")"
t=$1
secs=${2:-600}
mkdir -p corpus/$t logs artifacts/$t
export MMARROW_FUZZ_THIRD_PARTY_DIR=$PWD/third_party/$t
cargo +nightly fuzz run "$t" corpus/$t seeds/$t -- \
    -max_total_time="$secs" -jobs=1 -workers=1 -fork=1 -ignore_crashes=1 \
    -ignore_ooms=1 -ignore_timeouts=1 -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -print_final_stats=1 \
    -artifact_prefix=artifacts/$t/ 2>&1 | tee logs/$t.log
# -jobs=1 runs the fuzzer in a child that logs to fuzz-0.log.
if [ -f fuzz-0.log ]; then mv fuzz-0.log logs/$t.fuzz.log; fi

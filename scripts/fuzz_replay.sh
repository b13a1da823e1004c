#!/usr/bin/env bash
# Replays every fuzz target's committed seeds and regressions (fuzz/seeds/,
# fuzz/regressions/) and the bad-input corpus (tests/corpus/bad/) on the
# stable toolchain: the fuzz targets' own code (fuzz/fuzz_targets/common.rs)
# runs inside the integration test crate, so CI needs no nightly.
#   scripts/fuzz_replay.sh            seeds + regressions + bad corpus
#   scripts/fuzz_replay.sh --corpus   also the local fuzz/corpus/ that
#                                     `cargo fuzz run` grows (not committed)
#   scripts/fuzz_replay.sh --libfuzzer  the same seeds through the libFuzzer
#                                     binaries (nightly + cargo-fuzz), -runs=0
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
--libfuzzer)
    cd fuzz
    for t in sidecar npy_header manifest array_open table_open parquet ipc; do
        dirs=(seeds/$t)
        [ -d regressions/$t ] && dirs+=(regressions/$t)
        cargo +nightly fuzz run "$t" "${dirs[@]}" -- -runs=0 -rss_limit_mb=2048
    done
    ;;
--corpus)
    MMARROW_FUZZ_CORPUS=1 cargo test --quiet --features test-helpers --test it bad_corpus:: -- --nocapture
    ;;
"")
    cargo test --quiet --features test-helpers --test it bad_corpus:: -- --nocapture
    ;;
*)
    echo "usage: $0 [--corpus | --libfuzzer]" >&2
    exit 2
    ;;
esac

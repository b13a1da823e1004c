#!/usr/bin/env bash
# Runs every test of mmarrow:
#   1. Rust: unit tests, integration tests (tests/it, incl. the real CLI binary and the
#      DataFusion provider), doc tests;
#   2. Python interop (tests/python): real numpy / pyarrow / polars / duckdb from PyPI,
#      installed into .venv on first use (from tests/python/requirements.txt);
#   3. the Python package (python/): built and installed into .venv by
#      `pip install ./python` (one release build of the extension, incremental
#      on reruns), then tested by tests/python/test_python_package.py.
# Usage: bash scripts/test.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
# --features test-helpers,fault-injection (helper programs; the named failure
# points of tests/it/faults.rs), datafusion (the provider, `mmarrow sql`): the
# same feature set as the build below, so the library and DataFusion (about 18
# CPU-minutes from clean) are compiled once.
features=test-helpers,fault-injection,datafusion
cargo test --quiet --features "$features"
# The Python suite drives these debug builds: the CLI and the helper programs
# of tests/helpers (examples gated by the test-helpers feature).
cargo build --quiet --bins --examples --features "$features"

echo "== python venv"
req=tests/python/requirements.txt
stamp=.venv/.requirements.stamp
if [ ! -x .venv/bin/python ] || ! cmp -s "$req" "$stamp"; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi

echo "== python package (pip install ./python)"
# maturin comes pinned from requirements.txt (no build isolation: no download
# per run); the extension's release build reuses target/ across runs.
PATH="$PWD/.venv/bin:$PATH" CARGO_TARGET_DIR="$PWD/target" .venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps ./python

echo "== cargo test -p mmarrow-python (the extension's own unit tests)"
PATH="$PWD/.venv/bin:$PATH" cargo test --quiet -p mmarrow-python --lib

echo "== pytest"
MMARROW_BIN="$PWD/target/debug/mmarrow" \
MMARROW_HELPERS_DIR="$PWD/target/debug/examples" \
  .venv/bin/python -m pytest tests/python -q -p no:cacheprovider

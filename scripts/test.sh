#!/usr/bin/env bash
# Runs every test of mmarrow:
#   1. Rust: unit tests, integration tests (tests/it, incl. the real CLI binary), doc tests;
#   2. Python interop (tests/python): real numpy / pyarrow / polars / duckdb from PyPI,
#      installed into .venv on first use (from tests/python/requirements.txt).
# Usage: bash scripts/test.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
cargo test --quiet
# The Python suite drives these debug builds (cargo test built the binary; make sure of the examples).
cargo build --quiet --bins --examples

echo "== python venv"
req=tests/python/requirements.txt
stamp=.venv/.requirements.stamp
if [ ! -x .venv/bin/python ] || ! cmp -s "$req" "$stamp"; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi

echo "== pytest"
MMARROW_BIN="$PWD/target/debug/mmarrow" \
MMARROW_EXAMPLES_DIR="$PWD/target/debug/examples" \
  .venv/bin/python -m pytest tests/python -q -p no:cacheprovider

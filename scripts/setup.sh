#!/usr/bin/env bash
# Create .venv with the project and its test tools installed (idempotent). Needs Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install --quiet -e ".[test,lake]" 2>&1 | grep -v "^WARNING: Location" || true
# The DuckDB CLI for analysts (`.venv/bin/duckdb -readonly data/crm_readonly.duckdb`): a release of its own,
# which reads the file because the pipeline writes it in an older storage format (crm_pipeline/storage/compat.py).
.venv/bin/python -m pip install --quiet "duckdb-cli>=1.5" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import crm_pipeline.definitions" # fails loudly if the install did not work
test -x .venv/bin/duckdb || { echo "setup: the DuckDB CLI (duckdb-cli) did not install" >&2; exit 1; }
# The browser test of the Dagster UI needs Debian's chromium and chromium-driver. `setup.sh --browser`
# (scripts/test.sh) installs them when missing and possible (Debian, root); otherwise that test is
# skipped outside CI, with a note. The demo does not need them.
if [ "${1:-}" = "--browser" ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q chromium chromium-driver \
      || { echo "setup: could not install chromium; the UI browser test will not run" >&2; [ -z "${CI:-}" ]; }
  else
    echo "setup: chromium/chromedriver not found (apt-get install chromium chromium-driver); the UI browser test is skipped" >&2
  fi
fi

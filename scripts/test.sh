#!/usr/bin/env bash
# Set up .venv and run the test suite (against the sandbox and real DuckDB files in temp folders).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m pytest -q "$@"

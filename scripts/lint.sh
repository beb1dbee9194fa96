#!/usr/bin/env bash
# ruff's lint and format checks (configured in pyproject.toml), as CI runs them; `--fix` to apply both instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fix" ]; then
  .venv/bin/ruff format .
  exec .venv/bin/ruff check --fix .
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .

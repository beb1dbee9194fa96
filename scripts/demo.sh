#!/usr/bin/env bash
# Set up .venv, start the sandbox API, load it into data/demo.duckdb with Dagster, print a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m crm_pipeline_tests.demo "$@"

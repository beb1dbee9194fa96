"""SQL models in `dbt_like_sql/`, dbt-style without dbt: load, compile, build, check (no Dagster here)."""

from crm_pipeline.sql_models.loader import (
    PROJECT_DIR,
    DataTest,
    Model,
    SqlModelError,
    build_order,
    compile_sql,
    load_project,
)
from crm_pipeline.sql_models.runner import (
    Check,
    CheckOutcome,
    build_all,
    build_model,
    model_checks,
    run_check,
)

__all__ = [
    "PROJECT_DIR",
    "Check",
    "CheckOutcome",
    "DataTest",
    "Model",
    "SqlModelError",
    "build_all",
    "build_model",
    "build_order",
    "compile_sql",
    "load_project",
    "model_checks",
    "run_check",
]

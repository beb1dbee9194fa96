"""When SQL models rebuild: declarative automation on the data versions of the tables they read."""

from __future__ import annotations

from dagster import AutomationCondition


def rebuild_when_sources_change() -> AutomationCondition:
    """Like `AutomationCondition.eager()`, but a dependency counts as updated only when its data version
    changed (raw tables: rows written or deletions marked), not on every materialization. So a sensor
    tick that finds nothing new in the API rebuilds nothing; a model is also built when it is missing.
    It waits while a dependency is missing or being written, and while the model itself is running.
    """
    source_changed = AutomationCondition.any_deps_match(
        (AutomationCondition.data_version_changed() & ~AutomationCondition.executed_with_root_target())
        | AutomationCondition.will_be_requested()
    ).with_label("any_deps_data_changed")
    return (
        (AutomationCondition.newly_missing() | source_changed).since_last_handled()
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("rebuild_when_sources_change")

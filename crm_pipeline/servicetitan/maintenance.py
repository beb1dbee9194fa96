"""Says once per maintenance window, not at every retry, that the API is in maintenance."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("crm_pipeline.servicetitan")


class MaintenanceNotice:
    """Counts this process's requests waiting out a window per API and tenant; logs when the first
    begins waiting and when the last is through."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, int] = {}
        self._since: dict[str, float] = {}

    def update(self, key: str, *, in_window: bool, limit: float) -> None:
        """One request of ``key`` began (``in_window``) or ended waiting; ``limit`` is its longest wait."""
        with self._lock:
            count = self._waiting.get(key, 0) + (1 if in_window else -1)
            self._waiting[key] = max(count, 0)
            if in_window and count == 1:
                self._since[key] = time.monotonic()
                log.warning(
                    "%s: the API answers 409, suspended for maintenance; waiting the window out "
                    "(up to %.0f min per request)",
                    key,
                    limit / 60,
                )
            elif not in_window and count == 0:
                waited = time.monotonic() - self._since.pop(key, time.monotonic())
                log.warning("%s: the maintenance window is over after %.0f s; going on", key, waited)

    def waiting(self, key: str) -> int:
        """Requests of ``key`` waiting out a window now."""
        with self._lock:
            return self._waiting.get(key, 0)


MAINTENANCE_NOTICE = MaintenanceNotice()

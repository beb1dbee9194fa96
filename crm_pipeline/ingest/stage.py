"""The prefetch/validate stage every sync shares: raw pages in, prepared (validated) pages out.

A background thread takes page after page from the client's walk and prepares it (validation and
the Arrow layout, under the GIL) while the caller commits the previous ones (DuckDB, without the GIL).
Prepared pages wait for their commit up to AHEAD_BYTES of them: enough to cover the commits that take
long (a checkpoint per row group writes one while several pages could be validated), so that the
thread that fetches and validates, the load's slower side, never waits; bounded in bytes, so that wide
pages do not hold more memory than narrow ones.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

AHEAD_BYTES = 16 * 2**20  # prepared pages waiting for their commit, at most (one always may)
_END = object()


def prepared(
    pages: Callable[[threading.Event], Iterable],
    prepare: Callable[[Any], Any],
    size: Callable[[Any], int] | None = None,
) -> Iterator:
    """Yield `prepare(page)` for each page of `pages(stop)`, computed ahead in a background thread;
    `size(prepared)` is what a prepared page holds in memory (bytes) while it waits (None: as much as
    AHEAD_BYTES, so one page waits at a time).

    `stop` is set when the caller stops early (or fails): the walk's waits and retries end with it."""
    stop = threading.Event()
    ahead = _Ahead(lambda: (prepare(page) for page in pages(stop)), stop, size)
    try:
        while (item := ahead.next()) is not _END:
            yield item
            del item  # the caller has it: not kept here while the next one is awaited
    finally:
        stop.set()
        ahead.drain()


class _Ahead:
    """The stage's thread: a daemon, so that a fetch still waiting on the network never holds up exit."""

    def __init__(
        self, produce: Callable[[], Iterator], stop: threading.Event, size: Callable[[Any], int] | None
    ) -> None:
        self._items: deque[tuple[Any, int]] = deque()
        self._bytes = 0  # the sizes of the items waiting
        self._changed = threading.Condition()
        self._stop, self._size = stop, size or (lambda item: AHEAD_BYTES)
        threading.Thread(target=self._run, args=(produce,), name="crm-prefetch", daemon=True).start()

    def next(self) -> Any:
        """The next prepared page, or _END; an error of the walk is raised here."""
        with self._changed:
            while not self._items:
                self._changed.wait()
            item, size = self._items.popleft()
            self._bytes -= size
            self._changed.notify_all()
        if isinstance(item, BaseException):
            raise item
        return item

    def drain(self) -> None:
        """Drop what waits (the thread, waiting for room, then sees the stop)."""
        with self._changed:
            self._items.clear()
            self._bytes = 0
            self._changed.notify_all()

    def _put(self, item: Any, size: int = 0) -> bool:
        with self._changed:
            while self._items and self._bytes + size > AHEAD_BYTES and not self._stop.is_set():
                self._changed.wait(0.05)
            if self._stop.is_set():
                return False
            self._items.append((item, size))
            self._bytes += size
            self._changed.notify_all()
            return True

    def _run(self, produce: Callable[[], Iterator]) -> None:
        try:
            for item in produce():
                if not self._put(item, self._size(item)):
                    return
                del item  # nothing of a page kept while the next one is fetched
            self._put(_END)
        except BaseException as exc:  # re-raised in the caller by next()
            self._put(exc)

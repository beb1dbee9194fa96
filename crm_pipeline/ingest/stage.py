"""The prefetch/validate stage every sync shares: raw pages in, prepared (validated) pages out.

A background thread takes page after page from the client's walk and prepares it (validation and
the Arrow layout, under the GIL) while the caller commits the previous one (DuckDB, without the GIL),
up to DEPTH pages ahead: a slow commit or a slow answer is absorbed instead of stalling the other side.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

DEPTH = 2  # pages fetched and prepared ahead of the caller, at most
_END = object()


def prepared(pages: Callable[[threading.Event], Iterable], prepare: Callable[[Any], Any]) -> Iterator:
    """Yield `prepare(page)` for each page of `pages(stop)`, computed ahead in a background thread.

    `stop` is set when the caller stops early (or fails): the walk's waits and retries end with it."""
    stop = threading.Event()
    ahead = _Ahead(lambda: (prepare(page) for page in pages(stop)), stop)
    try:
        while (item := ahead.next()) is not _END:
            yield item
            del item  # the caller has it: not kept here while the next one is awaited
    finally:
        stop.set()
        ahead.drain()


class _Ahead:
    """The stage's thread: a daemon, so that a fetch still waiting on the network never holds up exit."""

    def __init__(self, produce: Callable[[], Iterator], stop: threading.Event) -> None:
        self._items: queue.Queue = queue.Queue(maxsize=DEPTH - 1)
        self._stop = stop
        threading.Thread(target=self._run, args=(produce,), name="crm-prefetch", daemon=True).start()

    def next(self) -> Any:
        """The next prepared page, or _END; an error of the walk is raised here."""
        item = self._items.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def drain(self) -> None:
        """Drop what waits (the thread, blocked on a full queue, then sees the stop)."""
        while True:
            try:
                self._items.get_nowait()
            except queue.Empty:
                return

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, produce: Callable[[], Iterator]) -> None:
        try:
            for item in produce():
                if not self._put(item):
                    return
                del item  # nothing of a page kept while the next one is fetched
            self._put(_END)
        except BaseException as exc:  # re-raised in the caller by next()
            self._put(exc)

"""Page objects and the walks over export feeds (continueFrom) and list endpoints (page numbers)."""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .errors import UnexpectedResponse

Getter = Callable[..., dict]  # (path, params, stop) -> parsed JSON object


@dataclass(frozen=True)
class ExportPage:
    """One answer of an export feed. ``requested_from`` is the ``from`` sent (None: no ``from``).

    ``data`` holds the records parsed, or (walked with ``raw_records``) mostly as their JSON text."""

    data: list = field(repr=False)
    continue_from: str
    has_more: bool
    requested_from: str | None


@dataclass(frozen=True)
class ListPage:
    """One page of a list endpoint; ``total_count`` is only known when the API sent it (page 1)."""

    data: list[dict] = field(repr=False)
    page: int
    has_more: bool
    total_count: int | None = None
    page_size: int | None = None


def export_pages(
    get: Getter, path: str, start: str | None, include_recent_changes: bool, prefetch: bool,
    prepare: Callable[[list], Any] | None = None,
) -> Iterator[ExportPage]:
    """Yield the pages of export feed ``path`` from ``start`` through the first ``hasMore=false``.

    With ``prepare``, each page's ``data`` is ``prepare(records)``, computed where the page is fetched
    (in the prefetch thread, ahead of the caller)."""
    stop = threading.Event()

    def fetch(frm: str | None) -> ExportPage:
        params: dict[str, Any] = {}
        if frm is not None:
            params["from"] = frm
        if include_recent_changes:
            params["includeRecentChanges"] = True
        page = _export_page(path, get(path, params, stop), frm)
        if prepare is not None:
            page = dataclasses.replace(page, data=prepare(page.data))
        return page

    pending: Future[ExportPage] | None = None
    background = _Background() if prefetch else None
    try:
        page = fetch(start)
        while True:
            if page.has_more and background is not None:
                pending = background.submit(fetch, page.continue_from)
            more, cont = page.has_more, page.continue_from
            yield page
            del page  # the caller has it: not kept here while the next one is awaited
            if not more:
                return
            if pending is not None:
                page, pending = pending.result(), None
            else:
                page = fetch(cont)
    finally:  # also on early close: stop the worker's waits and retries, drop its page
        stop.set()
        if pending is not None:
            pending.cancel()
        if background is not None:
            background.close()


def list_pages(get: Getter, path: str, params: Mapping[str, Any] | None, page_size: int) -> Iterator[ListPage]:
    """Yield pages 1, 2, ... of list endpoint ``path`` until one says ``hasMore`` is false."""
    if not 1 <= page_size <= 5000:
        raise ValueError(f"page_size must be between 1 and 5000, got {page_size}")
    number = 1
    while True:
        query = dict(params or {})
        query.update(page=number, pageSize=page_size)
        if number == 1:
            query["includeTotal"] = True
        doc = get(path, query)
        data = _data(path, doc)
        total = _field(doc, "totalCount")
        size = _field(doc, "pageSize")
        page = ListPage(
            data=data, page=number, has_more=_as_bool(_field(doc, "hasMore")),
            total_count=int(total) if total is not None else None,
            page_size=int(size) if size is not None else None,
        )
        yield page
        if not page.has_more:
            return
        number += 1


def _export_page(path: str, doc: dict, requested: str | None) -> ExportPage:
    data = _data(path, doc)
    has_more = _as_bool(_field(doc, "hasMore"))
    cont = _field(doc, "continueFrom")
    if cont is None or cont == "":
        if has_more:
            raise UnexpectedResponse(f"{path}: hasMore=true but no continueFrom; cannot go on")
        cont = requested or ""  # nothing new: stay where we are
    cont = str(cont)
    if has_more and not data and cont == requested:
        raise UnexpectedResponse(f"{path}: hasMore=true with no data and the same continueFrom; would loop")
    return ExportPage(data=data, continue_from=cont, has_more=has_more, requested_from=requested)


def _data(path: str, doc: Any) -> list[dict]:
    if not isinstance(doc, dict):
        raise UnexpectedResponse(f"{path} answered 200 with JSON that is not an object ({type(doc).__name__})")
    data = _field(doc, "data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise UnexpectedResponse(f"{path}: 'data' is a {type(data).__name__}, expected a list")
    return data


def _field(doc: dict, name: str) -> Any:
    """``doc[name]``, tolerating other capitalisations (``HasMore``, ``hasmore``)."""
    if name in doc:
        return doc[name]
    lowered = name.lower()
    for key, value in doc.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


class _Background:
    """One daemon thread running the calls submitted, one at a time (the whole walk's prefetches:
    one thread, so one allocator arena, rather than a thread per page). A daemon, so that a fetch
    still waiting on the network never holds up the interpreter's exit."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="servicetitan-prefetch", daemon=True).start()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future:
        """Run ``fn(arg)`` in the thread; the Future carries its result or exception."""
        fut: Future = Future()
        self._calls.put((fn, arg, fut))
        return fut

    def close(self) -> None:
        self._calls.put(None)  # the thread ends after the call under way, if any

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, arg, fut = call
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(arg))
            except BaseException as exc:  # re-raised in the consumer by fut.result()
                fut.set_exception(exc)
            del call, fn, arg, fut  # nothing of a page kept while waiting for the next call

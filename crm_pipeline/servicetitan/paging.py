"""Page objects and the walks over export feeds (continueFrom) and list endpoints (page numbers)."""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
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


PREFETCH_DEPTH = 2  # pages fetched and prepared ahead of the caller, at most


def export_pages(
    get: Getter, path: str, start: str | None, include_recent_changes: bool, prefetch: bool,
    prepare: Callable[[list], Any] | None = None,
) -> Iterator[ExportPage]:
    """Yield the pages of export feed ``path`` from ``start`` through the first ``hasMore=false``.

    With ``prepare``, each page's ``data`` is ``prepare(records)``. With ``prefetch``, pages are
    fetched and prepared in a background thread, up to PREFETCH_DEPTH ahead of the caller: a slow
    page on either side (a DuckDB checkpoint, a slow answer) is absorbed instead of stalling the other."""
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

    if not prefetch:
        frm = start
        while True:
            page = fetch(frm)
            more, frm = page.has_more, page.continue_from
            yield page
            del page  # the caller has it: not kept here while the next one is fetched
            if not more:
                return

    ahead = _Ahead(fetch, start, stop)
    try:
        while (page := ahead.next()) is not None:
            yield page
            del page  # the caller has it: not kept here while the next one is awaited
    finally:  # also on early close: stop the worker's waits and retries, drop its pages
        stop.set()
        ahead.drain()


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


class _Ahead:
    """The walk's background thread: fetches (and prepares) page after page into a queue of
    PREFETCH_DEPTH - 1, so that it holds at most PREFETCH_DEPTH pages the caller has not taken. A
    daemon, so that a fetch still waiting on the network never holds up the interpreter's exit."""

    _END = object()

    def __init__(self, fetch: Callable[[str | None], ExportPage], start: str | None, stop: threading.Event):
        self._pages: queue.Queue = queue.Queue(maxsize=PREFETCH_DEPTH - 1)
        self._stop = stop
        threading.Thread(target=self._run, args=(fetch, start), name="servicetitan-prefetch", daemon=True).start()

    def next(self) -> ExportPage | None:
        """The next page, None after the last; an error of the walk is raised here."""
        item = self._pages.get()
        if isinstance(item, BaseException):
            raise item
        return None if item is self._END else item

    def drain(self) -> None:
        """Drop the pages waiting (the thread, if blocked on a full queue, then sees the stop)."""
        while True:
            try:
                self._pages.get_nowait()
            except queue.Empty:
                return

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, fetch: Callable[[str | None], ExportPage], frm: str | None) -> None:
        try:
            while not self._stop.is_set():
                page = fetch(frm)
                more, frm = page.has_more, page.continue_from
                if not self._put(page):
                    return
                del page  # nothing of a page kept while the next one is fetched
                if not more:
                    self._put(self._END)
                    return
        except BaseException as exc:  # re-raised in the caller by next()
            self._put(exc)

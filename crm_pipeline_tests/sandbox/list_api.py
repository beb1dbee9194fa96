"""HTTP side of the list endpoints: parameters, filters, order, paging.

Paged answers are `{"page","pageSize","hasMore","totalCount","data"}`. Default order is the
modification order (modifiedOn ascending), so a record modified during a paged walk moves to the
end and shifts the others by one: the skip hazard of the real API.
"""

from __future__ import annotations

import json
import re

from .feeds import BadRequest, parse_bool
from .lists import ENDPOINTS, Endpoint, project
from .responses import JSON, Request, Response, problem
from .timestamps import parse_instant

MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, MAX_IDS = 5000, 50, 50
_SORT = re.compile(r"^\s*([+\- ]?)\s*(\w+)\s*$")
_SORT_FIELDS = {"id": None, "modifiedon": "mod", "createdon": "created"}
_DATE_FILTERS = {
    "m": (("modifiedOnOrAfter", "mod", True), ("modifiedBefore", "mod", False)),
    "c": (("createdOnOrAfter", "created", True), ("createdBefore", "created", False)),
}


def invalid(name: str, message: str) -> BadRequest:
    """A 400 problem answer about one parameter."""
    return BadRequest(problem(400, "One or more validation errors occurred.", {name: [message]}))


def parse_int(req: Request, name: str, default: int, low: int, high: int) -> int:
    """An optional integer parameter within [low, high]; raises BadRequest."""
    value = req.arg(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise invalid(name, f"The value '{value[:80]}' is not valid.") from None
    if not low <= number <= high:
        raise invalid(name, f"The field {name} must be between {low} and {high}.")
    return number


def parse_filters(req: Request, ep: Endpoint) -> tuple:
    """The active filters as a hashable tuple: (dates, ids, active, sort); raises BadRequest."""
    dates = []
    for group in ep.filters:
        for name, field, on_or_after in _DATE_FILTERS[group]:
            value = req.arg(name)
            if value is not None and value.strip():
                ticks = parse_instant(value)
                if ticks is None:
                    raise invalid(name, f"The value '{value[:80]}' is not valid.")
                dates.append((field, on_or_after, ticks))
    ids = None
    if ep.ids and (req.arg("ids") or "").strip():
        parts = [p.strip() for p in req.arg("ids").split(",") if p.strip()]
        if len(parts) > MAX_IDS:
            raise invalid("ids", f"Maximum {MAX_IDS} IDs are allowed.")
        try:
            ids = frozenset(int(p) for p in parts)
        except ValueError:
            raise invalid("ids", f"The value '{req.arg('ids')[:80]}' is not valid.") from None
    active = True if ep.active else None
    if ep.active and req.arg("active") is not None and req.arg("active").strip():
        value = req.arg("active").strip().lower()
        if value not in ("true", "false", "any"):
            raise invalid("active", f"The value '{req.arg('active')[:80]}' is not valid.")
        active = None if value == "any" else value == "true"
    sort = None
    if ep.sort and (req.arg("sort") or "").strip():
        match = _SORT.match(req.arg("sort"))
        if not match or match[2].lower() not in _SORT_FIELDS:
            raise invalid("sort", "Sorting is supported by the fields: Id, ModifiedOn, CreatedOn.")
        sort = (_SORT_FIELDS[match[2].lower()], match[1] == "-")
    return tuple(dates), ids, active, sort


def select(coll, candidates, filters: tuple) -> list:
    """Ids among `candidates` (in seq order) that pass the filters, in the requested order."""
    dates, ids, active, sort = filters
    entries = coll.entries()
    out = []
    for rid in candidates:
        e = entries.get(rid)
        if (
            e is None
            or (ids is not None and rid not in ids)
            or (active is not None and e.active is not active)
        ):
            continue
        ok = True
        for field, on_or_after, ticks in dates:
            value = e.mod if field == "mod" else e.created
            if value is None or (value < ticks if on_or_after else value >= ticks):
                ok = False
                break
        if ok:
            out.append(rid)
    if sort is not None:
        field, descending = sort

        def key(rid):
            value = rid if field is None else getattr(entries[rid], field)
            return (value if value is not None else -1, rid)

        out.sort(key=key, reverse=descending)
    return out


def path_params(ep: Endpoint, groups: dict) -> dict:
    """The path parameters of a request: `id` as an integer, GUIDs in lower case; raises BadRequest."""
    params = {}
    for name in ep.params:
        value = groups[name]
        if name == "id":
            try:
                value = int(value)
            except ValueError:
                raise invalid("id", f"The value '{value[:80]}' is not valid.") from None
        params[name] = value.lower() if isinstance(value, str) else value
    return params


def list_handler(app, req: Request, ep: Endpoint, groups: dict) -> Response:
    """Serve one list endpoint."""
    lists = app.lists
    coll = lists.collection(ep.store)
    try:
        params = path_params(ep, groups)
        if ep.kind != "paged":
            page, size, total = 1, MAX_PAGE_SIZE, False
        else:
            page = parse_int(req, "page", 1, 1, 2**31 - 1)
            size = parse_int(req, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
            total = parse_bool(req, "includeTotal")
        filters = parse_filters(req, ep)
    except BadRequest as exc:
        return exc.response
    if ep.parent:
        children = lists.children(ep, params)
        if children is None:
            return problem(
                404, "Not Found", {"id": [f"{ep.parent} {list(params.values())[-1]} was not found."]}
            )
        ids = select(coll, children, filters)
    else:
        key = (coll.version, filters)
        cached = lists.cache.get(ep.path)
        if cached is not None and cached[0] == key:
            ids = cached[1]
        else:
            ids = select(coll, list(coll.entries()), filters)
            lists.cache[ep.path] = (key, ids)
    if ep.kind == "value":
        return Response(200, (coll.body(ids[0]) if ids else None) or b"null", JSON)
    chunk = ids[(page - 1) * size : page * size]
    bodies = (coll.body(rid) for rid in chunk)  # None: deleted since the ids were selected
    data = b"[" + b",".join(project(ep, body) for body in bodies if body is not None) + b"]"
    if ep.kind == "array":
        return Response(200, data, JSON)
    head = json.dumps(
        {
            "page": page,
            "pageSize": size,
            "hasMore": page * size < len(ids),
            "totalCount": len(ids) if total else None,
        },
        separators=(",", ":"),
    )
    return Response(200, head[:-1].encode() + b',"data":' + data + b"}", JSON)


def _route(ep: Endpoint):
    def handler(app, req: Request, **groups) -> Response:
        """Serve this endpoint."""
        return list_handler(app, req, ep, groups)

    handler.__doc__ = f"GET {ep.path}"
    return handler


LIST_ROUTES = [("GET", ep.pattern, _route(ep)) for ep in ENDPOINTS.values()]

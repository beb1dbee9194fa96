"""Admin endpoints under /_sandbox/ (no auth), so other processes can drive a running sandbox.

- POST /_sandbox/change   {"feed": "export/customers", "n": 10}  -> {"ids": [...]}
- POST /_sandbox/add      {"feed": "export/customers", "n": 5}   -> {"ids": [...]}
- POST /_sandbox/put      {"feed": "export/customers", "record": {...}} -> {"ok": true}
- POST /_sandbox/delete   {"feed": "customers/{id}/notes", "n": 3}  -> {"ids": [...]} (list endpoints only)
  ("feed" may be any export feed path, list path or store name for change/add/delete)
- POST /_sandbox/faults   {"rates": {"429": 0.05}, "seed": 1} | {"add": {"kind": "500", "count": 2, ...}}
                          | {"clear": true}                   -> {"ok": true}
- POST /_sandbox/settings {"page_size": 50, "rate_limit": 20, "token_ttl": 15, "retry_after_header": false,
  "maintenance_seconds": 60} -> current settings (maintenance_seconds: a window from now, every request 409)
- POST /_sandbox/deny     {"path": "leads(/.*)?", "status": 403} | {"clear": true} -> {"ok": true}
                          (a scope the app lacks: 403, or a gateway's 404, on every path matching the regex)
- POST /_sandbox/expire-tokens                                  -> {"ok": true}
- GET  /_sandbox/records?feed=export/customers                  -> [records sorted by id] (also list paths)
- GET  /_sandbox/child-records?path=customers/{id}/notes        -> [[params, record], ...]
- GET  /_sandbox/stats                                         -> {"token_requests", "api_requests", settings}
"""

from __future__ import annotations

from .responses import Request, Response, json_response, problem

SETTINGS = ("page_size", "rate_limit", "token_ttl", "retry_after_header", "maintenance_seconds")


def _settings(app) -> dict:
    return {name: getattr(app, name) for name in SETTINGS}


def _change(app, req: Request, body: dict) -> Response:
    return json_response({"ids": app.change(body["feed"], int(body.get("n", 1)))})


def _add(app, req: Request, body: dict) -> Response:
    return json_response({"ids": app.add(body["feed"], int(body.get("n", 1)))})


def _delete(app, req: Request, body: dict) -> Response:
    return json_response({"ids": app.delete(body["feed"], int(body.get("n", 1)))})


def _child_records(app, req: Request, body: dict) -> Response:
    return json_response([[params, record] for params, record in app.child_records(req.arg("path") or "")])


def _put(app, req: Request, body: dict) -> Response:
    app.put(body["feed"], body["record"])
    return json_response({"ok": True})


def _faults(app, req: Request, body: dict) -> Response:
    if body.get("clear"):
        app.faults.clear()
    if "rates" in body:
        app.faults.set_rates(
            body["rates"],
            seed=body.get("seed"),
            retry_after=body.get("retry_after", 1),
            delay=body.get("delay", 3.0),
        )
    if "add" in body:
        app.faults.add(**body["add"])
    return json_response({"ok": True, "pending": app.faults.pending})


def _update_settings(app, req: Request, body: dict) -> Response:
    casts = {
        "page_size": int,
        "token_ttl": float,
        "rate_limit": lambda v: None if v is None else float(v),
        "retry_after_header": bool,
        "maintenance_seconds": float,
    }
    for name in SETTINGS:
        if name in body:
            setattr(app, name, casts[name](body[name]))
    return json_response(_settings(app))


def _deny(app, req: Request, body: dict) -> Response:
    if body.get("clear"):
        app.allow_all()
    if "path" in body:
        app.deny(body["path"], int(body.get("status", 403)))
    return json_response({"ok": True})


def _expire(app, req: Request, body: dict) -> Response:
    app.expire_tokens()
    return json_response({"ok": True})


def _records(app, req: Request, body: dict) -> Response:
    return json_response(app.records(req.arg("feed") or "export/customers"))


def _stats(app, req: Request, body: dict) -> Response:
    return json_response(
        {"token_requests": app.token_requests, "api_requests": len(app.request_log), **_settings(app)}
    )


ROUTES = {
    ("POST", "change"): _change,
    ("POST", "add"): _add,
    ("POST", "put"): _put,
    ("POST", "faults"): _faults,
    ("POST", "settings"): _update_settings,
    ("POST", "expire-tokens"): _expire,
    ("GET", "records"): _records,
    ("GET", "stats"): _stats,
    ("POST", "delete"): _delete,
    ("GET", "child-records"): _child_records,
    ("POST", "deny"): _deny,
}


def handle(app, req: Request) -> Response:
    """Dispatch one /_sandbox/ request; bad input -> 400 problem."""
    handler = ROUTES.get((req.method, req.path.removeprefix("/_sandbox/").strip("/")))
    if handler is None:
        return problem(404, "Not Found", {"path": [f"No sandbox admin endpoint {req.method} {req.path}."]})
    try:
        body = req.json() if req.method == "POST" else {}
        return handler(app, req, body)
    except (KeyError, TypeError, ValueError) as exc:
        return problem(400, "Bad sandbox admin request", {"detail": [f"{type(exc).__name__}: {exc}"]})

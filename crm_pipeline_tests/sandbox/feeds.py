"""Export feeds: `GET /crm/v2/tenant/{tenant}/export/{feed}?from=&includeRecentChanges=`.

Answer `{"hasMore", "continueFrom", "data"}`. A position is a store seq; `continueFrom` is an opaque
token (urlsafe base64 of salt, feed and seq) that only this tenant's feed accepts. `from` may also be
a date or ISO date-time: the feed then starts at records modified since then.
"""

from __future__ import annotations

import base64
import binascii
import re

from .responses import JSON, Request, Response, problem
from .store import FEEDS, Store
from .timestamps import parse_instant

RECENT_LAG = 3  # with includeRecentChanges=true, continueFrom lags this many records behind the page end
_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?([Zz]|[+-]\d{2}:?\d{2})?\s*$")


class BadRequest(ValueError):
    """A parameter the API would refuse; carries the problem answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def encode_token(salt: str, feed: str, seq: int) -> str:
    """The continueFrom token of a position in a feed."""
    return base64.urlsafe_b64encode(f"{salt}|{feed}|{seq}".encode()).decode().rstrip("=")


def decode_token(salt: str, feed: str, token: str) -> int | None:
    """The position of a token of this tenant's feed; None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token.strip() + "=" * (-len(token.strip()) % 4)).decode()
        token_salt, token_feed, seq = raw.split("|")
        if token_salt == salt and token_feed == feed and seq.isdigit():
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    return None


def start_position(store: Store, salt: str, feed: str, value: str | None) -> int:
    """Seq after which a page starts, from the `from` parameter; raises BadRequest."""
    if value is None or not value.strip():
        return 0
    if _DATE.match(value):
        ticks = parse_instant(value)
        if ticks is not None:
            return store.position_at(ticks)
    seq = decode_token(salt, feed, value)
    if seq is None:
        raise BadRequest(
            problem(
                400,
                "Invalid continuation token",
                {
                    "from": [
                        f"The value {value[:80]!r} is neither a continuation token of this export nor a date."
                    ]
                },
            )
        )
    return seq


def parse_bool(req: Request, name: str) -> bool:
    """An optional boolean query parameter, as ASP.NET binds it; raises BadRequest."""
    value = req.arg(name)
    if value is None or value == "":
        return False
    if value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadRequest(
        problem(
            400,
            "One or more validation errors occurred.",
            {name: [f"The value '{value[:80]}' is not valid."]},
        )
    )


def export_page(store: Store, salt: str, feed: str, after: int, page_size: int, recent: bool) -> bytes:
    """The JSON body of one export answer starting after position `after`."""
    items, has_more = store.page(after, max(1, page_size))
    if not items:
        cont = after
    elif has_more and recent:
        cont = items[-1 - min(RECENT_LAG, len(items) - 1)][0]  # repeat the last few records next time
    else:
        cont = items[-1][0]
    head = b'{"hasMore":%s,"continueFrom":"%s","data":[' % (
        b"true" if has_more else b"false",
        encode_token(salt, feed, cont).encode(),
    )
    return head + b",".join(body for _, body in items) + b"]}"


def export_handler(app, req: Request, feed: str) -> Response:
    """Serve one export feed page (feed: "export/customers", ...)."""
    store = app.registry.store(feed)
    try:
        after = start_position(store, app.token_salt, feed, req.arg("from"))
        recent = parse_bool(req, "includeRecentChanges")
    except BadRequest as exc:
        return exc.response
    return Response(200, export_page(store, app.token_salt, feed, after, app.page_size, recent), JSON)


EXPORT_ROUTE = (
    r"(?P<feed>export/(?:"
    + "|".join(sorted((f.split("/", 1)[1] for f in FEEDS), key=len, reverse=True))
    + r"))"
)

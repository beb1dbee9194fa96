"""ServiceTitan CRM v2 client: OAuth tokens, retries, rate limiting, export and list paging."""

from . import errors
from .client import ServiceTitanClient
from .paging import ExportPage, ListPage

__all__ = ["ServiceTitanClient", "ExportPage", "ListPage", "errors"]

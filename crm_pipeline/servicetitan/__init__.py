"""ServiceTitan CRM v2 client: OAuth tokens, retries, rate limiting, export and list paging."""

from . import errors
from .client import ServiceTitanClient
from .options import ClientOptions
from .paging import ExportPage, ListPage

__all__ = ["ClientOptions", "ServiceTitanClient", "ExportPage", "ListPage", "errors"]

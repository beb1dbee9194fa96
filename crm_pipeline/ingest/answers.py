"""How a list endpoint answers (the catalog's `Endpoint.shape`), each shape read one way: pages of
`data`, a bare JSON array, or a bare value (one row per parent, in the endpoint's `value_field`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crm_pipeline.catalog import Endpoint
from crm_pipeline.servicetitan import ListPage, ServiceTitanClient

Reader = Callable[[ServiceTitanClient, Endpoint, str, Mapping[str, Any] | None, int], Iterable[ListPage]]


def _paged(client: ServiceTitanClient, _ep: Endpoint, path: str, params: Mapping | None, page_size: int):
    return client.list_pages(path, params, page_size=page_size)


def _array(client: ServiceTitanClient, _ep: Endpoint, path: str, params: Mapping | None, _size: int):
    data = client.get_json(path, params) or []
    return [ListPage(data=data, page=1, has_more=False, total_count=len(data))]


def _value(client: ServiceTitanClient, endpoint: Endpoint, path: str, params: Mapping | None, _size: int):
    value = client.get_json(path, params)
    return [ListPage(data=[{endpoint.value_field: value}], page=1, has_more=False)]


ANSWERS: dict[str, Reader] = {"paged": _paged, "array": _array, "value": _value}


def pages(client: ServiceTitanClient, endpoint: Endpoint, path: str, params: Mapping | None, page_size: int):
    """The pages of one GET of `path` (the endpoint's, its parameters filled in), read as its shape says."""
    return ANSWERS[endpoint.shape](client, endpoint, path, params, page_size)

"""A missing API scope (#18, point 1): a 403 (or a gateway's 404 on a whole path) names the endpoint and the
scope the app probably lacks, and is told apart from a wrong app key, which fails the very first request."""

from __future__ import annotations

import dataclasses
import re

import httpx
import pytest

from crm_pipeline.servicetitan import errors
from crm_pipeline.servicetitan.scopes import scope_for_path
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.list_runs import failure_texts, materialize_lists


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("customers/{id}/notes", "tn.crm.customers:r"),
        ("export/locations/contacts", "tn.crm.locations:r"),
        ("booking-provider-tags", "tn.crm.bookingprovidertags:r"),
        ("GET /crm/v2/tenant/7/contacts/x/relationships", "tn.crm.contacts:r"),
    ],
)
def test_the_scope_of_a_path_follows_the_openapi_rule(path, scope):
    assert scope_for_path(path).name == scope


def test_a_403_after_other_endpoints_loaded_names_the_endpoint_and_the_scope(sandbox, settings):
    sandbox.deny(r"leads/\d+/notes")
    lead = sandbox.records("leads")[0]["id"]
    with make_client(settings) as client:
        assert client.get_json("leads", {"pageSize": 1})["data"]
        with pytest.raises(errors.ScopeMissing) as info:
            client.get_json(f"leads/{lead}/notes")
        assert client.stats["retries"] == 0
    message = str(info.value)
    assert (
        f"leads/{lead}/notes" in message and "tn.crm.leads:r" in message and "CRM → Leads (Read)" in message
    )
    assert info.value.scope == "tn.crm.leads:r" and info.value.status == 403
    assert "SERVICETITAN_APP_KEY" not in message


def test_a_403_as_the_first_answer_is_judged_from_the_tenant_not_from_the_answers_before(sandbox, settings):
    sandbox.deny(r"leads/\d+/notes")
    lead = sandbox.records("leads")[0]["id"]
    with make_client(settings) as client:  # nothing answered yet: endpoints of other scopes are asked
        with pytest.raises(errors.ScopeMissing) as info:
            client.get_json(f"leads/{lead}/notes")
    assert "tn.crm.leads:r" in str(info.value) and "SERVICETITAN_APP_KEY" not in str(info.value)
    sandbox.deny(r"(customers|locations|leads|bookings)")  # no endpoint of any other scope answers either
    with make_client(settings) as client:
        with pytest.raises(errors.AppKeyRejected) as info:
            client.get_json(f"leads/{lead}/notes")
    assert "SERVICETITAN_APP_KEY" in str(info.value) and "tn.crm.leads:r" in str(info.value)


def test_a_wrong_app_key_fails_the_first_request_as_an_app_key_error(sandbox, settings):
    sandbox.deny(r"leads/\d+/notes")
    with make_client(dataclasses.replace(settings, app_key="ak1.wrong")) as client:
        with pytest.raises(errors.AppKeyRejected) as info:
            client.get_json("customers", {"pageSize": 1})
    assert not isinstance(info.value, errors.ScopeMissing)
    assert "SERVICETITAN_APP_KEY" in str(info.value) and "tn.crm.customers:r" in str(info.value)


def test_a_gateway_404_on_a_whole_path_names_the_scope(sandbox, settings):
    sandbox.deny(r"locations(/.*)?", status=404)
    with make_client(settings) as client:
        client.get_json("customers", {"pageSize": 1})
        with pytest.raises(errors.NotFound) as info:
            client.get_json("locations", {"pageSize": 1})
    assert "tn.crm.locations:r" in str(info.value) and "/locations" in str(info.value)


def test_a_denied_endpoint_fails_its_asset_with_the_scope_and_the_others_load(
    sandbox, settings, env, instance
):
    sandbox.deny(r"leads/\d+/notes")
    result = materialize_lists(
        settings,
        instance,
        raise_on_error=False,
        selection=["raw_list/customers", "raw_list/leads", "raw_list/leads_notes"],
    )
    assert not result.success
    text = failure_texts(result)
    # the 403 may be the first answer this step's client sees: the key is judged from the tenant (other
    # scopes answer), not from the order of answers, so the message blames the scope, not the key
    assert re.search(r"GET /crm/v2/tenant/\d+/leads/\d+/notes answered HTTP 403", text)
    assert "tn.crm.leads:r (CRM → Leads (Read))" in text
    assert "the app key works on other endpoints" in text and "app key was refused" not in text
    loaded = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"raw_list/customers", "raw_list/leads"} <= loaded and "raw_list/leads_notes" not in loaded


def test_the_sandbox_admin_api_denies_and_allows_a_path(sandbox, settings):
    admin = f"{sandbox.api_url}/_sandbox/deny"
    assert httpx.post(admin, json={"path": "customers", "status": 404}).json() == {"ok": True}
    with make_client(settings) as client:
        client.get_json("leads", {"pageSize": 1})
        with pytest.raises(errors.NotFound):
            client.get_json("customers", {"pageSize": 1})
        httpx.post(admin, json={"clear": True})
        assert client.get_json("customers", {"pageSize": 1})["data"]

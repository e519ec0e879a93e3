"""Quirks for issue #18, over HTTP: search that lags behind writes, per kind, and a skewed clock."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000  # the generated history ends here
LATER = NOW + 10_000
LAG = 1.5  # seconds: short, so the test waits little


@pytest.fixture
def api(start_sandbox: Any) -> IntercomTestClient:
    sandbox = start_sandbox(
        IntercomSettings(
            now=NOW, rate_limit_per_minute=0, contacts=40, conversations=30, tickets=20
        )
    )
    return IntercomTestClient(sandbox.urls["intercom"])


def search(api: IntercomTestClient, kind: str, query: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every match by id (one page holds them all here)."""
    response = api.post(f"/{kind}/search", {"query": query, "pagination": {"per_page": 150}})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["pages"].get("next") is None
    return {str(item["id"]): item for item in page["data" if kind == "contacts" else kind]}


def by_id(api: IntercomTestClient, kind: str, object_id: str) -> dict[str, Any]:
    response = api.get(f"/{kind}/{object_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def since(value: int) -> dict[str, Any]:
    return {"field": "updated_at", "operator": ">", "value": value}


def test_a_lagging_search_returns_the_previous_version_and_hides_new_objects(
    api: IntercomTestClient,
) -> None:
    quirks = api.control(
        "quirks", {"search_lag_seconds": {"conversations": LAG, "tickets": LAG, "contacts": LAG}}
    )
    assert quirks["search_lag_seconds"] == {"contacts": LAG, "conversations": LAG, "tickets": LAG}
    conversation = api.control("dataset?kind=conversations")["data"][0]
    ticket = api.control("dataset?kind=tickets")["data"][0]
    contact = next(c for c in api.control("dataset?kind=contacts")["data"] if c["email"])
    cid, tid, pid = str(conversation["id"]), str(ticket["id"]), contact["id"]
    # Each object matches a query on its own old updated_at; contacts match by calendar day.
    old = {
        "conversations": (cid, conversation["updated_at"]),
        "tickets": (tid, ticket["updated_at"]),
    }
    results = api.mutate(
        {"action": "contact_reply", "conversation_id": cid, "at": LATER},
        {"action": "ticket_reply", "ticket_id": tid, "at": LATER},
        {"action": "edit_contact", "contact_id": pid, "changes": {"name": "New Name"}, "at": LATER},
        {"action": "new_conversation", "contact_id": pid, "at": LATER},
        {"action": "new_ticket", "contact_id": pid, "state": "submitted", "at": LATER},
    )
    new_conversation = str(results[3]["ids"]["conversation_id"])
    new_ticket = str(results[4]["ids"]["ticket_id"])

    for kind, (object_id, updated_at) in old.items():
        found = search(api, kind, {"field": "updated_at", "operator": "=", "value": updated_at})
        assert found[object_id]["updated_at"] == updated_at  # the previous version
        assert object_id not in search(api, kind, since(LATER - 1))
        assert by_id(api, kind, object_id)["updated_at"] == LATER  # GET is never late
    stale_contact = search(api, "contacts", {"field": "id", "operator": "=", "value": pid})[pid]
    assert (stale_contact["name"], stale_contact["updated_at"]) == (
        contact["name"],
        contact["updated_at"],
    )
    assert by_id(api, "contacts", pid)["name"] == "New Name"
    assert new_conversation not in search(api, "conversations", since(0))
    assert new_ticket not in search(api, "tickets", since(0))
    assert by_id(api, "conversations", new_conversation)["created_at"] == LATER

    time.sleep(LAG + 0.2)
    assert search(api, "conversations", since(LATER - 1)).keys() == {cid, new_conversation}
    assert search(api, "tickets", since(LATER - 1)).keys() == {tid, new_ticket}
    found = search(api, "contacts", {"field": "id", "operator": "=", "value": pid})[pid]
    assert (found["name"], found["updated_at"]) == ("New Name", LATER)


def test_search_lag_is_per_kind_and_off_by_default(api: IntercomTestClient) -> None:
    assert api.control("quirks")["search_lag_seconds"] == {
        "contacts": 0.0,
        "conversations": 0.0,
        "tickets": 0.0,
    }
    api.control("quirks", {"search_lag_seconds": {"tickets": 60}})
    conversation = api.control("dataset?kind=conversations")["data"][0]
    ticket = api.control("dataset?kind=tickets")["data"][0]
    api.mutate(
        {"action": "note", "conversation_id": conversation["id"], "at": LATER},
        {"action": "note", "ticket_id": ticket["id"], "at": LATER},
    )
    assert str(conversation["id"]) in search(api, "conversations", since(LATER - 1))
    assert str(ticket["id"]) not in search(api, "tickets", since(LATER - 1))
    # Switched off, search is current at once; list endpoints never lag.
    api.control("quirks", {"search_lag_seconds": {"tickets": 0}})
    assert str(ticket["id"]) in search(api, "tickets", since(LATER - 1))


def test_the_clock_offset_moves_the_date_header_and_default_mutation_times(
    api: IntercomTestClient,
) -> None:
    for offset in (-120, 120):
        assert api.control("quirks", {"clock_offset_seconds": offset})["clock_offset_seconds"] == (
            offset
        )
        before = time.time()
        response = api.get("/admins")
        served = parsedate_to_datetime(response.headers["Date"]).timestamp()
        assert before + offset - 1 <= served <= time.time() + offset
        conversation = api.control("dataset?kind=conversations")["data"][0]
        (result,) = api.mutate({"action": "note", "conversation_id": conversation["id"]})
        assert before + offset - 1 <= result["at"] <= time.time() + offset
        assert by_id(api, "conversations", str(conversation["id"]))["updated_at"] == result["at"]
    # `now` null: the history ends at the stand-in's own now
    summary = api.control("reset", {"seed": 2, "now": None})
    assert abs(summary["now"] - (time.time() + 120)) <= 2


@pytest.mark.parametrize(
    "body",
    [
        {"search_lag_seconds": {"deals": 5}},
        {"search_lag_seconds": {"tickets": -1}},
        {"search_lag_seconds": 5},
        {"clock_offset_seconds": "soon"},
    ],
)
def test_bad_lag_or_clock_values_are_400(api: IntercomTestClient, body: dict[str, Any]) -> None:
    response = api.session.post(f"{api.base_url}/_sandbox/quirks", json=body, timeout=10)
    assert response.status_code == 400
    assert next(iter(body)) in response.json()["error"]

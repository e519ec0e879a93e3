"""Mutations over HTTP and the ledger entries they add (keys as docs/interfaces.md §1 shapes them)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000
T0 = NOW + 1000  # after all generated history


@pytest.fixture
def api(start_sandbox: Any) -> IntercomTestClient:
    sandbox = start_sandbox(IntercomSettings(now=NOW, rate_limit_per_minute=0))
    return IntercomTestClient(sandbox.urls["intercom"])


@pytest.fixture
def contact(api: IntercomTestClient) -> dict[str, Any]:
    return api.get("/contacts", params={"per_page": 1}).json()["data"][0]


def _ledger(api: IntercomTestClient) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in api.control("ledger")["events"]}


def _added(api: IntercomTestClient, before: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in _ledger(api).items() if k not in before}


def test_conversation_lifecycle_adds_exactly_the_contract_events(
    api: IntercomTestClient, contact: dict[str, Any]
) -> None:
    cid = api.mutate({"action": "new_conversation", "contact_id": contact["id"], "at": T0})[0][
        "ids"
    ]["conversation_id"]
    assert _ledger(api)[f"conversation:{cid}:created"] == {
        "key": f"conversation:{cid}:created",
        "metric": "Created Conversation",
        "object_type": "conversation",
        "object_id": cid,
        "contact_id": contact["id"],
        "part_id": None,
        "time": T0,
    }
    before = _ledger(api)
    admin = api.mutate({"action": "admin_reply", "conversation_id": cid, "at": T0 + 100})[0]
    assert admin["ledger"] == []  # unread: an admin reply is no event
    reply = api.mutate({"action": "contact_reply", "conversation_id": cid, "at": T0 + 200})[0]
    part_id = reply["ids"]["part_id"]
    assert set(_added(api, before)) == {f"conversation:{cid}:part:{part_id}:replied"}
    replied = _ledger(api)[f"conversation:{cid}:part:{part_id}:replied"]
    assert (replied["metric"], replied["contact_id"], replied["time"]) == (
        "Replied to Conversation",
        contact["id"],
        T0 + 200,
    )

    conversation = api.get(f"/conversations/{cid}").json()
    parts = conversation["conversation_parts"]
    assert parts["total_count"] == 2
    assert parts["conversation_parts"][-1]["id"] == part_id
    assert parts["conversation_parts"][-1]["author"]["type"] == contact["role"]
    assert conversation["read"] is False
    assert conversation["updated_at"] == T0 + 200
    assert conversation["waiting_since"] == T0 + 200
    assert conversation["statistics"]["count_conversation_parts"] == 3
    assert conversation["statistics"]["last_admin_reply_at"] == T0 + 100

    before = _ledger(api)
    api.mutate({"action": "mark_read", "conversation_id": cid, "at": T0 + 300})
    assert _added(api, before) == {
        f"conversation:{cid}:read:{T0 + 100}": {
            "key": f"conversation:{cid}:read:{T0 + 100}",
            "metric": "Read Conversation",
            "object_type": "conversation",
            "object_id": cid,
            "contact_id": contact["id"],
            "part_id": None,
            "time": T0 + 300,
        }
    }
    before = _ledger(api)
    assert (
        api.mutate({"action": "mark_read", "conversation_id": cid, "at": T0 + 400})[0]["ledger"]
        == []
    )
    api.mutate({"action": "admin_reply", "conversation_id": cid, "at": T0 + 500})
    assert set(_added(api, before)) == {f"conversation:{cid}:read:{T0 + 500}"}
    assert api.get(f"/conversations/{cid}").json()["waiting_since"] is None

    before = _ledger(api)
    api.mutate(
        {"action": "rate", "conversation_id": cid, "rating": 4, "at": T0 + 600},
        {"action": "rate", "conversation_id": cid, "rating": 5, "at": T0 + 700},
    )
    assert set(_added(api, before)) == {
        f"conversation:{cid}:rated:{T0 + 600}:4",
        f"conversation:{cid}:rated:{T0 + 600}:5",  # keyed by the request time, created_at
    }
    rating = api.get(f"/conversations/{cid}").json()["conversation_rating"]
    assert (rating["rating"], rating["created_at"], rating["updated_at"]) == (5, T0 + 600, T0 + 700)


def test_ticket_lifecycle_entries_on_each_state_entry(
    api: IntercomTestClient, contact: dict[str, Any]
) -> None:
    tid = api.mutate({"action": "new_ticket", "contact_id": contact["id"], "at": T0})[0]["ids"][
        "ticket_id"
    ]
    before = _ledger(api)
    assert {f"ticket:{tid}:created", f"ticket:{tid}:submitted:created"} <= set(before)
    steps = [
        ("ticket_state", "in_progress", None),
        ("ticket_state", "waiting_on_customer", "waiting"),
        ("ticket_reply", None, "replied"),
        ("ticket_state", "in_progress", None),
        ("ticket_state", "resolved", "resolved"),
        ("ticket_state", "resolved", None),  # both states equal: no entry
        ("ticket_state", "in_progress", None),
        ("ticket_state", "resolved", "resolved"),  # reopened and resolved again
        ("ticket_state", "submitted", "submitted"),
    ]
    expected = set()
    for i, (action, state, suffix) in enumerate(steps):
        mutation: dict[str, Any] = {"action": action, "ticket_id": tid, "at": T0 + 100 * (i + 1)}
        if state:
            mutation["state"] = state
        result = api.mutate(mutation)[0]
        keys = [e["key"] for e in result["ledger"]]
        if suffix is None:
            assert keys == []
        else:
            key = f"ticket:{tid}:part:{result['ids']['part_id']}:{suffix}"
            assert keys == [key]
            expected.add(key)
    assert set(_added(api, before)) == expected
    ticket = api.get(f"/tickets/{tid}").json()
    assert ticket["ticket_state"]["category"] == "submitted"
    assert ticket["open"] is True
    assert ticket["updated_at"] == T0 + 900
    parts = ticket["ticket_parts"]["ticket_parts"]
    assert ticket["ticket_parts"]["total_count"] == 9
    assert [(p["previous_ticket_state"], p["ticket_state"]) for p in parts] == [
        ("submitted", "in_progress"),
        ("in_progress", "waiting_on_customer"),
        (
            "waiting_on_customer",
            "waiting_on_customer",
        ),  # the comment carries the state it was made in
        ("waiting_on_customer", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "resolved"),
        ("resolved", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "submitted"),
    ]
    assert parts[2]["part_type"] == "comment"
    assert parts[2]["author"]["id"] == contact["id"]


def test_ticket_without_contact_is_in_the_ledger_with_null_contact(api: IntercomTestClient) -> None:
    result = api.mutate({"action": "new_ticket", "contact_id": None, "at": T0})[0]
    tid = result["ids"]["ticket_id"]
    assert {(e["key"], e["contact_id"]) for e in result["ledger"]} == {
        (f"ticket:{tid}:created", None),
        (f"ticket:{tid}:submitted:created", None),
    }
    assert api.get(f"/tickets/{tid}").json()["contacts"]["contacts"] == []


def test_ticket_created_in_progress_has_no_submitted_entry(
    api: IntercomTestClient, contact: dict[str, Any]
) -> None:
    result = api.mutate(
        {"action": "new_ticket", "contact_id": contact["id"], "state": "in_progress", "at": T0}
    )[0]
    tid = result["ids"]["ticket_id"]
    assert [e["key"] for e in result["ledger"]] == [f"ticket:{tid}:created"]


def test_edit_contact_with_an_earlier_at_is_found_by_that_day(
    api: IntercomTestClient, contact: dict[str, Any]
) -> None:
    earlier = (
        NOW - 3 * 86_400
    )  # 2025-06-12 15:06:40, before the contact's current updated_at may be
    result = api.mutate(
        {
            "action": "edit_contact",
            "contact_id": contact["id"],
            "changes": {"email": "edited@example.com", "name": "Ana Maria Silva"},
            "at": earlier,
        }
    )[0]
    assert result["ledger"] == []
    edited = api.get(f"/contacts/{contact['id']}").json()
    assert (edited["email"], edited["name"], edited["updated_at"]) == (
        "edited@example.com",
        "Ana Maria Silva",
        earlier,
    )
    same_day = api.search_all(
        "contacts", {"field": "updated_at", "operator": "=", "value": 1_749_686_400}
    )
    assert contact["id"] in {c["id"] for c in same_day}


def test_delete_conversation_and_contact(api: IntercomTestClient) -> None:
    conversation = api.get("/conversations/100005").json()
    assert conversation["id"] == "100005"
    api.mutate({"action": "delete_conversation", "conversation_id": "100005"})
    assert api.get("/conversations/100005").status_code == 404
    assert not [k for k in _ledger(api) if k.startswith("conversation:100005:")]
    assert api.get("/conversations").json()["total_count"] == 399

    contact_id = api.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"]
    api.mutate({"action": "delete_contact", "contact_id": contact_id})
    assert api.get(f"/contacts/{contact_id}").status_code == 404
    assert api.get("/contacts").json()["total_count"] == 199


def test_bulk_parts_past_the_500_cap(api: IntercomTestClient, contact: dict[str, Any]) -> None:
    cid = api.mutate({"action": "new_conversation", "contact_id": contact["id"], "at": T0})[0][
        "ids"
    ]["conversation_id"]
    api.mutate({"action": "admin_reply", "conversation_id": cid, "at": T0 + 1})
    result = api.mutate(
        {
            "action": "bulk_parts",
            "conversation_id": cid,
            "count": 600,
            "author": "contact",
            "at": T0 + 2,
        }
    )[0]
    assert result["ids"]["total_parts"] == 601
    assert len(result["ledger"]) == 600
    assert {e["metric"] for e in result["ledger"]} == {"Replied to Conversation"}
    conversation = api.get(f"/conversations/{cid}").json()
    parts = conversation["conversation_parts"]
    assert parts["total_count"] == 601
    assert len(parts["conversation_parts"]) == 500  # only the 500 most recent
    assert parts["conversation_parts"][0]["part_type"] == "comment"
    assert parts["conversation_parts"][0]["author"]["type"] != "admin"  # the admin reply is cut off
    first_bulk = int(result["ids"]["first_part_id"])
    assert [int(p["id"]) for p in parts["conversation_parts"]] == list(
        range(first_bulk + 100, first_bulk + 600)
    )
    assert conversation["statistics"]["count_conversation_parts"] == 602


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"action": "explode"}, "#1 (explode): unknown action 'explode'"),
        ({"action": "contact_reply"}, "#1 (contact_reply): missing field 'conversation_id'"),
        ({"action": "rate", "conversation_id": "100001", "rating": 9}, "rating must be an integer from 1 to 5"),
        ({"action": "ticket_state", "ticket_id": "600", "state": "closed"}, "state must be one of"),
        ({"action": "contact_reply", "conversation_id": "100001", "at": 5}, "before conversation 100001's updated_at"),
        ({"action": "edit_contact", "contact_id": "nobody", "changes": {"name": "x"}}, "no contact with id 'nobody'"),
        ({"action": "new_conversation", "contact_id": None}, "no contact with id None"),
        ({"action": "bulk_parts", "conversation_id": "100001", "count": 0}, "count must be an integer"),
        ({"action": "mark_read", "conversation_id": "100001", "at": "soon"}, "at must be epoch seconds"),
    ],
)  # fmt: skip
def test_bad_mutations_are_400_naming_index_and_field(
    api: IntercomTestClient, mutation: dict[str, Any], message: str
) -> None:
    contact_id = api.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"]
    first = {"action": "edit_contact", "contact_id": contact_id, "changes": {"name": "First"}}
    response = requests.post(
        f"{api.base_url}/_sandbox/mutations", json={"mutations": [first, mutation]}, timeout=10
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error
    assert "mutations before #1 were applied" in error
    assert api.get(f"/contacts/{contact_id}").json()["name"] == "First"


def test_edit_contact_rejects_unknown_fields(
    api: IntercomTestClient, contact: dict[str, Any]
) -> None:
    response = requests.post(
        f"{api.base_url}/_sandbox/mutations",
        json={
            "mutations": [
                {"action": "edit_contact", "contact_id": contact["id"], "changes": {"shoe": 9}}
            ]
        },
        timeout=10,
    )
    assert response.status_code == 400
    assert "cannot edit contact field 'shoe'" in response.json()["error"]


def test_reset_regenerates_deterministically(api: IntercomTestClient) -> None:
    first = api.control("ledger")["events"]
    api.mutate({"action": "delete_conversation", "conversation_id": "100001"})
    summary = api.control("reset", {"seed": 1, "now": NOW})
    assert summary["conversations"] == 400
    assert api.control("ledger")["events"] == first
    api.control("reset", {"seed": 2, "contacts": 10, "conversations": 5, "tickets": 3})
    other = api.control("ledger")["events"]
    assert other != first
    assert api.get("/contacts").json()["total_count"] == 10
    bad = requests.post(f"{api.base_url}/_sandbox/reset", json={"contacts": -1}, timeout=10)
    assert bad.status_code == 400
    assert "contacts must be a non-negative integer" in bad.json()["error"]

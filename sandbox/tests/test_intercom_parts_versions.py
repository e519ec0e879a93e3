"""Over HTTP: the 500-part cap with bulk_parts, admin notes, and conversation_rating across API versions."""

from __future__ import annotations

from typing import Any

import pytest

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000
T0 = NOW + 1000  # after all generated history
VERSIONS = ("2.11", "2.12", "2.13", "2.14", "2.15", "2.16")


@pytest.fixture
def api(start_sandbox: Any) -> IntercomTestClient:
    sandbox = start_sandbox(
        IntercomSettings(
            now=NOW, rate_limit_per_minute=0, contacts=30, conversations=30, tickets=10
        )
    )
    return IntercomTestClient(sandbox.urls["intercom"])


def _ledger(api: IntercomTestClient) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in api.control("ledger")["events"]}


def _contact_conversation(api: IntercomTestClient) -> dict[str, Any]:
    for conversation in api.control("dataset?kind=conversations")["data"]:
        contacts = conversation["contacts"]["contacts"]
        if contacts and api.get(f"/contacts/{contacts[0]['id']}").status_code == 200:
            return conversation
    raise AssertionError("no conversation with a contact")


def _check_capped(
    api: IntercomTestClient, cid: str, all_part_ids: list[str], new_ids: set[str]
) -> None:
    """GET returns the 500 newest parts, total_count is the real total; the ledger has every reply."""
    data = api.get(f"/conversations/{cid}").json()
    parts = data["conversation_parts"]
    assert parts["total_count"] == len(all_part_ids)
    assert [p["id"] for p in parts["conversation_parts"]] == all_part_ids[-500:]
    assert data["statistics"]["count_conversation_parts"] == len(all_part_ids) + 1
    ledger = _ledger(api)
    replied = {k for k in ledger if k.startswith(f"conversation:{cid}:part:")}
    assert {f"conversation:{cid}:part:{p}:replied" for p in new_ids} <= replied
    out_of_reach = set(all_part_ids[:-500]) & new_ids
    assert out_of_reach  # some replies the API no longer shows are still in the ledger
    assert {f"conversation:{cid}:part:{p}:replied" for p in out_of_reach} <= set(ledger)


def _part_ids(result: dict[str, Any]) -> list[str]:
    first, last = int(result["ids"]["first_part_id"]), int(result["ids"]["last_part_id"])
    return [str(i) for i in range(first, last + 1)]


def test_a_new_conversation_with_700_contact_replies_first_sync(api: IntercomTestClient) -> None:
    contact = api.get("/contacts", params={"per_page": 1}).json()["data"][0]
    cid = api.mutate({"action": "new_conversation", "contact_id": contact["id"], "at": T0})[0][
        "ids"
    ]["conversation_id"]
    result = api.mutate(
        {"action": "bulk_parts", "conversation_id": cid, "count": 700, "author": "contact"}
    )[0]
    made = _part_ids(result)
    assert len(made) == len(result["ledger"]) == 700
    assert result["ids"]["total_parts"] == 700
    assert {e["key"] for e in result["ledger"]} == {
        f"conversation:{cid}:part:{p}:replied" for p in made
    }
    assert {(e["metric"], e["contact_id"]) for e in result["ledger"]} == {
        ("Replied to Conversation", contact["id"])
    }
    _check_capped(api, cid, made, set(made))
    # the raw data set keeps every part (no cap)
    raw = next(c for c in api.control("dataset?kind=conversations")["data"] if c["id"] == cid)
    assert len(raw["conversation_parts"]["conversation_parts"]) == 700


def test_700_new_replies_on_an_existing_conversation_incremental(api: IntercomTestClient) -> None:
    conversation = _contact_conversation(api)
    cid = conversation["id"]
    old_ids = [p["id"] for p in conversation["conversation_parts"]["conversation_parts"]]
    assert 0 < len(old_ids) < 500
    before = _ledger(api)
    result = api.mutate(
        {"action": "bulk_parts", "conversation_id": cid, "count": 700, "author": "contact"}
    )[0]
    made = _part_ids(result)
    added = {k: v for k, v in _ledger(api).items() if k not in before}
    assert set(added) == {f"conversation:{cid}:part:{p}:replied" for p in made}
    assert {e["time"] for e in added.values()} == {result["at"]}
    _check_capped(api, cid, [*old_ids, *made], set(made))
    assert api.get(f"/conversations/{cid}").json()["updated_at"] == result["at"]


def test_admin_bulk_parts_are_notes_and_make_no_events(api: IntercomTestClient) -> None:
    cid = _contact_conversation(api)["id"]
    before = _ledger(api)
    result = api.mutate({"action": "bulk_parts", "conversation_id": cid, "count": 510})[0]
    assert result["ledger"] == []
    assert _ledger(api) == before
    parts = api.get(f"/conversations/{cid}").json()["conversation_parts"]["conversation_parts"]
    assert len(parts) == 500
    assert {(p["part_type"], p["author"]["type"]) for p in parts} == {("note", "admin")}


def test_ticket_part_cap_returns_the_500_newest_with_the_real_total(
    api: IntercomTestClient,
) -> None:
    ticket = next(
        t for t in api.control("dataset?kind=tickets")["data"] if t["contacts"]["contacts"]
    )
    tid = ticket["id"]
    old = [p["id"] for p in ticket["ticket_parts"]["ticket_parts"]]
    result = api.mutate(
        {"action": "bulk_parts", "ticket_id": tid, "count": 520, "author": "contact"}
    )[0]
    made = _part_ids(result)
    assert {e["key"] for e in result["ledger"]} == {f"ticket:{tid}:part:{p}:replied" for p in made}
    assert {e["metric"] for e in result["ledger"]} == {"Replied to Ticket"}
    parts = api.get(f"/tickets/{tid}").json()["ticket_parts"]
    assert parts["total_count"] == len(old) + 520
    assert [p["id"] for p in parts["ticket_parts"]] == [*old, *made][-500:]
    raw = next(t for t in api.control("dataset?kind=tickets")["data"] if t["id"] == tid)
    assert len(raw["ticket_parts"]["ticket_parts"]) == len(old) + 520


def test_bulk_parts_limits(api: IntercomTestClient) -> None:
    cid = _contact_conversation(api)["id"]
    for bad, message in (
        ({"count": 0}, "count must be an integer from 1 to 10000"),
        ({"count": 10_001}, "count must be an integer from 1 to 10000"),
        ({"count": 5, "author": "bot"}, "author must be 'admin' or 'contact'"),
    ):
        response = api.session.post(
            f"{api.base_url}/_sandbox/mutations",
            json={"mutations": [{"action": "bulk_parts", "conversation_id": cid, **bad}]},
            timeout=10,
        )
        assert response.status_code == 400
        assert message in response.json()["error"]


# ---- notes ---------------------------------------------------------------------------------------------


def test_a_note_bumps_updated_at_and_is_no_event_or_reply(api: IntercomTestClient) -> None:
    cid = _contact_conversation(api)["id"]
    api.mutate({"action": "mark_read", "conversation_id": cid, "at": T0})
    before_ledger = _ledger(api)
    before = api.get(f"/conversations/{cid}").json()
    result = api.mutate(
        {"action": "note", "conversation_id": cid, "at": T0 + 60, "body": "<p>Called them.</p>"}
    )[0]
    assert result["ledger"] == []
    assert _ledger(api) == before_ledger
    after = api.get(f"/conversations/{cid}").json()
    assert after["updated_at"] == T0 + 60 > before["updated_at"]
    note = after["conversation_parts"]["conversation_parts"][-1]
    assert note["id"] == result["ids"]["part_id"]
    assert (note["part_type"], note["author"]["type"], note["body"]) == (
        "note",
        "admin",
        "<p>Called them.</p>",
    )
    assert after["read"] is True
    assert after["statistics"] == {
        **before["statistics"],
        "count_conversation_parts": (before["statistics"]["count_conversation_parts"] + 1),
    }
    # search sees the new updated_at
    found = api.search_all(
        "conversations", {"field": "updated_at", "operator": "=", "value": T0 + 60}
    )
    assert [c["id"] for c in found] == [cid]


def test_a_note_on_a_ticket_and_bad_notes(api: IntercomTestClient) -> None:
    tid = api.control("dataset?kind=tickets")["data"][0]["id"]
    result = api.mutate({"action": "note", "ticket_id": tid, "at": T0})[0]
    assert result["ledger"] == []
    ticket = api.get(f"/tickets/{tid}").json()
    assert ticket["updated_at"] == T0
    assert ticket["ticket_parts"]["ticket_parts"][-1]["part_type"] == "note"
    for bad, message in (
        ({"conversation_id": "1"}, "no conversation with id '1'"),
        ({}, "missing field 'conversation_id'"),
        ({"ticket_id": tid, "body": 5}, "body must be a string"),
        ({"ticket_id": tid, "at": T0 - 1}, "before ticket"),
    ):
        response = api.session.post(
            f"{api.base_url}/_sandbox/mutations",
            json={"mutations": [{"action": "note", **bad}]},
            timeout=10,
        )
        assert response.status_code == 400
        assert message in response.json()["error"]


# ---- conversation_rating across versions ----------------------------------------------------------------


def test_rating_updated_at_only_from_2_14_and_the_ledger_key_ignores_the_version(
    api: IntercomTestClient,
) -> None:
    cid = _contact_conversation(api)["id"]
    api.mutate({"action": "rate", "conversation_id": cid, "rating": 4, "at": T0, "remark": "ok"})
    shapes = {}
    for version in VERSIONS:
        client = IntercomTestClient(api.base_url, version=version)
        rating = client.get(f"/conversations/{cid}").json()["conversation_rating"]
        found = client.search_all("conversations", {"field": "id", "operator": "=", "value": cid})
        assert found[0]["conversation_rating"] == rating  # search renders the same rating
        shapes[version] = rating
    common = {"rating", "remark", "created_at", "contact", "teammate"}
    for version in ("2.11", "2.12", "2.13"):
        assert set(shapes[version]) == common
    for version in ("2.14", "2.15", "2.16"):
        assert set(shapes[version]) == {*common, "updated_at"}
        assert shapes[version]["updated_at"] == T0
    assert shapes["2.11"]["rating"] == 4
    assert shapes["2.11"]["created_at"] == T0  # first rating: requested and given at T0
    rated = [e for e in api.control("ledger")["events"] if e["metric"] == "Rated Conversation"]
    mine = [e for e in rated if e["object_id"] == cid]
    assert [(e["key"], e["time"]) for e in mine] == [(f"conversation:{cid}:rated:{T0}:4", T0)]
    # the ledger is one, whatever version a client reads with
    for version in VERSIONS:
        assert IntercomTestClient(api.base_url, version=version).control("ledger") == api.control(
            "ledger"
        )


def test_generated_ratings_are_keyed_by_created_at_and_timed_at_updated_at(
    api: IntercomTestClient,
) -> None:
    rated = [
        c for c in api.control("dataset?kind=conversations")["data"] if c["conversation_rating"]
    ]
    assert rated
    ledger = _ledger(api)
    for conversation in rated:
        rating = conversation["conversation_rating"]
        assert rating["updated_at"] > rating["created_at"]  # asked for, then given later
        entry = ledger[
            f"conversation:{conversation['id']}:rated:{rating['created_at']}:{rating['rating']}"
        ]
        assert (entry["metric"], entry["time"]) == ("Rated Conversation", rating["updated_at"])
        old = IntercomTestClient(api.base_url, version="2.11").get(
            f"/conversations/{conversation['id']}"
        )
        assert old.json()["conversation_rating"]["created_at"] == rating["created_at"]


def test_re_rating_keeps_created_at_and_only_another_value_adds_a_key(
    api: IntercomTestClient,
) -> None:
    cid = _contact_conversation(api)["id"]
    api.mutate({"action": "rate", "conversation_id": cid, "rating": 2, "at": T0})
    api.mutate({"action": "rate", "conversation_id": cid, "rating": 5, "at": T0 + 30})
    old = IntercomTestClient(api.base_url, version="2.11").get(f"/conversations/{cid}").json()
    new = api.get(f"/conversations/{cid}").json()
    assert old["conversation_rating"]["created_at"] == T0  # created_at is when it was requested
    assert (new["conversation_rating"]["updated_at"], new["conversation_rating"]["rating"]) == (
        T0 + 30,
        5,
    )
    # the key is built from what every version returns (created_at, rating); the time is updated_at
    rated = {
        e["key"]: e["time"]
        for e in api.control("ledger")["events"]
        if e["key"].startswith(f"conversation:{cid}:rated:")
    }
    assert rated == {
        f"conversation:{cid}:rated:{T0}:2": T0,
        f"conversation:{cid}:rated:{T0}:5": T0 + 30,
    }
    again = api.mutate({"action": "rate", "conversation_id": cid, "rating": 5, "at": T0 + 90})[0]
    assert [e["metric"] for e in again["ledger"]] == []  # same request, same value: no new event

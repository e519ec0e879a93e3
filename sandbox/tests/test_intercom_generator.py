"""The seeded generator as a pure function: determinism, variety, time consistency, and a ledger that matches
the data by the contract's rules (re-implemented here from contract.md, independently of the stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import phonenumbers
import pytest

from api_sandbox.intercom import render
from api_sandbox.intercom.generator import generate
from api_sandbox.intercom.model import Workspace

NOW = 1_750_000_000
THIRTY_DAYS = 30 * 86_400


def _json(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    return {
        "contacts": [render.contact(ws, c, 14) for c in ws.contacts.values()],
        "conversations": [
            render.conversation(ws, c, 14, with_parts=True, cap=None)
            for c in ws.conversations.values()
        ],
        "tickets": [render.ticket(ws, t, 14, with_parts=True) for t in ws.tickets.values()],
    }


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return generate(1, 200, 400, 100, NOW)


@pytest.fixture(scope="module")
def data(workspace: Workspace) -> dict[str, list[dict[str, Any]]]:
    return _json(workspace)


def test_same_seed_same_data_other_seed_other_data(data: dict[str, Any]) -> None:
    again = generate(1, 200, 400, 100, NOW)
    assert _json(again) == data
    other = _json(generate(2, 200, 400, 100, NOW))
    assert other["contacts"] != data["contacts"]
    assert other["conversations"] != data["conversations"]


def test_sizes_follow_the_settings() -> None:
    ws = generate(5, 7, 11, 3, NOW)
    assert (len(ws.contacts), len(ws.conversations), len(ws.tickets)) == (7, 11, 3)
    empty = generate(5, 0, 0, 0, NOW)
    assert (
        len(empty.contacts),
        len(empty.conversations),
        len(empty.tickets),
        len(empty.ledger),
    ) == (0, 0, 0, 0)


# ---- contacts ------------------------------------------------------------------------------------------


def _valid_phone(phone: str, region: str = "US") -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(phone, region))
    except phonenumbers.NumberParseException:
        return False


def test_contact_identifier_variety(data: dict[str, Any]) -> None:
    contacts = data["contacts"]
    assert {c["role"] for c in contacts} == {"user", "lead"}
    phone_only = [c for c in contacts if not c["email"] and c["phone"]]
    assert any(
        _valid_phone(c["phone"], "GB" if c["location"]["country_code"] == "GBR" else "US")
        for c in phone_only
    )
    phones = {c["phone"] for c in contacts if c["phone"]}
    assert phones & {"12345", "call me"}
    bare = [c for c in contacts if not c["email"] and not c["phone"]]
    assert any(c["external_id"] for c in bare)
    assert any(not c["external_id"] for c in bare)
    assert any(p.startswith("+1 (415) 555-") for p in phones)
    assert any(
        c["phone"].startswith("020 7946") and c["location"]["country"] == "United Kingdom"
        for c in contacts
        if c["phone"]
    )


def test_contact_profile_variety(data: dict[str, Any]) -> None:
    contacts = data["contacts"]
    assert {len(c["name"].split()) if c["name"] else 0 for c in contacts} == {0, 1, 2, 3}
    assert {type(c["avatar"]).__name__ for c in contacts} == {"dict", "str", "NoneType"}
    assert all(
        c["avatar"]["type"] == "avatar" and c["avatar"]["image_url"]
        for c in contacts
        if isinstance(c["avatar"], dict)
    )
    assert any(c["tags"]["total_count"] > 10 for c in contacts)
    assert any(" " in key for c in contacts for key in c["custom_attributes"])
    assert any(c["location"]["city"] for c in contacts)
    assert any(c["location"]["city"] is None for c in contacts)
    for flag in ("has_hard_bounced", "marked_email_as_spam", "unsubscribed_from_emails"):
        assert {c[flag] for c in contacts} == {True, False}, flag
    assert any(c["opted_out_subscription_types"]["total_count"] > 0 for c in contacts)
    for c in contacts:
        assert NOW - THIRTY_DAYS <= c["created_at"] <= c["updated_at"] <= NOW


# ---- conversations -------------------------------------------------------------------------------------


def _parts(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = conversation["conversation_parts"]["conversation_parts"]
    return parts


def test_conversation_variety(data: dict[str, Any]) -> None:
    conversations = data["conversations"]
    assert {c["source"]["author"]["type"] for c in conversations} == {"admin", "user", "lead"}
    assert {c["source"]["delivered_as"] for c in conversations} == {
        "customer_initiated",
        "admin_initiated",
        "automated",
    }
    assert {len(c["contacts"]["contacts"]) for c in conversations} == {1, 2, 3}
    assert any(c["statistics"] is None for c in conversations)
    assert any(c["sla_applied"] is None for c in conversations)
    assert {c["sla_applied"]["sla_status"] for c in conversations if c["sla_applied"]} == {
        "hit",
        "missed",
        "active",
        "cancelled",
        None,
    }
    assert {
        c["conversation_rating"]["rating"] for c in conversations if c["conversation_rating"]
    } == {1, 2, 3, 4, 5}
    authors = {p["author"]["type"] for c in conversations for p in _parts(c)}
    assert authors == {"user", "lead", "admin", "bot"}
    part_types = {p["part_type"] for c in conversations for p in _parts(c)}
    assert {"comment", "note", "assignment", "open", "close"} <= part_types
    assert {c["read"] for c in conversations} == {True, False}
    assert {c["title"] is None for c in conversations} == {True, False}
    assert any(c["tags"]["tags"] for c in conversations)
    assert {c["state"] for c in conversations} >= {"open", "closed"}
    assert any(c["statistics"] and c["statistics"]["count_reopens"] > 0 for c in conversations)


def test_conversation_times_are_consistent(data: dict[str, Any]) -> None:
    for c in data["conversations"]:
        assert NOW - THIRTY_DAYS <= c["created_at"] <= c["updated_at"] <= NOW, c["id"]
        times = [p["created_at"] for p in _parts(c)]
        assert times == sorted(times), c["id"]
        assert all(c["created_at"] <= t <= c["updated_at"] for t in times), c["id"]
        parts = _parts(c)
        if parts:  # a part's state is the conversation's state as the part left it
            assert parts[-1]["state"] == c["state"], c["id"]
        assert all(p["state"] == "closed" for p in parts if p["part_type"] == "close")
        assert c["open"] is (c["state"] != "closed")
        rating = c["conversation_rating"]
        if rating:
            assert rating["created_at"] <= rating["updated_at"] <= c["updated_at"]
        if c["statistics"]:
            assert (
                c["statistics"]["count_conversation_parts"]
                == c["conversation_parts"]["total_count"] + 1
            )


# ---- tickets -------------------------------------------------------------------------------------------


def _state_changes(ticket: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (p["previous_ticket_state"], p["ticket_state"])
        for p in ticket["ticket_parts"]["ticket_parts"]
        if p["part_type"] == "ticket_state_updated_by_admin"
        and p["previous_ticket_state"] != p["ticket_state"]
    ]


def _path(ticket: dict[str, Any]) -> list[str]:
    changes = _state_changes(ticket)
    if not changes:
        return [ticket["ticket_state"]["category"]]
    return [changes[0][0]] + [new for _, new in changes]


def _contains_in_order(path: list[str], wanted: list[str]) -> bool:
    return any(path[i : i + len(wanted)] == wanted for i in range(len(path)))


def test_ticket_variety(data: dict[str, Any]) -> None:
    tickets = data["tickets"]
    assert {t["category"] for t in tickets} == {"Customer", "Back-office", "Tracker"}
    assert len({t["ticket_type"]["name"] for t in tickets}) == 4
    assert {len(t["contacts"]["contacts"]) for t in tickets} == {0, 1, 2}
    assert {t["is_shared"] for t in tickets} == {True, False}
    assert all(t["ticket_attributes"]["_default_title_"] for t in tickets)
    assert any(t["ticket_attributes"]["_default_description_"] is None for t in tickets)
    paths = [_path(t) for t in tickets]
    assert any(
        _contains_in_order(p, ["submitted", "in_progress", "waiting_on_customer"]) for p in paths
    )
    assert any(_contains_in_order(p, ["waiting_on_customer", "resolved"]) for p in paths)
    assert any(_contains_in_order(p, ["resolved", "in_progress", "resolved"]) for p in paths)
    assert any(p[0] == "in_progress" for p in paths)  # created directly in progress
    assert any(
        p["part_type"] == "ticket_state_updated_by_admin"
        and p["previous_ticket_state"] == p["ticket_state"]
        for t in tickets
        for p in t["ticket_parts"]["ticket_parts"]
    )
    kinds = {
        (p["part_type"], p["author"]["type"])
        for t in tickets
        for p in t["ticket_parts"]["ticket_parts"]
    }
    assert {("comment", "user"), ("comment", "admin"), ("note", "admin")} <= kinds
    for t in tickets:
        times = [p["created_at"] for p in t["ticket_parts"]["ticket_parts"]]
        assert times == sorted(times)
        assert NOW - THIRTY_DAYS <= t["created_at"] <= t["updated_at"] <= NOW
        assert all(t["created_at"] <= x <= t["updated_at"] for x in times)


# ---- the ledger against the contract -------------------------------------------------------------------


def _contract_events(data: dict[str, Any]) -> Iterator[tuple[str, str, str | None, int]]:
    """(key, metric, contact id, time) of every contract event the rendered data holds (contract.md)."""
    for c in data["conversations"]:
        cid = c["id"]
        author = c["source"]["author"]
        if author["type"] in ("user", "lead"):
            yield (
                f"conversation:{cid}:created",
                "Created Conversation",
                author["id"],
                c["created_at"],
            )
        rating = c["conversation_rating"]
        if rating and rating["rating"] is not None:
            at = rating["updated_at"]
            yield (
                f"conversation:{cid}:rated:{rating['created_at']}:{rating['rating']}",
                "Rated Conversation",
                rating["contact"]["id"],
                at,
            )
        if c["read"]:
            stats = c["statistics"]
            last = stats["last_admin_reply_at"] if stats else None
            first_contact = (
                c["contacts"]["contacts"][0]["id"] if c["contacts"]["contacts"] else None
            )
            key = f"conversation:{cid}:read:{'none' if last is None else last}"
            yield key, "Read Conversation", first_contact, c["updated_at"]
        for p in _parts(c):
            if p["part_type"] == "comment" and p["author"]["type"] in ("user", "lead"):
                key = f"conversation:{cid}:part:{p['id']}:replied"
                yield key, "Replied to Conversation", p["author"]["id"], p["created_at"]
    entries = {"submitted": ("Submitted Ticket", "submitted"), "waiting_on_customer": ("Marked Ticket as Waiting", "waiting"), "resolved": ("Resolved Ticket", "resolved")}  # fmt: skip
    for t in data["tickets"]:
        tid = t["id"]
        contact = t["contacts"]["contacts"][0]["id"] if t["contacts"]["contacts"] else None
        yield f"ticket:{tid}:created", "Created Ticket", contact, t["created_at"]
        if _path(t)[0] == "submitted":
            yield f"ticket:{tid}:submitted:created", "Submitted Ticket", contact, t["created_at"]
        for p in t["ticket_parts"]["ticket_parts"]:
            if p["part_type"] == "comment" and p["author"]["type"] in ("user", "lead"):
                yield (
                    f"ticket:{tid}:part:{p['id']}:replied",
                    "Replied to Ticket",
                    p["author"]["id"],
                    p["created_at"],
                )
            elif p["ticket_state"] in entries and p["previous_ticket_state"] != p["ticket_state"]:
                metric, suffix = entries[p["ticket_state"]]
                yield f"ticket:{tid}:part:{p['id']}:{suffix}", metric, contact, p["created_at"]


def test_ledger_holds_exactly_the_contract_events_of_the_data(
    workspace: Workspace, data: dict[str, Any]
) -> None:
    expected = sorted(_contract_events(data))
    recorded = sorted((e.key, e.metric, e.contact_id, e.time) for e in workspace.ledger.values())
    assert recorded == expected
    metrics = {e.metric for e in workspace.ledger.values()}
    assert len(metrics) == 9
    assert any(e.contact_id is None for e in workspace.ledger.values())

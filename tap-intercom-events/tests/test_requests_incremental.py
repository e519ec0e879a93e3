"""Incremental runs: a conversation whose search item proves no new event needs no detail GET.

Compared over HTTP against a run that fetches every detail (conversations selected) on an identical
stand-in, and against the ledger; the requests per incremental run are printed (`pytest -s`).
"""

from __future__ import annotations

import copy
from typing import Any

from tap_intercom_events_testing import HISTORY_END, dataset, ledger_keys, make_config, mutate
from tap_intercom_events_testing import run_tap_in_process as run_tap

from api_sandbox.testing import control
from tap_intercom_events import events
from tap_intercom_events.window import SyncWindow

RUN_1 = HISTORY_END + 3600
CHANGES_AT = HISTORY_END + 5400
RUN_2 = HISTORY_END + 7200
MELTANO_SELECTION = ("contacts", "conversation_events", "ticket_events")
# The same events, but conversations selected: every changed conversation's detail is fetched.
FETCH_ALL = ("contacts", "conversations", "conversation_events", "ticket_events")
SIZES = {"seed": 41, "contacts": 30, "conversations": 80, "tickets": 6}


def search_item(conversation: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(conversation)
    item.pop("conversation_parts", None)
    return item


def test_the_search_item_rule_never_hides_an_event(start_intercom: Any) -> None:
    """For every conversation and many floors: when the search item proves no event, the detail
    (all its parts) has none in the window; without rating.updated_at (2.11-2.13) as well."""
    url = start_intercom(seed=42, contacts=30, conversations=150, tickets=0)
    conversations = dataset(url, "conversations")
    times = sorted({int(c["updated_at"]) for c in conversations})
    floors = [*times[:: max(1, len(times) // 25)], HISTORY_END - 86400, HISTORY_END]
    skipped = 0
    for conversation in conversations:
        older = copy.deepcopy(conversation)
        if older.get("conversation_rating"):
            older["conversation_rating"].pop("updated_at", None)
        for detail in (conversation, older):
            item = search_item(detail)
            rated = bool((detail.get("conversation_rating") or {}).get("rating"))
            for floor in floors:
                window = SyncWindow(lower=floor, end=RUN_1 - 1, events_after=floor, floor=floor)
                if events.search_item_proves_no_event(item, window):
                    skipped += 1
                    assert list(events.conversation_event_seeds(detail, window)) == []
                    assert not (detail is older and rated)
    assert skipped > 100  # the rule does skip


def detail_gets(url: str) -> int:
    return int(control(url, "stats")["requests"].get("GET /conversations/{id}", 0))


def requests_made(url: str) -> int:
    return sum(control(url, "stats")["requests"].values())


def changes(url: str) -> list[dict[str, Any]]:
    """Admin-only changes (notes, admin replies, several of each) and contact replies, a rating,
    a read, a new conversation."""
    conversations = dataset(url, "conversations")
    unread = [c for c in conversations if not c["read"]]
    read = [c for c in conversations if c["read"]]
    contact_started = [c for c in unread if c["source"]["author"]["type"] in ("user", "lead")]
    assert len(unread) >= 20
    assert len(read) >= 3
    at = CHANGES_AT
    out: list[dict[str, Any]] = []
    out += [{"action": "note", "conversation_id": c["id"], "at": at} for c in unread[:12]]
    out += [{"action": "note", "conversation_id": c["id"], "at": at} for c in read[:3]]
    out += [{"action": "admin_reply", "conversation_id": c["id"], "at": at} for c in unread[12:16]]
    out += [
        {"action": "bulk_parts", "conversation_id": unread[16]["id"], "count": 20, "at": at},
        {"action": "contact_reply", "conversation_id": contact_started[0]["id"], "at": at + 1},
        {"action": "contact_reply", "conversation_id": unread[12]["id"], "at": at + 2},
        {"action": "contact_reply", "conversation_id": read[0]["id"], "at": at + 3},
        {"action": "mark_read", "conversation_id": unread[13]["id"], "at": at + 4},
        {"action": "rate", "conversation_id": unread[17]["id"], "rating": 3, "at": at + 5},
        {"action": "new_conversation", "contact_id": dataset(url, "contacts")[0]["id"], "at": at},
    ]
    return out


def by_event_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: r["event_id"])


def test_incremental_run_skips_details_without_changing_an_event(
    start_intercom: Any, capsys: Any
) -> None:
    skipping, fetching = start_intercom(**SIZES), start_intercom(**SIZES)
    first = {}
    for url, streams in ((skipping, MELTANO_SELECTION), (fetching, FETCH_ALL)):
        first[url] = run_tap(make_config(url), streams=streams, now=RUN_1)
        assert first[url].event_ids() == set(ledger_keys(url))
    before = set(ledger_keys(skipping))
    mutations = changes(skipping)
    mutate(skipping, *mutations)
    mutate(fetching, *mutations)
    new_ledger = {k: v for k, v in ledger_keys(skipping).items() if k not in before}
    assert set(new_ledger) == set(ledger_keys(fetching)) - before
    assert len(new_ledger) >= 6

    made = {url: (requests_made(url), detail_gets(url)) for url in (skipping, fetching)}
    second = {}
    for url, streams in ((skipping, MELTANO_SELECTION), (fetching, FETCH_ALL)):
        second[url] = run_tap(make_config(url), state=first[url].state, streams=streams, now=RUN_2)
    made = {
        url: (requests_made(url) - made[url][0], detail_gets(url) - made[url][1])
        for url in (skipping, fetching)
    }
    # The same events either way, exactly the new ledger entries, at their times.
    skipped_events = by_event_id(second[skipping].events())
    assert skipped_events == by_event_id(second[fetching].events())
    assert {e["event_id"] for e in skipped_events} == set(new_ledger)
    for event in skipped_events:
        assert event["occurred_at"] == events.iso_time(new_ledger[event["event_id"]]["time"])
        assert event["contact_id"] == new_ledger[event["event_id"]]["contact_id"]
    # Changed: 15 notes, 4 admin replies, 1 bulk, 3 contact replies (one on an admin-replied
    # one), read, rating, new: 22 conversations. The 12 unread noted, 3 unread admin-replied and the bulk one
    # hold no new event (no contact reply; not read): no detail for them.
    changed = len({str(m.get("conversation_id")) for m in mutations} - {"None"}) + 1
    assert made[fetching][1] == changed
    assert made[skipping][1] <= changed - 12
    with capsys.disabled():
        print(
            f"\nincremental run, {changed} conversations changed ({len(new_ledger)} new events): "
            f"Meltano selection {made[skipping][0]} requests ({made[skipping][1]} details), "
            f"conversations selected {made[fetching][0]} requests ({made[fetching][1]} details)"
        )

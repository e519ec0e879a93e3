"""One Intercom contact is one Klaviyo profile across runs: before sending, the target asks Klaviyo
who holds the phone numbers and external_ids it has not met in this run (GET /api/profiles,
holders.py). Over HTTP against the stand-in (identity_conflicts "reject", the default)."""

from __future__ import annotations

from typing import Any

import pytest
from target_klaviyo_testing.harness import Klaviyo, run_target
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
)

from target_klaviyo.holders import batches, lookup_query
from target_klaviyo.items import HELD_BY_ANOTHER

LOOKUP = "GET /api/profiles"
EVENTS = "POST /api/event-bulk-create-jobs"


def singer(contacts: list[dict[str, Any]] = (), events: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
    messages = [schema_message("contacts"), schema_message("conversation_events")]
    messages += [record_message("contacts", r) for r in contacts]
    messages += [record_message("conversation_events", r) for r in events]
    return lines(messages)


def requests(klaviyo: Klaviyo) -> dict[str, int]:
    return dict(klaviyo.report()["requests"])


# Every reading of what Klaviyo does with an identifier held by another profile (K3): the lookup
# keeps it from ever being sent, so the outcome is the same under each.
READINGS = ["reject", "attach", "ignore"]


@pytest.mark.parametrize("reading", READINGS)
def test_a_phone_only_lead_never_lands_on_the_profile_holding_its_phone(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, reading: str
) -> None:
    klaviyo.control("behaviour", {"identity_conflicts": reading})
    ann = contact(1, phone="415-555-0142")
    assert run_target(klaviyo.config(), singer([ann]), caplog).error is None
    # A later run: a lead known only by Ann's phone (a family member), with two replies.
    lead = contact(2, email=None, external_id=None, phone="(415) 555-0142", name="Leo Lead")
    replies = [
        conversation_event(
            10 + i, 2, part=100 + i, contact_email=None, contact_external_id=None,
            contact_phone="(415) 555-0142",
        )
        for i in range(2)
    ]  # fmt: skip
    run = run_target(klaviyo.config(), singer([lead], replies), caplog)
    assert run.error is None
    [profile] = klaviyo.profiles()
    assert profile["email"] == "user1@example.com"
    assert profile["first_name"] == "User"  # not overwritten by the lead's name
    assert profile["properties"]["Intercom Contact ID"] == "c1"
    assert klaviyo.events() == []
    letters = {(letter["stream"], letter["reason"]) for letter in run.dead_letters}
    assert letters == {("contacts", HELD_BY_ANOTHER), ("conversation_events", HELD_BY_ANOTHER)}
    assert len(run.dead_letters) == 3
    assert "belongs to another person's Klaviyo profile" in run.dead_letters[0]["detail"]


@pytest.mark.parametrize("reading", READINGS)
def test_a_changed_email_moves_the_persons_own_profile(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, reading: str
) -> None:
    klaviyo.control("behaviour", {"identity_conflicts": reading})
    old = contact(1, phone="415-555-0142", external_id=None)
    first = [
        conversation_event(10, 1, part=100, contact_phone="415-555-0142", contact_external_id=None)
    ]
    assert run_target(klaviyo.config(), singer([old], first), caplog).error is None
    # Intercom: the contact's email changed; a new reply by them.
    new = contact(1, email="ann.new@example.com", phone="415-555-0142", external_id=None)
    reply = conversation_event(
        10, 1, part=101, contact_email="ann.new@example.com", contact_phone="415-555-0142",
        contact_external_id=None,
    )  # fmt: skip
    run = run_target(klaviyo.config(), singer([new], [reply]), caplog)
    assert run.error is None
    assert run.dead_letters == []
    [profile] = klaviyo.profiles()
    assert profile["email"] == "ann.new@example.com"
    assert profile["phone_number"] == "+14155550142"
    assert profile["properties"]["Intercom Contact ID"] == "c1"
    stored = klaviyo.events()
    assert {e["unique_id"] for e in stored} == {
        "conversation:10:part:100:replied",
        "conversation:10:part:101:replied",
    }
    assert {e["profile"]["id"] for e in stored} == {profile["id"]}


def test_a_changed_email_found_by_external_id(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_target(klaviyo.config(), singer([contact(1)]), caplog).error is None
    run = run_target(klaviyo.config(), singer([contact(1, email="renamed@example.com")]), caplog)
    assert run.error is None
    [profile] = klaviyo.profiles()
    assert (profile["email"], profile["external_id"]) == ("renamed@example.com", "ext-1")


def test_600_conflicting_replies_cost_a_few_requests(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    """A full sync gave 600 phones to their owners; an incremental run brings 600 replies of
    other people with those phones: all delivered, each on its own person's profile, in one
    bulk request after 6 lookups of 100 phones."""
    phones = [f"+1415555{3000 + i:04d}" for i in range(600)]
    owners = [contact(1000 + i, phone=p, external_id=None) for i, p in enumerate(phones)]
    assert run_target(klaviyo.config(), singer(owners), caplog).error is None
    before = requests(klaviyo)
    replies = [
        conversation_event(5000 + i, i, part=9000 + i, contact_phone=p, contact_external_id=None)
        for i, p in enumerate(phones)
    ]
    run = run_target(klaviyo.config(), singer(events=replies), caplog)
    assert run.error is None
    assert run.dead_letters == []
    spent = {k: v - before.get(k, 0) for k, v in requests(klaviyo).items()}
    assert spent.get(LOOKUP) == 6
    assert spent.get(EVENTS) == 1
    assert klaviyo.report()["rejected_requests"] == []
    stored = klaviyo.events()
    assert len(stored) == 600
    assert all(
        e["profile"]["email"] == f"user{int(e['unique_id'].split(':')[1]) - 5000}@example.com"
        for e in stored
    )
    assert all(e["profile"]["phone_number"] is None for e in stored)
    owners_now = {p["email"]: p for p in klaviyo.profiles() if p["email"].startswith("user1")}
    assert owners_now["user1000@example.com"]["phone_number"] == phones[0]


def test_conflicts_lookups_miss_cost_one_request_each(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    """When lookups do not see the holders yet (stale reading), each 409 names one conflict:
    the run still delivers everything, at one request per conflict (no 50-split limit)."""
    phones = [f"+1415555{4000 + i:04d}" for i in range(80)]
    owners = [contact(1000 + i, phone=p, external_id=None) for i, p in enumerate(phones)]
    assert run_target(klaviyo.config(), singer(owners), caplog).error is None
    klaviyo.control("behaviour", {"profile_lookups": "stale"})
    before = requests(klaviyo)
    replies = [
        conversation_event(5000 + i, i, part=9000 + i, contact_phone=p, contact_external_id=None)
        for i, p in enumerate(phones)
    ]
    run = run_target(klaviyo.config(), singer(events=replies), caplog)
    assert run.error is None, run.log[-2000:]
    assert run.dead_letters == []
    spent = {k: v - before.get(k, 0) for k, v in requests(klaviyo).items()}
    assert spent[EVENTS] == 81  # 80 conflicts named one by one, then accepted
    assert len(klaviyo.events()) == 80


def test_lookups_are_batched_by_count_and_length() -> None:
    assert [len(b) for b in batches([f"+1415555{i:04d}" for i in range(250)])] == [100, 100, 50]
    long_ids = ["x" * 1000 for _ in range(7)]
    assert [len(b) for b in batches(long_ids)] == [2, 2, 2, 1]
    assert lookup_query("phone_number", ["+1", "+2"]) == (
        "?filter=any%28phone_number%2C%5B%22%2B1%22%2C%22%2B2%22%5D%29&page%5Bsize%5D=100"
    )

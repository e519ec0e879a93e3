"""Two Intercom contacts never become one Klaviyo profile: a phone number or external_id that
belongs to another person is left out for the second one (events and profiles), within a batch,
across batches and across runs, over HTTP against the stand-in (identity_conflicts "reject":
409 duplicate_profile / import errors, as reported for Klaviyo)."""

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

from target_klaviyo.identities import IdentityBook
from target_klaviyo.items import Identity

PHONE = "+14155550142"


def singer(contacts: list[dict[str, Any]] = (), events: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
    messages = [schema_message("contacts"), schema_message("conversation_events")]
    messages += [record_message("contacts", r) for r in contacts]
    messages += [record_message("conversation_events", r) for r in events]
    return lines(messages)


def ann(**fields: Any) -> dict[str, Any]:
    return contact(1, phone="415-555-0142", external_id="ext-ann", **fields)


def bob(**fields: Any) -> dict[str, Any]:
    return contact(2, phone="(415) 555-0142", external_id="ext-bob", **fields)


def events_of(number: int, phone: str, external_id: str, first: int) -> list[dict[str, Any]]:
    return [
        conversation_event(
            first + i,
            number,
            part=first + i,
            contact_phone=phone,
            contact_external_id=external_id,
        )
        for i in range(3)
    ]


ANN_EVENTS = events_of(1, "415-555-0142", "ext-ann", 100)
BOB_EVENTS = events_of(2, "(415) 555-0142", "ext-bob", 200)


def assert_two_people(klaviyo: Klaviyo) -> None:
    profiles = {p["email"]: p for p in klaviyo.profiles()}
    assert set(profiles) == {"user1@example.com", "user2@example.com"}
    ann_profile, bob_profile = profiles["user1@example.com"], profiles["user2@example.com"]
    assert ann_profile["id"] != bob_profile["id"]
    assert ann_profile["external_id"] == "ext-ann"
    assert bob_profile["external_id"] == "ext-bob"
    # Exactly one of them holds the shared number.
    assert [ann_profile["phone_number"], bob_profile["phone_number"]].count(PHONE) == 1
    by_email: dict[str, set[str]] = {}
    for event in klaviyo.events():
        by_email.setdefault(event["profile"]["email"], set()).add(event["unique_id"])
    assert by_email == {
        "user1@example.com": {e["event_id"] for e in ANN_EVENTS},
        "user2@example.com": {e["event_id"] for e in BOB_EVENTS},
    }


# Every reading the stand-in has of what Klaviyo does with a conflict: the target never lets one
# happen within a run, so the outcome is the same under each.
READINGS = [
    {"identity_conflicts": "reject", "bulk_event_conflicts": "request"},
    {"identity_conflicts": "reject", "bulk_event_conflicts": "item"},
    {"identity_conflicts": "attach"},
    {"identity_conflicts": "ignore"},
]


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: "-".join(r.values()))
def test_shared_phone_within_one_batch(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, reading: dict[str, str]
) -> None:
    klaviyo.control("behaviour", reading)
    run = run_target(
        klaviyo.config(profile_import_below=1),
        singer([ann(), bob()], ANN_EVENTS + BOB_EVENTS),
        caplog,
    )
    assert run.error is None
    assert run.dead_letters == []
    assert_two_people(klaviyo)
    # Bob's profile and his three events went without the phone, before Klaviyo could object.
    assert (
        "identifiers left out (they belong to another profile): phone 4, external_id 0" in run.log
    )
    assert klaviyo.report()["rejected_requests"] == []


@pytest.mark.parametrize("reading", READINGS[::2], ids=lambda r: "-".join(r.values()))
def test_shared_phone_across_batches(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, reading: dict[str, str]
) -> None:
    klaviyo.control("behaviour", reading)
    run = run_target(
        klaviyo.config(batch_size_rows=1),
        singer([ann(), bob()], ANN_EVENTS + BOB_EVENTS),
        caplog,
    )
    assert run.error is None
    assert run.dead_letters == []
    assert_two_people(klaviyo)
    assert "identifiers left out (they belong to another profile): phone 4" in run.log


@pytest.mark.parametrize("import_below", [1, 50], ids=["bulk-job", "profile-import"])
def test_shared_phone_across_runs(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, import_below: int
) -> None:
    config = klaviyo.config(profile_import_below=import_below)
    assert run_target(config, singer([ann()], ANN_EVENTS), caplog).error is None
    # A new run knows nothing of Ann: Klaviyo's 409 / import error says the phone is hers.
    run = run_target(config, singer([bob()], BOB_EVENTS), caplog)
    assert run.error is None
    assert run.dead_letters == []
    assert_two_people(klaviyo)
    assert "identifiers left out (they belong to another profile): phone " in run.log


def test_events_alone_across_runs(klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture) -> None:
    """No contacts stream in the second run: the bulk event request's 409 names Bob's profile."""
    assert run_target(klaviyo.config(), singer([ann()], ANN_EVENTS), caplog).error is None
    run = run_target(klaviyo.config(), singer([], BOB_EVENTS), caplog)
    assert run.error is None
    assert run.dead_letters == []
    bob_events = [e for e in klaviyo.events() if e["profile"]["email"] == "user2@example.com"]
    assert {e["unique_id"] for e in bob_events} == {e["event_id"] for e in BOB_EVENTS}
    assert {e["profile"]["phone_number"] for e in bob_events} == {None}
    assert "identifiers left out (they belong to another profile): phone 3" in run.log


def test_shared_external_id_within_a_run_and_across_runs(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    carl = contact(3, external_id="ext-ann")  # another email, Ann's external id
    dora = contact(4, external_id="ext-ann")
    # Within one stream's batch the first record keeps it. (Across streams of one run the stream
    # whose batch is delivered first does: the SDK drains streams in parallel.)
    run = run_target(klaviyo.config(profile_import_below=1), singer([ann(), carl]), caplog)
    assert run.error is None
    assert run.dead_letters == []
    assert "phone 0, external_id 1" in run.log
    # A later run: Carl's events and Dora go without it (Klaviyo says Ann's profile holds it).
    later = singer([dora], events_of(3, None, "ext-ann", 300))  # type: ignore[arg-type]
    run = run_target(klaviyo.config(), later, caplog)
    assert run.error is None
    assert run.dead_letters == []
    assert "phone 0, external_id 4" in run.log
    profiles = {p["email"]: p for p in klaviyo.profiles()}
    assert profiles["user1@example.com"]["external_id"] == "ext-ann"
    assert profiles["user3@example.com"]["external_id"] is None
    assert profiles["user4@example.com"]["external_id"] is None
    carl_events = [e for e in klaviyo.events() if e["profile"]["email"] == "user3@example.com"]
    assert len(carl_events) == 3


def test_the_book_keeps_the_first_holder() -> None:
    book = IdentityBook()
    ann_id = Identity(email="a@x.com", phone_number=PHONE, external_id="xa")
    bob_id = Identity(email="b@x.com", phone_number=PHONE, external_id="xb")
    assert book.settle(ann_id) == (ann_id, ())
    settled, left_out = book.settle(bob_id)
    assert left_out == ("phone_number",)
    assert settled.key == ("b@x.com", None, "xb")
    # Ann again, or Ann by her external id alone with her phone: nothing left out.
    assert book.settle(ann_id) == (ann_id, ())
    by_external_id = Identity(email=None, phone_number=PHONE, external_id="xa")
    assert book.settle(by_external_id) == (by_external_id, ())
    # A phone alone that Ann holds: Klaviyo would find Ann's profile by it, so nothing is left
    # to send (the sender dead-letters that person).
    alone = Identity(email=None, phone_number=PHONE, external_id=None)
    settled, left_out = book.settle(alone)
    assert left_out == ("phone_number",)
    assert not settled.usable
    # A phone nobody else holds is that person's own.
    other = Identity(email=None, phone_number="+14155550143", external_id=None)
    assert book.settle(other) == (other, ())
    # Learned from Klaviyo: that external id belongs to a profile this run has not seen.
    book.disown("external_id", "xc")
    cleo = Identity(email="c@x.com", phone_number=None, external_id="xc")
    assert book.settle(cleo)[1] == ("external_id",)

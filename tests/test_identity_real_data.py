"""One Intercom contact is one Klaviyo profile with data shaped like real workspaces (issue #19): contacts
sharing a phone (a phone-only lead among them) and people whose email changes between runs, through
`meltano run` against the stand-ins. Every event ends on its own person's profile (the profile whose
"Intercom Contact ID" is the event's contact) or in the dead-letter file with its reason."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from e2e_expected import e164, identifiers
from e2e_pipeline import Pipeline

HELD = "identifier held by another person's profile"
NO_IDENTIFIER = "no usable identifier"


def dead_letters(pipeline: Pipeline) -> list[dict[str, Any]]:
    if not pipeline.dead_letter_path.exists():
        return []
    return [json.loads(line) for line in pipeline.dead_letter_path.read_text().splitlines() if line]


def contacts_of(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in pipeline.intercom("dataset?kind=contacts")["data"]}


def assert_each_event_on_its_own_profile(pipeline: Pipeline) -> dict[str, set[str]]:
    """Every ledger event: on the profile of its own contact, or dead-lettered with a reason that
    fits its contact. Returns the Klaviyo profile ids each contact's events landed on."""
    contacts = contacts_of(pipeline)
    profiles = {p["id"]: p for p in pipeline.klaviyo("profiles")["profiles"]}
    stored = {e["unique_id"]: e for e in pipeline.klaviyo("events")["events"]}
    letters = {
        letter["record"]["event_id"]: letter["reason"]
        for letter in dead_letters(pipeline)
        if letter["stream"].endswith("_events")
    }
    landed: dict[str, set[str]] = defaultdict(set)
    problems = []
    for entry in pipeline.intercom("ledger")["events"]:
        key, contact_id = entry["key"], entry["contact_id"]
        contact = contacts.get(contact_id) if contact_id else None
        if key in stored:
            profile = profiles[stored[key]["profile"]["id"]]
            owner = profile["properties"].get("Intercom Contact ID")
            if owner != contact_id:
                problems.append(f"{key} of {contact_id} on the profile of {owner}")
            landed[contact_id].add(profile["id"])
        elif letters.get(key) == NO_IDENTIFIER and not identifiers(contact):
            continue
        elif letters.get(key) == HELD and contact is not None and contact["email"] is None:
            continue  # a person whose only identifier is another person's phone
        else:
            problems.append(f"{key} of {contact_id}: not delivered ({letters.get(key)})")
    assert problems == []
    return landed


def test_shared_phones_and_changed_emails_keep_one_person_one_profile(pipeline: Pipeline) -> None:
    contacts = list(contacts_of(pipeline).values())
    with_events = {entry["contact_id"] for entry in pipeline.intercom("ledger")["events"]}
    phoned = [
        c for c in contacts if c["email"] and e164(c["phone"]) and c["id"] in with_events
    ]  # fmt: skip
    emailed = [
        c for c in contacts
        if c["email"] and not e164(c["phone"]) and c["id"] in with_events and c not in phoned
    ]  # fmt: skip
    assert len(phoned) >= 5 and len(emailed) >= 3
    # 5% of the 60 contacts share a phone with another contact: two customers given a holder's
    # number (a family line), and a lead known only by a holder's number.
    holders, changers = phoned[:3], phoned[3:5]
    sharers = emailed[:3]
    changes = [
        {
            "action": "edit_contact",
            "contact_id": sharer["id"],
            "changes": {"phone": holder["phone"]},
        }
        for sharer, holder in zip(sharers, holders, strict=True)
    ]
    lead = sharers[2]
    changes[2]["changes"].update({"email": None, "external_id": None, "role": "lead"})
    pipeline.intercom("mutations", {"mutations": changes})

    first = pipeline.meltano("run", "tap-intercom-events", "target-klaviyo")
    assert first.returncode == 0, first.stderr[-4000:]
    assert_each_event_on_its_own_profile(pipeline)
    profiles = pipeline.klaviyo("profiles")["profiles"]
    for holder in holders[:2]:
        (profile,) = [p for p in profiles if p["email"] == holder["email"]]
        assert profile["properties"]["Intercom Contact ID"] == holder["id"]

    # Between runs two people change their email in Intercom, and each writes again.
    renamed = {c["id"]: f"renamed.{c['id'][:8]}@example.org" for c in changers}
    mutations: list[dict[str, Any]] = []
    for contact_id, email in renamed.items():
        mutations.append(
            {"action": "edit_contact", "contact_id": contact_id, "changes": {"email": email}}
        )
        mutations.append({"action": "new_conversation", "contact_id": contact_id})
    mutations.append({"action": "new_conversation", "contact_id": lead["id"]})
    pipeline.intercom("mutations", {"mutations": mutations})

    second = pipeline.meltano("run", "tap-intercom-events", "target-klaviyo")
    assert second.returncode == 0, second.stderr[-4000:]
    landed = assert_each_event_on_its_own_profile(pipeline)
    profiles = pipeline.klaviyo("profiles")["profiles"]
    for contact_id, email in renamed.items():
        (own,) = [p for p in profiles if p["properties"].get("Intercom Contact ID") == contact_id]
        assert own["email"] == email
        assert landed[contact_id] == {own["id"]}  # old and new events on the one profile
    assert not [p for p in profiles if p["email"] in {c["email"] for c in changers}]


def test_600_replies_with_phones_held_by_others_in_one_incremental_run(pipeline: Pipeline) -> None:
    """After a full sync, customers take phone numbers Klaviyo already gave to other people's profiles
    and write 600 replies: the incremental run delivers every reply to its own person's profile in one
    bulk request after a few lookups, with no conflict reaching Klaviyo (before: one 409 and one more
    request per person, and no run at all past 50 of them in a request)."""
    contacts = contacts_of(pipeline)
    holders = [c for c in contacts.values() if c["email"] and e164(c["phone"])]
    conversations = pipeline.intercom("dataset?kind=conversations")["data"]
    by_replier: dict[str, list[str]] = defaultdict(list)
    for conversation in conversations:
        first = (conversation.get("contacts") or {}).get("contacts") or []
        contact = contacts.get(first[0]["id"]) if first else None
        if contact and contact["email"] and contact not in holders:
            by_replier[contact["id"]].append(conversation["id"])
    assert len(by_replier) >= 10 and holders

    assert pipeline.meltano("run", "tap-intercom-events", "target-klaviyo").returncode == 0
    mutations: list[dict[str, Any]] = [
        {
            "action": "edit_contact",
            "contact_id": cid,
            "changes": {"phone": holders[n % len(holders)]["phone"]},
        }
        for n, cid in enumerate(by_replier)
    ]
    threads = [cid for cids in by_replier.values() for cid in cids]
    mutations += [
        {"action": "contact_reply", "conversation_id": threads[n % len(threads)]}
        for n in range(600)
    ]
    results = pipeline.intercom("mutations", {"mutations": mutations})["results"]
    replies = {e["key"] for r in results for e in r.get("ledger", [])}
    assert len(replies) == 600
    before = pipeline.klaviyo("report")

    second = pipeline.meltano("run", "tap-intercom-events", "target-klaviyo")
    assert second.returncode == 0, second.stderr[-4000:]
    assert_each_event_on_its_own_profile(pipeline)
    after = pipeline.klaviyo("report")
    spent = {k: n - before["requests"].get(k, 0) for k, n in after["requests"].items()}
    assert spent["POST /api/event-bulk-create-jobs"] <= 2, spent
    assert spent.get("GET /api/profiles", 0) <= 4, spent
    assert not [r for r in after["rejected_requests"] if r["status"] == 409]
    stored = {e["unique_id"]: e for e in pipeline.klaviyo("events")["events"]}
    assert replies <= set(stored)
    held = {e164(h["phone"]) for h in holders}
    assert not [k for k in replies if stored[k]["profile"]["phone_number"] in held]

"""What Klaviyo should hold after a sync, from the Intercom stand-in's ledger (its ground truth by construction).

This is the contract's identifier rule applied to the ledger, independently of the tap and the target: a profile is
identified by email, E.164 phone (`phonenumbers`, default region US, invalid dropped) and external_id; an event whose
contact has none of them is not delivered (it is dead-lettered).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers

DEFAULT_REGION = "US"


@dataclass(frozen=True)
class ExpectedEvent:
    key: str
    metric: str
    time: int
    identifiers: tuple[tuple[str, str], ...]  # (field, value) in the contract's order of preference


def e164(phone: str | None, region: str = DEFAULT_REGION) -> str | None:
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def identifiers(contact: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if contact is None:
        return ()
    candidates = (
        ("email", contact.get("email")),
        ("phone_number", e164(contact.get("phone"))),
        ("external_id", contact.get("external_id")),
    )
    return tuple((field, value) for field, value in candidates if value)


def split_ledger(
    ledger: list[dict[str, Any]], contacts: list[dict[str, Any]]
) -> tuple[dict[str, ExpectedEvent], set[str]]:
    """Ledger entries -> (events Klaviyo should keep, by key; keys that must be dead-lettered)."""
    by_id = {contact["id"]: contact for contact in contacts}
    deliverable: dict[str, ExpectedEvent] = {}
    undeliverable: set[str] = set()
    for entry in ledger:
        ids = identifiers(by_id.get(entry["contact_id"]) if entry["contact_id"] else None)
        if ids:
            deliverable[entry["key"]] = ExpectedEvent(
                entry["key"], entry["metric"], entry["time"], ids
            )
        else:
            undeliverable.add(entry["key"])
    return deliverable, undeliverable


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def mismatches(expected: dict[str, ExpectedEvent], stored: list[dict[str, Any]]) -> list[str]:
    """Every difference between the expected events and what the Klaviyo stand-in kept, as readable lines."""
    problems: list[str] = []
    by_key = {event["unique_id"]: event for event in stored}
    for key in sorted(set(expected) - set(by_key)):
        problems.append(f"missing in Klaviyo: {key}")
    for key in sorted(set(by_key) - set(expected)):
        problems.append(f"unexpected in Klaviyo: {key}")
    for key in sorted(set(expected) & set(by_key)):
        want, got = expected[key], by_key[key]
        if got["metric"] != want.metric:
            problems.append(f"{key}: metric {got['metric']!r}, expected {want.metric!r}")
        if epoch(got["time"]) != want.time:
            problems.append(f"{key}: time {got['time']}, expected epoch {want.time}")
        field, value = want.identifiers[0]
        if got["profile"].get(field) != value:
            problems.append(
                f"{key}: profile {field} {got['profile'].get(field)!r}, expected {value!r}"
            )
    return problems

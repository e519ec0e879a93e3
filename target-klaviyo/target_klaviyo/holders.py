"""Who holds a phone number or external_id in Klaviyo, asked before it is sent.

Klaviyo keeps each identifier on one profile, and a request whose identifiers are held by another
profile either fails (409 `duplicate_profile`, one conflict named per request) or lands on that
profile (a phone-only person on the profile of whoever gave Klaviyo the phone first). So before a
request goes out, the phone numbers and external_ids the run's `IdentityBook` has not met yet are
looked up with `GET /api/profiles?filter=any(phone_number,[...])` (documented filters: `id`,
`email`, `phone_number`, `external_id` with `any` and `equals`; up to 100 a page), one request per
100 identifiers, and the book learns who holds them:

- held by the profile the person resolves to (same first identifier): theirs;
- held by the person's own profile under an old email (the profile's "Intercom Contact ID" is the
  person's id): that profile gets the new email first (`POST /api/profile-import` with its `id`),
  so one person stays one profile; then the identifier is theirs;
- held by anybody else: left out of the request (and a person with no other identifier is
  dead-lettered by the sender).

Nothing is kept beyond the run: the book is the run's, and a run looks up each identifier once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from target_klaviyo.client import GET_PROFILES, PROFILE_IMPORT, Transport
from target_klaviyo.errors import KlaviyoError
from target_klaviyo.identities import EXTERNAL_ID, PHONE, IdentityBook, owner_key
from target_klaviyo.items import Identity
from target_klaviyo.payloads import encode

# The profile property that names the person (docs/contract.md, "Profiles": `id`).
PERSON_PROPERTY = "Intercom Contact ID"
# Values per lookup: Klaviyo's largest page, and a URL well under common 8 KB limits.
LOOKUP_VALUES = 100
LOOKUP_CHARACTERS = 3000


@dataclass(frozen=True)
class Holder:
    """A Klaviyo profile as far as identity goes."""

    profile_id: str
    email: str | None
    phone_number: str | None
    external_id: str | None
    person: str | None

    @property
    def owner(self) -> int:
        return owner_key(Identity(self.email, self.phone_number, self.external_id))


def holder_of(resource: dict[str, Any]) -> Holder | None:
    attributes = resource.get("attributes") or {}
    profile_id = resource.get("id")
    if not isinstance(profile_id, str) or not isinstance(attributes, dict):
        return None
    properties = attributes.get("properties") or {}
    person = properties.get(PERSON_PROPERTY) if isinstance(properties, dict) else None
    return Holder(
        profile_id,
        _text(attributes.get("email")),
        _text(attributes.get("phone_number")),
        _text(attributes.get("external_id")),
        None if person is None else str(person),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def batches(values: list[str]) -> Iterable[list[str]]:
    """The values in lookups of at most LOOKUP_VALUES and about LOOKUP_CHARACTERS each."""
    batch: list[str] = []
    size = 0
    for value in values:
        if batch and (len(batch) >= LOOKUP_VALUES or size + len(value) > LOOKUP_CHARACTERS):
            yield batch
            batch, size = [], 0
        batch.append(value)
        size += len(value) + 3
    if batch:
        yield batch


def lookup_query(kind: str, values: list[str]) -> str:
    """`?filter=any(kind,["v1","v2"])&page[size]=100`, URL-encoded."""
    listed = ",".join(json.dumps(value) for value in values)
    return f"?filter={quote(f'any({kind},[{listed}])', safe='')}&page%5Bsize%5D={LOOKUP_VALUES}"


class Holders:
    """Teaches the run's book who holds the identifiers a request is about to send."""

    def __init__(self, transport: Transport, book: IdentityBook) -> None:
        self.transport = transport
        self.book = book

    def check(self, identities: Iterable[Identity]) -> None:
        """Look up the identifiers of `identities` the book does not know yet; relink a
        person's own profile found under an old email."""
        wanted: dict[str, dict[str, list[Identity]]] = {PHONE: {}, EXTERNAL_ID: {}}
        for identity in identities:
            for kind, value in self.book.unknown(identity):
                wanted[kind].setdefault(value, []).append(identity)
        for kind, by_value in wanted.items():
            if not by_value:
                continue
            found = self.look_up(kind, list(by_value))
            for value, claimants in by_value.items():
                holder = found.get(value)
                if holder is None:
                    # Nobody holds it yet: the first to ask keeps it (as IdentityBook.settle).
                    self.book.learn(kind, value, owner_key(claimants[0]))
                    continue
                for identity in claimants:
                    if self._is_own(holder, identity) and self._relink(holder, identity):
                        self.book.learn(kind, value, owner_key(identity))
                        break
                self.book.learn(kind, value, holder.owner)

    def look_up(self, kind: str, values: list[str]) -> dict[str, Holder]:
        """value -> the profile holding it (values nobody holds are absent)."""
        found: dict[str, Holder] = {}
        for batch in batches(values):
            reply = self.transport.send(GET_PROFILES, query=lookup_query(kind, batch))
            while True:
                if not reply.ok:
                    msg = f"GET {GET_PROFILES.path} (who holds a {kind}) failed: {reply.describe()}"
                    raise KlaviyoError(msg)
                body = reply.body if isinstance(reply.body, dict) else {}
                for resource in body.get("data") or []:
                    holder = holder_of(resource) if isinstance(resource, dict) else None
                    held = getattr(holder, kind, None) if holder is not None else None
                    if holder is not None and held is not None:
                        found[held] = holder
                url = (body.get("links") or {}).get("next")
                if not url:
                    break
                reply = self.transport.send(GET_PROFILES, url=url)
        return found

    @staticmethod
    def _is_own(holder: Holder, identity: Identity) -> bool:
        """The holder is this person's profile, under other identifiers than the person's now."""
        return (
            identity.person is not None
            and holder.person == identity.person
            and holder.owner != owner_key(identity)
        )

    def _relink(self, holder: Holder, identity: Identity) -> bool:
        """Move the person's profile to their identifier now (a changed email), so that the
        request finds it; False when Klaviyo refuses (the new email is another profile's)."""
        attributes: dict[str, str] = {}
        if identity.email is not None:
            attributes["email"] = identity.email
        elif identity.external_id is not None and holder.external_id != identity.external_id:
            attributes["external_id"] = identity.external_id
        if not attributes:
            return True
        body = {"data": {"type": "profile", "id": holder.profile_id, "attributes": attributes}}
        reply = self.transport.send(PROFILE_IMPORT, encode(body))
        if reply.ok:
            return True
        if reply.status in (400, 409):
            return False
        msg = f"POST {PROFILE_IMPORT.path} (a changed identifier) failed: {reply.describe()}"
        raise KlaviyoError(msg)

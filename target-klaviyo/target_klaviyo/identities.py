"""Who holds which phone number and external_id in this run, so that two people never become one
Klaviyo profile (pure, thread-safe).

Klaviyo finds a profile by its first identifier in the order email, external_id, phone_number
(the one Klaviyo resolves by). When a later identifier already belongs to another profile,
Klaviyo answers 409 `duplicate_profile` or an import error, or (undocumented) moves it onto the
new profile or leaves the event out: two Intercom contacts sharing a phone must not end as one
profile with both people's events. So the first person seen with a phone number (or
external_id) keeps it; anyone else's records are sent without it. An identifier Klaviyo said
belongs to a profile this run has not seen (`disown`, after a 409 or an import error) is left
out for everyone who has it as a later identifier. Before a request goes out, the identifiers it
has that the book has not met are looked up in Klaviyo (holders.py, `learn`): one held by another
person's profile is left out, and a person whose only identifier (a phone) is another's is not
sent at all (the sender dead-letters them).

Memory: one dict entry (two ints) per phone number and external_id seen.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from target_klaviyo.items import Identity

PHONE = "phone_number"
EXTERNAL_ID = "external_id"
# Held by a profile Klaviyo knows and this run has not seen (learned from a conflict).
_ELSEWHERE = -1


def _key(kind: str, value: str) -> int:
    # Python's string hash: random per process, stable within it, which is all a run needs;
    # 64 bits, so two identifiers of a run practically never collide.
    return hash((kind, value))


def owner_key(identity: Identity) -> int:
    """The key of the identifier Klaviyo resolves the identity's profile by (email, else
    external_id, else phone number): who holds an identifier, in the book."""
    if identity.email is not None:
        return _key("email", identity.email)
    if identity.external_id is not None:
        return _key(EXTERNAL_ID, identity.external_id)
    return _key(PHONE, identity.phone_number or "")


def without(identity: Identity, kinds: tuple[str, ...]) -> Identity:
    """The identity without the identifiers named (`phone_number`, `external_id`)."""
    changes: dict[str, None] = {kind: None for kind in kinds if getattr(identity, kind)}
    return replace(identity, **changes) if changes else identity


class IdentityBook:
    """First come, first kept: phone numbers and external_ids by the person who holds them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, int] = {}  # identifier key -> owner (key of its first identifier)
        # Held by a sender while it looks up and settles one request: requests claim
        # identifiers in the order they start, lookups included.
        self.claiming = threading.Lock()

    def settle(self, identity: Identity) -> tuple[Identity, tuple[str, ...]]:
        """The identity to send, and the identifiers left out (held by someone else)."""
        email, external_id, phone = identity.email, identity.external_id, identity.phone_number
        held = self._held
        later: list[tuple[str, str]] = []
        with self._lock:
            if email is not None:
                owner = _key("email", email)
                if external_id is not None:
                    later.append((EXTERNAL_ID, external_id))
            elif external_id is not None:
                key = _key(EXTERNAL_ID, external_id)
                owner = held.setdefault(key, key)
                if owner == _ELSEWHERE:
                    owner = key
            elif phone is not None:
                key = _key(PHONE, phone)
                if held.setdefault(key, key) == key:
                    return identity, ()
                # The person's only identifier is another's: nothing is left to send it by.
                return without(identity, (PHONE,)), (PHONE,)
            else:
                return identity, ()
            if phone is not None and (email is not None or external_id is not None):
                later.append((PHONE, phone))
            left_out: list[str] = []
            for kind, value in later:
                key = _key(kind, value)
                holder = held.setdefault(key, owner)
                if holder != owner:
                    left_out.append(kind)
        if not left_out:
            return identity, ()
        kinds = tuple(left_out)
        return without(identity, kinds), kinds

    def unknown(self, identity: Identity) -> list[tuple[str, str]]:
        """The identifiers of `identity` that may be held by another profile in Klaviyo and
        that the book has not met yet: its phone number, and its external_id when an email
        comes first (an external_id that comes first finds its own holder)."""
        found: list[tuple[str, str]] = []
        held = self._held
        phone, external_id = identity.phone_number, identity.external_id
        if phone is not None and _key(PHONE, phone) not in held:
            found.append((PHONE, phone))
        if (
            external_id is not None
            and identity.email is not None
            and _key(EXTERNAL_ID, external_id) not in held
        ):
            found.append((EXTERNAL_ID, external_id))
        return found

    def learn(self, kind: str, value: str, owner: int) -> None:
        """Klaviyo's profile with first identifier `owner` holds `value` (what the run claimed
        already stays)."""
        with self._lock:
            self._held.setdefault(_key(kind, value), owner)

    def disown(self, kind: str, value: str) -> None:
        """Klaviyo says `value` belongs to another profile: leave it out from now on (except
        for a person it is the first identifier of)."""
        with self._lock:
            self._held[_key(kind, value)] = _ELSEWHERE

    def __len__(self) -> int:
        return len(self._held)


def conflicting_kind(identity: Identity, detail: str = "") -> str | None:
    """Which identifier a duplicate_profile conflict is about: the one Klaviyo's detail names,
    else the phone number (the usual culprit: shared by a household or a company line), else
    the external_id; None when the identity has no identifier but the first."""
    text = detail.lower()
    candidates = [
        kind
        for kind in (PHONE, EXTERNAL_ID)
        if getattr(identity, kind) is not None and _is_later(identity, kind)
    ]
    for kind in candidates:
        if kind in text or (kind == PHONE and "phone" in text):
            return kind
    return candidates[0] if candidates else None


def _is_later(identity: Identity, kind: str) -> bool:
    """Whether `kind` is not the identifier Klaviyo resolves the profile by."""
    if identity.email is not None:
        return True
    if kind == PHONE:
        return identity.external_id is not None
    return False

"""What the target sends and what it refuses: identities, event and profile items, rejections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Dead-letter reasons: stable strings, counted in the run summary.
NO_IDENTIFIER = "no usable identifier"
INVALID_RECORD = "invalid record"
REJECTED = "rejected by Klaviyo"
IMPORT_ERROR = "profile import error"
REPORTED_BY_TAP = "reported by the tap: data it could not read"
HELD_BY_ANOTHER = "identifier held by another person's profile"


@dataclass(frozen=True)
class Rejection:
    """A record that is not sent: it goes to the dead-letter file."""

    reason: str
    detail: str


@dataclass
class Identity:
    """A Klaviyo profile's identifiers; an invalid phone is dropped (and reported)."""

    email: str | None
    phone_number: str | None
    external_id: str | None
    invalid_phone: str | None = None
    invalid_email: str | None = None  # left out; the record is sent when another id remains
    # The person's id in the source (the Intercom contact id), never sent as an identifier: it
    # tells a person whose email changed from another person sharing their phone (holders.py).
    person: str | None = None

    @property
    def key(self) -> tuple[str | None, str | None, str | None]:
        return (self.email, self.phone_number, self.external_id)

    def attributes(self) -> dict[str, str]:
        attrs: dict[str, str] = {}
        if self.email is not None:
            attrs["email"] = self.email
        if self.phone_number is not None:
            attrs["phone_number"] = self.phone_number
        if self.external_id is not None:
            attrs["external_id"] = self.external_id
        return attrs

    @property
    def usable(self) -> bool:
        return any(self.key)


@dataclass
class EventItem:
    """One event, ready for a bulk request: grouped by `identity.key`, deduplicated on
    (profile, metric, unique_id)."""

    record: dict[str, Any]
    identity: Identity
    metric: str
    unique_id: str
    resource: dict[str, Any]  # the bulk entry's event resource object
    # Re-emitted from the tap's lookback (the mapping's lookback_field): possibly in Klaviyo
    # already, so counted apart from new deliveries.
    resent: bool = False
    # Where the event comes from (the mapping's source_field), carried in `source_property`.
    source: str | None = None


@dataclass
class ProfileItem:
    record: dict[str, Any]
    identity: Identity
    resource: dict[str, Any]  # {"type": "profile", "attributes": {...}}

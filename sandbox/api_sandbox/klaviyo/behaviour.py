"""Readings of behaviour Klaviyo does not document, chosen at start (KlaviyoSettings, CLI flags) or at
run time (`POST /_sandbox/behaviour`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from api_sandbox.settings import KlaviyoSettings

CHOICES: dict[str, tuple[str, ...]] = {
    # A bulk event whose unique_id is already stored for its profile and metric (by an earlier
    # request). Documented for single create only ("only the first processed event will be recorded").
    "stored_duplicates": ("keep_first", "reject"),
    # An identifier (phone_number, external_id, ...) held by another profile than the one the
    # request's first identifier means (`id`, else the first sent of email, external_id,
    # phone_number, anonymous_id). Undocumented; reports show 409 duplicate_profile.
    "identity_conflicts": ("reject", "attach", "ignore"),
    # Where bulk event create rejects such a conflict (identity_conflicts "reject" only).
    "bulk_event_conflicts": ("request", "item"),
    # Every request refused with 400 naming no item (no `source.pointer`), before it is processed:
    # what an API change, a proxy or a bad revision can look like. "bulk": the two bulk create
    # endpoints; "all": every API call. Run-time only (POST /_sandbox/behaviour).
    "unexplained_rejections": ("off", "bulk", "all"),
    # What GET /api/profiles?filter=... finds. Klaviyo does not document how soon a write is
    # visible to it: "current" finds every stored profile, "stale" finds none (an index that
    # has not caught up), so that conflicts reach the write endpoints.
    "profile_lookups": ("current", "stale"),
}


@dataclass
class Behaviour:
    stored_duplicates: str = "keep_first"
    identity_conflicts: str = "reject"
    bulk_event_conflicts: str = "request"
    unexplained_rejections: str = "off"
    profile_lookups: str = "current"

    @classmethod
    def from_settings(cls, settings: KlaviyoSettings) -> Behaviour:
        behaviour = cls()
        behaviour.update(
            {
                "stored_duplicates": settings.stored_duplicates,
                "identity_conflicts": settings.identity_conflicts,
                "bulk_event_conflicts": settings.bulk_event_conflicts,
            }
        )
        return behaviour

    def update(self, changes: dict[str, Any]) -> None:
        """Change the named readings (all checked before any is changed); ValueError names a bad one."""
        for name, value in changes.items():
            choices = CHOICES.get(name)
            if choices is None:
                msg = f"unknown behaviour {name!r}; known: {', '.join(CHOICES)}"
                raise ValueError(msg)
            if value not in choices:
                msg = f"behaviour {name} must be one of {', '.join(choices)}; got {value!r}"
                raise ValueError(msg)
        for name, value in changes.items():
            setattr(self, name, value)

    def to_json(self) -> dict[str, str]:
        return asdict(self)

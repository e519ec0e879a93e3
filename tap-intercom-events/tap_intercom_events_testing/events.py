"""A conversation's or ticket's event records in one call, for tests: the tap itself derives
seeds and records in separate steps (`tap_intercom_events.events`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_intercom_events.events import (
    Lookups,
    conversation_event_seeds,
    event_records,
    ticket_event_seeds,
)
from tap_intercom_events.json_types import Json
from tap_intercom_events.window import SyncWindow


def conversation_events(
    conversation: Mapping[str, Any], lookups: Lookups, window: SyncWindow | None = None
) -> list[Json]:
    """The conversation's event records (those `window` holds when one is given)."""
    seeds = list(conversation_event_seeds(conversation, window))
    return event_records(conversation, "conversation", seeds, lookups, window)


def ticket_events(
    ticket: Mapping[str, Any], lookups: Lookups, window: SyncWindow | None = None
) -> list[Json]:
    """The ticket's event records (those `window` holds when one is given)."""
    seeds = list(ticket_event_seeds(ticket, window))
    return event_records(ticket, "ticket", seeds, lookups, window)

"""Run the tap: python -m tap_intercom_events."""

from __future__ import annotations

from tap_intercom_events.tap import TapIntercomEvents

TapIntercomEvents.cli()

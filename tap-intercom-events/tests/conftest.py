"""Fixtures: the Intercom stand-in over real HTTP (tap_intercom_events_testing.fixtures)."""

from tap_intercom_events_testing.fixtures import start_intercom

__all__ = ["start_intercom"]

"""The private singer-sdk names this package relies on, each with the reason, in one place.

singer-sdk offers no public hook for these. `tests/test_sdk_seams.py` (repository root) fails when
the installed singer-sdk no longer defines one of them, no longer calls it where we rely on it being
called, changes the parameters of one we override, or when this package starts using a private SDK
name that is not listed here. Nothing imports this module at run time.

Each entry: (where the SDK defines the name, the name, the SDK functions that must call or read it,
why we rely on it).
"""

from __future__ import annotations

SEAMS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "singer_sdk.streams.core:Stream",
        "_write_starting_replication_value",
        ("singer_sdk.streams.core:Stream._sync_records",),
        "overridden as a no-op in base.IncrementalStream: the window comes from window.plan_window; "
        "the SDK would compare an epoch bookmark with the date-time typed updated_at",
    ),
    (
        "singer_sdk.streams.core:Stream",
        "_increment_stream_state",
        ("singer_sdk.streams.core:Stream._sync_records",),
        "overridden as a no-op in base.IncrementalStream: bookmarks move only in checkpoint/finish, "
        "past what was emitted, never per record",
    ),
    (
        "singer_sdk.streams.core:Stream",
        "_write_state_message",
        (),
        "called by base.IncrementalStream to flush a checkpoint as soon as it is set",
    ),
    (
        "singer_sdk.streams.core:Stream",
        "_write_schema_message",
        ("singer_sdk.streams.core:Stream.sync", "singer_sdk.tap_base:Tap.write_schemas"),
        "overridden in conversations' child streams: the SDK writes a child's SCHEMA at every "
        "parent record and targets flush on each SCHEMA",
    ),
    (
        "singer_sdk.tap_base:Tap",
        "_handle_termination",
        ("singer_sdk.plugin_base:PluginBase._setup_signal_handlers",),
        "overridden in tap.TapIntercomEvents: after the SDK writes state on SIGTERM/SIGINT the tap "
        "exits 128 + the signal instead of 0, so a stopped sync never looks finished",
    ),
)

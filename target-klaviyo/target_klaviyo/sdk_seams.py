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
        "singer_sdk.target_base:Target",
        "_write_state_message",
        ("singer_sdk.target_base:Target.drain_all",),
        "overridden in target.TargetKlaviyo as the acknowledgement barrier: no state line goes out "
        "before every request submitted so far succeeded",
    ),
    (
        "singer_sdk.target_base:Target",
        "_handle_termination",
        ("singer_sdk.plugin_base:PluginBase._setup_signal_handlers",),
        "overridden in target.TargetKlaviyo: SIGTERM/SIGINT exit 128 + the signal at once, "
        "acknowledging nothing more (the SDK's handler drains from inside the signal and exits 0)",
    ),
    (
        "singer_sdk.target_base:Target",
        "_MAX_RECORD_AGE_IN_MINUTES",
        ("singer_sdk.target_base:Target._handle_max_record_age",),
        "set per instance from state_interval_seconds: how often drain_all, and so a state line, happens",
    ),
    (
        "singer_sdk.sinks.core:Sink",
        "_parse_timestamps_in_record",
        ("singer_sdk.sinks.core:Sink._validate_and_parse",),
        "overridden as a no-op in sinks: the SDK would parse date-time strings into datetimes only "
        "for translate.to_iso_utc to format them back",
    ),
    (
        "singer_sdk.sinks.core:Sink",
        "_singer_validate_message",
        ("singer_sdk.target_base:Target._process_record_message",),
        "overridden as a no-op in sinks: the SDK stops the run on a record without its key "
        "properties; a delivering sink dead-letters that one record instead",
    ),
    (
        "singer_sdk.sinks.core:Sink",
        "_after_process_record",
        ("singer_sdk.target_base:Target._process_record_message",),
        "overridden as a no-op in sinks: the SDK logs the whole batch so far at DEBUG after every "
        "record, personal data included",
    ),
    (
        "singer_sdk.helpers._flattening",
        "flatten_key",
        ("singer_sdk.helpers._flattening:_flatten_record",),
        "sinks unflatten the SDK's flattened column names with the SDK's own key function",
    ),
    (
        "singer_sdk.helpers._flattening",
        "get_flattening_options",
        ("singer_sdk.mapper:PluginMapper.__init__",),
        "sinks read the flattening options exactly as the SDK's mapper reads them",
    ),
)

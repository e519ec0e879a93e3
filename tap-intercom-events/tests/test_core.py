"""The SDK's standard tap tests, against an Intercom stand-in started when this module is imported."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_intercom_events_testing import HISTORY_END, TOKEN

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings
from api_sandbox.testing import control
from tap_intercom_events.tap import TapIntercomEvents

# A small data set: the suite syncs up to 150 records per stream.
SANDBOX = BackgroundSandbox(
    IntercomSettings(contacts=8, conversations=6, tickets=4, seed=31, now=HISTORY_END)
).start()
atexit.register(SANDBOX.stop)
# One conversation past Intercom's 500-part cap, so truncated_parts has a record to check.
_first = control(SANDBOX.urls["intercom"], "dataset?kind=conversations")["data"][0]
control(
    SANDBOX.urls["intercom"],
    "mutations",
    {"mutations": [{"action": "bulk_parts", "conversation_id": _first["id"], "count": 520}]},
)

TestTapIntercomEvents = get_tap_test_class(
    tap_class=TapIntercomEvents,
    config={
        "access_token": TOKEN,
        "api_url": SANDBOX.urls["intercom"],
        "start_date": "2020-01-01T00:00:00Z",
    },
    suite_config=SuiteConfig(max_records_limit=150),
    parse_env_config=False,
)

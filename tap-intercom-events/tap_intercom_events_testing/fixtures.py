"""The `start_intercom` pytest fixture: an Intercom stand-in over real HTTP in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import FaultSettings, IntercomSettings
from tap_intercom_events_testing import HISTORY_END


@pytest.fixture
def start_intercom() -> Iterator[Callable[..., str]]:
    """Start an Intercom stand-in (small data set, history ending at HISTORY_END); returns its URL."""
    started: list[BackgroundSandbox] = []

    def start(
        *,
        contacts: int = 20,
        conversations: int = 30,
        tickets: int = 12,
        seed: int = 7,
        faults: FaultSettings | None = None,
        rate_limit_per_minute: int = 10_000,
        rate_window_seconds: float = 10.0,
        workspace_id: str = "ecahpwf5",
    ) -> str:
        settings = IntercomSettings(
            contacts=contacts,
            conversations=conversations,
            tickets=tickets,
            seed=seed,
            now=HISTORY_END,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_window_seconds=rate_window_seconds,
            workspace_id=workspace_id,
            faults=faults or FaultSettings(),
        )
        sandbox = BackgroundSandbox(settings).start()
        started.append(sandbox)
        return sandbox.urls["intercom"]

    yield start
    for sandbox in started:
        sandbox.stop()

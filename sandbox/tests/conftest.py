"""Fixtures shared by the sandbox's own tests: the stand-ins on real HTTP in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings, KlaviyoSettings

StartSandbox = Callable[..., BackgroundSandbox]


@pytest.fixture
def start_sandbox() -> Iterator[StartSandbox]:
    """Start stand-ins with the given settings; all are stopped when the test ends."""
    started: list[BackgroundSandbox] = []

    def start(
        intercom: IntercomSettings | None = None, klaviyo: KlaviyoSettings | None = None
    ) -> BackgroundSandbox:
        sandbox = BackgroundSandbox(intercom, klaviyo).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()

"""Fixtures shared by the sandbox's own tests: the stand-ins on real HTTP in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings, KlaviyoSettings
from api_sandbox.testing import control

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


@pytest.fixture(scope="module")
def klaviyo_sandbox(request: pytest.FixtureRequest) -> Iterator[BackgroundSandbox]:
    """One Klaviyo stand-in per test module: rate limits off unless the module sets KLAVIYO_SETTINGS."""
    settings = getattr(request.module, "KLAVIYO_SETTINGS", None) or KlaviyoSettings(
        rate_limit_scale=0
    )
    with BackgroundSandbox(klaviyo=settings) as running:
        yield running


@pytest.fixture
def url(klaviyo_sandbox: BackgroundSandbox) -> str:
    """The module's Klaviyo stand-in, emptied for this test."""
    base = klaviyo_sandbox.urls["klaviyo"]
    control(base, "reset", {})
    return base

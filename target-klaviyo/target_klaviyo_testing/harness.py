"""The Klaviyo stand-in on real HTTP, and the target run in-process on Singer lines."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control
from target_klaviyo.target import TargetKlaviyo

KEY = "pk_test_5e6f7a8b9c"


@dataclass
class Klaviyo:
    """The stand-in, and helpers to read what it holds."""

    url: str
    workdir: Path

    def control(self, path: str, payload: Any = None) -> Any:
        return control(self.url, path, payload)

    def events(self, metric: str | None = None) -> list[dict[str, Any]]:
        suffix = f"events?metric={metric}" if metric else "events"
        return list(self.control(suffix)["events"])

    def profiles(self) -> list[dict[str, Any]]:
        return list(self.control("profiles")["profiles"])

    def report(self) -> dict[str, Any]:
        return dict(self.control("report"))

    def config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "api_key": KEY,
            "api_url": self.url,
            "dead_letter_path": str(self.workdir / "dead-letters.jsonl"),
            "rate_limit_scale": 0,
            "progress_interval": 0,
            "max_retries": 4,
            # Tests of delivery look at what was delivered and dead-lettered; the exit code a
            # dead letter gives (fail_on) is tested on its own (tests/test_run_report.py).
            "fail_on": "nothing",
        }
        config.update(overrides)
        return config


@dataclass
class Run:
    """What one in-process run of the target printed."""

    state_lines: list[dict[str, Any]]
    error: BaseException | None
    log: str
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def klaviyo(tmp_path: Path) -> Iterator[Klaviyo]:
    # No rate limits unless a test turns them on (POST /_sandbox/rate-limits).
    settings = KlaviyoSettings(api_key=KEY, job_seconds=0.02, rate_limit_scale=0)
    with BackgroundSandbox(None, settings) as sandbox:
        yield Klaviyo(sandbox.urls["klaviyo"], tmp_path)


def run_target(config: dict[str, Any], text: str, caplog: pytest.LogCaptureFixture) -> Run:
    """Run the target on Singer lines in this process, as `target-klaviyo` does."""
    out = io.StringIO()
    error: BaseException | None = None
    caplog.set_level(logging.INFO)
    target = TargetKlaviyo(config=config, validate_config=True)
    with contextlib.redirect_stdout(out):
        try:
            target.listen(io.StringIO(text))
        except BaseException as exc:  # noqa: BLE001 - the tests look at what failed
            error = exc
            target.finish()
    states = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    path = config.get("dead_letter_path")
    letters: list[dict[str, Any]] = []
    if path and Path(path).exists():
        letters = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    return Run(states, error, caplog.text, letters)

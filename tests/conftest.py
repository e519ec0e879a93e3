"""End-to-end fixtures (the harness is in e2e_pipeline.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_pipeline import INTERCOM_TOKEN, KLAVIYO_KEY, Pipeline, pipeline_env

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings, KlaviyoSettings


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """A small seeded Intercom data set, an empty Klaviyo, fresh Meltano state."""
    intercom = IntercomSettings(
        token=INTERCOM_TOKEN, seed=11, contacts=60, conversations=90, tickets=30
    )
    klaviyo = KlaviyoSettings(
        api_key=KLAVIYO_KEY, db_path=str(tmp_path / "klaviyo.db"), job_seconds=0.05
    )
    with BackgroundSandbox(intercom, klaviyo) as sandbox:
        env = pipeline_env(tmp_path, sandbox.urls["intercom"], sandbox.urls["klaviyo"])
        yield Pipeline(sandbox=sandbox, workdir=tmp_path, env=env)

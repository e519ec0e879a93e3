"""End-to-end fixtures (the harness is in e2e_pipeline.py)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_pipeline import INTERCOM_TOKEN, KLAVIYO_KEY, REPO, Pipeline, pipeline_env

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings, KlaviyoSettings


@pytest.fixture
def root_project_lock() -> Iterator[None]:
    """Held while a test runs meltano on this repository's project: Meltano writes each plugin's
    catalog to one file under .meltano/run/, so two commands at once would overwrite each other's.
    A file lock works across pytest-xdist workers whichever way tests are distributed."""
    lock_path = REPO / ".meltano" / "e2e-tests.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def pipeline(tmp_path: Path, root_project_lock: None) -> Iterator[Pipeline]:
    """A small seeded Intercom data set, an empty Klaviyo, fresh Meltano state (the project locked)."""
    intercom = IntercomSettings(
        token=INTERCOM_TOKEN, seed=11, contacts=60, conversations=90, tickets=30
    )
    klaviyo = KlaviyoSettings(
        api_key=KLAVIYO_KEY, db_path=str(tmp_path / "klaviyo.db"), job_seconds=0.05
    )
    with BackgroundSandbox(intercom, klaviyo) as sandbox:
        env = pipeline_env(tmp_path, sandbox.urls["intercom"], sandbox.urls["klaviyo"])
        yield Pipeline(sandbox=sandbox, workdir=tmp_path, env=env)

"""End-to-end harness: the stand-ins on real HTTP and the real `meltano` CLI on this project.

Each test gets its own stand-ins and its own Meltano system database (so its own state), and points the
`sandbox` environment's plugins at them through environment variables, which Meltano ranks above meltano.yml.
The plugins themselves are installed once by scripts/test.sh (scripts/install-plugins.sh).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_sandbox.server import BackgroundSandbox
from api_sandbox.testing import control

REPO = Path(__file__).resolve().parents[1]
MELTANO = REPO / ".venv" / "bin" / "meltano"
STATE_ID = "sandbox:tap-intercom-events-to-target-klaviyo"
INTERCOM_TOKEN = "e2e-intercom-token-7f3a"
KLAVIYO_KEY = "pk_e2e_9c1d"


@dataclass
class Pipeline:
    """The Meltano project wired to one pair of stand-ins."""

    sandbox: BackgroundSandbox
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def intercom_url(self) -> str:
        return self.sandbox.urls["intercom"]

    @property
    def klaviyo_url(self) -> str:
        return self.sandbox.urls["klaviyo"]

    @property
    def dead_letter_path(self) -> Path:
        return self.workdir / "dead-letters.jsonl"

    def meltano(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MELTANO), *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_meltano(self, *args: str) -> subprocess.Popen[str]:
        """Start meltano in its own process group, so a test can kill it with its tap and target."""
        return subprocess.Popen(
            [str(MELTANO), *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def run_pipeline(self) -> subprocess.CompletedProcess[str]:
        result = self.meltano("run", "tap-intercom-events", "target-klaviyo")
        assert result.returncode == 0, (
            f"meltano run failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
        return result

    def intercom(self, path: str, payload: Any = None) -> Any:
        return control(self.intercom_url, path, payload)

    def klaviyo(self, path: str, payload: Any = None) -> Any:
        return control(self.klaviyo_url, path, payload)


def pipeline_env(workdir: Path, intercom_url: str, klaviyo_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env.update(
        {
            "MELTANO_ENVIRONMENT": "sandbox",
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_INTERCOM_EVENTS_API_URL": intercom_url,
            "TAP_INTERCOM_EVENTS_ACCESS_TOKEN": INTERCOM_TOKEN,
            "TARGET_KLAVIYO_API_URL": klaviyo_url,
            "TARGET_KLAVIYO_API_KEY": KLAVIYO_KEY,
            "TARGET_KLAVIYO_DEAD_LETTER_PATH": str(workdir / "dead-letters.jsonl"),
        }
    )
    return env

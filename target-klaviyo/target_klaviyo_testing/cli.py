"""The target as Meltano runs it: `target-klaviyo --config FILE` in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGET = Path(sys.executable).parent / "target-klaviyo"


def run_cli(
    config: dict[str, Any],
    text: str,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"config-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [str(TARGET), "--config", str(path), *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def stopped_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "target-klaviyo stopped:" in line]

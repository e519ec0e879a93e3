"""`api-sandbox serve` and `api-sandbox report` as a user runs them: a child process on free ports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from api_sandbox.testing import SandboxProcess, control

INTERCOM_HEADERS = {"Authorization": "Bearer cli-token", "Accept": "application/json"}


def test_serve_starts_both_apis_on_free_ports_with_seeded_data_and_faults() -> None:
    args = (
        "--intercom-token",
        "cli-token",
        "--contacts",
        "7",
        "--conversations",
        "5",
        "--tickets",
        "2",
    )
    with SandboxProcess(*args, "--latency-ms", "30", "--fault-seed", "4") as sandbox:
        intercom, klaviyo = sandbox.urls["intercom"], sandbox.urls["klaviyo"]
        assert intercom != klaviyo
        assert all(url.startswith("http://127.0.0.1:") for url in (intercom, klaviyo))

        contacts = requests.get(f"{intercom}/contacts", headers=INTERCOM_HEADERS, timeout=10)
        assert contacts.status_code == 200
        assert contacts.json()["total_count"] == 7
        assert contacts.elapsed.total_seconds() >= 0.03  # --latency-ms reached the API

        faults = control(klaviyo, "faults")["settings"]
        assert (faults["latency_ms"], faults["seed"]) == (30, 4)


def test_serve_only_one_api() -> None:
    with SandboxProcess("--only", "klaviyo") as sandbox:
        assert list(sandbox.urls) == ["klaviyo"]


def test_report_command_prints_the_klaviyo_report() -> None:
    with SandboxProcess("--only", "klaviyo") as sandbox:
        report = subprocess.run(
            [
                sys.executable,
                "-m",
                "api_sandbox.cli",
                "report",
                "--klaviyo-url",
                sandbox.urls["klaviyo"],
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert report.returncode == 0, report.stderr
    assert "Profiles: 0" in report.stdout


def test_serve_rejects_a_bad_fault_rate_with_one_line() -> None:
    serve = subprocess.run(
        [
            sys.executable,
            "-m",
            "api_sandbox.cli",
            "serve",
            "--only",
            "klaviyo",
            "--error-rate",
            "1.5",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert serve.returncode != 0
    assert (
        serve.stderr.strip().splitlines()[-1]
        == "api-sandbox: fault error_rate must be between 0 and 1, got 1.5"
    )


def serving_processes(ready_dir: str) -> list[str]:
    """Processes whose command line is `api-sandbox serve` with a ready file in this directory."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        text = " ".join(arg.decode(errors="replace") for arg in args)
        if "api_sandbox.cli serve" in text and ready_dir in text:
            found.append(text)
    return found


def test_a_started_sandbox_used_as_a_context_manager_runs_once_and_stops() -> None:
    with SandboxProcess("--only", "klaviyo").start() as sandbox:
        url = sandbox.urls["klaviyo"]
        assert len(serving_processes(sandbox._dir.name)) == 1
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sandbox/report", timeout=5)

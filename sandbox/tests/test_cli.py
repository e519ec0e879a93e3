"""`api-sandbox serve` and `api-sandbox report` as a user runs them: a child process on free ports."""

from __future__ import annotations

import subprocess
import sys

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

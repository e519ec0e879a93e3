"""Helpers for tests and benchmarks: the sandbox in a separate process, and its control endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests


def control(base_url: str, path: str, payload: Any = None, *, method: str | None = None) -> Any:
    """Call a /_sandbox control endpoint; POST when a payload is given. Raises on an error status."""
    verb = method or ("POST" if payload is not None else "GET")
    response = requests.request(verb, f"{base_url}/_sandbox/{path}", json=payload, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else None


def ledger(base_url: str) -> dict[str, dict[str, Any]]:
    """The Intercom stand-in's ledger (its contract events by construction), by key."""
    return {entry["key"]: entry for entry in control(base_url, "ledger")["events"]}


def mutate(base_url: str, *mutations: dict[str, Any]) -> list[dict[str, Any]]:
    """Apply Intercom mutations now (POST /_sandbox/mutations); their results, in order."""
    results: list[dict[str, Any]] = control(base_url, "mutations", {"mutations": list(mutations)})[
        "results"
    ]
    return results


def dataset(base_url: str, kind: str) -> list[dict[str, Any]]:
    """The Intercom stand-in's raw objects of one kind (contacts, conversations, tickets, ...)."""
    return list(control(base_url, f"dataset?kind={kind}")["data"])


class SandboxProcess:
    """`api-sandbox serve` in a child process (its own interpreter and GIL): for e2e tests and benchmarks."""

    def __init__(self, *args: str) -> None:
        self.args = list(args)
        self.urls: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="api-sandbox-")

    def start(self, timeout: float = 120) -> SandboxProcess:
        """Start the child process and wait until it listens; a second call changes nothing."""
        if self._process is not None and self._process.poll() is None:
            return (
                self  # `with SandboxProcess(...).start() as sandbox:` must not start a second one
            )
        ready = Path(self._dir.name) / "ready.json"
        log = Path(self._dir.name) / "sandbox.log"
        with log.open("wb") as sink:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "api_sandbox.cli",
                    "serve",
                    "--ready-file",
                    str(ready),
                    *self.args,
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self._process.poll() is not None:
                msg = (
                    f"api-sandbox exited with {self._process.returncode}: {log.read_text()[-2000:]}"
                )
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                self.stop()
                msg = f"api-sandbox did not start within {timeout}s: {log.read_text()[-2000:]}"
                raise TimeoutError(msg)
            time.sleep(0.05)
        time.sleep(0.05)  # the file may be seen before it is fully written
        self.urls = json.loads(ready.read_text())
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()

"""The dry run's transport: it has the client's `send`, writes each request it would send, and
answers as Klaviyo would when everything is accepted."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any

from target_klaviyo.client import PROFILES_BULK, PROFILES_BULK_JOB, Endpoint, Reply
from target_klaviyo.deadletters import check_writable

_JOB_ID = "dry-run"
# What a request is answered with (by endpoint name); anything else gets an empty 202.
_ANSWERS: dict[str, Reply] = {
    PROFILES_BULK.name: Reply(
        202, {"data": {"type": "profile-bulk-import-job", "id": _JOB_ID}}, {}
    ),
    PROFILES_BULK_JOB.name: Reply(
        200,
        {
            "data": {
                "type": "profile-bulk-import-job",
                "id": _JOB_ID,
                "attributes": {"status": "complete", "failed_count": 0},
            }
        },
        {},
    ),
}
_ACCEPTED = Reply(202, None, {})


class DryRunTransport:
    """Writes each request that carries a body as a JSON line (method, path, body); reading a
    bulk import job's status finds it complete without errors, and is not written."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        check_writable(self.path, "dry_run_path")
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def send(
        self,
        endpoint: Endpoint,
        body: bytes | None = None,
        *,
        url: str | None = None,
        query: str = "",
        **path: Any,
    ) -> Reply:
        if body is not None:
            self._write(endpoint, body)
        return _ANSWERS.get(endpoint.name, _ACCEPTED)

    def _write(self, endpoint: Endpoint, body: bytes) -> None:
        line = b"".join(
            (
                b'{"method":',
                json.dumps(endpoint.method).encode(),
                b',"path":',
                json.dumps(endpoint.path).encode(),
                b',"body":',
                body,
                b"}\n",
            )
        )
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
            self._file.write(line)

    def cancel(self, reason: BaseException | None = None) -> None:
        """Nothing is ever retried, so there is nothing to give up."""

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

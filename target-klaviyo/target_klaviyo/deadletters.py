"""The dead-letter file: one JSON line per record Klaviyo will not get, with the reason."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import IO, Any

from target_klaviyo.client import redact
from target_klaviyo.stats import RunStats
from target_klaviyo.translate import json_default


class DeadLetters:
    """Appends dead letters (stream, record, reason, Klaviyo's detail) from any thread.

    Without a path they are still counted and logged, but not kept."""

    def __init__(self, path: str | None, stats: RunStats, secret: str | None) -> None:
        self.path = Path(path) if path else None
        self._stats = stats
        self._secret = secret
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def write(self, stream: str, record: Any, reason: str, detail: str | None = None) -> None:
        letter = {
            "stream": stream,
            "reason": reason,
            "detail": detail,
            "record": record,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        line = redact(json.dumps(letter, default=json_default, ensure_ascii=False), self._secret)
        self._stats.count_dead_letter(reason)
        with self._lock:
            if self.path is None:
                return
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

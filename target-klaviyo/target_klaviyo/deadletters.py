"""The dead-letter file: one JSON line per record Klaviyo will not get, with the reason."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import IO, Any

from target_klaviyo.client import redact
from target_klaviyo.errors import KlaviyoError
from target_klaviyo.stats import RunStats
from target_klaviyo.translate import json_default, non_finite


def check_writable(path: Path, setting: str) -> None:
    """Raise KlaviyoError naming the setting unless a file can be appended to at `path` (tried
    for real, so that it also holds as root or on a read-only mount); checked before anything
    is sent. A file this check creates is removed again."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        msg = f"cannot write to {str(path)!r} ({reason}): set '{setting}' to a writable file"
        raise KlaviyoError(msg) from None
    if not existed:
        path.unlink(missing_ok=True)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as strings (a dead letter stays valid JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return str(value) if non_finite(value) else value


class DeadLetters:
    """Appends dead letters (stream, record, reason, Klaviyo's detail) from any thread.

    Without a path they are still counted and logged, but not kept."""

    def __init__(self, path: str | None, stats: RunStats, secret: str | None) -> None:
        self.path = Path(path) if path else None
        if self.path is not None:
            check_writable(self.path, "dead_letter_path")
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
        try:
            text = json.dumps(letter, default=json_default, ensure_ascii=False, allow_nan=False)
        except ValueError:  # NaN or an infinity somewhere in the record
            text = json.dumps(_finite(letter), default=json_default, ensure_ascii=False)
        line = redact(text, self._secret)
        self._stats.count_dead_letter(reason)
        with self._lock:
            if self.path is None:
                return
            try:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("a", encoding="utf-8")
                    if _ends_mid_line(self.path):
                        # An earlier write was cut short (a full disk): that half line stays
                        # on a line of its own, and every letter from here on is whole.
                        self._file.write("\n")
                self._file.write(line + "\n")
                self._file.flush()
            except OSError as exc:
                # The record is neither delivered nor kept: the run stops before its state.
                self._abandon()
                reason_text = exc.strerror or type(exc).__name__
                msg = (
                    f"cannot write a dead letter to {str(self.path)!r} ({reason_text}); the run "
                    "stops before acknowledging that record (free space or set 'dead_letter_path')"
                )
                raise KlaviyoError(msg) from None

    def _abandon(self) -> None:
        """Drop the file after a failed write (what it buffered may never reach the disk; the
        next write opens it again and starts a new line)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                finally:
                    self._file = None


def _ends_mid_line(path: Path) -> bool:
    """Whether a regular file's last byte is not a newline (a line left half written)."""
    try:
        with path.open("rb") as file:
            if not path.is_file() or file.seek(0, os.SEEK_END) == 0:
                return False
            file.seek(-1, os.SEEK_END)
            return file.read(1) != b"\n"
    except OSError:
        return False

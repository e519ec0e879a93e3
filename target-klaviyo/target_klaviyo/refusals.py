"""Rejections that name no item: one bad record, or Klaviyo refusing everything.

A request Klaviyo rejects without naming an item is bisected (senders.py) until the refused item is
alone. That item is bad data only if Klaviyo takes other requests: when every request is refused
(an API change, a proxy, a bad revision), bisection would otherwise dead-letter every record as
bad and let state move past them. So a lone refused item is only a suspect until Klaviyo accepts
a request of the same endpoint; then it is dead-lettered. Refusals in a row with no acceptance
stop the run (a bounded number of requests). A run whose only requests of the endpoint were
refused (a quiet hour holding one bad record) is told apart at the state barrier by sending one
suspect again stripped to what identifies it (senders.py): if Klaviyo takes that, the endpoint
works and the suspects are bad data; if not, the run stops. Nothing is dead-lettered for a stop
and no state moves past it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from target_klaviyo.errors import KlaviyoError

# Refusals naming no item, in a row, with no request of the endpoint accepted in between, that
# stop the run. One bad item among good ones costs at most about 2 log2(1,000) refusals in a
# row (the halvings down to it, and its neighbour's); a few such items side by side, a few more.
SYSTEMIC_AFTER = 32


class SystemicRejectionError(KlaviyoError):
    """Klaviyo refuses (nearly) every request in a way no single record explains."""


@dataclass
class Suspect:
    """A lone item Klaviyo refused without naming it: bad data once another request passes."""

    stream: str
    item: Any  # EventItem | ProfileItem
    detail: str
    request: Any = None  # the one-item request refused (EventChunk | ProfileChunk), if any


class Refusals:
    """One endpoint's refusals that name no item, across the pool's threads."""

    def __init__(self, endpoint: str, limit: int = SYSTEMIC_AFTER) -> None:
        self.endpoint = endpoint
        self.limit = limit
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._accepted = False  # any request of the endpoint accepted in this run
        self._suspects: list[Suspect] = []
        self._detail = ""

    def refused(self, detail: str) -> None:
        """One more request refused naming no item; raises SystemicRejectionError at the limit."""
        with self._lock:
            self._in_a_row += 1
            self._detail = detail
            in_a_row = self._in_a_row
        if in_a_row >= self.limit:
            raise SystemicRejectionError(
                f"Klaviyo refused {in_a_row} requests in a row on {self.endpoint} without naming "
                f"an item ({self._detail or 'no detail'}): not bad data but the API, a proxy or "
                "the revision (check them); nothing was dead-lettered for it and no state was "
                "acknowledged past it"
            )

    def suspect(self, suspect: Suspect) -> None:
        with self._lock:
            self._suspects.append(suspect)

    def unexplained(self) -> Suspect | None:
        """A suspect, when there are suspects and no request of the endpoint was accepted."""
        with self._lock:
            return self._suspects[0] if self._suspects and not self._accepted else None

    def accepted(self) -> list[Suspect]:
        """A request was accepted: the suspects so far were refused for what they hold (returned,
        to be dead-lettered), and the count of refusals in a row starts again."""
        with self._lock:
            self._accepted = True
            self._in_a_row = 0
            confirmed, self._suspects = self._suspects, []
        return confirmed

    def settle(self) -> list[Suspect]:
        """At the state barrier (nothing in flight): suspects left are bad data if Klaviyo accepted
        any request of this endpoint in this run; if it accepted none, the run stops instead."""
        with self._lock:
            if not self._suspects:
                return []
            if not self._accepted:
                raise SystemicRejectionError(
                    f"Klaviyo refused every request of this run on {self.endpoint} without "
                    f"naming an item ({self._detail or 'no detail'}), down to "
                    f"{len(self._suspects)} record(s) alone, and accepted none, not even one of "
                    "them stripped to its identifiers: that cannot be told from an API change, a "
                    "proxy or the revision, so nothing was dead-lettered and no state was "
                    "acknowledged past them"
                )
            confirmed, self._suspects = self._suspects, []
        return confirmed

"""Reconcile mode (`reconcile`): instead of sending blindly, find out which incoming events
Klaviyo already holds, send only the missing ones (unless `reconcile_report_only`), and report
per metric and UTC day (reconciliation.py).

1. Every event the sinks would send goes to an on-disk index (SQLite in a temporary directory),
   so memory stays bounded whatever the window's size.
2. At the end of the input: the metrics' ids from `GET /api/metrics`, then for each metric id the
   events of the range (the earliest to the latest expected event time) from `GET /api/events`
   (filter on metric_id and datetime, sorted, cursor paged, 1,000 a page from revision
   2026-01-15, only `datetime` and `event_properties`), in slices of whole UTC days holding about
   SLICE_EVENTS expected events each, on the run's pool and through the client's per-endpoint
   limiters. Each page is matched as it arrives: memory holds a page, never the window. An event
   read is matched by metric and the id carried in the `unique_id_property` event property
   (Klaviyo's read does not return `unique_id`: docs/api-assumptions.md); one whose id the input
   did not hold is counted, never deleted. When both carry a source (`source_property`: the
   Intercom workspace), an event of another source under the same id is not a match: it is what
   Klaviyo kept when it dropped this source's event as a repeat (two workspaces whose ids repeat,
   the same person; docs/api-assumptions.md I21).
3. The missing events go out through the normal bulk sender, stream by stream, in full bulk
   requests; what Klaviyo accepted is counted per metric from the run's counters. An event held
   only under another source's event goes out as `<unique_id>@<source>` (the `Unique ID`
   property keeps its id), since under its own unique_id Klaviyo would drop it again.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from target_klaviyo.client import GET_EVENTS, GET_METRICS, Endpoint, Reply, Transport
from target_klaviyo.deadletters import check_writable
from target_klaviyo.errors import KlaviyoError
from target_klaviyo.items import EventItem, Identity
from target_klaviyo.payloads import EventChunk, chunk_events, encode_record
from target_klaviyo.pool import Pool
from target_klaviyo.reconciliation import (
    Tally,
    day_of,
    exit_code,
    report,
    slices,
    summary_lines,
)
from target_klaviyo.revisions import events_page_size
from target_klaviyo.senders import EventSender
from target_klaviyo.stats import RunStats

# Events per healing batch handed to chunking (a few bulk requests' worth).
HEAL_BATCH = 5000
# Expected events per read slice of one metric: slices are read in parallel, each page by page.
SLICE_EVENTS = 10_000
_SCHEMA = """
CREATE TABLE expected (
    stream TEXT NOT NULL,
    metric TEXT NOT NULL,
    unique_id TEXT NOT NULL,
    time TEXT,
    day TEXT,
    identity BLOB NOT NULL,
    resource BLOB NOT NULL,
    record BLOB NOT NULL,
    source TEXT,
    found INTEGER NOT NULL DEFAULT 0,
    other INTEGER NOT NULL DEFAULT 0,  -- events of another source read under its unique_id
    PRIMARY KEY (metric, unique_id)
) WITHOUT ROWID;
"""


class _Attributes(msgspec.Struct):
    time: str | None = None


class _Resource(msgspec.Struct):
    attributes: _Attributes


_TIME_OF = msgspec.json.Decoder(_Resource)
_DECODE = msgspec.json.Decoder()


@dataclass(frozen=True)
class _Read:
    """The events of one metric id in one time slice."""

    metric: str
    metric_id: str
    lower: str
    upper: str
    counted: bool = True  # events of it that the input did not hold count as not produced


class Reconciler:
    """One reconcile run: the index of expected events, the reads, the healing, the tally."""

    def __init__(
        self,
        *,
        transport: Transport,
        pool: Pool,
        sender: EventSender,
        stats: RunStats,
        revision: str,
        id_property: str | None,
        source_property: str | None,
        report_only: bool,
        report_path: str,
        fail_on: str,
        lookback_days: int,
        events_per_request: int,
        max_request_bytes: int,
    ) -> None:
        self.transport = transport
        self.pool = pool
        self.sender = sender
        self.stats = stats
        self.page_size = events_page_size(revision)
        self.id_property = id_property
        self.source_property = source_property
        self.events_per_request = events_per_request
        self.max_request_bytes = max_request_bytes
        self.tally = Tally(report_only=report_only)
        self.report_path = Path(report_path)
        check_writable(self.report_path, "reconcile_report_path")
        self.fail_on = fail_on
        self.lookback_days = lookback_days
        self._dir = tempfile.TemporaryDirectory(prefix="target-klaviyo-reconcile-")
        self._db = sqlite3.connect(
            str(Path(self._dir.name) / "expected.db"), check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._started = time.monotonic()

    # -- 1. what the input holds ---------------------------------------------------------------

    def expect(self, stream: str, chunks: list[EventChunk]) -> None:
        """Index the events a sink would have sent (each (metric, unique_id) once)."""
        rows = []
        for chunk in chunks:
            for group in chunk.groups:
                identity = msgspec.json.encode(list(group.identity.key))
                for item, encoded in zip(group.events, group.encoded, strict=True):
                    moment = _TIME_OF.decode(encoded).attributes.time
                    day = day_of(moment) if moment else None
                    rows.append(
                        (
                            stream,
                            item.metric,
                            item.unique_id,
                            moment,
                            day,
                            identity,
                            encoded,
                            encode_record(item.record),
                            item.source,
                        )
                    )
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO expected (stream, metric, unique_id, time, day, identity,"
                " resource, record, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def finish(self) -> tuple[list[str], int]:
        """Reconcile, write the JSON report; the summary's lines and the exit code."""
        tally = self.run()
        code = exit_code(tally, self.fail_on)
        self.report_path.write_text(
            json.dumps(report(tally, fail_on=self.fail_on, code=code), indent=2) + "\n",
            encoding="utf-8",
        )
        lines = summary_lines(tally, code=code)
        lines.append(f"  reconcile report written to {self.report_path}")
        return lines, code

    # -- 2. what Klaviyo holds -----------------------------------------------------------------

    def run(self) -> Tally:
        """Read, match, heal; the tally of what was found and done."""
        tally = self.tally
        clock = time.monotonic()
        tally.seconds["input"] = round(clock - self._started, 1)
        with self._lock:
            self._db.commit()
            start, end = self._db.execute(
                "SELECT MIN(time), MAX(time) FROM expected WHERE time IS NOT NULL"
            ).fetchone()
            tally.without_time = self._db.execute(
                "SELECT COUNT(*) FROM expected WHERE time IS NULL"
            ).fetchone()[0]
            counts = self._db.execute(
                "SELECT metric, day, COUNT(*) FROM expected WHERE time IS NOT NULL"
                " GROUP BY metric, day"
            ).fetchall()
        if start is None:
            return tally
        tally.start, tally.end = start, end
        for metric, day, count in counts:
            tally.row(metric, day).expected = count
        ids = self._metric_ids({metric for metric, _, _ in counts})
        tally.metric_ids = {metric: sorted(found) for metric, found in ids.items()}
        for metric, metric_ids in ids.items():
            per_day = {day: count for name, day, count in counts if name == metric}
            for metric_id in sorted(metric_ids):
                for lower, upper in slices(start, end, per_day, SLICE_EVENTS):
                    self.pool.submit(self._read, _Read(metric, metric_id, lower, upper))
        self.pool.wait_all()
        self._look_back(start, ids)
        with self._lock:
            for metric, day, found, held, collided in self._db.execute(
                "SELECT metric, day, SUM(found > 0), SUM(MAX(found - 1, 0)),"
                " SUM(found = 0 AND other > 0) FROM expected"
                " WHERE time IS NOT NULL GROUP BY metric, day"
            ).fetchall():
                row = tally.row(metric, day)
                row.in_klaviyo = found
                row.missing = row.expected - found
                row.held_twice = held
                row.collided = collided
        tally.seconds["read"] = round(time.monotonic() - clock, 1)
        if not tally.report_only:
            clock = time.monotonic()
            self._heal()
            tally.seconds["heal"] = round(time.monotonic() - clock, 1)
        return tally

    def _look_back(self, start: str, ids: dict[str, set[str]]) -> None:
        """Events still missing are looked for in the `lookback_days` before the range too: an
        event Klaviyo keeps under an earlier time than the replay gives it (a Read Conversation
        is timed at its conversation's latest change) is found there. Other events there are
        outside the range: not counted."""
        if not self.lookback_days:
            return
        with self._lock:
            missing = [
                row[0]
                for row in self._db.execute(
                    "SELECT DISTINCT metric FROM expected WHERE found = 0 AND time IS NOT NULL"
                )
            ]
        lower = _iso(dt.datetime.fromisoformat(start) - dt.timedelta(days=self.lookback_days))
        for metric in missing:
            for metric_id in sorted(ids.get(metric, ())):
                self.pool.submit(self._read, _Read(metric, metric_id, lower, start, counted=False))
        self.pool.wait_all()

    def _metric_ids(self, names: set[str]) -> dict[str, set[str]]:
        """The ids of every Klaviyo metric with one of these names (a name may have several,
        one per integration)."""
        ids: dict[str, set[str]] = {name: set() for name in names}
        url: str | None = None
        while True:
            reply = self._get(GET_METRICS, url, "?fields[metric]=name")
            for metric in _data(reply):
                name = (metric.get("attributes") or {}).get("name")
                if name in ids and metric.get("id"):
                    ids[name].add(str(metric["id"]))
            url = _next(reply)
            if url is None:
                return ids

    def _read(self, read: _Read) -> None:
        """Every event of one metric id in one slice, page by page, matched as it comes."""
        # Comma-separated conditions are ANDed (Klaviyo's filtering guide; the form reported to
        # work on this endpoint: docs/api-assumptions.md K11).
        condition = (
            f'equals(metric_id,"{read.metric_id}"),'
            f"greater-or-equal(datetime,{_z(read.lower)}),less-than(datetime,{_z(read.upper)})"
        )
        query = {
            "filter": condition,
            "sort": "datetime",
            "fields[event]": "datetime,event_properties",
        }
        if self.page_size is not None:
            query["page[size]"] = str(self.page_size)
        url: str | None = None
        first = "?" + urllib.parse.urlencode(query, safe='(),:"[]', quote_via=urllib.parse.quote)
        while True:
            reply = self._get(GET_EVENTS, url, first)
            self._match(read.metric, _data(reply), counted=read.counted)
            url = _next(reply)
            if url is None:
                return

    def _match(self, metric: str, events: list[dict[str, Any]], *, counted: bool = True) -> None:
        """Mark the expected events among `events`; with `counted`, the others (another
        source's events under an expected id among them) are counted as not produced by the
        input."""
        read: list[tuple[str, str | None, str]] = []  # (unique id, source, day)
        unmatched_days: dict[str, int] = {}
        for event in events:
            attributes = event.get("attributes") or {}
            properties = attributes.get("event_properties") or {}
            day = day_of(str(attributes.get("datetime") or ""))
            value = properties.get(self.id_property) if self.id_property else None
            if not (isinstance(value, str) and value):
                unmatched_days[day] = unmatched_days.get(day, 0) + 1
                continue
            source = properties.get(self.source_property) if self.source_property else None
            read.append((value, source if isinstance(source, str) and source else None, day))
        with self._lock:
            sources: dict[str, str | None] = {}  # expected unique id -> its source
            ids = [value for value, _, _ in read]
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" for _ in part)
                sources.update(
                    self._db.execute(
                        f"SELECT unique_id, source FROM expected WHERE metric = ?"
                        f" AND unique_id IN ({marks})",
                        [metric, *part],
                    ).fetchall()
                )
            found: list[tuple[str, str]] = []
            other: list[tuple[str, str]] = []
            for value, source, day in read:
                if value in sources:
                    mine = sources[value]
                    # An event sent before sources were carried matches any source.
                    if source is None or mine is None or source == mine:
                        found.append((metric, value))
                        continue
                    other.append((metric, value))
                unmatched_days[day] = unmatched_days.get(day, 0) + 1
            self._db.executemany(
                "UPDATE expected SET found = found + 1 WHERE metric = ? AND unique_id = ?", found
            )
            self._db.executemany(
                "UPDATE expected SET other = other + 1 WHERE metric = ? AND unique_id = ?", other
            )
            for day, count in unmatched_days.items() if counted else ():
                self.tally.row(metric, day).not_produced += count

    def _get(self, endpoint: Endpoint, url: str | None, query: str) -> Reply:
        with self._lock:
            self.tally.requests += 1
        if url is None:
            reply = self.transport.send(endpoint, query=query)
        else:
            reply = self.transport.send(endpoint, url=url)
        if reply.status != 200:
            msg = f"{endpoint.method} {endpoint.path} failed while reconciling: {reply.describe()}"
            raise KlaviyoError(msg)
        return reply

    # -- 3. send what is missing ---------------------------------------------------------------

    def _heal(self) -> None:
        """Send every missing event, stream by stream, in full bulk requests; what Klaviyo
        accepted is counted per metric (and per day, when a metric's missing events were all
        accepted; otherwise its accepted ones are counted against its days in order)."""
        with self._lock:
            streams = [
                row[0]
                for row in self._db.execute(
                    "SELECT DISTINCT stream FROM expected WHERE found = 0 AND time IS NOT NULL"
                )
            ]
        before = dict(self.stats.events_by_metric)
        for stream in streams:
            for items in self._missing(stream):
                chunking = chunk_events(items, self.events_per_request, self.max_request_bytes)
                for chunk in chunking.chunks:
                    self.pool.submit(self.sender.send, stream, chunk)
        self.pool.wait_all()
        tally = self.tally
        for metric in tally.metrics():
            accepted = self.stats.events_by_metric[metric] - before.get(metric, 0)
            exact = accepted == tally.total(metric).missing
            tally.sent_by_day_exact = tally.sent_by_day_exact and exact
            for name, _, row in tally.sorted_rows():
                if name == metric:
                    row.sent = min(row.missing, accepted)
                    accepted -= row.sent
        total = tally.total()
        tally.not_sent = total.missing - total.sent

    def _missing(self, stream: str) -> Iterator[list[EventItem]]:
        """The stream's missing events, HEAL_BATCH at a time (read back from the index)."""
        last = ("", "")
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT metric, unique_id, identity, resource, record, source, other"
                    " FROM expected WHERE stream = ? AND found = 0 AND time IS NOT NULL"
                    " AND (metric, unique_id) > (?, ?) ORDER BY metric, unique_id LIMIT ?",
                    (stream, *last, HEAL_BATCH),
                ).fetchall()
            if not rows:
                return
            last = (rows[-1][0], rows[-1][1])
            yield [_missing_item(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._dir.cleanup()


def _missing_item(row: tuple[str, str, bytes, bytes, bytes, str | None, int]) -> EventItem:
    """A missing event (an index row) as the sender takes it; one Klaviyo holds only under
    another source's event gets a unique_id of its own (its properties keep the original id to
    match by)."""
    metric, unique_id, identity, resource, record, source, other = row
    event = _DECODE.decode(resource)
    if other and source:
        unique_id = f"{unique_id}@{source}"
        event["attributes"]["unique_id"] = unique_id
    return EventItem(
        record=_DECODE.decode(record),
        identity=Identity(*_DECODE.decode(identity)),
        metric=metric,
        unique_id=unique_id,
        resource=event,
        source=source,
    )


def _z(iso_utc: str) -> str:
    """`...+00:00` -> `...Z` (a `+` in a query string would need escaping)."""
    return iso_utc.removesuffix("+00:00") + "Z"


def _data(reply: Reply) -> list[dict[str, Any]]:
    data = (reply.body or {}).get("data") if isinstance(reply.body, dict) else None
    return [entry for entry in data or [] if isinstance(entry, dict)]


def _next(reply: Reply) -> str | None:
    links = (reply.body or {}).get("links") if isinstance(reply.body, dict) else None
    url = (links or {}).get("next")
    return str(url) if url else None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")

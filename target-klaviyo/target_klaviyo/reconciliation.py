"""What a reconcile run found, per metric and UTC day, and what it means for the exit code (pure).

`Tally` holds the counts; `report` is the JSON report, `summary_lines` the log's summary and
`exit_code` the policy (`reconcile_fail_on`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

RECONCILE_FAIL_ON_CHOICES = ("missing", "unhealed", "nothing")
# The event property every event carries its unique_id in (the `unique_id_property` setting).
UNIQUE_ID_PROPERTY = "Unique ID"
# The event property every event carries its source in (the `source_property` setting).
SOURCE_PROPERTY = "Source"
# A reconcile run that found what its policy fails on, once everything else went well.
RECONCILE_EXIT_CODE = 4
# The counts of one (metric, day).
COUNTS = ("expected", "in_klaviyo", "missing", "sent", "not_produced", "held_twice", "collided")
# The most (metric, day) lines the log lists; the JSON report has them all.
MAX_LOG_ROWS = 40


def day_of(iso_time: str) -> str:
    """`2026-11-20T10:15:00+00:00` -> `2026-11-20` (times are UTC already)."""
    return iso_time[:10]


def days_between(start: str, end: str) -> list[tuple[str, str, str]]:
    """The UTC days of [start, end] (ISO UTC times, whole seconds) as (day, lower, upper): the
    times of that day within the range are `lower <= t < upper`."""
    first = dt.date.fromisoformat(day_of(start))
    last = dt.date.fromisoformat(day_of(end))
    after_end = _iso(dt.datetime.fromisoformat(end) + dt.timedelta(seconds=1))
    days = []
    day = first
    while day <= last:
        lower = max(start, f"{day.isoformat()}T00:00:00+00:00")
        upper = min(after_end, f"{(day + dt.timedelta(days=1)).isoformat()}T00:00:00+00:00")
        days.append((day.isoformat(), lower, upper))
        day += dt.timedelta(days=1)
    return days


def slices(start: str, end: str, per_day: dict[str, int], size: int) -> list[tuple[str, str]]:
    """[start, end] cut at day boundaries into (lower, upper) time slices (`lower <= t < upper`)
    holding about `size` expected events each (`per_day`: expected events by UTC day), so that
    a sparse range costs one read and a dense one is read in parallel; a day is never cut."""
    cuts: list[tuple[str, str]] = []
    lower: str | None = None
    held = 0
    days = days_between(start, end)
    for day, day_lower, upper in days:
        if lower is None:
            lower = day_lower
        held += per_day.get(day, 0)
        if held >= size:
            cuts.append((lower, upper))
            lower, held = None, 0
    if lower is not None:
        cuts.append((lower, days[-1][2]))
    return cuts


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Row:
    expected: int = 0
    in_klaviyo: int = 0  # expected events found in Klaviyo
    missing: int = 0  # expected events not found
    sent: int = 0  # missing events Klaviyo accepted now
    not_produced: int = 0  # events under the metric in the range that the input did not hold
    held_twice: int = 0  # expected events found more than once (the extra copies)
    # missing events whose id Klaviyo holds only for another source (the same person and metric):
    # dropped as a repeat of that source's event
    collided: int = 0

    def add(self, other: Row) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}


@dataclass
class Tally:
    """Counts per (metric, day), and what the run did."""

    start: str | None = None  # the range read: the earliest and latest expected event times
    end: str | None = None
    report_only: bool = False
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    metric_ids: dict[str, list[str]] = field(default_factory=dict)
    without_time: int = 0  # events with no time: outside any range, not reconciled
    not_sent: int = 0  # missing events the healing could not deliver (dead-lettered)
    # False when some metric's missing events were not all accepted: its accepted ones are then
    # counted against its days in day order (the metric's total stays exact).
    sent_by_day_exact: bool = True
    requests: int = 0  # read requests
    # Seconds spent reading the input (and indexing it), reading Klaviyo, and healing.
    seconds: dict[str, float] = field(default_factory=dict)

    def row(self, metric: str, day: str) -> Row:
        row = self.rows.get((metric, day))
        if row is None:
            row = self.rows[(metric, day)] = Row()
        return row

    def total(self, metric: str | None = None) -> Row:
        total = Row()
        for (name, _), row in self.rows.items():
            if metric is None or name == metric:
                total.add(row)
        return total

    def metrics(self) -> list[str]:
        return sorted({metric for metric, _ in self.rows})

    def sorted_rows(self) -> Iterator[tuple[str, str, Row]]:
        for metric, day in sorted(self.rows):
            yield metric, day, self.rows[(metric, day)]


def exit_code(tally: Tally, fail_on: str) -> int:
    """`missing` (default): non-zero when any expected event was missing before healing, so a
    scheduled reconcile turns red the day something was lost; `unhealed`: only when some are
    still missing (report-only, or the healing could not deliver them); `nothing`: zero."""
    total = tally.total()
    if fail_on == "missing" and total.missing:
        return RECONCILE_EXIT_CODE
    if fail_on == "unhealed" and total.missing > total.sent:
        return RECONCILE_EXIT_CODE
    return 0


def report(tally: Tally, *, fail_on: str, code: int) -> dict[str, Any]:
    """The JSON report: the range, totals, and per metric its ids and days."""
    metrics: dict[str, Any] = {}
    for metric in tally.metrics():
        metrics[metric] = {
            "metric_ids": tally.metric_ids.get(metric, []),
            "total": tally.total(metric).to_json(),
            "days": {
                day: row.to_json() for name, day, row in tally.sorted_rows() if name == metric
            },
        }
    return {
        "range": {"start": tally.start, "end": tally.end},
        "report_only": tally.report_only,
        "total": tally.total().to_json(),
        "metrics": metrics,
        "events_without_time": tally.without_time,
        "missing_not_delivered": tally.not_sent,
        "sent_by_day_exact": tally.sent_by_day_exact,
        "read_requests": tally.requests,
        "seconds": tally.seconds,
        "fail_on": fail_on,
        "exit_code": code,
    }


def summary_lines(tally: Tally, *, code: int) -> list[str]:
    """The log's reconcile summary: totals, then each (metric, day) where something was off."""
    total = tally.total()
    sent = "report only: nothing sent" if tally.report_only else f"sent now {total.sent:,}"
    lines = [
        f"reconcile {tally.start} .. {tally.end}: expected {total.expected:,}, already in "
        f"Klaviyo {total.in_klaviyo:,}, missing {total.missing:,}, {sent}, "
        f"not produced by the input {total.not_produced:,}"
    ]
    off = [
        (metric, day, row)
        for metric, day, row in tally.sorted_rows()
        if row.missing or row.not_produced or row.held_twice
    ]
    for metric, day, row in off[:MAX_LOG_ROWS]:
        lines.append(
            f"  {metric} {day}: expected {row.expected:,}, in Klaviyo {row.in_klaviyo:,}, "
            f"missing {row.missing:,}, sent {row.sent:,}, not produced {row.not_produced:,}"
            + (f", held twice {row.held_twice:,}" if row.held_twice else "")
            + (f", under another source's event {row.collided:,}" if row.collided else "")
        )
    if len(off) > MAX_LOG_ROWS:
        lines.append(f"  ... {len(off) - MAX_LOG_ROWS} more in the JSON report")
    if total.collided:
        lines.append(
            f"  {total.collided:,} of the missing were dropped by Klaviyo as repeats of another "
            "source's events (same unique_id, person and metric: another Intercom workspace's?)"
            + ("" if tally.report_only else "; sent now as <unique_id>@<source>")
            + '; give each source its own event ids (README, "Several workspaces, one Klaviyo '
            'account")'
        )
    if tally.without_time:
        lines.append(f"  events without a time (not reconciled): {tally.without_time:,}")
    if tally.not_sent:
        lines.append(f"  missing events not delivered (see dead letters): {tally.not_sent:,}")
    phases = ", ".join(f"{name} {value:,.1f}s" for name, value in tally.seconds.items())
    lines.append(
        f"  read requests: {tally.requests:,} ({phases}); exit code {code}"
        + (" (missing events found)" if code else "")
    )
    return lines

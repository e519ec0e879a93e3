"""The run report (setting `report_path`): one JSON file a scheduler reads instead of the log,
and the failure policy (setting `fail_on`) that decides the exit code of a run that read all its
input. Pure, but for writing the file.

The report holds every counter of RunStats under its attribute name, so a counter added there
appears here without more work; the end-of-run summary is made from the same counters.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from target_klaviyo.items import (
    HELD_BY_ANOTHER,
    IMPORT_ERROR,
    NO_IDENTIFIER,
    REJECTED,
    REPORTED_BY_TAP,
)
from target_klaviyo.stats import RunStats

# fail_on: "undelivered" (default), "any_dead_letter", "nothing" (docs/contract.md, "Run report").
FAIL_ON_POLICIES = ("undelivered", "any_dead_letter", "nothing")
# The exit code of a run that read all its input but did not deliver all of it. Not 1 (stopped
# by an error) nor 128 + n (stopped by a signal): a scheduler can tell the three apart.
UNDELIVERED_EXIT_CODE = 3
REPORT_VERSION = 1
# Dead letters that are no delivery failure of this run, so they fail it only under
# "any_dead_letter": a record without any identifier (the contract dead-letters it by design),
# a person whose only identifier is another person's (none of their own either), and the tap's
# report of data it could not read (no rerun can read it; the report says so).
_NOT_DELIVERY_FAILURES = frozenset({NO_IDENTIFIER, HELD_BY_ANOTHER, REPORTED_BY_TAP})


def failing_dead_letters(by_reason: Mapping[str, int], fail_on: str) -> dict[str, int]:
    """This run's dead letters, by reason, that make it exit non-zero under `fail_on`."""
    if fail_on == "nothing":
        return {}
    return {
        reason: n
        for reason, n in sorted(by_reason.items())
        if n and (fail_on == "any_dead_letter" or reason not in _NOT_DELIVERY_FAILURES)
    }


def policy_line(failing: Mapping[str, int], fail_on: str) -> str:
    """The one error line of a run the failure policy fails."""
    reasons = ", ".join(f"{reason}: {n:,}" for reason, n in failing.items())
    return (
        f"target-klaviyo: {sum(failing.values()):,} records of this run were not delivered "
        f"({reasons}; see the dead-letter file); exit code {UNDELIVERED_EXIT_CODE} "
        f"(fail_on '{fail_on}'); the state covers what Klaviyo accepted"
    )


def build_report(
    stats: RunStats,
    *,
    outcome: str,
    exit_code: int,
    elapsed: float,
    fail_on: str,
    dry_run: bool,
    dead_letter_path: str | None,
    error: str | None = None,
) -> dict[str, Any]:
    """The report of a run. `outcome`: 'delivered', 'undelivered' (fail_on), 'unreconciled'
    (reconcile mode's reconcile_fail_on), 'failed' or 'stopped' (a signal)."""
    counts = stats.counts()
    dead_letters: dict[str, int] = dict(stats.dead_letters)
    return {
        "plugin": "target-klaviyo",
        "report_version": REPORT_VERSION,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "outcome": outcome,
        "exit_code": exit_code,
        "error": error,
        "dry_run": dry_run,
        "duration_seconds": round(elapsed, 1),
        "state_moved": stats.state_lines > 0,
        "events_delivered": stats.events_sent,
        # Accepted too, but possibly held by Klaviyo already: never in events_delivered.
        "events_resent_from_lookback": stats.events_resent,
        "dead_letters_total": sum(dead_letters.values()),
        "rejected_by_klaviyo": dead_letters.get(REJECTED, 0) + dead_letters.get(IMPORT_ERROR, 0),
        "fail_on": fail_on,
        "failing_dead_letters": failing_dead_letters(dead_letters, fail_on),
        "dead_letter_path": dead_letter_path,
        **counts,
    }


def write_report(path: str, report: Mapping[str, Any]) -> None:
    """Replace the file at `path` with the report in one step: a reader never sees half of one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(target)

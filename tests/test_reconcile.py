"""Reconcile (issue #20) end to end: `meltano run intercom-to-klaviyo-reconcile` (the tap's replay
into the target in reconcile mode) against the stand-ins, after the hourly job loaded them and the
Klaviyo stand-in silently forgot accepted events (POST /_sandbox/forget).

What must be missing is what the stand-in says it forgot; what Klaviyo must hold in the end is the
Intercom stand-in's ledger (tests/e2e_expected.py). A generic tap's event stream (tap-jsonl's
orders of tests/test_any_tap.py) reconciles the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from e2e_expected import epoch, mismatches, split_ledger
from e2e_pipeline import STATE_ID, Pipeline
from test_any_tap import (
    KEY,
    MELTANO,
    ORDERS,
    TAP_JSONL,
    TARGET,
    klaviyo,
    readme_mapping,
    require,
)

from api_sandbox.testing import control, dataset

__all__ = ["klaviyo"]  # the fixture of tests/test_any_tap.py

RECONCILE_JOB = "intercom-to-klaviyo-reconcile"
RECONCILE_STATE_ID = "sandbox:tap-intercom-events--replay-to-target-klaviyo--reconcile"
FORGOTTEN = 37
REPLAY_DAYS = 7


def reconcile(p: Pipeline, **settings: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """The reconcile job; its JSON report (None if it wrote none)."""
    report = p.workdir / "reconcile.json"
    report.unlink(missing_ok=True)
    env = {
        "TARGET_KLAVIYO__RECONCILE_RECONCILE_REPORT_PATH": str(report),
        "TARGET_KLAVIYO__RECONCILE_DEAD_LETTER_PATH": str(p.workdir / "reconcile-dead.jsonl"),
        **{f"TARGET_KLAVIYO__RECONCILE_{k.upper()}": v for k, v in settings.items()},
    }
    saved = dict(p.env)
    p.env.update(env)
    try:
        result = p.meltano("run", RECONCILE_JOB)
    finally:
        p.env.clear()
        p.env.update(saved)
    return result, json.loads(report.read_text()) if report.exists() else None


def state(p: Pipeline, state_id: str = STATE_ID) -> Any:
    result = p.meltano("state", "get", state_id)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def state_ids(p: Pipeline) -> list[str]:
    result = p.meltano("state", "list")
    assert result.returncode == 0, result.stderr[-2000:]
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def spread(events: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """`count` events taken in turn from each metric, each metric's spaced out over its time
    order, so the loss spans metrics and days."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda e: (e["metric"], e["time"], e["unique_id"])):
        by_metric.setdefault(event["metric"], []).append(event)
    queues = []
    for members in by_metric.values():
        stride = max(1, len(members) // 8)
        queues.append(members[::stride] + [m for i, m in enumerate(members) if i % stride])
    chosen: list[dict[str, Any]] = []
    while len(chosen) < count:
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def in_replay_window(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events the job's replay (`replay_days: 7` in meltano.yml) holds, with an hour to spare."""
    since = time.time() - REPLAY_DAYS * 86400 + 3600
    return [e for e in events if epoch(e["time"]) >= since]


def missing_by_metric_and_day(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {
        (metric, day): row["missing"]
        for metric, entry in report["metrics"].items()
        for day, row in entry["days"].items()
        if row["missing"]
    }


def expected_events(p: Pipeline) -> dict[str, Any]:
    deliverable, _ = split_ledger(
        p.intercom("ledger")["events"], dataset(p.intercom_url, "contacts")
    )
    return deliverable


def test_reconcile_finds_reports_and_heals_what_klaviyo_lost(pipeline: Pipeline) -> None:
    p = pipeline
    p.run_pipeline()
    hourly_state = state(p)
    stored = p.klaviyo("events")["events"]
    chosen = spread(in_replay_window(stored), FORGOTTEN)
    forgotten = p.klaviyo("forget", {"unique_ids": [e["unique_id"] for e in chosen]})["forgotten"]
    assert len(forgotten) == FORGOTTEN
    lost = Counter((f["metric"], f["time"][:10]) for f in forgotten)
    assert len({metric for metric, _ in lost}) >= 3 and len({day for _, day in lost}) >= 3

    result, report = reconcile(p)
    assert result.returncode != 0, result.stderr[-3000:]
    assert report is not None, result.stderr[-3000:]
    assert missing_by_metric_and_day(report) == dict(lost)
    assert report["total"]["missing"] == FORGOTTEN
    assert report["total"]["sent"] == FORGOTTEN
    assert report["exit_code"] == 4
    assert epoch(report["range"]["start"]) >= time.time() - REPLAY_DAYS * 86400 - 600
    assert report["total"]["in_klaviyo"] == report["total"]["expected"] - FORGOTTEN
    assert f"missing {FORGOTTEN}" in result.stderr

    again, report = reconcile(p)
    assert again.returncode == 0, again.stderr[-3000:]
    assert report["total"]["missing"] == 0 and report["total"]["not_produced"] == 0
    assert report["total"]["in_klaviyo"] == report["total"]["expected"]

    # Klaviyo holds every expected event, once; the hourly job's state is as it was.
    stored = p.klaviyo("events")["events"]
    assert mismatches(expected_events(p), stored) == []
    assert len({e["unique_id"] for e in stored}) == len(stored)
    assert state(p) == hourly_state
    assert RECONCILE_STATE_ID not in state_ids(p)


def test_report_only_while_the_hourly_job_runs(pipeline: Pipeline) -> None:
    p = pipeline
    p.run_pipeline()
    conversations = dataset(p.intercom_url, "conversations")[:4]
    # Lost events of other conversations than the ones that change (a contact's reply erases
    # the trace of a Read Conversation: a replay cannot see it again).
    changing = tuple(f"conversation:{c['id']}:" for c in conversations)
    stored = [
        e
        for e in in_replay_window(p.klaviyo("events")["events"])
        if not e["unique_id"].startswith(changing)
    ]
    forgotten = p.klaviyo("forget", {"unique_ids": [e["unique_id"] for e in spread(stored, 5)]})
    assert len(forgotten["forgotten"]) == 5
    ledger_before = {e["key"] for e in p.intercom("ledger")["events"]}
    p.intercom(
        "mutations",
        {
            "mutations": [
                {"action": "contact_reply", "conversation_id": c["id"]} for c in conversations
            ]
        },
    )
    arrivals_before = sum(m["arrivals"] for m in p.klaviyo("report")["metrics"].values())
    # Slow Intercom answers, one at a time for the replay, keep it going while the hourly job
    # (a few requests, in parallel), started once the replay is under way, runs start to end.
    p.intercom("faults", {"latency_ms": 400})
    report_path = p.workdir / "reconcile.json"
    env = {
        **p.env,
        "TAP_INTERCOM_EVENTS__REPLAY_MAX_CONCURRENCY": "1",
        "TARGET_KLAVIYO__RECONCILE_RECONCILE_REPORT_ONLY": "true",
        "TARGET_KLAVIYO__RECONCILE_RECONCILE_REPORT_PATH": str(report_path),
        "TARGET_KLAVIYO__RECONCILE_DEAD_LETTER_PATH": str(p.workdir / "reconcile-dead.jsonl"),
    }

    def intercom_requests() -> int:
        return sum(control(p.intercom_url, "stats")["requests"].values())

    before_replay = intercom_requests()
    saved = p.env
    p.env = env
    running = p.start_meltano("run", RECONCILE_JOB)
    p.env = saved
    try:
        deadline = time.monotonic() + 60
        while intercom_requests() < before_replay + 1:
            assert running.poll() is None, running.communicate()[0][-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        p.run_pipeline()  # the hourly job, start to end, while the reconcile runs
        hourly_state = state(p)
        assert running.poll() is None, "the reconcile ended before the hourly job: no overlap"
        output, _ = running.communicate(timeout=300)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode != 0, output[-3000:]  # missing events found
    report = json.loads(report_path.read_text())
    assert report["report_only"] is True
    assert report["total"]["sent"] == 0 and report["total"]["missing"] >= 5
    # Only the hourly job sent anything: the new replies.
    new = set(expected_events(p)) - ledger_before  # those with a usable identifier
    assert new
    arrivals = sum(m["arrivals"] for m in p.klaviyo("report")["metrics"].values())
    assert arrivals == arrivals_before + len(new)
    assert state(p) == hourly_state
    assert RECONCILE_STATE_ID not in state_ids(p)


ANY_TAP_PROJECT = """\
project_id: reconcile-any-tap
send_anonymous_usage_stats: false
default_environment: test
environments:
- name: test
plugins:
  extractors:
  - name: tap-jsonl
    namespace: tap_jsonl
    executable: {tap}
    settings:
    - name: path
    - name: stream_name
    - name: primary_keys
      kind: array
  loaders:
  - name: target-klaviyo
    namespace: target_klaviyo
    executable: {target}
    settings:
    - name: api_key
      kind: password
    - name: api_url
    - name: event_streams
      kind: object
    - name: rate_limit_scale
      kind: integer
    - name: dead_letter_path
    - name: reconcile
      kind: boolean
    - name: reconcile_report_path
  - name: target-klaviyo--reconcile
    inherit_from: target-klaviyo
    config:
      reconcile: true
"""


def test_a_generic_taps_event_stream_reconciles_the_same_way(klaviyo: str, tmp_path: Path) -> None:
    """tap-jsonl's orders (the 5 deliverable ones) in a Meltano project of their own: load with
    `meltano run`, lose 2, reconcile with `meltano run` (heals, exit non-zero), again (exit 0)."""
    require(TAP_JSONL)
    (tmp_path / "meltano.yml").write_text(ANY_TAP_PROJECT.format(tap=TAP_JSONL, target=TARGET))
    orders = tmp_path / "orders.jsonl"
    deliverable = [row for row in ORDERS if row["id"] not in (5, 6, 7)]
    orders.write_text("".join(json.dumps(row) + "\n" for row in deliverable))
    report_path = tmp_path / "reconcile.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        TAP_JSONL_PATH=str(orders),
        TAP_JSONL_STREAM_NAME="orders",
        TAP_JSONL_PRIMARY_KEYS='["id"]',
        TARGET_KLAVIYO_API_KEY=KEY,
        TARGET_KLAVIYO_API_URL=klaviyo,
        TARGET_KLAVIYO_EVENT_STREAMS=json.dumps(readme_mapping()["event_streams"]),
        TARGET_KLAVIYO_RATE_LIMIT_SCALE="0",
        TARGET_KLAVIYO_DEAD_LETTER_PATH=str(tmp_path / "dead-letters.jsonl"),
        TARGET_KLAVIYO_RECONCILE_REPORT_PATH=str(report_path),
    )

    def meltano_run(loader: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MELTANO), "run", "tap-jsonl", loader],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    loaded = meltano_run("target-klaviyo")
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert len(control(klaviyo, "events")["events"]) == 5
    control(klaviyo, "forget", {"unique_ids": ["2", "9007199254740993"]})
    healed = meltano_run("target-klaviyo--reconcile")
    assert healed.returncode != 0, healed.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert missing_by_metric_and_day(report) == {("Placed Order", "2026-11-20"): 2}
    assert report["total"]["expected"] == 5 and report["total"]["sent"] == 2
    assert report["exit_code"] == 4
    again = meltano_run("target-klaviyo--reconcile")
    assert again.returncode == 0, again.stderr[-3000:]
    stored = control(klaviyo, "events")["events"]
    assert sorted(e["unique_id"] for e in stored) == sorted(
        ["9007199254740993", "2", "3", "4", "8"]
    )

"""Reconcile mode through the CLI against the Klaviyo stand-in, on Singer input written here
(any tap's event stream): load, forget, reconcile (report, heal, exit code), reconcile again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from target_klaviyo_testing.cli import run_cli
from target_klaviyo_testing.harness import Klaviyo
from target_klaviyo_testing.singer import lines

STREAM = "activity"
SCHEMA = {
    "type": "SCHEMA",
    "stream": STREAM,
    "key_properties": ["id"],
    "schema": {
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string"},
            "email": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "note": {"type": ["string", "null"]},
        }
    },
}
MAPPING = {
    STREAM: {
        "metric_field": "kind",
        "unique_id_field": "id",
        "time_field": "at",
        "email_field": "email",
    }
}
KINDS = ("Placed Order", "Cancelled Order")


def records(count: int) -> list[dict[str, Any]]:
    """`count` events over two metrics and three days (Nov 18 to 20, 2026)."""
    return [
        {
            "id": f"a-{n}",
            "kind": KINDS[n % 2],
            "email": f"person{n % 7}@example.com",
            "at": f"2026-11-{18 + n % 3}T{n % 24:02d}:{n % 60:02d}:00Z",
            "note": f"note {n}",
        }
        for n in range(count)
    ]


def singer(items: list[dict[str, Any]]) -> str:
    return lines([SCHEMA, *({"type": "RECORD", "stream": STREAM, "record": r} for r in items)])


def config(klaviyo: Klaviyo, **extra: Any) -> dict[str, Any]:
    return klaviyo.config(event_streams=MAPPING, **extra)


def reconcile(klaviyo: Klaviyo, tmp_path: Path, text: str, **extra: Any) -> tuple[Any, Any]:
    path = tmp_path / "reconcile.json"
    result = run_cli(
        config(klaviyo, reconcile=True, reconcile_report_path=str(path), **extra), text, tmp_path
    )
    return result, json.loads(path.read_text()) if path.exists() else None


def test_reconcile_finds_heals_and_then_passes(klaviyo: Klaviyo, tmp_path: Path) -> None:
    loaded = records(90)
    first = run_cli(config(klaviyo), singer(loaded), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    stored = klaviyo.events()
    assert len(stored) == 90
    # Every event carries its unique_id in the "Unique ID" property.
    assert all(e["properties"]["Unique ID"] == e["unique_id"] for e in stored)
    lost = ["a-3", "a-4", "a-10", "a-11", "a-41", "a-88"]
    klaviyo.control("forget", {"unique_ids": lost})
    # An event under one of the metrics that this input does not hold (another source).
    other = {**loaded[0], "id": "elsewhere-1", "at": "2026-11-19T12:00:00Z"}
    assert run_cli(config(klaviyo), singer([other]), tmp_path).returncode == 0
    arrivals = klaviyo.report()["metrics"]["Placed Order"]["arrivals"]

    result, report = reconcile(klaviyo, tmp_path, singer(loaded))
    assert result.returncode == 4, result.stderr[-3000:]
    assert not result.stdout.strip()  # no state line
    expected_missing: dict[tuple[str, str], int] = {}
    for record in loaded:
        if record["id"] in lost:
            key = (record["kind"], record["at"][:10])
            expected_missing[key] = expected_missing.get(key, 0) + 1
    found = {
        (metric, day): row["missing"]
        for metric, entry in report["metrics"].items()
        for day, row in entry["days"].items()
        if row["missing"]
    }
    assert found == expected_missing
    assert report["total"]["expected"] == 90
    assert report["total"]["missing"] == 6
    assert report["total"]["sent"] == 6
    assert report["total"]["in_klaviyo"] == 84
    assert report["total"]["not_produced"] == 1
    assert report["metrics"]["Placed Order"]["days"]["2026-11-19"]["not_produced"] == 1
    assert report["exit_code"] == 4
    assert "missing 6" in result.stderr
    assert len(klaviyo.events()) == 91  # the 6 are back; the other one is left alone
    # Only the missing ones were sent.
    assert klaviyo.report()["metrics"]["Placed Order"]["arrivals"] == arrivals + sum(
        1 for r in loaded if r["id"] in lost and r["kind"] == "Placed Order"
    )

    again, report = reconcile(klaviyo, tmp_path, singer(loaded))
    assert again.returncode == 0, again.stderr[-3000:]
    assert report["total"]["missing"] == 0 and report["total"]["in_klaviyo"] == 90
    ids = [e["unique_id"] for e in klaviyo.events()]
    assert len(ids) == len(set(ids)) == 91


def test_report_only_sends_nothing_and_policies(klaviyo: Klaviyo, tmp_path: Path) -> None:
    loaded = records(30)
    assert run_cli(config(klaviyo), singer(loaded), tmp_path).returncode == 0
    klaviyo.control("forget", {"unique_ids": ["a-0", "a-1"]})
    requests = klaviyo.report()["requests"].get("POST /api/event-bulk-create-jobs", 0)

    result, report = reconcile(klaviyo, tmp_path, singer(loaded), reconcile_report_only=True)
    assert result.returncode == 4
    assert report["report_only"] is True
    assert report["total"]["missing"] == 2 and report["total"]["sent"] == 0
    assert klaviyo.report()["requests"].get("POST /api/event-bulk-create-jobs", 0) == requests
    assert len(klaviyo.events()) == 28

    result, report = reconcile(
        klaviyo, tmp_path, singer(loaded), reconcile_report_only=True, reconcile_fail_on="nothing"
    )
    assert result.returncode == 0 and report["total"]["missing"] == 2
    # 'unhealed': healed, so it passes although events were missing.
    result, report = reconcile(klaviyo, tmp_path, singer(loaded), reconcile_fail_on="unhealed")
    assert result.returncode == 0, result.stderr[-3000:]
    assert report["total"]["sent"] == 2
    assert len(klaviyo.events()) == 30


def test_reads_are_paced_and_paged(klaviyo: Klaviyo, tmp_path: Path) -> None:
    loaded = records(500)  # 250 events of each metric
    assert run_cli(config(klaviyo), singer(loaded), tmp_path).returncode == 0
    klaviyo.control("rate-limits", {"scale": 1})
    # 200 a page before revision 2026-01-15: 1 metrics page, then 2 pages for each metric.
    result, report = reconcile(
        klaviyo, tmp_path, singer(loaded), rate_limit_scale=1, revision="2025-10-15"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert report["read_requests"] == 5
    assert report["total"]["in_klaviyo"] == 500
    requests = klaviyo.report()["requests"]
    assert requests["GET /api/events"] == 4 and requests["GET /api/metrics"] == 1
    # 1,000 a page from 2026-01-15: one page each.
    result, report = reconcile(klaviyo, tmp_path, singer(loaded), rate_limit_scale=1)
    assert result.returncode == 0, result.stderr[-3000:]
    assert report["read_requests"] == 3
    assert klaviyo.report()["throttled"] == 0


def test_an_event_klaviyo_keeps_under_an_earlier_time_is_found_before_the_range(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """A replay may time an event later than when it was first sent (Read Conversation is timed
    at its conversation's latest change); Klaviyo keeps the first."""
    loaded = records(30)
    moved = {**loaded[0], "at": "2026-11-10T09:00:00Z"}  # first sent 8 days before the range
    assert run_cli(config(klaviyo), singer([moved, *loaded[1:]]), tmp_path).returncode == 0

    result, report = reconcile(klaviyo, tmp_path, singer(loaded), reconcile_lookback_days=0)
    assert result.returncode == 4, result.stderr[-3000:]
    assert report["total"]["missing"] == 1
    before = klaviyo.report()["metrics"]["Placed Order"]["arrivals"]
    [kept] = [e for e in klaviyo.events() if e["unique_id"] == "a-0"]
    assert kept["time"] == "2026-11-10T09:00:00+00:00"  # the resend changed nothing

    result, report = reconcile(klaviyo, tmp_path, singer(loaded))  # 30 days by default
    assert result.returncode == 0, result.stderr[-3000:]
    assert report["total"]["missing"] == 0 and report["total"]["in_klaviyo"] == 30
    assert report["total"]["not_produced"] == 0
    assert klaviyo.report()["metrics"]["Placed Order"]["arrivals"] == before


def test_settings_reconcile_cannot_run_with(klaviyo: Klaviyo, tmp_path: Path) -> None:
    text = singer(records(3))
    for extra, words in (
        ({"dry_run": True}, "cannot run with 'dry_run'"),
        ({"unique_id_property": ""}, "'unique_id_property'"),
    ):
        result = run_cli(config(klaviyo, reconcile=True, **extra), text, tmp_path)
        assert result.returncode == 1
        assert words in result.stderr
    assert klaviyo.report()["requests"] == {}


def test_another_sources_event_under_the_same_id_is_not_a_match(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """Two sources (Intercom workspaces) whose ids repeat, for the same people: Klaviyo keeps
    the first source's event and drops the second's as a repeat (same profile, metric and
    unique_id). Reconcile of the second finds those by the `Source` property, sends them under
    an id of their own, and finds nothing missing the next time; an event sent before sources
    were carried (no `Source`) still matches."""
    schema = {**SCHEMA, "schema": {"properties": {**SCHEMA["schema"]["properties"], "ws": {}}}}
    mapping = {STREAM: {**MAPPING[STREAM], "source_field": "ws"}}

    def source_input(items: list[dict[str, Any]], ws: str) -> str:
        return lines(
            [
                schema,
                *({"type": "RECORD", "stream": STREAM, "record": {**r, "ws": ws}} for r in items),
            ]
        )

    first, second = records(12), records(20)
    loaded = run_cli(klaviyo.config(event_streams=mapping), source_input(first, "A"), tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    # a-12 and a-13 of the second source reach Klaviyo before sources were carried.
    legacy = run_cli(klaviyo.config(event_streams=MAPPING), singer(second[12:14]), tmp_path)
    assert legacy.returncode == 0, legacy.stderr[-3000:]
    loaded = run_cli(klaviyo.config(event_streams=mapping), source_input(second, "B"), tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-3000:]  # the 12 repeats dropped silently
    held = klaviyo.events()
    assert {e["properties"].get("Source") for e in held} == {"A", "B", None}
    assert sum(e["properties"].get("Source") == "B" for e in held) == 6

    path = tmp_path / "reconcile.json"
    settings = {"reconcile": True, "reconcile_report_path": str(path)}
    result = run_cli(
        klaviyo.config(event_streams=mapping, **settings), source_input(second, "B"), tmp_path
    )
    report = json.loads(path.read_text())
    assert result.returncode == 4, result.stderr[-3000:]
    assert report["total"]["expected"] == 20
    assert report["total"]["in_klaviyo"] == 8  # 6 of B's own and the 2 sent without a source
    assert report["total"]["missing"] == report["total"]["collided"] == 12
    assert report["total"]["sent"] == 12
    assert report["total"]["not_produced"] == 12  # A's events under B's ids
    assert "12 of the missing were dropped by Klaviyo as repeats" in result.stderr
    resent = {e["unique_id"]: e for e in klaviyo.events() if e["unique_id"].endswith("@B")}
    assert sorted(resent) == sorted(f"a-{n}@B" for n in range(12))
    assert all(e["properties"]["Unique ID"] == e["unique_id"][:-2] for e in resent.values())
    assert all(e["properties"]["Source"] == "B" for e in resent.values())

    again = run_cli(
        klaviyo.config(event_streams=mapping, **settings), source_input(second, "B"), tmp_path
    )
    report = json.loads(path.read_text())
    assert again.returncode == 0, again.stderr[-3000:]
    assert report["total"]["missing"] == 0 and report["total"]["in_klaviyo"] == 20

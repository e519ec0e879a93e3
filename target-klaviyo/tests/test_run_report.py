"""The run report (`report_path`) and the failure policy (`fail_on`), through the CLI as Meltano
runs it, against the Klaviyo stand-in over HTTP (a proxy in front of it refuses "poison" events
as Klaviyo may, without naming them: target_klaviyo_testing.proxy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from target_klaviyo_testing.cli import run_cli
from target_klaviyo_testing.harness import Klaviyo
from target_klaviyo_testing.proxy import Unnamed
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
    ticket_event,
)

REJECTED = "rejected by Klaviyo"
NO_IDENTIFIER = "no usable identifier"


def singer_streams(records: dict[str, list[dict[str, Any]]], at: int) -> str:
    """Each stream's SCHEMA, its records, then one STATE line."""
    messages = [schema_message(stream) for stream in records]
    messages += [record_message(s, r) for s, rows in records.items() for r in rows]
    messages.append(state_message({"at": at}))
    return lines(messages)


def singer(events: list[dict[str, Any]], contacts: list[dict[str, Any]], at: int) -> str:
    return singer_streams({"contacts": contacts, "conversation_events": events}, at)


def nameless(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "contact_email": None, "contact_phone": None, "contact_external_id": None}


def summary_numbers(stderr: str) -> dict[str, str]:
    """The end-of-run summary's lines as {label: number text}."""
    numbers: dict[str, str] = {}
    for line in stderr.splitlines():
        text = line.split(" | ", 3)[-1].strip()  # after time | level | logger
        label, _, number = text.rpartition(": ")
        if label and number.replace(",", "").isdigit():
            numbers[label] = number
    return numbers


def test_the_report_matches_klaviyo_and_the_summary_and_rejections_fail_the_run(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """Default fail_on: a record Klaviyo rejected makes a run that read everything exit 3,
    after the state line of the input (Meltano keeps it); a record without identifiers alone
    is no failure. Every count equals what the stand-in took in."""
    # Two records of one person (one email) are two accepted records, one Klaviyo profile.
    contacts = [contact(i) for i in range(60)] + [contact(0, id="c0-dup", external_id=None)]
    events = [conversation_event(i, i % 7, part=i) for i in range(30)]
    events[11]["title"] = "poison"
    events.append(nameless(conversation_event(99, 99, part=99)))
    report_path = tmp_path / "reports" / "target.json"
    with Unnamed(klaviyo.url) as proxy:
        config = klaviyo.config(
            api_url=proxy.url, report_path=str(report_path), profile_import_below=1
        )
        del config["fail_on"]  # the default
        result = run_cli(config, singer(events, contacts, at=7), tmp_path)

    assert result.returncode == 3, result.stderr[-3000:]
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"at": 7}]
    report = json.loads(report_path.read_text())
    ledger = klaviyo.report()
    assert report["outcome"] == "undelivered"
    assert report["exit_code"] == 3
    assert report["state_moved"] is True
    assert report["state_lines"] == 1
    assert report["events_by_metric"] == {
        metric: counts["arrivals"] for metric, counts in ledger["metrics"].items()
    }
    assert report["events_by_metric"] == {"Replied to Conversation": 29}
    assert report["profiles_upserted"] == 61
    assert sum(ledger["profile_writes"].values()) == 61
    assert ledger["profiles"] == 60
    assert report["dead_letters"] == {NO_IDENTIFIER: 1, REJECTED: 1}
    assert report["rejected_by_klaviyo"] == 1
    assert report["failing_dead_letters"] == {REJECTED: 1}
    assert report["requests"] == sum(ledger["requests"].values()) + proxy.refused
    assert report["throttled"] == ledger["throttled"] == 0
    assert report["duration_seconds"] >= 0

    numbers = summary_numbers(result.stderr)
    assert numbers["events 'Replied to Conversation'"] == "29"
    assert numbers["dead-lettered records"] == "2"
    assert numbers[REJECTED] == numbers[NO_IDENTIFIER] == "1"
    assert numbers["state lines written"] == "1"
    assert "profiles upserted: 61 (profile records Klaviyo accepted)" in result.stderr
    assert f"requests: {report['requests']}, retries: 0, throttled (429): 0" in result.stderr
    assert (
        "2 records of this run were not delivered" not in result.stderr
        and "1 records of this run were not delivered (rejected by Klaviyo: 1;" in result.stderr
    )


@pytest.mark.parametrize(
    "case",
    [
        ("undelivered", False, 0, {}),
        ("any_dead_letter", False, 3, {NO_IDENTIFIER: 1}),
        ("nothing", True, 0, {}),
    ],
    ids=["undelivered-unidentified-only", "any_dead_letter", "nothing-with-rejection"],
)
def test_fail_on_decides_which_dead_letters_fail_a_finished_run(
    klaviyo: Klaviyo, tmp_path: Path, case: tuple[str, bool, int, dict[str, int]]
) -> None:
    fail_on, poisoned, code, failing = case
    events = [conversation_event(i, i, part=i) for i in range(5)]
    if poisoned:
        events[2]["title"] = "poison"
    events.append(nameless(conversation_event(9, 9, part=9)))
    report_path = tmp_path / "report.json"
    with Unnamed(klaviyo.url) as proxy:
        config = klaviyo.config(api_url=proxy.url, report_path=str(report_path), fail_on=fail_on)
        result = run_cli(config, singer(events, [], at=3), tmp_path)
    assert result.returncode == code, result.stderr[-3000:]
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"at": 3}]
    report = json.loads(report_path.read_text())
    assert report["failing_dead_letters"] == failing
    assert report["outcome"] == ("undelivered" if code else "delivered")
    assert report["dead_letters"][NO_IDENTIFIER] == 1


def test_a_failed_run_still_writes_its_report(klaviyo: Klaviyo, tmp_path: Path) -> None:
    """A run Klaviyo refuses (a revoked key) says 'failed', 1, with the error's line and no
    secret (a stopped run's report: test_signals_and_secrets)."""
    failed_path = tmp_path / "failed.json"
    revoked = klaviyo.config(report_path=str(failed_path), api_key="pk_revoked_4242")
    result = run_cli(revoked, singer([conversation_event(1, 1, part=1)], [], at=2), tmp_path)
    assert result.returncode == 1
    report = json.loads(failed_path.read_text())
    assert (report["outcome"], report["exit_code"]) == ("failed", 1)
    assert report["error"] and "401" in report["error"]
    assert "pk_revoked_4242" not in failed_path.read_text()
    assert report["state_moved"] is False
    assert report["events_by_metric"] == {}


def test_a_reconcile_run_that_found_missing_events_reports_its_exit_code(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """Reconcile mode's own exit code (4, reconcile_fail_on) is the run report's too."""
    mapping = {
        "orders": {
            "metric": "Placed Order",
            "unique_id_field": "id",
            "email_field": "email",
            "time_field": "at",
        }
    }
    schema = {
        "type": "SCHEMA",
        "stream": "orders",
        "key_properties": ["id"],
        "schema": {
            "properties": {
                "id": {"type": "string"},
                "email": {"type": "string"},
                "at": {"type": "string", "format": "date-time"},
            }
        },
    }
    text = lines(
        [
            schema,
            *(
                record_message(
                    "orders",
                    {"id": f"o{n}", "email": "a@example.com", "at": "2026-11-20T10:00:00Z"},
                )
                for n in range(3)
            ),
        ]
    )
    assert run_cli(klaviyo.config(event_streams=mapping), text, tmp_path).returncode == 0
    klaviyo.control("forget", {"unique_ids": ["o1"]})
    report_path = tmp_path / "report.json"
    config = klaviyo.config(
        event_streams=mapping,
        reconcile=True,
        reconcile_report_path=str(tmp_path / "reconcile.json"),
        report_path=str(report_path),
    )
    result = run_cli(config, text, tmp_path)
    assert result.returncode == 4, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert (report["outcome"], report["exit_code"]) == ("unreconciled", 4)


def test_events_resent_from_the_taps_lookback_are_counted_apart_from_deliveries(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """The tap re-emits its lookback's events (`from_lookback`): they are sent as before and the
    stand-in keeps each once, but the summary and the report count them apart, per metric."""
    old_reply = conversation_event(1, 1, part=1)
    old_ticket = ticket_event(1, 2)
    first = run_cli(
        klaviyo.config(),
        singer_streams({"conversation_events": [old_reply], "ticket_events": [old_ticket]}, 1),
        tmp_path,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    before = klaviyo.report()["metrics"]

    report_path = tmp_path / "report.json"
    replies = [
        {**old_reply, "from_lookback": True},  # in Klaviyo already
        conversation_event(2, 1, part=2, from_lookback=True),  # indexed late: new to Klaviyo
        conversation_event(3, 3, part=3),
    ]
    tickets = [{**old_ticket, "from_lookback": True}, ticket_event(2, 2)]
    config = klaviyo.config(report_path=str(report_path))
    result = run_cli(
        config,
        singer_streams({"conversation_events": replies, "ticket_events": tickets}, 2),
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    after = klaviyo.report()["metrics"]
    arrived = {m: after[m]["arrivals"] - before[m]["arrivals"] for m in after}
    kept = {m: after[m]["events"] - before[m]["events"] for m in after}
    assert arrived == {"Replied to Conversation": 3, "Created Ticket": 2}  # every one sent
    assert kept == {"Replied to Conversation": 2, "Created Ticket": 1}  # each stored once
    report = json.loads(report_path.read_text())
    assert report["events_by_metric"] == {"Replied to Conversation": 1, "Created Ticket": 1}
    assert report["events_resent_by_metric"] == {"Replied to Conversation": 2, "Created Ticket": 1}
    assert (report["events_delivered"], report["events_resent_from_lookback"]) == (2, 3)
    stored = klaviyo.events()
    assert len(stored) == len({(e["metric"], e["unique_id"]) for e in stored}) == 5
    assert not [e for e in stored if "from_lookback" in json.dumps(e)]

    numbers = summary_numbers(result.stderr)
    assert "summary: 2 events sent" in result.stderr
    assert numbers["events 'Replied to Conversation'"] == numbers["events 'Created Ticket'"] == "1"
    assert numbers["resent 'Replied to Conversation'"] == "2"
    assert numbers["resent 'Created Ticket'"] == "1"
    resent_line = "events resent from the tap's lookback (possibly already in Klaviyo; not in the count above)"
    assert numbers[resent_line] == "3"
    assert "events sent exclude the tap's lookback resends" in result.stderr

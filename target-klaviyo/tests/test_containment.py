"""Containment, over HTTP against the stand-in (issue 19, points 4 to 6):

- a systemic rejection is not bad data: when Klaviyo refuses every request without naming an item,
  the run stops in a bounded number of requests, dead-letters nothing and acknowledges no state;
- the dead-letter file stays JSON lines after a write cut short (a full disk), and a failed write
  stops the run with one line instead of losing the record.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from target_klaviyo_testing.cli import run_cli, stopped_lines
from target_klaviyo_testing.harness import Klaviyo, run_target
from target_klaviyo_testing.singer import (
    contact,
    contacts_and_events,
    conversation_event,
)

from target_klaviyo.errors import KlaviyoError
from target_klaviyo.items import NO_IDENTIFIER
from target_klaviyo.refusals import SYSTEMIC_AFTER, SystemicRejectionError

REPO = Path(__file__).resolve().parents[2]
EVENTS_BULK = "POST /api/event-bulk-create-jobs"


def replies(n: int) -> list[dict[str, Any]]:
    return [conversation_event(i, i % 23, part=i) for i in range(n)]


def requests_to(klaviyo: Klaviyo, endpoint: str) -> int:
    return int(klaviyo.control("stats")["requests"].get(endpoint, 0))


# ---- a systemic rejection is not bad data ------------------------------------------------------


def test_every_bulk_request_refused_without_a_pointer_stops_the_run(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("behaviour", {"unexplained_rejections": "bulk"})
    config = klaviyo.config(max_concurrency=2)
    run = run_target(config, contacts_and_events(replies(300), state={"at": 1}), caplog)
    assert isinstance(run.error, SystemicRejectionError)
    assert "without naming an item" in str(run.error)
    assert "nothing was dead-lettered" in str(run.error)
    assert run.state_lines == []
    assert run.dead_letters == []
    assert klaviyo.events() == []
    # Bisection down to single events would have cost 599 requests; the run stops after the
    # limit, plus what the other thread had in flight.
    assert SYSTEMIC_AFTER <= requests_to(klaviyo, EVENTS_BULK) <= SYSTEMIC_AFTER + 2


def test_every_profile_import_refused_without_a_pointer_stops_the_run(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("behaviour", {"unexplained_rejections": "all"})
    config = klaviyo.config(max_concurrency=2)
    contacts = [contact(i) for i in range(45)]  # fewer than profile_import_below: one by one
    run = run_target(config, contacts_and_events(contacts=contacts, state={"at": 2}), caplog)
    # Stopped by the refusals, or earlier by a refused look-up of who holds an identifier.
    assert isinstance(run.error, KlaviyoError)
    assert run.state_lines == []
    assert run.dead_letters == []
    assert sum(klaviyo.control("stats")["requests"].values()) <= SYSTEMIC_AFTER + 2


def test_a_lone_refused_event_in_a_run_klaviyo_accepted_nothing_of_is_not_taken_for_bad_data(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    """Too few requests to reach the limit: at the state barrier nothing was accepted, and one
    event sent again stripped to its identifiers is refused too, so the refusals cannot be told
    from a systemic one; the run stops instead of dead-lettering."""
    klaviyo.control("behaviour", {"unexplained_rejections": "bulk"})
    run = run_target(klaviyo.config(), contacts_and_events(replies(3), state={"at": 3}), caplog)
    assert isinstance(run.error, SystemicRejectionError)
    assert "accepted none, not even one of them stripped to its identifiers" in str(run.error)
    assert run.state_lines == []
    assert run.dead_letters == []
    # 3 events: the request, its two halves, the second half's two, and the stripped one.
    assert requests_to(klaviyo, EVENTS_BULK) == 6


# ---- the dead-letter file ----------------------------------------------------------------------


def test_a_half_written_dead_letter_line_is_left_alone_and_reported(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """A child process: the in-process harness reads the dead letters back as JSON."""
    letters = tmp_path / "dead-letters.jsonl"
    whole = '{"stream": "contacts", "reason": "an earlier reason", "detail": "x", "record": {}}\n'
    letters.write_text(whole + '{"stream": "conversation_events", "reason": "REJ')  # a full disk
    nobody = conversation_event(1, 1, part=1, contact_email=None, contact_external_id=None)
    result = run_cli(klaviyo.config(), contacts_and_events([nobody], state={"at": 4}), tmp_path)
    # 3: the run read more than it delivered (a dead letter), which is not a failure to run.
    assert result.returncode in (0, 3), result.stderr[-2000:]
    assert json.loads(result.stdout) == {"at": 4}
    text = letters.read_text().splitlines()
    assert len(text) == 3
    assert text[1] == '{"stream": "conversation_events", "reason": "REJ'
    summary = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "dead_letter_summary.py"), str(letters)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert summary.returncode == 0, summary.stderr
    assert "1  contacts: an earlier reason" in summary.stdout
    assert f"1  conversation_events: {NO_IDENTIFIER}" in summary.stdout
    assert "1  unreadable line(s), not JSON (line 2)" in summary.stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_dead_letter_that_cannot_be_written_stops_the_run_before_its_state(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """/dev/full: every write fails as on a full disk (a child process: the in-process harness
    would read the dead-letter file back)."""
    nobody = conversation_event(1, 1, part=1, contact_email=None, contact_external_id=None)
    text = contacts_and_events([conversation_event(2, 2, part=2), nobody], state={"at": 5})
    result = run_cli(klaviyo.config(dead_letter_path="/dev/full"), text, tmp_path)
    assert result.returncode == 1
    [line] = stopped_lines(result.stderr)
    assert "cannot write a dead letter to '/dev/full' (No space left on device)" in line
    assert result.stdout.strip() == ""  # no state line


# ---- field-level containment -------------------------------------------------------------------


def _profile(klaviyo: Klaviyo, email: str) -> dict[str, Any]:
    [profile] = [p for p in klaviyo.profiles() if p.get("email") == email]
    return profile


@pytest.mark.parametrize("import_below", [50, 1], ids=["profile-import", "bulk-job"])
def test_oversized_custom_attributes_are_dropped_and_the_rest_of_the_profile_delivered(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, import_below: int
) -> None:
    one_big = contact(1, name="Ana Big", custom_attributes={"notes": "n" * 200_000, "plan": "pro"})
    five = {f"blob{i}": "b" * 30_000 for i in range(5)}
    five_mid = contact(2, name="Bo Five", custom_attributes={**five, "plan": "team"})
    small = contact(3, name="Cy Small", custom_attributes={"plan": "free"})
    config = klaviyo.config(profile_import_below=import_below)
    # The same people known to Klaviyo under their old names: the big records must update them.
    before = [contact(n, name=f"Old Name{n}") for n in (1, 2, 3)]
    assert run_target(config, contacts_and_events(contacts=before), caplog).error is None
    assert {p["first_name"] for p in klaviyo.profiles()} == {"Old"}
    run = run_target(
        config, contacts_and_events(contacts=[one_big, five_mid, small], state={"at": 6}), caplog
    )
    assert run.error is None, run.log[-3000:]
    assert run.state_lines == [{"at": 6}]
    assert run.dead_letters == []
    ana, bo, cy = (_profile(klaviyo, f"user{n}@example.com") for n in (1, 2, 3))
    assert (ana["first_name"], ana["last_name"]) == ("Ana", "Big")
    assert (bo["first_name"], bo["last_name"]) == ("Bo", "Five")
    assert ana["properties"]["Intercom_custom_attributes"] == {"plan": "pro"}
    kept = bo["properties"]["Intercom_custom_attributes"]
    assert kept["plan"] == "team"
    # 150 KB of blobs, 100 KB allowed: two of them go, three stay whole.
    assert sorted(len(v) for k, v in kept.items() if k.startswith("blob")) == [30_000] * 3
    assert cy["properties"]["Intercom_custom_attributes"] == {"plan": "free"}
    assert (
        "fields dropped to fit Klaviyo's size limits (the rest of each record sent): 3" in run.log
    )
    assert "contacts: Intercom_custom_attributes.notes (1)" in run.log


def test_an_event_too_big_for_a_request_loses_its_largest_properties_only(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    blobs = {f"file{i:02d}": "x" * 90_000 for i in range(60)}  # 5.4 MB of properties
    big = conversation_event(1, 1, part=1, custom_attributes={**blobs, "plan": "pro"})
    others = [conversation_event(i, i, part=i) for i in (2, 3)]
    run = run_target(klaviyo.config(), contacts_and_events([big, *others], state={"at": 7}), caplog)
    assert run.error is None, run.log[-3000:]
    assert run.dead_letters == []
    assert run.state_lines == [{"at": 7}]
    stored = {e["unique_id"]: e for e in klaviyo.events()}
    assert len(stored) == 3
    kept = stored["conversation:1:part:1:replied"]["properties"]["Custom Attributes"]
    assert kept["plan"] == "pro"
    assert 40 <= len(kept) - 1 < 60  # only as many files as the request limit demands went
    assert "fields dropped to fit Klaviyo's size limits" in run.log


# ---- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("inside", ["\u4e2d", "\u00e9", "\x7f"], ids=["cjk", "e-acute", "del"])
def test_a_key_a_header_cannot_carry_stops_with_one_line_and_is_never_printed(
    klaviyo: Klaviyo, tmp_path: Path, inside: str
) -> None:
    secret = "SecretKeyTail42"
    key = "pk_" + inside + secret
    text = contacts_and_events([conversation_event(1, 1, part=1)], state={"at": 8})
    result = run_cli(klaviyo.config(api_key=key), text, tmp_path)
    assert result.returncode == 1
    [line] = stopped_lines(result.stderr)
    assert "'api_key' setting (TARGET_KLAVIYO_API_KEY) has whitespace, control or non-ASCII" in line
    assert "Traceback" not in result.stderr
    assert secret not in result.stdout + result.stderr
    assert klaviyo.events() == []

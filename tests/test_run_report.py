"""The plugins' run reports (`report_path`) through `meltano run`, run after run: every count equals what the
stand-ins took in during that run (their counters before and after it), and the end-of-run log says the same.

Expected values come from the stand-ins and the dead-letter file, never from the plugins' code."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from e2e_pipeline import Pipeline


def totals(pipeline: Pipeline) -> dict[str, Any]:
    """What the stand-ins have taken in so far (their reports are cumulative)."""
    klaviyo = pipeline.klaviyo("report")
    intercom = pipeline.intercom("stats")
    return {
        "arrivals": Counter({m: c["arrivals"] for m, c in klaviyo["metrics"].items()}),
        "kept": Counter({m: c["events"] for m, c in klaviyo["metrics"].items()}),
        "profile_writes": sum(klaviyo["profile_writes"].values()),
        "rejected": len(klaviyo["rejected_requests"]),
        "klaviyo_requests": sum(klaviyo["requests"].values()),
        "klaviyo_429": klaviyo["throttled"],
        "intercom_requests": sum(intercom["statuses"].values()),
        "intercom_429": intercom["statuses"].get("429", 0),
    }


def letters(pipeline: Pipeline) -> list[dict[str, Any]]:
    path = pipeline.dead_letter_path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def logged(stderr: str, text: str) -> bool:
    """Whether the run's log holds `text` ending there (not "events 'X': 1" inside "…: 12")."""
    return re.search(re.escape(text) + r"(?!,?\d)", stderr) is not None


def check_run(
    pipeline: Pipeline, before: dict[str, Any], letters_before: int, stderr: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    after = totals(pipeline)
    target = json.loads(Path(pipeline.env["TARGET_KLAVIYO_REPORT_PATH"]).read_text())
    tap = json.loads(Path(pipeline.env["TAP_INTERCOM_EVENTS_REPORT_PATH"]).read_text())
    new_letters = letters(pipeline)[letters_before:]

    assert (target["outcome"], target["exit_code"]) == ("delivered", 0)
    assert (tap["outcome"], tap["exit_code"]) == ("finished", 0)
    # Klaviyo's side of this run: the events delivered are the ones it stored anew; the tap's
    # lookback resends are the ones it received again (it keeps one per unique_id).
    new = after["kept"] - before["kept"]
    assert target["events_by_metric"] == dict(+new)
    assert target["events_resent_by_metric"] == dict(
        +(after["arrivals"] - before["arrivals"] - new)
    )
    assert target["profiles_upserted"] == after["profile_writes"] - before["profile_writes"]
    assert target["rejected_by_klaviyo"] == after["rejected"] - before["rejected"] == 0
    assert target["requests"] == after["klaviyo_requests"] - before["klaviyo_requests"]
    assert target["throttled"] == after["klaviyo_429"] - before["klaviyo_429"]
    # This run's dead letters only (the file keeps every run's).
    assert target["dead_letters"] == dict(Counter(letter["reason"] for letter in new_letters))
    assert target["state_moved"] is True
    # Intercom's side, and what the tap handed over is what the target delivered or dead-lettered.
    assert tap["requests"] == after["intercom_requests"] - before["intercom_requests"]
    assert tap["throttled"] == after["intercom_429"] - before["intercom_429"]
    event_letters = [letter for letter in new_letters if letter["stream"].endswith("_events")]
    assert sum(tap["events_emitted"].values()) == (
        target["events_delivered"] + target["events_resent_from_lookback"] + len(event_letters)
    )
    lookback_letters = sum(1 for letter in event_letters if letter["record"]["from_lookback"])
    assert tap["events_from_lookback"] == target["events_resent_from_lookback"] + lookback_letters
    contact_letters = sum(1 for letter in new_letters if letter["stream"] == "contacts")
    assert tap["records_by_stream"].get("contacts", 0) == (
        target["profiles_upserted"] + contact_letters
    )
    # The end-of-run log says the same numbers.
    for metric, count in target["events_by_metric"].items():
        assert logged(stderr, f"events '{metric}': {count:,}"), metric
    for metric, count in target["events_resent_by_metric"].items():
        assert logged(stderr, f"resent '{metric}': {count:,}"), metric
    if target["events_resent_from_lookback"]:
        assert logged(stderr, f"not in the count above): {target['events_resent_from_lookback']:,}")
    assert logged(stderr, f"profiles upserted: {target['profiles_upserted']:,}")
    assert logged(stderr, f"dead-lettered records: {sum(target['dead_letters'].values()):,}")
    for reason, count in target["dead_letters"].items():
        assert logged(stderr, f"{reason}: {count:,}"), reason
    assert logged(stderr, f"requests: {target['requests']:,}")
    assert logged(stderr, f"throttled (429): {target['throttled']:,}")
    assert logged(stderr, f"state lines written: {target['state_lines']:,}")
    assert logged(stderr, f"sync summary: {tap['requests']} requests")
    return target, tap


def test_each_runs_reports_match_what_the_stand_ins_took_in(pipeline: Pipeline) -> None:
    pipeline.env["TARGET_KLAVIYO_REPORT_PATH"] = str(pipeline.workdir / "reports" / "target.json")
    pipeline.env["TAP_INTERCOM_EVENTS_REPORT_PATH"] = str(pipeline.workdir / "reports" / "tap.json")

    # A reply right before run 1 (by a contact with an email): inside the next run's lookback.
    people = {c["id"] for c in pipeline.intercom("dataset?kind=contacts")["data"] if c["email"]}
    conversation = next(
        c
        for c in pipeline.intercom("dataset?kind=conversations")["data"]
        if c["contacts"]["contacts"] and c["contacts"]["contacts"][0]["id"] in people
    )
    pipeline.intercom(
        "mutations",
        {"mutations": [{"action": "contact_reply", "conversation_id": conversation["id"]}]},
    )
    before = totals(pipeline)
    first = pipeline.run_pipeline()
    target, tap = check_run(pipeline, before, 0, first.stderr)
    assert target["dead_letters"], "the seeded data set has contacts without identifiers"
    assert tap["objects_read"]["conversation"] == len(
        pipeline.intercom("dataset?kind=conversations")["data"]
    )

    letters_before = len(letters(pipeline))
    contacts = pipeline.intercom("dataset?kind=contacts")["data"]
    author = next(c for c in contacts if c["email"] and c["role"] == "user")
    pipeline.intercom(
        "mutations", {"mutations": [{"action": "new_conversation", "contact_id": author["id"]}]}
    )
    before = totals(pipeline)
    second = pipeline.run_pipeline()
    target, _ = check_run(pipeline, before, letters_before, second.stderr)
    assert target["events_by_metric"].get("Created Conversation") == 1
    # The reply made before run 1 is in run 2's lookback: sent again, counted as a resend.
    assert target["events_resent_by_metric"].get("Replied to Conversation", 0) >= 1
    # The earlier run's dead letters are not this run's.
    assert sum(target["dead_letters"].values()) < letters_before

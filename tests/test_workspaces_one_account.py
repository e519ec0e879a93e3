"""Two Intercom workspaces into one Klaviyo account (issue #19 point 3): ids repeat across workspaces
(conversation 100000 exists in both), 30 customers write to both under the same email.

- With the README's scale-out setup no event of one workspace is taken for a repeat of the other's. The first
  workspace keeps its plain event ids (an existing deployment re-sends nothing); the second one's are qualified by
  its workspace id through a stream map on the target, one JSON environment variable.
- Without it (the settings left alone), Klaviyo drops the second workspace's repeats silently, as it does for any
  repeated unique_id of one person and metric; the default reconcile job of that workspace finds each of them
  (every event carries its workspace in the `Source` property), sends it under an id of its own and fails the run
  until nothing is missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_pipeline import INTERCOM_TOKEN, Pipeline
from test_reconcile import reconcile

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings
from api_sandbox.testing import control

SECOND = "wsb"  # the second workspace's Intercom id_code in the prefix
FIRST_WORKSPACE = "ecahpwf5"  # the stand-in's default id_code (GET /me app.id_code)
SECOND_WORKSPACE = "wsb"


def qualified(workspace: str) -> str:
    """TARGET_KLAVIYO_STREAM_MAPS of a workspace (README, "Scaling out to many workspaces")."""
    event_id = {"event_id": f"'{workspace}:' + event_id"}
    return json.dumps({"conversation_events": event_id, "ticket_events": event_id})


@pytest.fixture
def second_workspace(tmp_path: Path) -> Iterator[str]:
    settings = IntercomSettings(
        token=INTERCOM_TOKEN,
        seed=12,
        contacts=60,
        conversations=90,
        tickets=30,
        workspace_id=SECOND_WORKSPACE,
    )
    with BackgroundSandbox(settings, None) as sandbox:
        yield sandbox.urls["intercom"]


def ledger(url: str) -> list[dict[str, Any]]:
    return list(control(url, "ledger")["events"])


def shared_people(pipeline: Pipeline, second_workspace: str) -> set[str]:
    """Give the authors of the second workspace's first conversations the emails of the first's,
    so that `conversation:<id>:created` of both lands on one profile; the event ids both
    workspaces then hold for the same person."""
    first_url = pipeline.intercom_url
    first_contacts = {c["id"]: c for c in pipeline.intercom("dataset?kind=contacts")["data"]}
    second_contacts = {
        c["id"]: c for c in control(second_workspace, "dataset?kind=contacts")["data"]
    }
    # The authors of each workspace's first conversations: made the same people (same email), so
    # that `conversation:<id>:created` of both lands on one profile.
    first_by_id = {e["key"]: e for e in ledger(first_url) if e["metric"] == "Created Conversation"}
    shared: dict[str, str] = {}  # second workspace's contact -> email of the first's
    for entry in ledger(second_workspace):
        twin = first_by_id.get(entry["key"])
        if entry["metric"] != "Created Conversation" or twin is None or len(shared) >= 30:
            continue
        mine, theirs = entry["contact_id"], first_contacts.get(twin["contact_id"] or "")
        email = theirs["email"] if theirs else None
        if (
            mine in second_contacts
            and email
            and mine not in shared
            and email not in shared.values()
        ):
            shared[mine] = email
    assert len(shared) >= 10
    control(
        second_workspace,
        "mutations",
        {
            "mutations": [
                {"action": "edit_contact", "contact_id": cid, "changes": {"email": email}}
                for cid, email in shared.items()
            ]
        },
    )
    # Every metric's: a reply's part id may repeat as well.
    first_events = {e["key"]: e for e in ledger(first_url)}
    colliding = {
        e["key"]
        for e in ledger(second_workspace)
        if e["key"] in first_events
        and e["contact_id"] in shared
        and shared[e["contact_id"]]
        == (first_contacts.get(first_events[e["key"]]["contact_id"] or "") or {}).get("email")
    }
    assert colliding, "the two workspaces should hold the same event ids for the same people"
    return colliding


def test_two_workspaces_with_repeating_ids_into_one_account(
    pipeline: Pipeline, second_workspace: str, tmp_path: Path
) -> None:
    first_url = pipeline.intercom_url
    colliding = shared_people(pipeline, second_workspace)
    first = pipeline.meltano("run", "tap-intercom-events", "target-klaviyo")
    assert first.returncode == 0, first.stderr[-4000:]
    env = dict(pipeline.env)
    env.update(
        {
            "TAP_INTERCOM_EVENTS_API_URL": second_workspace,
            "MELTANO_RUN_STATE_ID_SUFFIX": SECOND,
            "TARGET_KLAVIYO_DEAD_LETTER_PATH": str(tmp_path / "dead-letters-wsb.jsonl"),
            "TARGET_KLAVIYO_STREAM_MAPS": qualified(SECOND),
        }
    )
    second = Pipeline(pipeline.sandbox, pipeline.workdir, env).meltano(
        "run", "tap-intercom-events", "target-klaviyo"
    )
    assert second.returncode == 0, second.stderr[-4000:]

    report = pipeline.klaviyo("report")
    assert all(metric["duplicates"] == 0 for metric in report["metrics"].values()), report[
        "metrics"
    ]
    stored = {e["unique_id"]: e for e in pipeline.klaviyo("events")["events"]}
    for key in colliding:
        assert stored[key]["profile"]["email"] == stored[f"{SECOND}:{key}"]["profile"]["email"]
    # Without the stream map Klaviyo keeps one of each pair (19 of the second workspace's events
    # lost, exit 0). The first workspace's ids are as before: nothing of its history is new.
    assert {key for key in stored if not key.startswith(f"{SECOND}:")} <= {
        e["key"] for e in ledger(first_url)
    }


def test_without_the_prefix_reconcile_finds_and_delivers_what_klaviyo_took_for_repeats(
    pipeline: Pipeline, second_workspace: str, tmp_path: Path
) -> None:
    colliding = shared_people(pipeline, second_workspace)
    pipeline.run_pipeline()
    second = Pipeline(
        pipeline.sandbox,
        pipeline.workdir,
        {
            **pipeline.env,
            "TAP_INTERCOM_EVENTS_API_URL": second_workspace,
            "MELTANO_RUN_STATE_ID_SUFFIX": SECOND,
            "TARGET_KLAVIYO_DEAD_LETTER_PATH": str(tmp_path / "dead-letters-wsb.jsonl"),
            # the stand-ins' history is 30 days; the daily job replays 7
            "TAP_INTERCOM_EVENTS__REPLAY_REPLAY_DAYS": "31",
        },
    )
    loaded = second.meltano("run", "tap-intercom-events", "target-klaviyo")
    # Klaviyo accepts the requests and drops the repeats: nothing in the load can tell.
    assert loaded.returncode == 0, loaded.stderr[-4000:]

    def held(workspace: str) -> dict[str, dict[str, Any]]:
        """The events Klaviyo holds from one workspace, by the id in their `Unique ID`."""
        return {
            e["properties"]["Unique ID"]: e
            for e in pipeline.klaviyo("events")["events"]
            if e["properties"].get("Source") == workspace
        }

    first_events = held(FIRST_WORKSPACE)
    assert colliding <= set(first_events)
    assert not colliding & set(held(SECOND_WORKSPACE))  # every one of them dropped

    result, report = reconcile(second)
    assert result.returncode != 0, result.stderr[-3000:]
    assert report is not None, result.stderr[-3000:]
    assert report["exit_code"] == 4
    assert report["total"]["collided"] == len(colliding)
    assert report["total"]["missing"] == len(colliding)
    assert report["total"]["sent"] == len(colliding)
    assert "dropped by Klaviyo as repeats of another source's events" in result.stderr

    again, report = reconcile(second)
    assert again.returncode == 0, again.stderr[-3000:]
    assert report["total"]["missing"] == 0 and report["total"]["collided"] == 0
    assert report["total"]["in_klaviyo"] == report["total"]["expected"]

    # Each workspace's event is on the one shared person's profile, the first's as it was.
    second_events = held(SECOND_WORKSPACE)
    assert {k: (e["unique_id"], e["profile"]["id"]) for k, e in held(FIRST_WORKSPACE).items()} == {
        k: (e["unique_id"], e["profile"]["id"]) for k, e in first_events.items()
    }
    for key in colliding:
        assert second_events[key]["unique_id"] == f"{key}@{SECOND_WORKSPACE}"
        assert first_events[key]["unique_id"] == key
        assert second_events[key]["profile"]["id"] == first_events[key]["profile"]["id"]
    assert {key for key in second_events if key not in colliding} <= {
        e["key"] for e in ledger(second_workspace)
    }

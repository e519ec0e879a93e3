"""What a data team does with the plugin definitions, in a fresh Meltano project in a temp dir (not this repository's
meltano.yml): `meltano init`, `meltano add --from-ref` for both plugins (installed from this checkout with git),
`meltano config set` for a stream map and the stand-ins' URLs, `meltano run`, then what landed in Klaviyo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from e2e_expected import mismatches, split_ledger
from user_project import INTERCOM_TOKEN, KLAVIYO_KEY, clean_env, meltano, new_project

from api_sandbox.testing import SandboxProcess, control

# Keep one ticket metric only: a stream map on the tap, set as a JSON string on the command line.
STREAM_MAPS = {"ticket_events": {"__filter__": "metric == 'Resolved Ticket'"}}


def test_a_new_project_adds_configures_and_runs_both_plugins(tmp_path: Path) -> None:
    env = clean_env()
    project = new_project(tmp_path, env)
    dead_letters = tmp_path / "dead-letters.jsonl"

    with SandboxProcess(
        "--seed", "21", "--contacts", "40", "--conversations", "60", "--tickets", "30",
        "--intercom-token", INTERCOM_TOKEN, "--klaviyo-key", KLAVIYO_KEY,
        "--klaviyo-job-seconds", "0.05",
    ) as sandbox:  # fmt: skip
        intercom, klaviyo = sandbox.urls["intercom"], sandbox.urls["klaviyo"]
        settings = [
            ("tap-intercom-events", "api_url", intercom),
            ("tap-intercom-events", "access_token", INTERCOM_TOKEN),
            ("tap-intercom-events", "start_date", "2020-01-01T00:00:00Z"),
            ("tap-intercom-events", "stream_maps", json.dumps(STREAM_MAPS)),
            ("target-klaviyo", "api_url", klaviyo),
            ("target-klaviyo", "api_key", KLAVIYO_KEY),
            ("target-klaviyo", "dead_letter_path", str(dead_letters)),
        ]
        for plugin, setting, value in settings:
            meltano(project, "config", "set", plugin, setting, value, env=env)

        # The declared kinds at work: the stream map is stored as an object, the secrets go to .env only.
        config = yaml.safe_load((project / "meltano.yml").read_text())
        (tap,) = config["plugins"]["extractors"]
        assert tap["config"]["stream_maps"] == STREAM_MAPS
        assert INTERCOM_TOKEN not in (project / "meltano.yml").read_text()
        assert KLAVIYO_KEY not in (project / "meltano.yml").read_text()
        dotenv = (project / ".env").read_text()
        assert "TAP_INTERCOM_EVENTS_ACCESS_TOKEN" in dotenv
        assert "TARGET_KLAVIYO_API_KEY" in dotenv

        meltano(project, "run", "tap-intercom-events", "target-klaviyo", env=env)

        ledger = control(intercom, "ledger")["events"]
        contacts = control(intercom, "dataset?kind=contacts")["data"]
        deliverable, undeliverable = split_ledger(ledger, contacts)
        passes_map = {
            entry["key"]: entry["object_type"] != "ticket" or entry["metric"] == "Resolved Ticket"
            for entry in ledger
        }
        kept = {key: event for key, event in deliverable.items() if passes_map[key]}
        dropped_ticket_metrics = {e.metric for k, e in deliverable.items() if k not in kept}
        assert {"Created Ticket", "Replied to Ticket"} <= dropped_ticket_metrics, (
            "the data set should have ticket events the map filters out"
        )
        assert any(e.metric == "Resolved Ticket" for e in kept.values())

        events: list[dict[str, Any]] = control(klaviyo, "events")["events"]
        assert mismatches(kept, events) == []
        report = control(klaviyo, "report")
        assert report["rejected_requests"] == []
        assert all(metric["duplicates"] == 0 for metric in report["metrics"].values())
        assert control(klaviyo, "profiles")["profiles"], "contacts should land as profiles"

        # Dead letters went to the absolute path set above; the filtered ticket events are not among them.
        letters = [json.loads(line) for line in dead_letters.read_text().splitlines() if line]
        dead_events = {
            letter["record"]["event_id"]
            for letter in letters
            if letter["stream"].endswith("_events")
        }
        assert dead_events == {key for key in undeliverable if passes_map[key]}

        # State is kept under the project's default environment, for the next incremental run.
        state = meltano(
            project, "state", "get", "dev:tap-intercom-events-to-target-klaviyo", env=env
        )
        assert "bookmarks" in state.stdout

"""examples/dagster/intercom_to_klaviyo.py in process: two Intercom workspaces (two sets of stand-ins), one Dagster
job each, run from this repository's root (which has its own, different meltano.yml), against a user project made
with `meltano add --from-ref`. Each workspace's events land in its own Klaviyo, its dead letters in its own absolute
file, its state under its own state ID; a second run of one workspace sends nothing new."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from e2e_expected import mismatches, split_ledger
from user_project import MELTANO, REPO, clean_env, meltano, new_project

from api_sandbox.testing import SandboxProcess, control

EXAMPLE = REPO / "examples" / "dagster" / "intercom_to_klaviyo.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("intercom_to_klaviyo_dagster", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_job(defs: Any, name: str) -> Any:
    result = defs.get_job_def(name).execute_in_process(raise_on_error=False)
    failures = [str(e.event_specific_data) for e in result.all_events if e.is_step_failure]
    assert result.success, "\n".join(failures)[-6000:]
    return result


def arrivals(klaviyo: str) -> int:
    return sum(m["arrivals"] for m in control(klaviyo, "report")["metrics"].values())


def test_one_dagster_job_per_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example()
    project = new_project(tmp_path, clean_env())
    dead_letter_dir = tmp_path / "dead-letters"
    monkeypatch.chdir(REPO)  # Dagster's working directory is not the Meltano project
    for name in [k for k in os.environ if k.startswith(("TAP_", "TARGET_", "MELTANO_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")

    seeds = {"acme-us": "31", "globex-eu": "32"}
    sandboxes = {
        key: SandboxProcess(
            "--seed", seed, "--contacts", "30", "--conversations", "40", "--tickets", "15",
            "--intercom-token", f"token-{key}", "--klaviyo-key", f"pk_{key}",
            "--klaviyo-job-seconds", "0.05",
        )
        for key, seed in seeds.items()
    }  # fmt: skip
    try:
        for sandbox in sandboxes.values():
            sandbox.start()
        workspaces = []
        for key, sandbox in sandboxes.items():
            env_key = key.upper().replace("-", "_")
            monkeypatch.setenv(f"INTERCOM_TOKEN_{env_key}", f"token-{key}")
            monkeypatch.setenv(f"KLAVIYO_KEY_{env_key}", f"pk_{key}")
            workspaces.append(
                example.Workspace(
                    key=key,
                    intercom_token_env=f"INTERCOM_TOKEN_{env_key}",
                    klaviyo_key_env=f"KLAVIYO_KEY_{env_key}",
                    config={
                        "TAP_INTERCOM_EVENTS_API_URL": sandbox.urls["intercom"],
                        "TARGET_KLAVIYO_API_URL": sandbox.urls["klaviyo"],
                    },
                )
            )
        defs = example.build_definitions(workspaces, project, str(MELTANO), dead_letter_dir)
        assert len(list(defs.schedules or [])) == 2

        outcomes = {}
        for key in seeds:
            result = run_job(defs, f"intercom_to_klaviyo_{key.replace('-', '_')}")
            outcome = result.output_for_node(f"meltano_run_{key.replace('-', '_')}")
            assert outcome["workspace"] == key
            assert outcome["dead_letter_path"] == str(dead_letter_dir / f"{key}.jsonl")
            outcomes[key] = outcome

        for key, sandbox in sandboxes.items():
            intercom, klaviyo = sandbox.urls["intercom"], sandbox.urls["klaviyo"]
            deliverable, undeliverable = split_ledger(
                control(intercom, "ledger")["events"],
                control(intercom, "dataset?kind=contacts")["data"],
            )
            assert mismatches(deliverable, control(klaviyo, "events")["events"]) == []
            letters = [
                json.loads(line)
                for line in (dead_letter_dir / f"{key}.jsonl").read_text().splitlines()
                if line
            ]
            dead_events = {
                letter["record"]["event_id"]
                for letter in letters
                if letter["stream"].endswith("_events")
            }
            assert dead_events == undeliverable
            # The op's numbers come from the run report: this run's.
            outcome = outcomes[key]
            assert sum(outcome["events_by_metric"].values()) == len(deliverable)
            assert outcome["dead_letters"] == len(letters)
            assert outcome["report_path"] == str(dead_letter_dir / f"{key}.target-report.json")
        assert not (project / "output" / "dead-letters.jsonl").exists()
        assert not (REPO / "dead-letters.jsonl").exists()

        states = meltano(project, "state", "list", env=clean_env()).stdout.split()
        assert {f"dev:tap-intercom-events-to-target-klaviyo:{key}" for key in seeds} <= set(states)

        # State per workspace: a second run of one workspace with nothing new sends nothing.
        klaviyo = sandboxes["acme-us"].urls["klaviyo"]
        before = arrivals(klaviyo)
        result = run_job(defs, "intercom_to_klaviyo_acme_us")
        assert arrivals(klaviyo) == before
        # The earlier run's dead letters stay in the file but are not this run's.
        again = result.output_for_node("meltano_run_acme_us")
        assert (again["dead_letters"], again["events_by_metric"]) == (0, {})
        assert (dead_letter_dir / "acme-us.jsonl").read_text()
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()

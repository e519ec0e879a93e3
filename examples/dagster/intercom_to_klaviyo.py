"""Dagster: one job per Intercom workspace, each a `meltano run tap-intercom-events target-klaviyo` in your Meltano
project, with the workspace's own credentials, its own state ID suffix and an absolute dead-letter path.

Copy this file next to your Meltano project and point Dagster at it (`dagster dev -f intercom_to_klaviyo.py`).
Configure it with environment variables:

    MELTANO_PROJECT_ROOT        absolute path of the Meltano project (the directory with meltano.yml)
    MELTANO_BIN                 the meltano executable (default: `meltano` on PATH)
    INTERCOM_WORKSPACES         path of a YAML file listing the workspaces (format below)
    DEAD_LETTER_DIR             where each workspace's dead letters go (default: <project>/output/dead-letters)
    REPORT_DIR                  where each workspace's run reports go (default: DEAD_LETTER_DIR)

    # workspaces.yml
    - key: acme-us                                # state ID suffix, job name, dead-letter file name
      intercom_token_env: INTERCOM_TOKEN_ACME_US  # the name of the env var holding this workspace's token
      klaviyo_key_env: KLAVIYO_KEY_ACME           # the Klaviyo account it sends to
      region: us                                  # optional: us, eu, au
      config: {TAP_INTERCOM_EVENTS_START_DATE: "2025-01-01"}   # optional extra env (setting env vars) for this job

Each job's outcome comes from the plugins' run reports (`<key>.target-report.json`, `<key>.tap-report.json`, JSON,
this run's numbers only), not from the log: events per metric, profile records, this run's dead letters by reason.
The target's `fail_on` (default `undelivered`) makes a run in which Klaviyo rejected records exit 3 after its last
state line: the Dagster run fails, naming them, and the next run goes on from what Klaviyo accepted.

Each job runs Meltano with the project as its working directory (`MELTANO_PROJECT_ROOT` is set too), whatever
directory Dagster runs in. Jobs share the project directory, and Meltano writes each plugin's catalog to one file
under `.meltano/run/`: their ops share the `meltano-project` pool, so give that pool a limit of 1
(`dagster instance concurrency set meltano-project 1`) or give each worker its own checkout. Workspaces that send
to one Klaviyo account share its rate limits: set the target's `rate_limit_scale` to 1/N in meltano.yml for N jobs
that can run at once (not as an env var: Meltano 4.4.1 fails on decimal settings from the environment, see the
README, "Scaling out").
"""

# No `from __future__ import annotations` here: Dagster reads the op's `context` annotation when it is defined.

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dagster import (
    Definitions,
    Failure,
    JobDefinition,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)


@dataclass(frozen=True)
class Workspace:
    key: str
    intercom_token_env: str
    klaviyo_key_env: str
    region: str | None = None
    config: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", self.key):
            msg = f"workspace key {self.key!r}: use lower-case letters, digits, '-' and '_'"
            raise ValueError(msg)


def load_workspaces(path: Path) -> list[Workspace]:
    return [Workspace(**entry) for entry in yaml.safe_load(path.read_text())]


def job_env(
    workspace: Workspace, project_root: Path, dead_letter_dir: Path, report_dir: Path | None = None
) -> dict[str, str]:
    """The environment of one workspace's `meltano run`: its secrets, state ID suffix, dead-letter file and run
    reports."""
    report_dir = report_dir or dead_letter_dir
    missing = [
        n
        for n in (workspace.intercom_token_env, workspace.klaviyo_key_env)
        if not os.environ.get(n)
    ]
    if missing:
        msg = f"workspace {workspace.key}: set {', '.join(missing)}"
        raise Failure(msg)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_INTERCOM_EVENTS_", "TARGET_KLAVIYO_"))
    }
    env |= {
        "MELTANO_PROJECT_ROOT": str(project_root),
        "MELTANO_RUN_STATE_ID_SUFFIX": workspace.key,
        "TAP_INTERCOM_EVENTS_ACCESS_TOKEN": os.environ[workspace.intercom_token_env],
        "TARGET_KLAVIYO_API_KEY": os.environ[workspace.klaviyo_key_env],
        "TARGET_KLAVIYO_DEAD_LETTER_PATH": str(dead_letter_dir / f"{workspace.key}.jsonl"),
        "TARGET_KLAVIYO_REPORT_PATH": str(report_dir / f"{workspace.key}.target-report.json"),
        "TAP_INTERCOM_EVENTS_REPORT_PATH": str(report_dir / f"{workspace.key}.tap-report.json"),
    }
    if workspace.region:
        env["TAP_INTERCOM_EVENTS_REGION"] = workspace.region
    env |= {k: str(v) for k, v in workspace.config.items()}
    return env


def read_report(path: Path) -> dict[str, Any] | None:
    """A plugin's run report, or None when the plugin did not get as far as writing one."""
    return json.loads(path.read_text()) if path.exists() else None


def workspace_job(
    workspace: Workspace,
    project_root: Path,
    meltano: str,
    dead_letter_dir: Path,
    report_dir: Path | None = None,
) -> JobDefinition:
    @op(name=f"meltano_run_{workspace.key.replace('-', '_')}", pool="meltano-project")
    def meltano_run(context: OpExecutionContext) -> dict[str, Any]:
        env = job_env(workspace, project_root, dead_letter_dir, report_dir)
        target_path = Path(env["TARGET_KLAVIYO_REPORT_PATH"])
        for path in (Path(env["TARGET_KLAVIYO_DEAD_LETTER_PATH"]), target_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        # A report left by an earlier run must not pass for this run's.
        target_path.unlink(missing_ok=True)
        Path(env["TAP_INTERCOM_EVENTS_REPORT_PATH"]).unlink(missing_ok=True)
        args = [meltano, "run", "tap-intercom-events", "target-klaviyo"]
        context.log.info(f"{workspace.key}: {' '.join(args)} in {project_root}")
        result = subprocess.run(
            args, cwd=project_root, env=env, capture_output=True, text=True, check=False
        )
        report = read_report(target_path) or {}
        tap_report = read_report(Path(env["TAP_INTERCOM_EVENTS_REPORT_PATH"])) or {}
        dead = report.get("dead_letters") or {}
        context.log.info(
            f"{workspace.key}: target {report.get('outcome', 'no report')}, "
            f"{report.get('events_delivered', 0):,} events sent, "
            f"{report.get('profiles_upserted', 0):,} profile records, "
            f"{sum(dead.values()):,} dead letters this run {dict(dead)}"
        )
        outcome = {
            "workspace": workspace.key,
            "returncode": result.returncode,
            "events_by_metric": report.get("events_by_metric", {}),
            "profiles_upserted": report.get("profiles_upserted", 0),
            "dead_letter_path": env["TARGET_KLAVIYO_DEAD_LETTER_PATH"],
            # This run's, from the report: the file keeps every run's.
            "dead_letters": sum(dead.values()),
            "dead_letters_by_reason": dict(dead),
            "events_emitted": tap_report.get("events_emitted", {}),
            "report_path": str(target_path),
        }
        if result.returncode != 0:
            failing = report.get("failing_dead_letters") or {}
            why = f"records not delivered {failing}" if failing else report.get("error")
            raise Failure(
                f"{workspace.key}: meltano run exited with {result.returncode}"
                + (f": {why}" if why else ""),
                metadata={"run report": json.dumps(report), "log tail": result.stderr[-4000:]},
            )
        return outcome

    @job(
        name=f"intercom_to_klaviyo_{workspace.key.replace('-', '_')}",
        tags={"workspace": workspace.key},
    )
    def one_workspace() -> None:
        meltano_run()

    return one_workspace


def build_definitions(
    workspaces: list[Workspace],
    project_root: Path,
    meltano: str,
    dead_letter_dir: Path,
    cron: str | None = "17 * * * *",
    *,
    report_dir: Path | None = None,
) -> Definitions:
    root = project_root.resolve()
    dead_dir = dead_letter_dir if dead_letter_dir.is_absolute() else root / dead_letter_dir
    reports = report_dir or dead_dir
    reports = reports if reports.is_absolute() else root / reports
    jobs = [workspace_job(w, root, meltano, dead_dir, reports) for w in workspaces]
    schedules = [ScheduleDefinition(job=j, cron_schedule=cron) for j in jobs] if cron else []
    return Definitions(jobs=jobs, schedules=schedules)


def definitions_from_env() -> Definitions:
    root = Path(os.environ["MELTANO_PROJECT_ROOT"]).resolve()
    return build_definitions(
        load_workspaces(Path(os.environ["INTERCOM_WORKSPACES"])),
        root,
        os.environ.get("MELTANO_BIN") or shutil.which("meltano") or "meltano",
        Path(os.environ.get("DEAD_LETTER_DIR") or root / "output" / "dead-letters"),
        report_dir=Path(os.environ["REPORT_DIR"]) if os.environ.get("REPORT_DIR") else None,
    )


if "MELTANO_PROJECT_ROOT" in os.environ and "INTERCOM_WORKSPACES" in os.environ:
    defs = definitions_from_env()

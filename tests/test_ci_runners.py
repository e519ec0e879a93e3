"""The scheduled CI load in examples/ci/intercom-to-klaviyo.yml, run the way two ephemeral CI runners would.

A user project (`meltano init` + `meltano add --from-ref`, committed to git) is cloned fresh for each runner, and the
workflow's own `run:` steps are executed in order with the job's env (secrets and vars filled in, `if: always()`
honoured). The runners share nothing but the state backend (`MELTANO_STATE_BACKEND_URI`, here a local directory;
the file backend and S3 behave the same way for this). Runner A loads everything; after changes in Intercom, runner
B, on a new clone with an empty `.meltano/`, must send exactly the delta. A third runner with a wrong Klaviyo key
must fail the job and still leave the run log and summary for the artifact step.

Each `run:` step is written to a file and run with exactly the command GitHub's Linux runner uses for the step's shell
(`shell:` of the step, else `defaults.run.shell` of the job, else of the workflow; GitHub's workflow syntax docs,
`jobs.<job_id>.steps[*].shell`): no shell is `bash -e {0}`, which ignores a failure on the left of a pipe, and
`shell: bash` is `bash --noprofile --norc -eo pipefail {0}`. `uses:` steps are the CI's own machinery (checkout = the
clone, setup-python, cache, upload-artifact) and are not run; the `install-meltano` step is replaced by this
checkout's Meltano (the same pinned version, checked below).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from e2e_expected import mismatches, split_ledger
from user_project import INTERCOM_TOKEN, KLAVIYO_KEY, MELTANO, REPO, clean_env, new_project

from api_sandbox.testing import SandboxProcess, control

WORKFLOW = REPO / "examples" / "ci" / "intercom-to-klaviyo.yml"
STATE_ID = "prod:tap-intercom-events-to-target-klaviyo"
LOOKBACK_SECONDS = 900  # the tap's lookback_window_seconds default (tap README)
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
# The command a GitHub-hosted Linux runner runs a step's script file ({0}) with, by the step's shell keyword; any
# other value is a custom template ("command [options] {0}").
RUNNER_SHELLS = {
    None: "bash -e {0}",
    "bash": "bash --noprofile --norc -eo pipefail {0}",
    "sh": "sh -e {0}",
    "python": "python {0}",
}


def workflow_job() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return dict(workflow["jobs"]["load"])


def step_command(step: dict[str, Any], script: Path) -> list[str]:
    """The runner's command for a run: step whose script is in `script`."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    shell = (
        step.get("shell")
        or workflow["jobs"]["load"].get("defaults", {}).get("run", {}).get("shell")
        or workflow.get("defaults", {}).get("run", {}).get("shell")
    )
    template = RUNNER_SHELLS.get(shell, shell)
    assert "{0}" in template, f"custom shell {shell!r} without {{0}}"
    return [part.replace("{0}", str(script)) for part in shlex.split(template)]


def substitute(text: str, context: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert expression in context, f"the test does not know ${{{{ {expression} }}}}"
        return context[expression]

    return EXPRESSION.sub(value, text)


def run_workflow(
    checkout: Path, secrets: dict[str, str], variables: dict[str, str], path_dir: Path
) -> dict[str, str]:
    """Run the job's run: steps in `checkout` like a runner; returns each step's outcome by id."""
    job = workflow_job()
    context = {f"secrets.{k}": v for k, v in secrets.items()}
    context |= {f"vars.{k}": v for k, v in variables.items()}
    env = clean_env(
        PATH=f"{path_dir}:/usr/bin:/bin", GITHUB_STEP_SUMMARY=str(checkout / "step-summary.md")
    )
    env |= {k: substitute(str(v), context) for k, v in job["env"].items()}
    outcomes: dict[str, str] = {}
    failed = False
    for step in job["steps"]:
        if "run" not in step or step.get("id") == "install-meltano":
            continue
        if failed and step.get("if") != "always()":
            outcomes[step["id"]] = "skipped"
            continue
        step_context = context | {f"steps.{k}.outcome": v for k, v in outcomes.items()}
        script = checkout.parent / f"{checkout.name}-step-{step['id']}.sh"
        script.write_text(substitute(step["run"], step_context))
        result = subprocess.run(
            step_command(step, script),
            cwd=checkout,
            env=env | {k: substitute(str(v), step_context) for k, v in step.get("env", {}).items()},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        outcomes[step["id"]] = "success" if result.returncode == 0 else "failure"
        (checkout / f"step-{step['id']}.log").write_text(result.stdout + result.stderr)
        failed = failed or result.returncode != 0
    return outcomes


def _bookmarks(state: Any) -> dict[str, Any]:
    """The tap's bookmarks inside a Meltano state file, however deep Meltano nests them."""
    if isinstance(state, dict):
        if "bookmarks" in state:
            return dict(state["bookmarks"])
        for value in state.values():
            found = _bookmarks(value)
            if found:
                return found
    return {}


def arrivals(klaviyo: str) -> int:
    return sum(m["arrivals"] for m in control(klaviyo, "report")["metrics"].values())


def test_workflow_installs_only_meltano_with_the_state_backend_extra() -> None:
    (install,) = [s for s in workflow_job()["steps"] if s.get("id") == "install-meltano"]
    pinned = re.search(r"^meltano==(\S+)$", (REPO / "requirements-dev.txt").read_text(), re.M)
    assert pinned
    assert install["run"].split() == [
        "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        f'"meltano[s3]=={pinned.group(1)}"',
    ]
    job = workflow_job()
    assert job["env"]["TAP_INTERCOM_EVENTS_ACCESS_TOKEN"] == (
        "${{ secrets.TAP_INTERCOM_EVENTS_ACCESS_TOKEN }}"
    )
    assert job["env"]["TARGET_KLAVIYO_API_KEY"] == "${{ secrets.TARGET_KLAVIYO_API_KEY }}"
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert {"output/meltano-run.log", "output/dead-letters.jsonl", "output/run-summary.md"} <= set(
        upload["with"]["path"].split()
    )


def test_two_ephemeral_runners_share_state_and_the_second_sends_only_the_delta(
    tmp_path: Path,
) -> None:
    env = clean_env()
    project = new_project(tmp_path, env, install=False)  # committed to git as a data team would
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "meltano project"], cwd=project, check=True)
    path_dir = (
        tmp_path / "bin"
    )  # the runner's PATH: Meltano (what install-meltano installs) and git
    path_dir.mkdir()
    (path_dir / "meltano").symlink_to(MELTANO)
    shared_state = tmp_path / "shared-state"
    shared_state.mkdir()

    with SandboxProcess(
        "--seed", "23", "--contacts", "40", "--conversations", "60", "--tickets", "20",
        "--intercom-token", INTERCOM_TOKEN, "--klaviyo-key", KLAVIYO_KEY,
        "--klaviyo-job-seconds", "0.05",
    ) as sandbox:  # fmt: skip
        intercom, klaviyo = sandbox.urls["intercom"], sandbox.urls["klaviyo"]
        secrets = {
            "TAP_INTERCOM_EVENTS_ACCESS_TOKEN": INTERCOM_TOKEN,
            "TARGET_KLAVIYO_API_KEY": KLAVIYO_KEY,
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
        }
        variables = {
            "MELTANO_STATE_BACKEND_URI": f"file://{shared_state}",
            "AWS_DEFAULT_REGION": "",
        }
        # The stand-ins' URLs: in a real project the prod environment's `region` does this.
        project_env = {
            "TAP_INTERCOM_EVENTS_API_URL": intercom,
            "TARGET_KLAVIYO_API_URL": klaviyo,
        }

        def runner(name: str, **overrides: str) -> tuple[Path, dict[str, str]]:
            checkout = tmp_path / name
            subprocess.run(["git", "clone", "-q", str(project), str(checkout)], check=True)
            (checkout / ".env").write_text("".join(f"{k}={v}\n" for k, v in project_env.items()))
            outcomes = run_workflow(checkout, secrets | overrides, variables, path_dir)
            return checkout, outcomes

        a, outcomes = runner("runner-a")
        assert outcomes == {
            "install-plugins": "success",
            "load": "success",
            "summary": "success",
        }, (a / "step-load.log").read_text()[-6000:]
        state_file = shared_state / STATE_ID / "state.json"
        assert state_file.exists(), sorted(p.name for p in shared_state.iterdir())
        ledger = control(intercom, "ledger")["events"]
        contacts = control(intercom, "dataset?kind=contacts")["data"]
        deliverable, undeliverable = split_ledger(ledger, contacts)
        assert mismatches(deliverable, control(klaviyo, "events")["events"]) == []
        summary = (a / "output" / "run-summary.md").read_text()
        assert "(success)" in summary
        assert f"{len(deliverable):,} events sent" in summary, summary
        assert f"dead letters: {len(undeliverable) + _dead_contacts(contacts)}" in summary, summary
        assert (a / "step-summary.md").read_text() == summary
        shutil.rmtree(a)  # the runner is gone; only the state backend remains
        before = arrivals(klaviyo)

        changes = _changes(intercom, deliverable, contacts)
        results = control(intercom, "mutations", {"mutations": changes})
        new_keys = {entry["key"] for result in results["results"] for entry in result["ledger"]}
        assert len(new_keys) >= 3

        state_before_b = json.loads(state_file.read_text())
        b, outcomes = runner("runner-b")
        assert outcomes["load"] == "success", (b / "step-load.log").read_text()[-6000:]
        ledger = control(intercom, "ledger")["events"]
        deliverable_after, _ = split_ledger(
            ledger, control(intercom, "dataset?kind=contacts")["data"]
        )
        assert set(deliverable_after) == set(deliverable) | new_keys
        assert mismatches(deliverable_after, control(klaviyo, "events")["events"]) == []
        # B may also resend events of the lookback before A's window end (the tap re-reads it for
        # changes Intercom's search shows late; a Read Conversation only when its key is new there),
        # under the same unique_ids: nothing older.
        end_a = _bookmarks(state_before_b)["conversations"]["events_after"]
        lookback = {k for k, e in deliverable.items() if end_a - LOOKBACK_SECONDS < e.time <= end_a}
        sent = arrivals(klaviyo) - before
        assert len(new_keys) <= sent <= len(new_keys) + len(lookback), "runner B resent old events"
        # New deliveries are the new events only; the lookback's are counted apart, never as new.
        resent = sent - len(new_keys)
        assert (
            f"{len(new_keys):,} events sent, {resent:,} resent from the tap's lookback"
            in (b / "output" / "run-summary.md").read_text()
        )

        # A failed delivery (Klaviyo refuses the key) fails the job; the log and summary remain for the artifact.
        control(intercom, "mutations", {"mutations": changes[:1]})  # something new to deliver
        state_before = state_file.read_text()
        c, outcomes = runner("runner-c", TARGET_KLAVIYO_API_KEY="pk_revoked_key")
        assert outcomes == {
            "install-plugins": "success",
            "load": "failure",
            "summary": "success",
        }
        assert "(failure)" in (c / "output" / "run-summary.md").read_text()
        assert (c / "output" / "meltano-run.log").stat().st_size > 0
        assert state_file.read_text() == state_before


def _dead_contacts(contacts: list[dict[str, Any]]) -> int:
    from e2e_expected import identifiers

    return sum(1 for contact in contacts if not identifiers(contact))


def _changes(
    intercom: str, deliverable: dict[str, Any], contacts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A contact reply on a delivered conversation, a ticket resolved, a new conversation."""
    from e2e_expected import identifiers

    with_ids = {c["id"] for c in contacts if identifiers(c)}
    conversations = control(intercom, "dataset?kind=conversations")["data"]
    tickets = control(intercom, "dataset?kind=tickets")["data"]
    replied = next(
        c
        for c in conversations
        if c["source"]["author"]["type"] in {"user", "lead"}
        and c["source"]["author"]["id"] in with_ids
        and c["contacts"]["contacts"][0]["id"] in with_ids
    )
    ticket = next(
        t
        for t in tickets
        if t["contacts"]["contacts"]
        and t["contacts"]["contacts"][0]["id"] in with_ids
        and t["ticket_state"]["category"] != "resolved"
    )
    author = next(c for c in contacts if c["id"] in with_ids and c["email"])
    return [
        {"action": "contact_reply", "conversation_id": replied["id"]},
        {"action": "ticket_state", "ticket_id": ticket["id"], "state": "resolved"},
        {"action": "new_conversation", "contact_id": author["id"]},
    ]


def test_every_run_step_fails_when_a_command_before_a_pipe_fails(tmp_path: Path) -> None:
    """`meltano run … | tee log` must fail its step when meltano fails: the runner's shell for the step decides."""
    script = tmp_path / "step.sh"
    script.write_text("false | tee /dev/null\n")
    for step in workflow_job()["steps"]:
        if "run" in step:
            result = subprocess.run(step_command(step, script), capture_output=True, check=False)
            assert result.returncode != 0, f"step {step['id']} passes when a piped command fails"

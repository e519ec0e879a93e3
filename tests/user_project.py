"""A data team's own Meltano project, made the way the README says: `meltano init`, then `meltano add --from-ref`
with the plugin definitions under plugins/, whose pip_url points at this checkout's committed HEAD
(`git+file://<checkout>@<commit>#subdirectory=<plugin>`, the same form as the published git URL).

Used by test_user_project.py and test_ci_runners.py; nothing here touches the repository's own meltano.yml.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
MELTANO = REPO / ".venv" / "bin" / "meltano"
PLUGINS = {"tap-intercom-events": "extractors", "target-klaviyo": "loaders"}
INTERCOM_TOKEN = "user-project-intercom-token"
KLAVIYO_KEY = "pk_user_project_key"
# The Intercom streams the target delivers (README "Add to your own Meltano project").
SELECT = ("contacts", "conversation_events", "ticket_events")


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any plugin or Meltano settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.update(extra)
    return env


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def local_definition(name: str, directory: Path) -> Path:
    """plugins/<type>/<name>.yml with the published git URL swapped for this checkout's HEAD."""
    source = REPO / "plugins" / PLUGINS[name] / f"{name}.yml"
    text = source.read_text()
    published = yaml.safe_load(text)["pip_url"]
    assert published.endswith(f"#subdirectory={name}"), published
    local = f"git+file://{REPO}@{head_commit()}#subdirectory={name}"
    path = directory / f"{name}.yml"
    path.write_text(re.sub(r"(?m)^pip_url: .*$", f"pip_url: {local}", text))
    return path


def meltano(
    project: Path, *args: str, env: dict[str, str], timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(MELTANO), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert result.returncode == 0, (
            f"meltano {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def new_project(parent: Path, env: dict[str, str], *, install: bool = True) -> Path:
    """`meltano init` + `meltano add --from-ref` for both plugins + `meltano select` of the delivered streams."""
    meltano(parent, "init", "user-project", "--no_usage_stats", env=env)
    project = parent / "user-project"
    for name in PLUGINS:
        flags = [] if install else ["--no-install"]
        meltano(
            project,
            "add",
            "--from-ref",
            str(local_definition(name, parent)),
            name,
            *flags,
            env=env,
        )
    for stream in SELECT:
        meltano(project, "select", "tap-intercom-events", stream, "*", env=env)
    return project


def project_plugin(project: Path, name: str) -> dict[str, Any]:
    config = yaml.safe_load((project / "meltano.yml").read_text())
    (plugin,) = [p for p in config["plugins"][PLUGINS[name]] if p["name"] == name]
    return dict(plugin)

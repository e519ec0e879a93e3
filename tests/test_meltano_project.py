"""meltano.yml and the plugin definitions under plugins/ declare every plugin setting, with the plugin's own
types and secrecy, and neither has drifted from scripts/sync_meltano_settings.py's output."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
SYNC = REPO / "scripts" / "sync_meltano_settings.py"
PLUGINS = [("extractors", "tap-intercom-events"), ("loaders", "target-klaviyo")]

KIND_OF_JSON_TYPE = {
    "string": {"string", "date_iso8601", "options", "email", "file"},
    "integer": {"integer"},
    "number": {"decimal"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
}
# SDK settings each plugin must declare (from the SDK's --about output for these capabilities).
SDK_SETTINGS = {
    "tap-intercom-events": {
        "stream_maps",
        "stream_map_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
    },
    "target-klaviyo": {
        "stream_maps",
        "stream_map_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "validate_records",
        "add_record_metadata",
        "load_method",
        "batch_size_rows",
    },
}


def about(executable: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(BIN / executable), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(result.stdout))


def plugin_settings(executable: str) -> dict[str, Any]:
    properties = about(executable)["settings"]["properties"]
    # faker_config works only with Faker installed next to the plugin (singer-sdk[faker]); not declared otherwise.
    if importlib.util.find_spec("faker") is None:
        properties.pop("faker_config", None)
    return dict(properties)


def project_plugin(plugin_type: str, name: str) -> dict[str, Any]:
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (plugin,) = [p for p in project["plugins"][plugin_type] if p["name"] == name]
    return dict(plugin)


def definition(plugin_type: str, name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "plugins" / plugin_type / f"{name}.yml").read_text()))


def json_type(prop: dict[str, Any]) -> str:
    types = prop.get("type")
    if types is None and "anyOf" in prop:
        types = [t.get("type") for t in prop["anyOf"]]
    if isinstance(types, str):
        types = [types]
    concrete = [t for t in types or [] if t and t != "null"]
    assert len(concrete) == 1, f"unexpected schema type {prop}"
    return str(concrete[0])


def check_settings(name: str, declared_list: list[dict[str, Any]], where: str) -> None:
    schema = plugin_settings(name)
    declared = {s["name"]: s for s in declared_list}
    assert sorted(declared) == sorted(schema), (
        f"{where}: settings differ from {name}'s config schema"
    )
    assert SDK_SETTINGS[name] <= set(declared), f"{where}: SDK settings missing"
    for key, prop in schema.items():
        setting = declared[key]
        kind = setting.get("kind", "string")
        assert kind in KIND_OF_JSON_TYPE[json_type(prop)], (
            f"{where} {name}.{key}: kind {kind} vs schema {prop}"
        )
        if kind == "options":
            assert [o["value"] for o in setting["options"]] == [
                v for v in prop["enum"] if v is not None
            ]
        is_secret = bool(prop.get("secret") or prop.get("writeOnly"))
        assert bool(setting.get("sensitive")) == is_secret, (
            f"{where} {name}.{key}: sensitive must be {is_secret}"
        )
        assert setting.get("description"), f"{where} {name}.{key} has no description"
        assert setting.get("label"), f"{where} {name}.{key} has no label"


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_meltano_yml_declares_every_plugin_setting(plugin_type: str, name: str) -> None:
    plugin = project_plugin(plugin_type, name)
    check_settings(name, plugin["settings"], "meltano.yml")
    assert plugin["capabilities"] == about(name)["capabilities"]


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_hub_definition_declares_every_setting_and_installs_from_git(
    plugin_type: str, name: str
) -> None:
    plugin = definition(plugin_type, name)
    check_settings(name, plugin["settings"], f"plugins/{plugin_type}/{name}.yml")
    assert plugin["name"] == name
    assert plugin["namespace"] == name.replace("-", "_")
    assert plugin["executable"] == name
    assert plugin["capabilities"] == about(name)["capabilities"]
    assert plugin["pip_url"].startswith("git+https://")
    assert plugin["pip_url"].endswith(f"#subdirectory={name}")
    assert plugin["variant"] and plugin["repo"] and plugin["label"] and plugin["description"]
    # The SDK-added kinds that matter for `meltano config set` and env vars.
    kinds = {s["name"]: s.get("kind") for s in plugin["settings"]}
    assert kinds["stream_maps"] == kinds["stream_map_config"] == "object"
    assert kinds["flattening_enabled"] == "boolean"
    assert kinds["flattening_max_depth"] == "integer"


def test_generated_files_match_the_sync_script() -> None:
    result = subprocess.run(
        [sys.executable, str(SYNC), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr

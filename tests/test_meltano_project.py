"""meltano.yml declares every plugin setting, with the plugin's own types and secrecy."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"

# Settings the SDK adds to every plugin; Meltano knows them without a declaration.
SDK_BUILTINS = {
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
    "add_record_metadata",
    "load_method",
    "batch_size_rows",
    "validate_records",
    "process_activate_version_messages",
}
KIND_OF_JSON_TYPE = {
    "string": {"string", "date_iso8601", "options", "password", "email", "file"},
    "integer": {"integer"},
    "number": {"decimal"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
}


def plugin_settings(executable: str) -> dict[str, Any]:
    about = subprocess.run(
        [str(BIN / executable), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    schema = json.loads(about.stdout)["settings"]
    return {k: v for k, v in schema["properties"].items() if k not in SDK_BUILTINS}


def declared_settings(plugin_type: str, name: str) -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (plugin,) = [p for p in project["plugins"][plugin_type] if p["name"] == name]
    return {s["name"]: s for s in plugin["settings"]}


def json_type(prop: dict[str, Any]) -> str:
    types = prop.get("type")
    if types is None and "anyOf" in prop:
        types = [t.get("type") for t in prop["anyOf"]]
    if isinstance(types, str):
        types = [types]
    concrete = [t for t in types or [] if t and t != "null"]
    assert len(concrete) == 1, f"unexpected schema type {prop}"
    return str(concrete[0])


@pytest.mark.parametrize(
    ("plugin_type", "name"),
    [("extractors", "tap-intercom-events"), ("loaders", "target-klaviyo")],
)
def test_meltano_yml_declares_every_plugin_setting(plugin_type: str, name: str) -> None:
    schema = plugin_settings(name)
    declared = declared_settings(plugin_type, name)

    assert sorted(declared) == sorted(schema), (
        "meltano.yml settings differ from the plugin's config schema"
    )
    for key, prop in schema.items():
        setting = declared[key]
        kind = setting.get("kind", "string")
        assert kind in KIND_OF_JSON_TYPE[json_type(prop)], (
            f"{name}.{key}: kind {kind} vs schema {prop}"
        )
        is_secret = bool(prop.get("secret") or prop.get("writeOnly"))
        assert bool(setting.get("sensitive")) == is_secret, (
            f"{name}.{key}: sensitive must be {is_secret}"
        )
        assert setting.get("description"), f"{name}.{key} has no description in meltano.yml"

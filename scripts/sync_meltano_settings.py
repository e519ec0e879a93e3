"""Rewrite the `settings` of both plugins in meltano.yml from the plugins' own config schemas.

Run after changing a plugin's config: `.venv/bin/python scripts/sync_meltano_settings.py`.
tests/test_meltano_project.py fails when meltano.yml and the plugins disagree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
PLUGINS = {"extractors": "tap-intercom-events", "loaders": "target-klaviyo"}
# Added to every plugin by the SDK; Meltano knows them without a declaration.
SDK_BUILTINS = {
    "stream_maps", "stream_map_config", "faker_config", "flattening_enabled", "flattening_max_depth",
    "flattening_max_key_length", "flattening_separator", "batch_config", "add_record_metadata",
    "load_method", "batch_size_rows", "validate_records", "process_activate_version_messages",
}  # fmt: skip
KINDS = {
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}


def plugin_schema(executable: str) -> dict[str, Any]:
    about = subprocess.run(
        [str(BIN / executable), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(about.stdout)["settings"]["properties"])


def concrete_type(prop: dict[str, Any]) -> str:
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else types
    return next(t for t in types if t != "null")


def meltano_setting(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    setting: dict[str, Any] = {
        "name": name,
        "label": prop.get("title") or name.replace("_", " ").title(),
    }
    json_type = concrete_type(prop)
    if json_type == "string" and prop.get("format") in {"date-time", "date"}:
        setting["kind"] = "date_iso8601"
    elif json_type == "string" and prop.get("enum"):
        setting["kind"] = "options"
        setting["options"] = [{"label": str(v), "value": v} for v in prop["enum"] if v is not None]
    elif json_type in KINDS:
        setting["kind"] = KINDS[json_type]
    if prop.get("secret") or prop.get("writeOnly"):
        setting["sensitive"] = True
    setting["description"] = " ".join(str(prop.get("description", "")).split())
    if "default" in prop and prop["default"] is not None and not setting.get("sensitive"):
        setting["value"] = prop["default"]
    return setting


def main() -> int:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    path = REPO / "meltano.yml"
    project = yaml.load(path.read_text())
    for plugin_type, name in PLUGINS.items():
        schema = plugin_schema(name)
        (plugin,) = [p for p in project["plugins"][plugin_type] if p["name"] == name]
        plugin["settings"] = [
            meltano_setting(key, prop) for key, prop in schema.items() if key not in SDK_BUILTINS
        ]
    with path.open("w") as out:
        yaml.dump(project, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

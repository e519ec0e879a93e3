"""Generate both plugins' Meltano definitions from the plugins' own `--about` output.

One source, three outputs:
- `plugins/extractors/tap-intercom-events.yml` and `plugins/loaders/target-klaviyo.yml`: plugin definitions in the
  Meltano Hub format, for `meltano add --from-ref <file> <name>` in any Meltano project;
- the `capabilities` and `settings` of both plugins in this repository's `meltano.yml`;
- the settings table of each package's README: the rows of `--about --format=markdown` before the SDK's
  stream-map and flattening settings, which the README names in a sentence.

Every setting the plugin's config schema declares is included, the SDK's own ones too (stream_maps,
flattening_enabled, validate_records, ...), with the Meltano kind that matches its JSON type, so that
`meltano config set <plugin> stream_maps '{...}'` stores an object and not a string.

Run after changing a plugin's config: `.venv/bin/python scripts/sync_meltano_settings.py`.
`--check` writes nothing and exits 1 when a file differs from what would be generated (tests/test_meltano_project.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

if sys.version_info >= (3, 11):
    import tomllib
else:  # pip and pytest bring tomli on 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"

# Where the repository is published. Replace OWNER/intercom-to-klaviyo (README "Add to your own Meltano project").
REPO_URL = "https://github.com/OWNER/intercom-to-klaviyo"
VARIANT = "intercom-to-klaviyo"
# Meltano Hub's rating by usage (docs.meltano.com, "Connector Quality"): a plugin not yet on the Hub has no usage data.
QUALITY = "unknown"
LOGOS = "https://hub.meltano.com/assets/logos/extractors"  # the Hub keeps one logo per service

PLUGINS: dict[str, dict[str, Any]] = {
    "tap-intercom-events": {
        "plugin_type": "extractors",
        "namespace": "tap_intercom_events",
        "label": "Intercom (support events)",
        "description": "Intercom contacts, conversations, tickets and the support events derived from them",
        "domain_url": "https://www.intercom.com",
        "logo_url": f"{LOGOS}/intercom.png",
        "keywords": ["meltano_sdk", "intercom", "support", "events"],
        "settings_group_validation": [["access_token"]],
    },
    "target-klaviyo": {
        "plugin_type": "loaders",
        "namespace": "target_klaviyo",
        "label": "Klaviyo",
        "description": (
            "Klaviyo events and profiles through the bulk APIs; events go to API metrics, not to the metrics of "
            "a native integration with the same names (flows and segments on those must be re-pointed)"
        ),
        "domain_url": "https://www.klaviyo.com",
        "logo_url": f"{LOGOS}/klaviyo.png",
        "keywords": ["meltano_sdk", "klaviyo", "marketing", "events"],
        "settings_group_validation": [["api_key"]],
    },
}

KINDS = {
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "string": "string",
}
ACRONYMS = {"api": "API", "url": "URL", "id": "ID"}
# Declared by the SDK on every plugin but usable only when an optional package is installed with the plugin.
NEEDS_PACKAGE = {"faker_config": "faker"}


def about_text(executable: str, form: str) -> str:
    result = subprocess.run(
        [str(BIN / executable), "--about", "--format", form],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"{executable} --about failed:\n{result.stderr[-3000:]}")
    return result.stdout


def about(executable: str) -> dict[str, Any]:
    return dict(json.loads(about_text(executable, "json")))


def readme_with_settings(readme: str, about_markdown: str) -> str:
    """The README with its settings table (the first table whose header starts `| Setting |`)
    replaced by the plugin's own rows of its --about markdown table."""
    lines = about_markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting |"))
    table = lines[start : start + 2]
    for line in lines[start + 2 :]:
        if not line.startswith("| ") or line.startswith("| stream_maps |"):
            break
        table.append(line)
    old = readme.splitlines()
    first = next(i for i, line in enumerate(old) if line.startswith("| Setting |"))
    last = first
    while last < len(old) and old[last].startswith("|"):
        last += 1
    return "\n".join([*old[:first], *table, *old[last:]]) + "\n"


def pyproject(executable: str) -> dict[str, Any]:
    return dict(tomllib.loads((REPO / executable / "pyproject.toml").read_text())["project"])


def version(executable: str) -> str:
    return str(pyproject(executable)["version"])


def python_versions(executable: str) -> list[str]:
    """The package's "Programming Language :: Python :: 3.x" classifiers: where the SDK's --about takes
    supported_python_versions from (once the package is installed), and what scripts/test.sh runs."""
    found = [
        re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c)
        for c in pyproject(executable)["classifiers"]
    ]
    return sorted((m.group(1) for m in found if m), key=lambda v: int(v.split(".")[1]))


def usable(name: str) -> bool:
    """faker_config needs Faker next to the plugin; both plugins run from this .venv's packages."""
    package = NEEDS_PACKAGE.get(name)
    return package is None or importlib.util.find_spec(package) is not None


def concrete_type(prop: dict[str, Any]) -> str:
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else types
    return str(next(t for t in types if t != "null"))


def label(name: str) -> str:
    words = [ACRONYMS.get(word, word) for word in name.split("_")]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def meltano_setting(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    setting: dict[str, Any] = {
        "name": name,
        "label": prop.get("title") or label(name),
    }
    json_type = concrete_type(prop)
    if json_type == "string" and prop.get("format") in {"date-time", "date"}:
        setting["kind"] = "date_iso8601"
    elif json_type == "string" and prop.get("enum"):
        setting["kind"] = "options"
        setting["options"] = [{"label": str(v), "value": v} for v in prop["enum"] if v is not None]
    else:
        setting["kind"] = KINDS[json_type]
    setting["sensitive"] = bool(prop.get("secret") or prop.get("writeOnly"))
    setting["description"] = " ".join(str(prop.get("description", "")).split())
    if "default" in prop and prop["default"] is not None and not setting["sensitive"]:
        setting["value"] = prop["default"]
    return setting


def settings_of(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        meltano_setting(key, prop)
        for key, prop in info["settings"]["properties"].items()
        if usable(key)
    ]


def hub_definition(name: str, info: dict[str, Any]) -> dict[str, Any]:
    meta = PLUGINS[name]
    return {
        "name": name,
        "variant": VARIANT,
        "label": meta["label"],
        "description": meta["description"],
        "namespace": meta["namespace"],
        "executable": name,
        "pip_url": f"git+{REPO_URL}.git@v{version(name)}#subdirectory={name}",
        "repo": REPO_URL,
        "docs": f"{REPO_URL}/blob/main/{name}/README.md",
        "domain_url": meta["domain_url"],
        "logo_url": meta["logo_url"],
        "maintenance_status": "active",
        "quality": QUALITY,
        "keywords": meta["keywords"],
        "supported_python_versions": python_versions(name),
        "capabilities": list(info["capabilities"]),
        "settings_group_validation": meta["settings_group_validation"],
        "settings": settings_of(info),
    }


def dump(data: Any) -> str:
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def definition_path(name: str) -> Path:
    return REPO / "plugins" / PLUGINS[name]["plugin_type"] / f"{name}.yml"


def render() -> dict[Path, str]:
    """Every generated file's expected text, by path."""
    outputs: dict[Path, str] = {}
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    meltano_yml = REPO / "meltano.yml"
    project = yaml.load(meltano_yml.read_text())
    for name, meta in PLUGINS.items():
        info = about(name)
        header = (
            f"# Meltano plugin definition (Hub format) for {name}, generated by\n"
            "# scripts/sync_meltano_settings.py from the plugin's --about output: do not edit by hand.\n"
            f"# Add it to a Meltano project: meltano add --from-ref <this file or its raw URL> {name}\n"
        )
        outputs[definition_path(name)] = header + dump(hub_definition(name, info))
        readme = REPO / name / "README.md"
        outputs[readme] = readme_with_settings(readme.read_text(), about_text(name, "markdown"))
        (plugin,) = [p for p in project["plugins"][meta["plugin_type"]] if p["name"] == name]
        plugin["capabilities"] = list(info["capabilities"])
        plugin["settings"] = settings_of(info)
    out = io.StringIO()
    yaml.dump(project, out)
    outputs[meltano_yml] = out.getvalue()
    return outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    args = parser.parse_args()
    drifted = []
    for path, text in render().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        drifted.append(path.relative_to(REPO))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and drifted:
        print(
            "out of date (run .venv/bin/python scripts/sync_meltano_settings.py): "
            + ", ".join(map(str, drifted)),
            file=sys.stderr,
        )
        return 1
    for path in drifted:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

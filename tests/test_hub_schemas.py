"""Both plugin definitions validate against Meltano Hub's own schemas (tests/hub_schemas/, copied from the Hub with
its licence), checked the way the Hub checks its definitions: Draft 7, references resolved by `$id`. They also carry
what the Hub lists a plugin with: a quality rating, a logo and the Python versions the test command runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parent / "hub_schemas"
DEFINITIONS = [
    ("extractors", "tap-intercom-events"),
    ("loaders", "target-klaviyo"),
]
# The versions scripts/test.sh and scripts/test-other-pythons.sh run (tests/test_packaging.py checks the packages).
TESTED_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def validator(plugin_type: str) -> Draft7Validator:
    schemas = [json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*/*.schema.json"))]
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7))
        for schema in schemas
    )
    (top,) = [s for s in schemas if s["$id"] == f"{plugin_type}.schema.json"]
    return Draft7Validator(top, registry=registry)


def definition(plugin_type: str, name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "plugins" / plugin_type / f"{name}.yml").read_text()))


@pytest.mark.parametrize(("plugin_type", "name"), DEFINITIONS)
def test_definition_validates_against_the_hub_schema(plugin_type: str, name: str) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator(plugin_type).iter_errors(definition(plugin_type, name))
    ]
    assert errors == []


@pytest.mark.parametrize(("plugin_type", "name"), DEFINITIONS)
def test_definition_has_the_hub_listing_fields(plugin_type: str, name: str) -> None:
    plugin = definition(plugin_type, name)
    assert plugin["quality"] in {"gold", "silver", "bronze", "unknown"}
    assert plugin["logo_url"].startswith("https://")
    assert plugin["supported_python_versions"] == TESTED_PYTHONS


def test_the_schemas_catch_what_the_hub_refuses() -> None:
    """The copied schemas are the Hub's rules in force: a definition without `quality`, with an unknown key or with
    a setting of an unknown kind is refused."""
    plugin = definition("extractors", "tap-intercom-events")
    check = validator("extractors")
    assert check.is_valid(plugin)
    assert not check.is_valid({k: v for k, v in plugin.items() if k != "quality"})
    assert not check.is_valid(plugin | {"quallity": "gold"})
    assert not check.is_valid(plugin | {"settings": [{"name": "x", "kind": "secret"}]})

"""The private singer-sdk names each plugin relies on still exist and are still used as relied upon.

Each package lists its seams in `sdk_seams.py`. A singer-sdk release that renames one, stops calling
it, or changes an overridden method's parameters would turn an override into dead code (state,
validation, the personal-data-in-logs guard) with no other test noticing; these tests fail instead.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from singer_sdk import Stream, Tap, Target
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.sinks import BatchSink, RecordSink, Sink

from tap_intercom_events import sdk_seams as tap_seams
from target_klaviyo import sdk_seams as target_seams

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "tap": (ROOT / "tap-intercom-events" / "tap_intercom_events", tap_seams.SEAMS),
    "target": (ROOT / "target-klaviyo" / "target_klaviyo", target_seams.SEAMS),
}
SDK_BASES = (Tap, Stream, Target, Sink, BatchSink, RecordSink, PluginBase, SimpleSingerReader)
SEAMS = [(package, *seam) for package, (_, seams) in PACKAGES.items() for seam in seams]


def resolve(where: str) -> Any:
    """`module:Qual.name` (or a bare module) -> the object."""
    module_name, _, qualname = where.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in filter(None, qualname.split(".")):
        value = getattr(value, part)
    return value


def sdk_classes() -> list[type]:
    """The singer-sdk classes the plugins' classes derive from."""
    return [k for base in SDK_BASES for k in base.__mro__ if k.__module__.startswith("singer_sdk")]


def private_sdk_names() -> tuple[set[str], set[str]]:
    """Private names of the SDK classes the plugins subclass: their class attributes and methods,
    and the instance attributes their methods assign (`self._state_writer = ...`)."""
    members: set[str] = set()
    assigned: set[str] = set()
    for klass in sdk_classes():
        members |= set(vars(klass))
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(klass)))):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                assigned.add(node.attr)

    def private(names: set[str]) -> set[str]:
        return {n for n in names if n.startswith("_") and not n.startswith("__")}

    return private(members), private(assigned) - private(members)


def base_names(node: ast.ClassDef) -> set[str]:
    """The names a class's bases are written with (`Stream`, `sinks.BatchSink`, `Generic[T]`)."""
    names = set()
    for written in node.bases:
        base = written.value if isinstance(written, ast.Subscript) else written
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def used_seams(package_dir: Path) -> dict[str, list[ast.AST]]:
    """Every private SDK name the package's code touches: overrides, calls, attributes, imports.

    An instance attribute the SDK assigns counts only inside the package's own subclasses of SDK
    classes (elsewhere `self._logger` is just a name of ours)."""
    members, assigned = private_sdk_names()
    trees = [
        ast.parse(path.read_text())
        for path in sorted(package_dir.glob("*.py"))
        if path.name != "sdk_seams.py"
    ]
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    derived = {k.__name__ for k in sdk_classes()}
    while grown := {c.name for c in classes if c.name not in derived and base_names(c) & derived}:
        derived |= grown
    inside_subclasses = {
        id(node)
        for c in classes
        if c.name in derived
        for node in ast.walk(c)
        if isinstance(node, ast.Attribute)
    }
    found: dict[str, list[ast.AST]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                private_module = any(p.startswith("_") for p in (node.module or "").split("."))
                names = [a.name for a in node.names if private_module or a.name.startswith("_")]
            elif isinstance(node, ast.Attribute) and (
                node.attr in members or (node.attr in assigned and id(node) in inside_subclasses)
            ):
                names = [node.attr]
            elif isinstance(node, ast.FunctionDef) and node.name in members:
                names = [node.name]
            for name in names:
                found.setdefault(name, []).append(node)
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_private_sdk_name_a_package_uses_is_listed(package: str) -> None:
    package_dir, seams = PACKAGES[package]
    listed = {name for _, name, _, _ in seams}
    used = set(used_seams(package_dir))
    assert used - listed == set(), f"private singer-sdk names used but not in {package}'s sdk_seams"
    assert listed - used == set(), f"{package}'s sdk_seams lists names the package no longer uses"


@pytest.mark.parametrize(
    ("package", "owner", "name", "callers", "reason"),
    SEAMS,
    ids=[f"{seam[0]}:{seam[2]}" for seam in SEAMS],
)
def test_seam_exists_and_is_called_where_relied_upon(
    package: str, owner: str, name: str, callers: tuple[str, ...], reason: str
) -> None:
    assert reason, f"{name}: give the reason"
    defined_in = resolve(owner)
    assert hasattr(defined_in, name), f"singer-sdk no longer defines {owner}.{name}"
    for caller in callers:
        source = inspect.getsource(resolve(caller))
        assert re.search(rf"\b{re.escape(name)}\b", source), f"{caller} no longer uses {name}"


def overrides() -> list[tuple[str, str, str, ast.FunctionDef]]:
    """(package, owner, name, our def) for each seam the package overrides."""
    found = []
    for package, (package_dir, seams) in PACKAGES.items():
        uses = used_seams(package_dir)
        for owner, name, _, _ in seams:
            found += [
                (package, owner, name, node)
                for node in uses.get(name, [])
                if isinstance(node, ast.FunctionDef)
            ]
    return found


OVERRIDES = overrides()


@pytest.mark.parametrize(
    ("package", "owner", "name", "definition"),
    OVERRIDES,
    ids=[f"{o[0]}:{o[2]}" for o in OVERRIDES],
)
def test_overrides_keep_the_sdk_parameters(
    package: str, owner: str, name: str, definition: ast.FunctionDef
) -> None:
    sdk_function = getattr(resolve(owner), name)
    sdk_parameters = list(inspect.signature(sdk_function).parameters)
    ours = [a.arg for a in definition.args.posonlyargs + definition.args.args]
    ours += [a.arg for a in definition.args.kwonlyargs]
    assert ours == sdk_parameters, f"{package} overrides {owner}.{name} with other parameters"


def test_the_scan_sees_every_kind_of_use(tmp_path: Path) -> None:
    """The scanner itself: an override, a call, an attribute and a private import are each seen."""
    (tmp_path / "probe.py").write_text(
        "from singer_sdk.helpers._flattening import flatten_key\n"
        "from singer_sdk import Tap\n"
        "class Other:\n"
        "    def f(self):\n"
        "        self._logger = None\n"
        "class S(Tap):\n"
        "    def _after_process_record(self, context): ...\n"
        "    def f(self):\n"
        "        self._write_state_message()\n"
        "        self._MAX_RECORD_AGE_IN_MINUTES = 1\n"
        "        self._lock = None\n"
        "        self._state_writer = None\n"
    )
    assert set(used_seams(tmp_path)) == {
        "flatten_key",
        "_after_process_record",
        "_write_state_message",
        "_MAX_RECORD_AGE_IN_MINUTES",
        "_state_writer",
    }

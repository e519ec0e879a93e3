"""The tap for any target: its output validates, and lands in PostgreSQL as one typed table per stream.

- Every record the tap emits (API 2.11, 2.14 and 2.16) validates against its stream's SCHEMA message with
  formats checked (date-time by RFC 3339) and with `additionalProperties: false` on every object the schema
  does not mark free-form: a target that drops unknown fields keeps everything the API returned.
- Each stream's SCHEMA message is sent once per run (batching targets flush on every SCHEMA).
- The tap piped into meltanolabs-target-postgres (from PyPI, in its own virtualenv .venv-warehouse/, made by
  scripts/install-warehouse.sh) writing to a PostgreSQL this module starts on 127.0.0.1 in a temp dir: one
  table per stream with its key, the stand-in's row counts, date-time columns as timestamps holding the
  API's instants, nested objects as jsonb.

The server is Debian's `postgresql` package, or for a user who is not root the `pgserver` wheel's binaries
(scripts/install-warehouse.sh installs one; tests/local_postgres.py); as root it runs as the `postgres` user.
Without the server or the target's virtualenv the PostgreSQL tests fail.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator, FormatChecker
from local_postgres import LocalPostgres, server_bin_dir

from api_sandbox.testing import SandboxProcess, control

REPO = Path(__file__).resolve().parents[1]
TARGET_POSTGRES = REPO / ".venv-warehouse" / "bin" / "target-postgres"
TOKEN = "warehouse-intercom-token"
HISTORY_END = 20717 * 86_400 + 10 * 3600  # 2026-09-21T10:00:00Z, as in the tap's tests
DATA = {"contacts": 60, "conversations": 90, "tickets": 30}
SCHEMA_NAME = "intercom"
VERSIONS = ("2.11", "2.14", "2.16")
WAREHOUSE_VERSION = "2.14"

LOOKUPS = ("admins", "teams", "tags", "ticket_types")
STREAMS = (
    *LOOKUPS,
    "contacts",
    "conversations",
    "conversation_parts",
    "conversation_events",
    "tickets",
    "ticket_parts",
    "ticket_events",
)
KEYS = {name: ["event_id"] if name.endswith("_events") else ["id"] for name in STREAMS}


# ---- the tap's output ------------------------------------------------------------------------------------


@dataclass
class TapRun:
    lines_path: Path
    messages: list[dict[str, Any]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


@pytest.fixture(scope="module")
def intercom() -> Iterator[str]:
    args = [f"--{name}={count}" for name, count in DATA.items()]
    with SandboxProcess(
        "--only",
        "intercom",
        "--seed=11",
        f"--now={HISTORY_END}",
        f"--intercom-token={TOKEN}",
        *args,
    ) as sandbox:
        yield sandbox.urls["intercom"]


@pytest.fixture(scope="module")
def tap_runs(intercom: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One full run of the tap (every stream) per API version, on the same data; run on first use."""
    workdir = tmp_path_factory.mktemp("tap-runs")
    runs: dict[str, TapRun] = {}

    def run(version: str) -> TapRun:
        if version not in runs:
            config = workdir / f"config-{version}.json"
            config.write_text(
                json.dumps({"access_token": TOKEN, "api_url": intercom, "api_version": version})
            )
            out = workdir / f"tap-{version}.jsonl"
            with out.open("wb") as sink:
                result = subprocess.run(
                    [sys.executable, "-m", "tap_intercom_events", "--config", str(config)],
                    stdout=sink,
                    stderr=subprocess.PIPE,
                    timeout=600,
                    check=False,
                )
            assert result.returncode == 0, result.stderr.decode()[-4000:]
            messages = [
                json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")
            ]
            runs[version] = TapRun(out, messages)
        return runs[version]

    yield run


# ---- validation with formats -------------------------------------------------------------------------------

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time with an offset (jsonschema's own check needs an optional package)."""
    if not isinstance(value, str):
        return True  # the type keyword judges non-strings
    if not RFC3339.match(value):
        msg = f"{value!r} is not an RFC 3339 date-time"
        raise ValueError(msg)
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with `additionalProperties: false` on every object not marked free-form."""
    schema = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if "properties" in node and node.get("additionalProperties") is not True:
            node["additionalProperties"] = False
        for sub in (node.get("properties") or {}).values():
            close(sub)
        if isinstance(node.get("items"), dict):
            close(node["items"])

    close(schema)
    return schema


def validation_errors(run: TapRun) -> tuple[Counter[tuple[str, str, str]], dict[Any, str]]:
    """Errors of every record against the SCHEMA sent before it: counted by (stream, path, kind of
    error), with the first message of each."""
    validators: dict[str, Draft7Validator] = {}
    errors: Counter[tuple[str, str, str]] = Counter()
    examples: dict[Any, str] = {}
    for message in run.messages:
        if message["type"] == "SCHEMA":
            validators[message["stream"]] = Draft7Validator(
                strict(message["schema"]), format_checker=FORMATS
            )
        elif message["type"] == "RECORD":
            stream = message["stream"]
            validator = validators.get(stream)
            if validator is None:
                key = (stream, "", "no SCHEMA")
                errors[key] += 1
                examples.setdefault(key, "RECORD before any SCHEMA of its stream")
                continue
            for error in validator.iter_errors(message["record"]):
                path = "/".join("[]" if isinstance(p, int) else str(p) for p in error.absolute_path)
                key = (stream, path, f"{error.validator} ({type(error.instance).__name__})")
                errors[key] += 1
                examples.setdefault(key, error.message[:120])
    return errors, examples


def test_the_date_time_check_is_not_a_no_op() -> None:
    validator = Draft7Validator({"type": "string", "format": "date-time"}, format_checker=FORMATS)
    assert validator.is_valid("2026-09-21T10:00:00+00:00")
    assert validator.is_valid("2026-09-21T10:00:00.5Z")
    assert not validator.is_valid("2026-09-21 10:00:00")
    assert not validator.is_valid("1790000000")
    assert not validator.is_valid("2026-13-01T00:00:00+00:00")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_record_validates_against_its_schema_with_formats(
    tap_runs: Any, version: str
) -> None:
    run = tap_runs(version)
    counts = Counter(m["stream"] for m in run.of_type("RECORD"))
    assert set(STREAMS) <= set(counts), f"streams without records: {set(STREAMS) - set(counts)}"
    errors, examples = validation_errors(run)
    worst = "\n".join(
        f"  {n:5d} x {key[0]}.{key[1]} {key[2]}: e.g. {examples[key]}"
        for key, n in errors.most_common(30)
    )
    assert not errors, (
        f"{sum(errors.values())} validation errors in {sum(counts.values())} records "
        f"({len(errors)} kinds; most frequent first):\n{worst}"
    )


def test_each_stream_schema_is_sent_once_per_run(tap_runs: Any) -> None:
    run = tap_runs(WAREHOUSE_VERSION)
    sent = Counter(m["stream"] for m in run.of_type("SCHEMA"))
    assert set(STREAMS) <= set(sent)
    assert {m["stream"] for m in run.of_type("RECORD")} <= set(sent)
    repeated = {stream: n for stream, n in sent.items() if n != 1}
    assert not repeated, f"SCHEMA messages per stream (want 1 each): {dict(sorted(sent.items()))}"


# ---- PostgreSQL ------------------------------------------------------------------------------------------


def target_config(db: LocalPostgres) -> dict[str, Any]:
    return {**db.connection(), "default_target_schema": SCHEMA_NAME}


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    bin_dir = server_bin_dir()
    if bin_dir is None or not TARGET_POSTGRES.exists():
        # A missing install step must fail here, not pass as skipped (scripts/test.sh runs the script).
        pytest.fail(
            "PostgreSQL server or .venv-warehouse/bin/target-postgres missing: "
            "run scripts/install-warehouse.sh"
        )
    server = LocalPostgres(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Loaded:
    db: LocalPostgres
    run: TapRun
    seconds: float


@pytest.fixture(scope="module")
def loaded(
    postgres: LocalPostgres, tap_runs: Any, tmp_path_factory: pytest.TempPathFactory
) -> Loaded:
    """The tap's 2.14 output piped into target-postgres."""
    run = tap_runs(WAREHOUSE_VERSION)
    config = tmp_path_factory.mktemp("target-postgres") / "config.json"
    config.write_text(json.dumps(target_config(postgres)))
    started = time.monotonic()
    with run.lines_path.open("rb") as lines:
        result = subprocess.run(
            [str(TARGET_POSTGRES), "--config", str(config)],
            stdin=lines,
            capture_output=True,
            timeout=900,
            check=False,
        )
    if result.returncode != 0:
        log = result.stderr.decode().splitlines()
        first_error = next((line for line in log if "| ERROR" in line), "")
        pytest.fail(
            f"target-postgres exited with {result.returncode} on the tap's output: {first_error}\n"
            + "\n".join(log[-12:])
        )
    return Loaded(postgres, run, time.monotonic() - started)


def stand_in_counts(url: str) -> dict[str, int]:
    """Rows each stream should have: what the Intercom stand-in holds (its dataset, ledger and lists)."""
    data = {
        kind: control(url, f"dataset?kind={kind}")["data"]
        for kind in ("contacts", "conversations", "tickets", "admins", "teams", "tags")
    }
    ledger = control(url, "ledger")["events"]
    ticket_types = requests.get(
        f"{url}/ticket_types",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
        timeout=60,
    )
    ticket_types.raise_for_status()
    return {
        **{
            kind: len(data[kind]) for kind in ("contacts", "conversations", "tickets", *LOOKUPS[:3])
        },
        "ticket_types": len(ticket_types.json()["data"]),
        "conversation_parts": sum(
            len(c["conversation_parts"]["conversation_parts"]) for c in data["conversations"]
        ),
        "ticket_parts": sum(len(t["ticket_parts"]["ticket_parts"]) for t in data["tickets"]),
        "conversation_events": len(
            {e["key"] for e in ledger if e["object_type"] == "conversation"}
        ),
        "ticket_events": len({e["key"] for e in ledger if e["object_type"] == "ticket"}),
    }


def date_time_properties(run: TapRun) -> dict[str, list[str]]:
    """Top-level date-time properties of each stream, from its (first) SCHEMA message."""
    found: dict[str, list[str]] = {}
    for message in run.of_type("SCHEMA"):
        if message["stream"] in found:
            continue
        properties = message["schema"]["properties"]
        found[message["stream"]] = sorted(
            name for name, sub in properties.items() if sub.get("format") == "date-time"
        )
    return found


def columns(db: LocalPostgres) -> dict[tuple[str, str], str]:
    rows = db.query(
        "select table_name, column_name, data_type from information_schema.columns "
        f"where table_schema = '{SCHEMA_NAME}'"
    )
    return {(table, column): data_type for table, column, data_type in rows}


def test_postgres_gets_a_table_per_stream_with_the_stand_ins_row_counts(
    loaded: Loaded, intercom: str
) -> None:
    db, run = loaded.db, loaded.run
    key_properties = {m["stream"]: m["key_properties"] for m in run.of_type("SCHEMA")}
    emitted: dict[str, set[tuple[Any, ...]]] = {}
    for message in run.of_type("RECORD"):
        keys = key_properties[message["stream"]]
        emitted.setdefault(message["stream"], set()).add(tuple(message["record"][k] for k in keys))
    tables = {
        row[0]
        for row in db.query(
            f"select table_name from information_schema.tables where table_schema = '{SCHEMA_NAME}'"
        )
    }
    assert set(emitted) <= tables, f"streams without a table: {set(emitted) - tables}"
    assert set(STREAMS) <= tables
    rows = {
        name: int(db.query(f'select count(*) from {SCHEMA_NAME}."{name}"')[0][0]) for name in tables
    }
    # Nothing lost between the tap and the warehouse: one row per key the tap emitted...
    assert rows == {name: len(emitted.get(name, ())) for name in tables}
    # ... and as many as the Intercom stand-in holds.
    assert {name: rows[name] for name in STREAMS} == stand_in_counts(intercom)
    primary_keys: dict[str, list[str]] = {}
    for table, column in db.query(
        "select tc.table_name, kcu.column_name from information_schema.table_constraints tc "
        "join information_schema.key_column_usage kcu on kcu.constraint_name = tc.constraint_name "
        f"and kcu.table_schema = tc.table_schema where tc.table_schema = '{SCHEMA_NAME}' "
        "and tc.constraint_type = 'PRIMARY KEY' order by kcu.ordinal_position"
    ):
        primary_keys.setdefault(table, []).append(column)
    assert primary_keys == {name: key_properties[name] for name in tables}
    assert {name: primary_keys[name] for name in STREAMS} == KEYS
    print(f"target-postgres loaded {sum(rows.values())} rows in {loaded.seconds:.1f} s")


def test_postgres_timestamp_columns_hold_the_apis_instants(loaded: Loaded, intercom: str) -> None:
    """Every date-time property is a timestamp column, and the values are the API's epoch instants.

    meltanolabs-target-postgres 0.8.1 makes `timestamp without time zone` columns;
    the server here runs in UTC, so the wall-clock values are UTC.
    """
    db = loaded.db
    types = columns(db)
    wanted = date_time_properties(loaded.run)
    assert wanted["conversations"], "no date-time properties in the conversations schema"
    not_timestamps = {
        f"{stream}.{name}": types.get((stream, name))
        for stream, names in wanted.items()
        for name in names
        if types.get((stream, name))
        not in ("timestamp with time zone", "timestamp without time zone")
    }
    assert not not_timestamps, (
        f"date-time properties that are not timestamp columns: {not_timestamps}"
    )
    conversations = {
        str(c["id"]): c for c in control(intercom, "dataset?kind=conversations")["data"]
    }
    stored = db.query(
        f"select id, extract(epoch from created_at)::bigint, extract(epoch from updated_at)::bigint "
        f"from {SCHEMA_NAME}.conversations"
    )
    assert {row[0]: (int(row[1]), int(row[2])) for row in stored} == {
        cid: (c["created_at"], c["updated_at"]) for cid, c in conversations.items()
    }
    # Nested objects are JSON (jsonb) columns, their timestamps ISO strings inside.
    assert types[("conversations", "source")] == "jsonb"
    assert types[("contacts", "avatar")] == "jsonb"

"""What the stand-in accepted, in SQLite: profiles with Klaviyo's identity resolution, deduplicated events.

Klaviyo keeps the first event per (profile, metric, unique_id), or per (profile, metric, time to the second)
when there is no unique_id. Raw arrivals are counted per metric, so duplicates received = arrivals - kept.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar, cast

from pydantic_core import to_json

from api_sandbox.klaviyo.validation import EventInput, ProfileInput

IDENTIFIERS = ("email", "phone_number", "external_id", "anonymous_id")
# The order in which identifiers pick the profile a request means (id first, then these).
RESOLUTION_ORDER = ("email", "external_id", "phone_number", "anonymous_id")
PROFILE_FIELDS = ("first_name", "last_name", "organization", "locale", "title", "image", "_kx")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    phone_number TEXT UNIQUE,
    external_id TEXT UNIQUE,
    anonymous_id TEXT UNIQUE,
    document TEXT NOT NULL,          -- JSON: the other attributes, location, properties
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    profile_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,        -- 'u:' + unique_id, or 't:' + time to the second
    unique_id TEXT,
    time TEXT NOT NULL,
    properties TEXT NOT NULL,
    value REAL,
    value_currency TEXT,
    backfill INTEGER NOT NULL,
    UNIQUE (profile_id, metric, dedupe_key)
);
CREATE TABLE IF NOT EXISTS metric_arrivals (metric TEXT PRIMARY KEY, arrivals INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected_requests (
    seq INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    errors TEXT NOT NULL
);
"""


class DuplicateProfileError(Exception):
    """The identifiers of one profile object belong to two different existing profiles."""

    def __init__(
        self, profile: ProfileInput, duplicate_profile_id: str, identifier: str, new: bool = False
    ) -> None:
        super().__init__(f"{identifier} belongs to profile {duplicate_profile_id}")
        self.profile = profile
        self.duplicate_profile_id = duplicate_profile_id
        self.identifier = identifier
        # the holder was created earlier in the same batch (gone again if the batch is rolled back)
        self.new = new


class RepeatedUniqueIdError(Exception):
    """A bulk request repeats a unique_id for one profile and metric (entries with different
    identifiers that resolve to the same existing profile): Klaviyo fails the whole request."""

    def __init__(self, event: EventInput) -> None:
        super().__init__(f"unique_id {event.unique_id!r} repeated for metric {event.metric!r}")
        self.event = event


class StoredDuplicateError(Exception):
    """Bulk events whose unique_id is already stored for their profile and metric (by an earlier
    request), under `stored_duplicates` "reject": the whole request fails."""

    def __init__(self, events: list[EventInput]) -> None:
        super().__init__(f"{len(events)} event(s) already stored")
        self.events = events


class UnknownProfileError(Exception):
    def __init__(self, profile: ProfileInput) -> None:
        super().__init__(f"no profile with id {profile.id}")
        self.profile = profile


def new_id(clock: float | None = None) -> str:
    """A ULID-shaped id like Klaviyo's (26 Crockford base32 characters, time-ordered)."""
    value = (int((clock or time.time()) * 1000) << 80) | random.getrandbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _locked(method: F) -> F:
    @functools.wraps(method)
    def locked(self: KlaviyoStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(F, locked)


class KlaviyoStore:
    def __init__(self, db_path: str) -> None:
        # Used from the event loop's thread and the worker's (KlaviyoState.worker): one at a time,
        # a transaction included, under the lock.
        self._lock = threading.RLock()
        self._identities = _Identities()
        # events of bulk entries skipped for an identity conflict (bulk_event_conflicts "item"),
        # by metric; in memory only
        self.skipped: Counter[str] = Counter()
        # Profiles the profile endpoints created or updated (records accepted, not profiles
        # held: two records of one person are one profile); in memory only
        self.profile_writes: Counter[str] = Counter()
        self._db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        if db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)

    @_locked
    def close(self) -> None:
        self._db.close()

    def reset(self) -> None:
        with self.transaction():
            for table in ("profiles", "events", "metric_arrivals", "rejected_requests"):
                self._db.execute(f"DELETE FROM {table}")
            self._identities.forget()
            self.skipped.clear()
            self.profile_writes.clear()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                self._identities.forget()
                raise
            self._db.execute("COMMIT")

    # -- writes --------------------------------------------------------------------------------

    def upsert_profile(self, profile: ProfileInput, identity: str = "reject") -> tuple[str, bool]:
        """Create or update the profile the request means; (profile id, created). Call in a transaction."""
        outcome = self.upsert_profiles([profile], identity=identity)[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def count_profile_writes(self, outcomes: list[Any]) -> None:
        """Count the profile endpoints' writes: (id, created) outcomes, not refusals."""
        for outcome in outcomes:
            if isinstance(outcome, tuple):
                self.profile_writes["created" if outcome[1] else "updated"] += 1

    def upsert_profiles(
        self, profiles: list[ProfileInput], *, keep_going: bool = False, identity: str = "reject"
    ) -> list[tuple[str, bool] | DuplicateProfileError | UnknownProfileError]:
        """Upsert profiles in order, as if one at a time: each sees the ones before it. Call in a
        transaction. The existing profiles are read with one query per identifier kind and the writes
        batched. A conflicting profile raises, or with `keep_going` is that profile's outcome (and
        changes nothing) while the others go on, as in a bulk import job. `identity` is the reading
        of identifiers held by another profile (`_Resolver.resolve`)."""
        resolver = _Resolver(self._db, self._identities)
        now = _utc_iso(datetime.now(timezone.utc))
        writes: list[tuple[str, tuple[Any, ...]]] = []
        outcomes: list[tuple[str, bool] | DuplicateProfileError | UnknownProfileError] = []
        for profile in profiles:
            try:
                row, ignored = resolver.resolve(profile, identity)
            except (DuplicateProfileError, UnknownProfileError) as conflict:
                if not keep_going:
                    raise
                outcomes.append(conflict)
                continue
            if row is None:
                profile_id = new_id()
                document = json.dumps(_apply({}, profile))
                identifiers = [
                    None if key in ignored else _identifier(profile, key) for key in IDENTIFIERS
                ]
                resolver.add(profile_id, identifiers, document)
                writes.append(
                    (
                        "INSERT INTO profiles (id, email, phone_number, external_id, anonymous_id,"
                        " document, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (profile_id, *identifiers, document, now, now),
                    )
                )
                outcomes.append((profile_id, True))
                continue
            profile_id = row.id
            sent = [key for key in IDENTIFIERS if key in profile.attributes and key not in ignored]
            changed = [key for key in sent if row.identifiers[key] != _identifier(profile, key)]
            for key in changed:
                resolver.move(row, key, _identifier(profile, key))
            assignments = "".join(f"{key} = ?, " for key in changed)
            values: list[Any] = [row.identifiers[key] for key in changed]
            if _changes_document(profile):
                # Every stored document went through _apply, so one that no attribute touches is
                # already what _apply would make of it.
                if row.document is None:
                    row.document = resolver.document(row.id)
                row.document = json.dumps(_apply(json.loads(row.document), profile))
                assignments += "document = ?, "
                values.append(row.document)
            writes.append(
                (
                    f"UPDATE profiles SET {assignments}updated = ? WHERE id = ?",
                    (*values, now, profile_id),
                )
            )
            outcomes.append((profile_id, False))
        # Consecutive writes of one statement go together; the order stays (UNIQUE identifiers).
        index = 0
        while index < len(writes):
            sql = writes[index][0]
            stop = index
            while stop < len(writes) and writes[stop][0] == sql:
                stop += 1
            self._db.executemany(sql, [params for _, params in writes[index:stop]])
            index = stop
        self._identities.record(resolver.touched)
        return outcomes

    def add_events(
        self,
        batches: list[tuple[ProfileInput, list[EventInput]]],
        *,
        identity: str = "reject",
        skip_conflicts: bool = False,
        reject_stored: bool = False,
    ) -> None:
        """Store one accepted request's events (all or nothing: a conflict rolls everything back).

        `skip_conflicts`: an entry whose profile conflicts is left out (its events counted in
        `skipped`) instead of failing the request. `reject_stored`: an event whose unique_id is
        already stored for its profile and metric fails the request (StoredDuplicateError)."""
        rows: list[tuple[Any, ...]] = []
        arrivals: dict[str, int] = {}
        skipped: Counter[str] = Counter()
        sent: set[tuple[str, str, str]] = set()
        keyed: list[tuple[tuple[str, str, str], EventInput]] = []
        dumps = _json_text
        with self.transaction():
            outcomes = self.upsert_profiles(
                [profile for profile, _ in batches], keep_going=skip_conflicts, identity=identity
            )
            for (_, events), outcome in zip(batches, outcomes, strict=True):
                if isinstance(outcome, DuplicateProfileError):
                    skipped.update(event.metric for event in events)
                    continue
                if isinstance(outcome, UnknownProfileError):
                    raise outcome
                profile_id = outcome[0]
                for event in events:
                    metric = event.metric
                    unique_id = event.unique_id
                    time_text = event.time.isoformat()  # UTC, whole seconds: "...+00:00"
                    if unique_id is not None:
                        key = (profile_id, metric, unique_id)
                        if key in sent:
                            raise RepeatedUniqueIdError(event)
                        sent.add(key)
                        dedupe = f"u:{unique_id}"
                        if reject_stored:
                            keyed.append(((profile_id, metric, dedupe), event))
                    else:
                        dedupe = f"t:{time_text}"
                    rows.append(
                        (
                            profile_id,
                            metric,
                            dedupe,
                            unique_id,
                            time_text,
                            dumps(event.properties),
                            event.value,
                            event.value_currency,
                            int(event.backfill),
                        )
                    )
                    arrivals[metric] = arrivals.get(metric, 0) + 1
            if keyed:
                stored = self._stored_keys([key for key, _ in keyed])
                repeats = [event for key, event in keyed if key in stored]
                if repeats:
                    raise StoredDuplicateError(repeats)
            self._db.executemany(
                "INSERT OR IGNORE INTO events (profile_id, metric, dedupe_key, unique_id, time,"
                " properties, value, value_currency, backfill) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.executemany(
                "INSERT INTO metric_arrivals (metric, arrivals) VALUES (?, ?) ON CONFLICT(metric)"
                " DO UPDATE SET arrivals = arrivals + excluded.arrivals",
                list(arrivals.items()),
            )
        self.skipped.update(skipped)

    def _stored_keys(self, keys: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which (profile_id, metric, dedupe_key) are already stored (through the UNIQUE index)."""
        found: set[tuple[str, str, str]] = set()
        for start in range(0, len(keys), 300):
            chunk = keys[start : start + 300]
            values = ",".join("(?, ?, ?)" for _ in chunk)
            found.update(
                self._db.execute(
                    "SELECT profile_id, metric, dedupe_key FROM events WHERE"
                    f" (profile_id, metric, dedupe_key) IN (VALUES {values})",
                    [part for key in chunk for part in key],
                )
            )
        return found

    @_locked
    def record_rejected(self, endpoint: str, status: int, errors: list[dict[str, Any]]) -> None:
        self._db.execute(
            "INSERT INTO rejected_requests (endpoint, status, errors) VALUES (?, ?, ?)",
            (endpoint, status, json.dumps(errors)),
        )

    # -- reads ---------------------------------------------------------------------------------

    @_locked
    def profile(self, profile_id: str) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT id, email, phone_number, external_id, anonymous_id, document, created, updated"
            " FROM profiles WHERE id = ?",
            (profile_id,),
        ).fetchone()
        return _profile_json(row)

    @_locked
    def profiles(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, email, phone_number, external_id, anonymous_id, document, created, updated"
            " FROM profiles ORDER BY seq"
        ).fetchall()
        return [_profile_json(row) for row in rows]

    @_locked
    def profiles_holding(self, field: str, values: list[str]) -> list[dict[str, Any]]:
        """The profiles whose `field` (id, email, phone_number or external_id) is one of
        `values`, oldest first (GET /api/profiles?filter=any(...))."""
        if field not in ("id", *IDENTIFIERS) or not values:
            return []
        marks = ",".join("?" for _ in values)
        rows = self._db.execute(
            "SELECT id, email, phone_number, external_id, anonymous_id, document, created, updated"
            f" FROM profiles WHERE {field} IN ({marks}) ORDER BY seq",
            values,
        ).fetchall()
        return [_profile_json(row) for row in rows]

    @_locked
    def events_json(self, metric: str | None = None) -> str:
        """`{"events": [...]}` as Klaviyo kept them, built by SQLite (150,000 events in well under
        a second, where decoding and re-encoding each row in Python takes seconds)."""
        query = (
            "SELECT json_object('metric', e.metric, 'unique_id', e.unique_id, 'time', e.time,"
            " 'properties', json(e.properties), 'value', e.value, 'value_currency',"
            " e.value_currency, 'backfill', json(CASE WHEN e.backfill THEN 'true' ELSE 'false' END),"
            " 'profile', json_object('id', p.id, 'email', p.email, 'phone_number', p.phone_number,"
            " 'external_id', p.external_id))"
            " FROM events e JOIN profiles p ON p.id = e.profile_id"
        )
        params: tuple[str, ...] = ()
        if metric is not None:
            query += " WHERE e.metric = ?"
            params = (metric,)
        rows = self._db.execute(query + " ORDER BY e.seq", params).fetchall()
        return '{"events": [' + ",".join(row[0] for row in rows) + "]}"

    @_locked
    def metrics(self) -> dict[str, dict[str, int]]:
        kept = {
            row[0]: (row[1], row[2])
            for row in self._db.execute(
                "SELECT metric, COUNT(*), SUM(backfill) FROM events GROUP BY metric"
            )
        }
        report: dict[str, dict[str, int]] = {}
        for metric, arrivals in self._db.execute(
            "SELECT metric, arrivals FROM metric_arrivals ORDER BY metric"
        ):
            events, backfilled = kept.get(metric, (0, 0))
            report[metric] = {
                "events": events,
                "arrivals": arrivals,
                "duplicates": arrivals - events,
                "backfilled": backfilled or 0,
            }
        return report

    def run(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """`query(connection)` in a transaction of its own (the read endpoints, reads.py)."""
        with self.transaction():
            return query(self._db)

    @_locked
    def profile_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM profiles").fetchone()[0])

    @_locked
    def rejected_requests(self) -> list[dict[str, Any]]:
        return [
            {"endpoint": row[0], "status": row[1], "errors": json.loads(row[2])}
            for row in self._db.execute(
                "SELECT endpoint, status, errors FROM rejected_requests ORDER BY seq"
            )
        ]


@dataclass
class _Row:
    """An existing (or, within the batch, new) profile as identity resolution sees it."""

    id: str
    identifiers: dict[str, str | None]
    document: str | None = None  # JSON text, read when a change needs it
    new: bool = False  # created by this batch


class _Identities:
    """Which profile holds each identifier, in memory: a copy of the profiles table's identifier
    columns, built from it when first needed and kept by every write to them (`record`). A
    rolled-back transaction drops it (`forget`): it is rebuilt on the next lookup."""

    def __init__(self) -> None:
        self._by: dict[str, dict[str, str]] | None = None  # kind ("id" too) -> value -> profile id
        self._rows: dict[str, tuple[str, str | None, str | None, str | None, str | None]] = {}

    def forget(self) -> None:
        self._by = None
        self._rows = {}

    def _built(self, db: sqlite3.Connection) -> dict[str, dict[str, str]]:
        if self._by is None:
            self._by = {key: {} for key in ("id", *IDENTIFIERS)}
            self._rows = {}
            for row in db.execute(
                "SELECT id, email, phone_number, external_id, anonymous_id FROM profiles"
            ):
                self._put(self._by, row)
        return self._by

    def _put(
        self,
        by: dict[str, dict[str, str]],
        row: tuple[str, str | None, str | None, str | None, str | None],
    ) -> None:
        self._rows[row[0]] = row
        by["id"][row[0]] = row[0]
        for key, value in zip(IDENTIFIERS, row[1:], strict=True):
            if value is not None:
                by[key][value] = row[0]

    def holder(
        self, db: sqlite3.Connection, key: str, value: str
    ) -> tuple[str, str | None, str | None, str | None, str | None] | None:
        """(id, email, phone_number, external_id, anonymous_id) of the profile holding `value`."""
        profile_id = self._built(db)[key].get(value)
        return None if profile_id is None else self._rows[profile_id]

    def record(self, rows: list[_Row]) -> None:
        """Profiles a batch created or whose identifiers it changed (written, not yet committed)."""
        by = self._by
        if by is None:
            return
        for row in rows:
            old = self._rows.get(row.id)
            if old is not None:
                for key, value in zip(IDENTIFIERS, old[1:], strict=True):
                    if value is not None and by[key].get(value) == row.id:
                        del by[key][value]
            ids = row.identifiers
            self._put(
                by,
                (
                    row.id,
                    ids["email"],
                    ids["phone_number"],
                    ids["external_id"],
                    ids["anonymous_id"],
                ),
            )


class _Resolver:
    """Klaviyo's identity resolution for a batch of profiles, one after another: what the batch
    did so far (profiles created, identifiers moved) over what the store holds (`_Identities`)."""

    def __init__(self, db: sqlite3.Connection, identities: _Identities) -> None:
        self._db = db
        self._identities = identities
        # kind ("id" too) -> value -> the profile holding it now; None: no longer held
        self.by: dict[str, dict[str, _Row | None]] = {key: {} for key in ("id", *IDENTIFIERS)}
        self.touched: list[_Row] = []  # created or with moved identifiers

    def _holder(self, key: str, value: str) -> _Row | None:
        seen = self.by[key]
        if value in seen:
            return seen[value]
        found = self._identities.holder(self._db, key, value)
        if found is None:
            return None
        row = self.by["id"].get(found[0])
        if row is None:  # first met: every identifier it holds (unmoved) is in `found`
            row = _Row(found[0], dict(zip(IDENTIFIERS, found[1:], strict=True)))
            self._index(row)
        return row

    def _index(self, row: _Row) -> None:
        by = self.by
        by["id"][row.id] = row
        for key, value in row.identifiers.items():
            if value is not None:
                by[key][value] = row

    def resolve(self, profile: ProfileInput, mode: str = "reject") -> tuple[_Row | None, set[str]]:
        """(the existing profile the request means or None for a new one, identifiers to leave out).

        The request means the profile of its first identifier: `id`, else the first sent of
        RESOLUTION_ORDER. An identifier held by another profile is, by `mode`:
        - "reject": a DuplicateProfileError naming that holder (even when the first identifier is
          new: a new email with another profile's phone is another person, never merged in);
        - "attach": as long as one profile only holds any of them, that profile is meant and takes
          every identifier sent, overwriting its own (a phone's holder gets the new email too);
          identifiers on two profiles are a DuplicateProfileError naming the later one's holder;
        - "ignore": left with its holder and out of this request (the rest goes on)."""
        held: list[tuple[_Row, str]] = []  # (holder, identifier it holds), in resolution order
        first: str | None = None
        if profile.id:
            row = self._holder("id", profile.id)
            if row is None:
                raise UnknownProfileError(profile)
            held.append((row, "id"))
            first = "id"
        attributes = profile.attributes
        for key in RESOLUTION_ORDER:
            value = attributes.get(key)
            if not value:
                continue
            first = first or key
            row = self._holder(key, value)
            if row is not None:
                held.append((row, key))
        if not held:
            return None, set()
        if mode == "attach":
            distinct = [(row, key) for i, (row, key) in enumerate(held) if _first_of(held, i)]
            if len(distinct) > 1:
                duplicate, identifier = distinct[1]
                raise DuplicateProfileError(profile, duplicate.id, identifier, duplicate.new)
            return held[0][0], set()
        owner = held[0][0] if held[0][1] == first else None
        others = [(row, key) for row, key in held if row is not owner]
        if not others:
            return owner, set()
        if mode == "ignore":
            return owner, {key for _, key in others}
        duplicate, identifier = others[0]
        raise DuplicateProfileError(profile, duplicate.id, identifier, duplicate.new)

    def document(self, profile_id: str) -> str:
        return str(
            self._db.execute(
                "SELECT document FROM profiles WHERE id = ?", (profile_id,)
            ).fetchone()[0]
        )

    def add(self, profile_id: str, identifiers: list[str | None], document: str) -> None:
        row = _Row(profile_id, dict(zip(IDENTIFIERS, identifiers, strict=True)), document, True)
        self._index(row)
        self.touched.append(row)

    def move(self, row: _Row, key: str, value: str | None) -> None:
        """The profile's `key` identifier becomes `value` (None clears it)."""
        self.touched.append(row)
        old = row.identifiers[key]
        if old is not None and self.by[key].get(old) is row:
            self.by[key][old] = None
        row.identifiers[key] = value
        if value is not None:
            self.by[key][value] = row


def _first_of(held: list[tuple[_Row, str]], index: int) -> bool:
    """Whether held[index] is the first entry of its profile."""
    row = held[index][0]
    return all(other is not row for other, _ in held[:index])


def _json_text(value: Any) -> str:
    """JSON text of an event's properties (read back only through SQLite's json())."""
    try:
        return to_json(value, inf_nan_mode="constants").decode()  # a third of json.dumps' time
    except (ValueError, TypeError):  # e.g. a lone surrogate: json escapes it
        return json.dumps(value)


def _changes_document(profile: ProfileInput) -> bool:
    attributes = profile.attributes
    return (
        bool(profile.patch)
        or "location" in attributes
        or isinstance(attributes.get("properties"), dict)
        or any(key in attributes for key in PROFILE_FIELDS)
    )


def _identifier(profile: ProfileInput, key: str) -> str | None:
    value = profile.attributes.get(key)
    return value if value else None  # "" and null both clear


def _apply(document: dict[str, Any], profile: ProfileInput) -> dict[str, Any]:
    """The profile document after this request: null clears, absent leaves, properties merge."""
    merged = dict(document)
    attributes = profile.attributes
    for key in PROFILE_FIELDS:
        if key in attributes:
            merged[key] = attributes[key]
    if "location" in attributes:
        location = attributes["location"]
        merged["location"] = (
            None if location is None else {**(merged.get("location") or {}), **location}
        )
    properties = dict(merged.get("properties") or {})
    if isinstance(attributes.get("properties"), dict):
        properties.update(attributes["properties"])
    if profile.patch:
        _patch(properties, profile.patch)
    merged["properties"] = properties
    return merged


def _patch(properties: dict[str, Any], patch: dict[str, Any]) -> None:
    """meta.patch_properties: append / unappend values of array properties, unset keys."""
    for key, value in (patch.get("append") or {}).items():
        current = properties.get(key)
        items = current if isinstance(current, list) else ([] if current is None else [current])
        items.extend(value if isinstance(value, list) else [value])
        properties[key] = items
    for key, value in (patch.get("unappend") or {}).items():
        if isinstance(properties.get(key), list):
            drop = value if isinstance(value, list) else [value]
            properties[key] = [item for item in properties[key] if item not in drop]
    unset = patch.get("unset")
    for key in [unset] if isinstance(unset, str) else (unset or []):
        properties.pop(key, None)


def _profile_json(row: tuple[Any, ...]) -> dict[str, Any]:
    document = json.loads(row[5])
    return {
        "id": row[0],
        "email": row[1],
        "phone_number": row[2],
        "external_id": row[3],
        "anonymous_id": row[4],
        **{key: document.get(key) for key in PROFILE_FIELDS if key != "_kx"},
        "location": document.get("location"),
        "properties": document.get("properties") or {},
        "created": row[6],
        "updated": row[7],
    }

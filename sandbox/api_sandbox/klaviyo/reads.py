"""The read endpoints reconciliation uses, as Klaviyo's OpenAPI description (revision 2026-07-15,
`get_events` and `get_metrics`) defines them, and the knob that forgets accepted events.

- `GET /api/events`: `filter` on `metric_id` (equals), `profile_id` (equals), `datetime` and
  `timestamp` (greater-or-equal, greater-than, less-or-equal, less-than), combined with `and(...)`
  or commas; `sort` `datetime`, `-datetime`, `timestamp`, `-timestamp`; `page[cursor]` and, from
  revision 2026-01-15, `page[size]` (1 to 1,000, default 200); `fields[event]` sparse fieldsets.
  An event shows `timestamp`, `event_properties` (the properties as sent), `datetime` and `uuid`:
  the schema has no `unique_id`, so none is shown (docs/api-assumptions.md, K-reads).
- `GET /api/metrics`: every metric, 200 a page by cursor; `fields[metric]`; `filter` on
  `integration.name` / `integration.category` (equals). Metrics made by events sent through the
  API belong to the "API" integration here.

A metric's id is derived from its name (six characters, like Klaviyo's), an event's from its row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from api_sandbox.klaviyo.errors import JSON_API, ApiError, ApiRequestError
from api_sandbox.klaviyo.revisions import Revision
from api_sandbox.klaviyo.state import KlaviyoState

EVENT_FIELDS = ("datetime", "event_properties", "id", "timestamp", "uuid")
METRIC_FIELDS = ("created", "id", "integration", "name", "updated")
DEFAULT_EVENTS_PAGE = 200
MAX_EVENTS_PAGE = 1000
METRICS_PAGE = 200
PAGE_SIZE_SINCE = "2026-01-15"
_COMPARISONS = {
    "greater-or-equal": ">=",
    "greater-than": ">",
    "less-or-equal": "<=",
    "less-than": "<",
}
_SORTS = ("datetime", "-datetime", "timestamp", "-timestamp")
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_API_INTEGRATION = {"object": "integration", "id": "0eMvjm", "name": "API", "category": "API"}
# When the stand-in's metrics say they were made (it keeps no such time).
_METRIC_TIME = "2026-01-01T00:00:00+00:00"


def metric_id(name: str) -> str:
    """A stable six-character id for a metric name."""
    number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    chars = []
    for _ in range(6):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def _invalid(detail: str, parameter: str) -> ApiRequestError:
    return ApiRequestError([ApiError(400, "invalid", detail, parameter=parameter)])


def _json_api(payload: dict[str, Any]) -> web.Response:
    return web.Response(body=json.dumps(payload).encode(), content_type=JSON_API)


# -- filter -------------------------------------------------------------------------------------


def _split_top(text: str) -> list[str]:
    """`a(x,y),b(z)` -> ['a(x,y)', 'b(z)']: commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    """Klaviyo's filter syntax -> [(operator, field, value)], every condition ANDed."""
    conditions: list[tuple[str, str, str]] = []
    for part in _split_top(text):
        name, opened, rest = part.partition("(")
        if not opened or not rest.endswith(")"):
            raise _invalid(f"Invalid filter expression '{part}'.", "filter")
        inner = rest[:-1]
        if name == "and":
            conditions += parse_filter(inner)
            continue
        args = _split_top(inner)
        if len(args) != 2:
            raise _invalid(f"Invalid filter expression '{part}'.", "filter")
        field, value = args
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        conditions.append((name, field, value))
    return conditions


def _time_text(field: str, value: str) -> str:
    """A filter's time as the store writes event times (`YYYY-MM-DDTHH:MM:SS+00:00`)."""
    try:
        if field == "timestamp":
            moment = datetime.fromtimestamp(int(value), timezone.utc)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        raise _invalid(f"'{value}' is not a valid {field} in filter.", "filter") from None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _event_conditions(text: str | None) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters of a get_events filter."""
    where: list[str] = []
    params: list[Any] = []
    for operator, field, value in parse_filter(text) if text else []:
        if field == "metric_id" and operator == "equals":
            where.append(
                "e.metric IN (SELECT metric FROM metric_arrivals WHERE metric_id(metric) = ?)"
            )
            params.append(value)
        elif field == "profile_id" and operator == "equals":
            where.append("e.profile_id = ?")
            params.append(value)
        elif field in ("datetime", "timestamp") and operator in _COMPARISONS:
            where.append(f"e.time {_COMPARISONS[operator]} ?")
            params.append(_time_text(field, value))
        else:
            raise _invalid(
                f"'{operator}' on '{field}' is not an allowed filter of this endpoint.", "filter"
            )
    return where, params


# -- cursors ------------------------------------------------------------------------------------


def _cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _uncursor(text: str) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list):
        raise _invalid("Invalid page[cursor].", "page[cursor]")
    return key


def _fields(request: web.Request, kind: str, allowed: tuple[str, ...]) -> set[str] | None:
    text = request.query.get(f"fields[{kind}]")
    if text is None:
        return None
    fields = {f.strip() for f in text.split(",") if f.strip()}
    unknown = sorted(fields - set(allowed))
    if unknown:
        raise _invalid(
            f"'{unknown[0]}' is not a valid field for the resource '{kind}'.", f"fields[{kind}]"
        )
    return fields


def _with_query(request: web.Request, **changes: str) -> str:
    query = dict(request.query)
    query.update(changes)
    return str(request.url.with_query(query))


# -- GET /api/events ----------------------------------------------------------------------------


async def get_events(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Any
) -> web.Response:
    page_size = DEFAULT_EVENTS_PAGE
    if "page[size]" in request.query:
        if revision.day < PAGE_SIZE_SINCE:
            raise _invalid(
                f"page[size] is not a valid parameter before revision {PAGE_SIZE_SINCE}.",
                "page[size]",
            )
        text = request.query["page[size]"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_EVENTS_PAGE:
            raise _invalid(
                f"page[size] must be an integer from 1 to {MAX_EVENTS_PAGE}; got '{text}'.",
                "page[size]",
            )
        page_size = int(text)
    sort = request.query.get("sort", "")
    if sort and sort not in _SORTS:
        raise _invalid(f"'{sort}' is not a valid sort for this endpoint.", "sort")
    fields = _fields(request, "event", EVENT_FIELDS)
    where, params = _event_conditions(request.query.get("filter"))
    descending = sort.startswith("-")
    by_time = bool(sort)
    if "page[cursor]" in request.query:
        key = _uncursor(request.query["page[cursor]"])
        comparison = "<" if descending else ">"
        if by_time and len(key) == 2:
            where.append(f"(e.time, e.seq) {comparison} (?, ?)")
            params += key
        elif not by_time and len(key) == 1:
            where.append(f"e.seq {comparison} ?")
            params += key
        else:
            raise _invalid("Invalid page[cursor].", "page[cursor]")
    direction = "DESC" if descending else "ASC"
    order = f"e.time {direction}, e.seq {direction}" if by_time else f"e.seq {direction}"
    sql = (
        f"SELECT e.seq, e.time, {_resource_sql(fields, str(request.url.origin()))} FROM events e"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {order} LIMIT ?"
    )
    rows = await state.offload(state.store.run, _query(sql, [*params, page_size + 1]))
    more = len(rows) > page_size
    rows = rows[:page_size]
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if more:
        last = rows[-1]
        cursor = _cursor(last[1], last[0]) if by_time else _cursor(last[0])
        links["next"] = _with_query(request, **{"page[cursor]": cursor})
    # Each resource is JSON text built by SQLite: a 1,000-event page without decoding and
    # encoding every event's properties in Python.
    text = '{"data": [' + ",".join(row[2] for row in rows) + '], "links": ' + json.dumps(links)
    return web.Response(body=(text + "}").encode(), content_type=JSON_API)


def _query(sql: str, params: list[Any]) -> Callable[[sqlite3.Connection], list[Any]]:
    def run(db: sqlite3.Connection) -> list[Any]:
        _prepare(db)
        return db.execute(sql, params).fetchall()

    return run


def _prepare(db: sqlite3.Connection) -> None:
    db.create_function("metric_id", 1, metric_id, deterministic=True)
    # Reads by metric and time in time order (reconciliation's) without scanning every event.
    db.execute("CREATE INDEX IF NOT EXISTS events_by_metric_time ON events (metric, time, seq)")


def _resource_sql(fields: set[str] | None, base: str) -> str:
    """The SQL expression of an event's resource object (JSON text), with the attributes of
    `fields` (all when None). The event id is "4" and its row number; the uuid is made from the
    row number too."""
    event_id = "('4' || printf('%025d', e.seq))"
    url = "'" + base.replace("'", "''") + "/api/events/' || " + event_id + " || '/'"
    attributes = {
        "timestamp": "CAST(strftime('%s', e.time) AS INTEGER)",
        "event_properties": "json(e.properties)",
        "datetime": "e.time",
        "uuid": "printf('00000000-0000-5000-8000-%012x', e.seq)",
    }
    pairs = ", ".join(
        f"'{name}', {expression}"
        for name, expression in attributes.items()
        if fields is None or name in fields
    )

    def relation(kind: str, identifier: str) -> str:
        return (
            f"'{kind}', json_object('data', json_object('type', '{kind}', 'id', {identifier}),"
            f" 'links', json_object('self', {url} || 'relationships/{kind}/',"
            f" 'related', {url} || '{kind}/'))"
        )

    return (
        f"json_object('type', 'event', 'id', {event_id}, 'attributes', json_object({pairs}),"
        f" 'relationships', json_object({relation('profile', 'e.profile_id')},"
        f" {relation('metric', 'metric_id(e.metric)')}), 'links', json_object('self', {url}))"
    )


# -- GET /api/metrics ---------------------------------------------------------------------------


async def get_metrics(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Any
) -> web.Response:
    fields = _fields(request, "metric", METRIC_FIELDS)
    keep = True
    text = request.query.get("filter")
    for operator, field, value in parse_filter(text) if text else []:
        if operator != "equals" or field not in ("integration.name", "integration.category"):
            raise _invalid(
                f"'{operator}' on '{field}' is not an allowed filter of this endpoint.", "filter"
            )
        keep = keep and value == _API_INTEGRATION[field.split(".")[1]]
    after = ""
    if "page[cursor]" in request.query:
        key = _uncursor(request.query["page[cursor]"])
        if len(key) != 1 or not isinstance(key[0], str):
            raise _invalid("Invalid page[cursor].", "page[cursor]")
        after = key[0]
    names = await state.offload(
        state.store.run,
        _query(
            "SELECT metric FROM metric_arrivals WHERE metric > ? ORDER BY metric LIMIT ?",
            [after, METRICS_PAGE + 1],
        ),
    )
    names = [row[0] for row in names] if keep else []
    more = len(names) > METRICS_PAGE
    names = names[:METRICS_PAGE]
    base = str(request.url.origin())
    data = []
    for name in names:
        attributes = {
            "name": name,
            "created": _METRIC_TIME,
            "updated": _METRIC_TIME,
            "integration": dict(_API_INTEGRATION),
        }
        if fields is not None:
            attributes = {k: v for k, v in attributes.items() if k in fields}
        mid = metric_id(name)
        data.append(
            {
                "type": "metric",
                "id": mid,
                "attributes": attributes,
                "links": {"self": f"{base}/api/metrics/{mid}/"},
            }
        )
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if more:
        links["next"] = _with_query(request, **{"page[cursor]": _cursor(names[-1])})
    return _json_api({"data": data, "links": links})


# -- the knob: forget accepted events -----------------------------------------------------------


def forget_request(payload: dict[str, Any]) -> Callable[[sqlite3.Connection], list[dict[str, Any]]]:
    """`POST /_sandbox/forget` `{"unique_ids": [...]}` or `{"share": 0..1, "seed": n}`, either
    with an optional `"metric"`: the query that forgets them (ValueError names a bad field)."""
    unique_ids = payload.get("unique_ids")
    share = payload.get("share")
    metric = payload.get("metric")
    seed = payload.get("seed", 0)
    if (unique_ids is None) == (share is None):
        raise ValueError("give either 'unique_ids' (a list of strings) or 'share' (0 to 1)")
    if unique_ids is not None and not (
        isinstance(unique_ids, list) and all(isinstance(u, str) for u in unique_ids)
    ):
        raise ValueError("'unique_ids' must be a list of strings")
    if share is not None and (
        isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1
    ):
        raise ValueError("'share' must be a number from 0 to 1")
    if metric is not None and not isinstance(metric, str):
        raise ValueError("'metric' must be a metric name")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("'seed' must be an integer")

    def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
        return forget(db, unique_ids=unique_ids, metric=metric, share=share, seed=seed)

    return run


def forget(
    db: sqlite3.Connection,
    *,
    unique_ids: list[str] | None = None,
    metric: str | None = None,
    share: float | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Delete stored events, silently, as a lossy Klaviyo would: those with the given unique_ids
    (of `metric` when given), or a `share` of them picked with `seed`. Returns what was forgotten
    (metric, unique_id, time), so that a test knows what reconciliation must find."""
    where, params = "", []
    if metric is not None:
        where, params = " WHERE metric = ?", [metric]
    rows = db.execute(
        "SELECT seq, metric, unique_id, time FROM events" + where + " ORDER BY seq", params
    ).fetchall()
    if unique_ids is not None:
        wanted = set(unique_ids)
        chosen = [row for row in rows if row[2] in wanted]
    else:
        count = round(len(rows) * float(share or 0))
        chosen = sorted(random.Random(seed).sample(rows, count))
    db.executemany("DELETE FROM events WHERE seq = ?", [(row[0],) for row in chosen])
    return [{"metric": row[1], "unique_id": row[2], "time": row[3]} for row in chosen]

"""Make an Intercom API object what its stream's schema promises (pure; no I/O, no state).

`conform(schema, record)` returns a new record; the input is not changed. Per field, by the schema:

- `format: date-time`: epoch seconds (int, float or a numeric string) -> `YYYY-MM-DDTHH:MM:SS+00:00`
  in UTC, the format of `events.iso_time`. Fractions of a second are dropped. A number of 10^11 or
  more is taken as epoch milliseconds (Intercom's seconds reach 10^11 only in the year 5138). A
  string that is not a number (already ISO) is left as it is.
- `string`: an int (or an integral float) -> its decimal string (`991267604` -> `"991267604"`).
- `integer`: a numeric string -> int (`"421"` -> `421`, attachment sizes); `number`: -> int/float.
- `object` with `properties`: each declared key conformed by its own schema; keys the schema does
  not declare are kept as they are (the SDK decides what to drop). A plain string where an object
  is expected becomes `{"type": <property name>, <key>: string}` for the properties in
  `SCALAR_OBJECTS` (`avatar` URL -> `{"type": "avatar", "image_url": url}`; 2.11's `ticket_state`
  category -> `{"type": "ticket_state", "category": ...}`).
- `array`: each item by `items`; a single value where an array is expected becomes a one-item array
  (a ticket attribute change's `value.id` is a string or an array).
- Free-form objects (no `properties`), booleans, null and anything else: unchanged.

A schema is compiled once into a tree of small functions (cached by identity, so `conform` can be
called with the stream's schema on every record); fields that need no conversion cost nothing.
Do not mutate a schema after its first use, or call `conformer(schema)` again after a change.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

Convert = Callable[[Any], Any]
Schema = Mapping[str, Any]

# Object properties that some API versions return as a plain string, and the key it goes to.
SCALAR_OBJECTS: Mapping[str, str] = {"avatar": "image_url", "ticket_state": "category"}

MILLISECONDS_FROM = 10**11  # epoch values at or above this are milliseconds
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"

_cache: dict[int, tuple[Schema, Convert]] = {}


def conform(schema: Schema, record: dict[str, Any]) -> dict[str, Any]:
    """`record` converted to the types `schema` declares (see the module docstring)."""
    cached = _cache.get(id(schema))
    if cached is None or cached[0] is not schema:
        convert = conformer(schema)
        _cache[id(schema)] = (schema, convert)
    else:
        convert = cached[1]
    return convert(record)


def conformer(schema: Schema) -> Convert:
    """The compiled converter of one schema: `conformer(s)(record) == conform(s, record)`."""
    return _compile(schema, None) or _identity


def epoch_to_iso(value: float) -> str:
    """Epoch seconds (or milliseconds, see MILLISECONDS_FROM) -> `YYYY-MM-DDTHH:MM:SS+00:00`."""
    seconds = int(value)
    if abs(seconds) >= MILLISECONDS_FROM:
        seconds //= 1000
    return time.strftime(ISO_FORMAT, time.gmtime(seconds))


def _identity(value: Any) -> Any:
    return value


def _types(schema: Schema) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {str(t) for t in declared}
    return set()


def _compile(schema: Schema, name: str | None) -> Convert | None:
    """A converter for values of `schema`, or None when values never need converting."""
    types = _types(schema) - {"null"}
    if len(types) != 1:
        return None  # untyped or a union: nothing to choose
    (kind,) = types
    if kind == "object":
        return _compile_object(schema, name)
    if kind == "array":
        return _compile_array(schema)
    if kind == "string":
        return _to_datetime if schema.get("format") == "date-time" else _to_string
    if kind == "integer":
        return _to_integer
    if kind == "number":
        return _to_number
    return None


def _compile_object(schema: Schema, name: str | None) -> Convert | None:
    properties = schema.get("properties") or {}
    fields = tuple(
        (key, convert)
        for key, sub in properties.items()
        if (convert := _compile(sub, key)) is not None
    )
    scalar_key = SCALAR_OBJECTS.get(name or "")
    if scalar_key is not None and scalar_key not in properties:
        scalar_key = None
    if not fields and scalar_key is None:
        return None
    with_type = "type" in properties
    table = dict(fields)
    get = table.get

    def convert_object(value: Any) -> Any:
        if type(value) is dict:
            # One pass over the record's own keys; None and declared strings need no call.
            return {
                key: item
                if item is None or (convert := get(key)) is None
                else (item if convert is _to_string and type(item) is str else convert(item))
                for key, item in value.items()
            }
        if scalar_key is not None and type(value) is str:
            wrapped = {"type": name, scalar_key: value} if with_type else {scalar_key: value}
            return convert_object(wrapped)
        return value

    return convert_object


def _compile_array(schema: Schema) -> Convert | None:
    items = schema.get("items")
    convert_item = _compile(items, None) if isinstance(items, Mapping) else None

    def convert_array(value: Any) -> Any:
        if type(value) is list:
            return value if convert_item is None else [convert_item(v) for v in value]
        if value is None or type(value) is dict:
            return value
        return [value if convert_item is None else convert_item(value)]

    return convert_array


def _to_datetime(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        number = _parse_number(value)
        if number is None:
            return value  # already ISO (or not a time at all: left for validation to report)
    elif kind is int or kind is float:
        number = value
    else:
        return value
    try:
        return epoch_to_iso(number)
    except (OverflowError, ValueError, OSError):
        return value  # out of any calendar's range: left as it is


def _to_string(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() else str(value)
    return value


def _to_integer(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        number = _parse_number(value)
        if number is not None and float(number).is_integer():
            return int(number)
        return value
    if kind is float and value.is_integer():
        return int(value)
    return value


def _to_number(value: Any) -> Any:
    if type(value) is str:
        number = _parse_number(value)
        return value if number is None else number
    return value


def _parse_number(text: str) -> int | float | None:
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return None
    return number if math.isfinite(number) else None

"""How a record becomes a Klaviyo event or profile item, or a rejection (pure).

`translate_event(record, EventRules)` and `translate_profile(record, ProfileRules)`: the rules are
built once per sink from the stream's mapping and the run's settings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from target_klaviyo.items import (
    INVALID_RECORD,
    NO_IDENTIFIER,
    EventItem,
    Identity,
    ProfileItem,
    Rejection,
)
from target_klaviyo.stream_config import EventMapping, FieldPath, ProfileMapping, Renames
from target_klaviyo.translate import (
    LimitCounter,
    TranslationError,
    avatar_url,
    fit_value,
    is_email,
    is_empty,
    location_of,
    location_parts,
    non_finite,
    split_name,
    to_e164,
    to_iso_utc,
    to_money,
    to_number,
)

# The SDK's record metadata (`add_record_metadata`, and file taps' `_sdc_*` columns): never sent
# as event properties unless a mapping names them.
SDC_PREFIX = "_sdc_"

_SHORT = 25_000  # characters: a string this short is under 100 KB in any encoding


def get_path(record: Mapping[str, Any], path: FieldPath | None) -> Any:
    if path is None:
        return None
    value: Any = record.get(path[0])
    for part in path[1:]:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str | None:
    """A value as identifier text: integral numbers exactly (`12345678901234567890`, not
    `1.2345678901234567e+19`; a Decimal `12.0` as `12`), strings stripped."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    text = str(value).strip()
    return text or None


def identity_of(
    email: Any, phone: Any, external_id: Any, default_region: str, person: Any = None
) -> Identity:
    phone_text = _text(phone)
    e164 = to_e164(phone_text, default_region) if phone_text else None
    email_text = _text(email)
    valid_email = email_text if email_text is not None and is_email(email_text) else None
    return Identity(
        email=valid_email,
        phone_number=e164,
        external_id=_text(external_id),
        invalid_phone=phone_text if phone_text and e164 is None else None,
        invalid_email=email_text if email_text is not None and valid_email is None else None,
        person=_text(person),
    )


def _usable_identity(
    record: Mapping[str, Any], mapping: EventMapping | ProfileMapping, default_region: str
) -> Identity | Rejection:
    identity = identity_of(
        get_path(record, mapping.email_field),
        get_path(record, mapping.phone_field),
        get_path(record, mapping.external_id_field),
        default_region,
        get_path(record, mapping.person_field),
    )
    if identity.usable:
        return identity
    detail = "no email, valid phone number or external_id"
    invalid = [
        name
        for name, bad in (
            ("email", identity.invalid_email),
            ("phone number", identity.invalid_phone),
        )
        if bad
    ]
    if invalid:
        detail += (
            f" (the {' and the '.join(invalid)} {'is' if len(invalid) == 1 else 'are'} not valid)"
        )
    return Rejection(NO_IDENTIFIER, detail)


@dataclass
class EventRules:
    """Everything event translation needs besides the record; built once per sink."""

    mapping: EventMapping
    renames: Renames
    default_region: str
    earliest_year: int  # Klaviyo refuses older events
    backfill_before: str | None  # ISO UTC; None: never backfill
    max_properties: int
    # Fields the stream's schema types as strings only: a number there is sent as a string
    # (docs/contract.md, "Precise rules", Types: Ticket ID is a string).
    string_fields: frozenset[str] = frozenset()
    # Date-time fields (by the schema) other than the event time: normalised to ISO-8601 UTC too.
    time_properties: frozenset[str] = frozenset()
    # Fields the schema marks `singer.decimal` (SQL taps' numeric columns as strings): numbers.
    decimal_fields: frozenset[str] = frozenset()
    # The property that carries the unique_id too (reads return no unique_id: reconcile.py).
    unique_id_property: str | None = None
    # The property that carries the event's source (the mapping's source_field: reconcile.py).
    source_property: str | None = None
    cuts: LimitCounter = field(default_factory=LimitCounter)
    _plans: dict[str, list[tuple[FieldPath, str]]] = field(default_factory=dict)
    _identity_names: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.latest_time = _format_limit(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365))
        # A `singer.decimal` field is typed string too, but its value is sent as a number.
        self.string_fields = self.string_fields - self.decimal_fields

    def plan(self, metric: str, record: Mapping[str, Any]) -> list[tuple[FieldPath, str]]:
        """(field, final property name) for a metric; cached per metric when fields are mapped."""
        cached = self._plans.get(metric)
        if cached is not None:
            return cached
        fields = self.mapping.properties
        if fields is None:
            used = self.mapping.used_fields()
            fields = {(k,): k for k in record if k not in used and not k.startswith(SDC_PREFIX)}
        plan: list[tuple[FieldPath, str]] = []
        for path, name in fields.items():
            final = self.renames.property_name(metric, name)
            if final is not None:
                plan.append((path, final))
        if self.mapping.properties is not None:
            self._plans[metric] = plan
            self._identity_names[metric] = (
                self.renames.property_name(metric, "email"),
                self.renames.property_name(metric, "phone_number"),
            )
        return plan

    def identity_names(self, metric: str) -> tuple[str | None, str | None]:
        names = self._identity_names.get(metric)
        if names is None:
            return (
                self.renames.property_name(metric, "email"),
                self.renames.property_name(metric, "phone_number"),
            )
        return names

    def normalise_times(self, record: dict[str, Any]) -> None:
        for name in self.time_properties:
            value = record.get(name)
            if value is not None:
                # Not a time after all: sent as it came.
                with contextlib.suppress(TranslationError):
                    record[name] = to_iso_utc(value)


@dataclass
class ProfileRules:
    """Everything profile translation needs besides the record; built once per sink."""

    mapping: ProfileMapping
    renames: Renames
    default_region: str
    cuts: LimitCounter = field(default_factory=LimitCounter)
    decimal_fields: frozenset[str] = frozenset()  # as EventRules.decimal_fields


def normalise_decimals(record: dict[str, Any], fields: frozenset[str]) -> None:
    """`singer.decimal` strings ("19.99") as numbers, exact to the cent; anything else as it came
    (a value_field still refuses it, naming the field)."""
    for name in fields:
        value = record.get(name)
        if isinstance(value, str):
            with contextlib.suppress(TranslationError):
                record[name] = to_number(value)


def _format_limit(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def translate_event(record: dict[str, Any], rules: EventRules) -> EventItem | Rejection:
    """A record of an event stream -> an event item, or why it cannot be sent."""
    if rules.time_properties:
        rules.normalise_times(record)
    if rules.decimal_fields:
        normalise_decimals(record, rules.decimal_fields)
    mapping = rules.mapping
    contract_metric = _contract_metric(record, mapping)
    if isinstance(contract_metric, Rejection):
        return contract_metric
    metric = rules.renames.metric_names.get(contract_metric, contract_metric)
    if len(metric) >= 128:
        return Rejection(INVALID_RECORD, "metric name is 128 characters or longer")
    unique_id = _event_unique_id(record, mapping)
    if isinstance(unique_id, Rejection):
        return unique_id
    identity = _usable_identity(record, mapping, rules.default_region)
    if isinstance(identity, Rejection):
        return identity
    # In this order: a record with several faults is rejected for the first one.
    source = _text(get_path(record, mapping.source_field)) if mapping.source_field else None
    properties = _event_properties(
        record, rules, contract_metric, identity, unique_id, source=source
    )
    if isinstance(properties, Rejection):
        return properties
    timing = _event_time(record, rules)
    if isinstance(timing, Rejection):
        return timing
    value = _event_value(record, mapping)
    if isinstance(value, Rejection):
        return value
    attributes: dict[str, Any] = {"properties": properties, **timing, **value}
    attributes["unique_id"] = unique_id
    attributes["metric"] = {"data": {"type": "metric", "attributes": {"name": metric}}}
    return EventItem(
        record=record,
        identity=identity,
        metric=metric,
        unique_id=unique_id,
        resource={"type": "event", "attributes": attributes},
        resent=get_path(record, mapping.lookback_field) is True,
        source=source,
    )


def _contract_metric(record: Mapping[str, Any], mapping: EventMapping) -> str | Rejection:
    """The event's metric name before renames: the mapping's fixed one or the record's field."""
    if mapping.metric is not None:
        return mapping.metric
    raw_metric = _text(get_path(record, mapping.metric_field))
    if raw_metric is None:
        return Rejection(INVALID_RECORD, f"no metric name in field {_dotted(mapping.metric_field)}")
    return raw_metric


def _event_unique_id(record: Mapping[str, Any], mapping: EventMapping) -> str | Rejection:
    """The mapped unique-id field, or the stream name and the record's key properties."""
    if mapping.unique_id_field is not None:
        unique_id = _text(get_path(record, mapping.unique_id_field))
        if unique_id is None:
            return Rejection(
                INVALID_RECORD, f"no unique id in field {_dotted(mapping.unique_id_field)}"
            )
        return unique_id
    return (
        mapping.stream + ":" + ":".join(_text(record.get(k)) or "" for k in mapping.key_properties)
    )


def _event_properties(
    record: Mapping[str, Any],
    rules: EventRules,
    contract_metric: str,
    identity: Identity,
    unique_id: str,
    *,
    source: str | None,
) -> dict[str, Any] | Rejection:
    """The event's properties: identity copies, the planned fields fitted to Klaviyo's limits,
    at most `rules.max_properties` of them with the unique-id and source properties."""
    properties: dict[str, Any] = {}
    email_name, phone_name = rules.identity_names(contract_metric)
    if email_name and identity.email is not None:
        properties[email_name] = identity.email
    if phone_name and identity.phone_number is not None:
        properties[phone_name] = identity.phone_number
    for path, name in rules.plan(contract_metric, record):
        value = record.get(path[0]) if len(path) == 1 else get_path(record, path)
        if value is None:
            continue
        kind = type(value)
        # Most values are short strings, numbers and booleans: nothing to fit (kept cheap).
        if kind is str and len(value) <= _SHORT:
            properties[name] = value
            continue
        if kind is int or kind is bool or (kind is float and not non_finite(value)):
            properties[name] = str(value) if path[0] in rules.string_fields else value
            continue
        if is_empty(value):
            continue
        try:
            value = fit_value(value, 1, rules.cuts)
        except TranslationError as exc:
            return Rejection(INVALID_RECORD, f"field {_dotted(path)}: {exc}")
        if not is_empty(value):
            properties[name] = value
    carried = {}
    if rules.unique_id_property:
        carried[rules.unique_id_property] = unique_id
    if rules.source_property and source is not None:
        carried[rules.source_property] = source
    room = rules.max_properties - len(carried)
    if len(properties) > room:
        rules.cuts.cut += 1
        properties = dict(list(properties.items())[:room])
    properties.update(carried)
    return properties


def _event_time(record: Mapping[str, Any], rules: EventRules) -> dict[str, Any] | Rejection:
    """The `time` (and `backfill`) attributes, within the years Klaviyo accepts; none unmapped."""
    mapping = rules.mapping
    if mapping.time_field is None:
        return {}
    try:
        time = to_iso_utc(get_path(record, mapping.time_field))
    except TranslationError as exc:
        return Rejection(INVALID_RECORD, f"field {_dotted(mapping.time_field)}: {exc}")
    if time is None:
        return Rejection(INVALID_RECORD, f"no time in field {_dotted(mapping.time_field)}")
    if int(time[:4]) < rules.earliest_year or time > rules.latest_time:
        return Rejection(
            INVALID_RECORD,
            f"time {time} is outside what Klaviyo accepts (after {rules.earliest_year}, "
            "at most a year ahead)",
        )
    timing: dict[str, Any] = {"time": time}
    if rules.backfill_before is not None and time < rules.backfill_before:
        timing["backfill"] = True
    return timing


def _event_value(record: Mapping[str, Any], mapping: EventMapping) -> dict[str, Any] | Rejection:
    """The `value` and `value_currency` attributes, where mapped and present."""
    attributes: dict[str, Any] = {}
    if mapping.value_field is not None:
        value = get_path(record, mapping.value_field)
        if value is not None:
            try:
                attributes["value"] = to_money(value)
            except TranslationError as exc:
                return Rejection(INVALID_RECORD, f"field {_dotted(mapping.value_field)}: {exc}")
    currency = _text(get_path(record, mapping.value_currency_field)) or mapping.value_currency
    if currency is not None:
        attributes["value_currency"] = currency.upper()
    return attributes


def translate_profile(record: dict[str, Any], rules: ProfileRules) -> ProfileItem | Rejection:
    """A record of a profile stream -> a profile item (docs/contract.md, "Profiles"), or why not."""
    if rules.decimal_fields:
        normalise_decimals(record, rules.decimal_fields)
    mapping = rules.mapping
    identity = _usable_identity(record, mapping, rules.default_region)
    if isinstance(identity, Rejection):
        return identity
    attributes: dict[str, Any] = identity.attributes()
    first, last = split_name(get_path(record, mapping.name_field))
    first = _text(get_path(record, mapping.first_name_field)) or first
    last = _text(get_path(record, mapping.last_name_field)) or last
    if first is not None:
        attributes["first_name"] = first
    if last is not None:
        attributes["last_name"] = last
    image = avatar_url(get_path(record, mapping.image_field))
    if image is not None:
        attributes["image"] = image
    try:
        location = _location(record, mapping)
    except TranslationError as exc:
        return Rejection(INVALID_RECORD, str(exc))
    if location is not None:
        attributes["location"] = location
    properties: dict[str, Any] = {}
    for path, name in mapping.properties.items():
        value = get_path(record, path)
        if is_empty(value):
            continue
        final = rules.renames.property_names.get(name, name)
        try:
            properties[final] = fit_value(value, 1, rules.cuts)
        except TranslationError as exc:
            return Rejection(INVALID_RECORD, f"field {_dotted(path)}: {exc}")
    if properties:
        attributes["properties"] = properties
    return ProfileItem(
        record=record, identity=identity, resource={"type": "profile", "attributes": attributes}
    )


def _location(record: Mapping[str, Any], mapping: ProfileMapping) -> dict[str, Any] | None:
    """The profile's location: the object of `location_field`, with the flat fields over it."""
    location = location_parts(get_path(record, mapping.location_field)) or {}
    if mapping.location_fields:
        for key, path in mapping.location_fields.items():
            try:
                flat = location_of({key: get_path(record, path)})
            except TranslationError as exc:
                msg = f"field {_dotted(path)}: {exc}"
                raise TranslationError(msg) from None
            if flat:
                location.update(flat)
    return location or None


def _dotted(path: FieldPath | None) -> str:
    return "'" + ".".join(path or ()) + "'"


@dataclass(frozen=True)
class Unflattening:
    """Undoes the SDK's record flattening (`flattening_enabled`), so that mappings read fields by
    the names and shapes the tap sent: `customer__email` is `customer.email` again, an object
    flattened into `location__city`, `location__zip`, ... is `location` again, and objects or
    arrays the SDK wrote as JSON text (below `flattening_max_depth`, or without declared
    properties) are objects and arrays again.

    Built from the stream's schema as the tap sent it, with the rules of the SDK's own
    flattening (`singer_sdk.helpers._flattening`): `key_of(name, parents)` is its key function."""

    paths: Mapping[str, tuple[FieldPath, bool]]  # flattened key -> (path, holds JSON text)
    schema: Mapping[str, Any]  # the stream's schema before flattening

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any], max_level: int, key_of: Any) -> Unflattening:
        paths: dict[str, tuple[FieldPath, bool]] = {}

        def walk(node: Mapping[str, Any], parents: list[str], level: int) -> None:
            for name, sub in (node.get("properties") or {}).items():
                if not isinstance(sub, Mapping):
                    continue
                key = key_of(name, parents)
                path = (*parents, name)
                kinds = sub.get("type")
                if kinds is None:
                    options = sub.get("anyOf") or sub.get("oneOf") or []
                    kinds = [o.get("type") for o in options if isinstance(o, Mapping)]
                kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
                if "object" in kinds and "properties" in sub and level < max_level:
                    walk(sub, [*parents, name], level + 1)
                else:
                    paths[key] = (path, "object" in kinds or "array" in kinds)

        walk(schema, [], 0)
        return cls(paths, schema)

    def apply(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record as it was before flattening (fields the schema does not know stay as
        they are)."""
        out: dict[str, Any] = {}
        for key, flat in record.items():
            spec = self.paths.get(key)
            if spec is None:
                out.setdefault(key, flat)
                continue
            path, json_text = spec
            value = flat
            if json_text and isinstance(flat, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(flat, parse_float=Decimal)
            node = out
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = value
        return out

"""Which streams are events and which are profiles, and how a record becomes a Klaviyo item.

Pure functions: a record in, a payload item or a rejection (with its dead-letter reason) out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_klaviyo.defaults import (
    DEFAULT_EVENT_STREAMS,
    DEFAULT_METRIC_PROPERTY_NAMES,
    DEFAULT_PROFILE_STREAMS,
)
from target_klaviyo.translate import (
    LimitCounter,
    TranslationError,
    avatar_url,
    fit_value,
    is_empty,
    location_parts,
    split_name,
    to_e164,
    to_iso_utc,
)

FieldPath = tuple[str, ...]
_SHORT = 25_000  # characters: a string this short is under 100 KB in any encoding

# Dead-letter reasons: stable strings, counted in the run summary.
NO_IDENTIFIER = "no usable identifier"
INVALID_RECORD = "invalid record"
REJECTED = "rejected by Klaviyo"
IMPORT_ERROR = "profile import error"

EVENT_KEYS = {
    "metric",
    "metric_field",
    "unique_id_field",
    "time_field",
    "email_field",
    "phone_field",
    "external_id_field",
    "value_field",
    "properties",
}
PROFILE_KEYS = {
    "email_field",
    "phone_field",
    "external_id_field",
    "name_field",
    "first_name_field",
    "last_name_field",
    "image_field",
    "location_field",
    "properties",
}


class MappingConfigError(ValueError):
    """The mapping settings are wrong; the message names the setting."""


def path_of(spec: str) -> FieldPath:
    """A field path from its dotted spelling (`opted_out_subscription_types.total_count`)."""
    return tuple(spec.split("."))


def get_path(record: Mapping[str, Any], path: FieldPath | None) -> Any:
    if path is None:
        return None
    value: Any = record.get(path[0])
    for part in path[1:]:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Rejection:
    """A record that is not sent: it goes to the dead-letter file."""

    reason: str
    detail: str


@dataclass
class Identity:
    """A Klaviyo profile's identifiers; an invalid phone is dropped (and reported)."""

    email: str | None
    phone_number: str | None
    external_id: str | None
    invalid_phone: str | None = None

    @property
    def key(self) -> tuple[str | None, str | None, str | None]:
        return (self.email, self.phone_number, self.external_id)

    def attributes(self) -> dict[str, str]:
        attrs: dict[str, str] = {}
        if self.email is not None:
            attrs["email"] = self.email
        if self.phone_number is not None:
            attrs["phone_number"] = self.phone_number
        if self.external_id is not None:
            attrs["external_id"] = self.external_id
        return attrs

    @property
    def usable(self) -> bool:
        return any(self.key)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def identity_of(email: Any, phone: Any, external_id: Any, default_region: str) -> Identity:
    phone_text = _text(phone)
    e164 = to_e164(phone_text, default_region) if phone_text else None
    return Identity(
        email=_text(email),
        phone_number=e164,
        external_id=_text(external_id),
        invalid_phone=phone_text if phone_text and e164 is None else None,
    )


@dataclass(frozen=True)
class Renames:
    """Metric and property renames from config, applied after the stream mapping."""

    metric_names: Mapping[str, str] = field(default_factory=dict)
    property_names: Mapping[str, str] = field(default_factory=dict)
    # Keyed by the metric's own (contract) name; a None value leaves the property out.
    metric_property_names: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)

    def property_name(self, metric: str, name: str) -> str | None:
        per_metric = self.metric_property_names.get(metric, {})
        renamed = per_metric.get(name, name) if name in per_metric else name
        if renamed is None:
            return None
        return self.property_names.get(renamed, renamed)


@dataclass
class EventMapping:
    """How one stream's records become events."""

    stream: str
    metric: str | None
    metric_field: FieldPath | None
    unique_id_field: FieldPath | None
    key_properties: Sequence[str]
    time_field: FieldPath | None
    email_field: FieldPath | None
    phone_field: FieldPath | None
    external_id_field: FieldPath | None
    value_field: FieldPath | None
    # field path -> property name; None sends every field not used above under its own name.
    properties: dict[FieldPath, str] | None

    @classmethod
    def from_config(
        cls, stream: str, spec: Mapping[str, Any], key_properties: Sequence[str]
    ) -> EventMapping:
        where = f"event_streams.{stream}"
        _check_keys(spec, EVENT_KEYS, where)
        metric = spec.get("metric")
        metric_field = spec.get("metric_field")
        if bool(metric) == bool(metric_field):
            msg = f"{where}: set exactly one of 'metric' (a fixed name) or 'metric_field'"
            raise MappingConfigError(msg)
        unique_id_field = spec.get("unique_id_field")
        if not unique_id_field and not key_properties:
            msg = (
                f"{where}: set 'unique_id_field' (the stream has no key_properties to build a "
                "deterministic unique_id from)"
            )
            raise MappingConfigError(msg)
        properties = spec.get("properties")
        if properties is not None and not isinstance(properties, Mapping):
            msg = f"{where}.properties must be an object of field -> property name"
            raise MappingConfigError(msg)

        def opt(key: str) -> FieldPath | None:
            value = spec.get(key)
            if value is not None and not isinstance(value, str):
                msg = f"{where}.{key} must be a field name (string), got {value!r}"
                raise MappingConfigError(msg)
            return path_of(value) if value else None

        return cls(
            stream=stream,
            metric=metric,
            metric_field=opt("metric_field"),
            unique_id_field=opt("unique_id_field"),
            key_properties=list(key_properties),
            time_field=opt("time_field"),
            email_field=opt("email_field"),
            phone_field=opt("phone_field"),
            external_id_field=opt("external_id_field"),
            value_field=opt("value_field"),
            properties=None
            if properties is None
            else {path_of(k): str(v) for k, v in properties.items()},
        )

    def used_fields(self) -> set[str]:
        paths = [
            self.metric_field,
            self.unique_id_field,
            self.time_field,
            self.email_field,
            self.phone_field,
            self.external_id_field,
            self.value_field,
        ]
        # Only whole top-level fields: an object whose one member is used keeps its other members.
        return {p[0] for p in paths if p and len(p) == 1}


@dataclass
class ProfileMapping:
    """How one stream's records become profiles."""

    stream: str
    email_field: FieldPath | None
    phone_field: FieldPath | None
    external_id_field: FieldPath | None
    name_field: FieldPath | None
    first_name_field: FieldPath | None
    last_name_field: FieldPath | None
    image_field: FieldPath | None
    location_field: FieldPath | None
    properties: dict[FieldPath, str]

    @classmethod
    def from_config(cls, stream: str, spec: Mapping[str, Any]) -> ProfileMapping:
        where = f"profile_streams.{stream}"
        _check_keys(spec, PROFILE_KEYS, where)
        properties = spec.get("properties") or {}
        if not isinstance(properties, Mapping):
            msg = f"{where}.properties must be an object of field -> property name"
            raise MappingConfigError(msg)

        def opt(key: str) -> FieldPath | None:
            value = spec.get(key)
            if value is not None and not isinstance(value, str):
                msg = f"{where}.{key} must be a field name (string), got {value!r}"
                raise MappingConfigError(msg)
            return path_of(value) if value else None

        return cls(
            stream=stream,
            email_field=opt("email_field"),
            phone_field=opt("phone_field"),
            external_id_field=opt("external_id_field"),
            name_field=opt("name_field"),
            first_name_field=opt("first_name_field"),
            last_name_field=opt("last_name_field"),
            image_field=opt("image_field"),
            location_field=opt("location_field"),
            properties={path_of(k): str(v) for k, v in properties.items()},
        )


def _check_keys(spec: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(spec, Mapping):
        msg = f"{where} must be an object, got {type(spec).__name__}"
        raise MappingConfigError(msg)
    unknown = sorted(set(spec) - allowed)
    if unknown:
        msg = f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        raise MappingConfigError(msg)


def merged_streams(
    defaults: Mapping[str, Mapping[str, Any]], configured: Mapping[str, Any] | None
) -> dict[str, Mapping[str, Any]]:
    """The user's per-stream entries replace the defaults for the same stream; others stay."""
    merged: dict[str, Mapping[str, Any]] = dict(defaults)
    merged.update(configured or {})
    return merged


def default_event_streams(configured: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return merged_streams(DEFAULT_EVENT_STREAMS, configured)


def default_profile_streams(configured: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return merged_streams(DEFAULT_PROFILE_STREAMS, configured)


def default_metric_property_names(
    configured: Mapping[str, Any] | None,
) -> dict[str, Mapping[str, str | None]]:
    merged: dict[str, Mapping[str, str | None]] = dict(DEFAULT_METRIC_PROPERTY_NAMES)
    merged.update(configured or {})
    return merged


@dataclass
class EventItem:
    """One event, ready for a bulk request: grouped by `identity.key`, deduplicated on
    (profile, metric, unique_id)."""

    record: dict[str, Any]
    identity: Identity
    metric: str
    unique_id: str
    resource: dict[str, Any]  # the bulk entry's event resource object


@dataclass
class ProfileItem:
    record: dict[str, Any]
    identity: Identity
    resource: dict[str, Any]  # {"type": "profile", "attributes": {...}}


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
    # (contract "Types": Ticket ID is a string).
    string_fields: frozenset[str] = frozenset()
    cuts: LimitCounter = field(default_factory=LimitCounter)
    _plans: dict[str, list[tuple[FieldPath, str]]] = field(default_factory=dict)
    _identity_names: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.latest_time = _format_limit(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365))

    def plan(self, metric: str, record: Mapping[str, Any]) -> list[tuple[FieldPath, str]]:
        """(field, final property name) for a metric; cached per metric when fields are mapped."""
        cached = self._plans.get(metric)
        if cached is not None:
            return cached
        fields = self.mapping.properties
        if fields is None:
            used = self.mapping.used_fields()
            fields = {(k,): k for k in record if k not in used}
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


def _format_limit(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def translate_event(record: dict[str, Any], rules: EventRules) -> EventItem | Rejection:
    """A record of an event stream -> an event item, or why it cannot be sent."""
    mapping = rules.mapping
    if mapping.metric is not None:
        contract_metric = mapping.metric
    else:
        raw_metric = _text(get_path(record, mapping.metric_field))
        if raw_metric is None:
            return Rejection(
                INVALID_RECORD, f"no metric name in field {_dotted(mapping.metric_field)}"
            )
        contract_metric = raw_metric
    metric = rules.renames.metric_names.get(contract_metric, contract_metric)
    if len(metric) >= 128:
        return Rejection(INVALID_RECORD, "metric name is 128 characters or longer")

    if mapping.unique_id_field is not None:
        unique_id = _text(get_path(record, mapping.unique_id_field))
        if unique_id is None:
            return Rejection(
                INVALID_RECORD, f"no unique id in field {_dotted(mapping.unique_id_field)}"
            )
    else:
        unique_id = (
            mapping.stream + ":" + ":".join(str(record.get(k)) for k in mapping.key_properties)
        )

    identity = identity_of(
        get_path(record, mapping.email_field),
        get_path(record, mapping.phone_field),
        get_path(record, mapping.external_id_field),
        rules.default_region,
    )
    if not identity.usable:
        detail = "no email, valid phone number or external_id"
        if identity.invalid_phone:
            detail += " (the phone number is not valid)"
        return Rejection(NO_IDENTIFIER, detail)

    attributes: dict[str, Any] = {}
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
        if kind is int or kind is bool or kind is float:
            properties[name] = str(value) if path[0] in rules.string_fields else value
            continue
        if is_empty(value):
            continue
        value = fit_value(value, 1, rules.cuts)
        if not is_empty(value):
            properties[name] = value
    if len(properties) > rules.max_properties:
        rules.cuts.cut += 1
        properties = dict(list(properties.items())[: rules.max_properties])
    attributes["properties"] = properties

    if mapping.time_field is not None:
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
        attributes["time"] = time
        if rules.backfill_before is not None and time < rules.backfill_before:
            attributes["backfill"] = True
    if mapping.value_field is not None:
        value = get_path(record, mapping.value_field)
        if value is not None:
            attributes["value"] = fit_value(value, 1, rules.cuts)
    attributes["unique_id"] = unique_id
    attributes["metric"] = {"data": {"type": "metric", "attributes": {"name": metric}}}
    return EventItem(
        record=record,
        identity=identity,
        metric=metric,
        unique_id=unique_id,
        resource={"type": "event", "attributes": attributes},
    )


def translate_profile(
    record: dict[str, Any],
    mapping: ProfileMapping,
    renames: Renames,
    default_region: str,
    cuts: LimitCounter,
) -> ProfileItem | Rejection:
    """A record of a profile stream -> a profile item (contract "Profiles"), or why not."""
    identity = identity_of(
        get_path(record, mapping.email_field),
        get_path(record, mapping.phone_field),
        get_path(record, mapping.external_id_field),
        default_region,
    )
    if not identity.usable:
        detail = "no email, valid phone number or external_id"
        if identity.invalid_phone:
            detail += " (the phone number is not valid)"
        return Rejection(NO_IDENTIFIER, detail)
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
    location = location_parts(get_path(record, mapping.location_field))
    if location is not None:
        attributes["location"] = location
    properties: dict[str, Any] = {}
    for path, name in mapping.properties.items():
        value = get_path(record, path)
        if is_empty(value):
            continue
        final = renames.property_names.get(name, name)
        properties[final] = fit_value(value, 1, cuts)
    if properties:
        attributes["properties"] = properties
    return ProfileItem(
        record=record, identity=identity, resource={"type": "profile", "attributes": attributes}
    )


def _dotted(path: FieldPath | None) -> str:
    return "'" + ".".join(path or ()) + "'"

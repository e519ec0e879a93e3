"""The per-stream mapping settings, parsed and checked: which fields of a stream's records make a
Klaviyo event or profile, and the metric and property renames."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from target_klaviyo.defaults import (
    DEFAULT_EVENT_STREAMS,
    DEFAULT_METRIC_PROPERTY_NAMES,
    DEFAULT_PROFILE_STREAMS,
)
from target_klaviyo.errors import MappingConfigError

FieldPath = tuple[str, ...]
V = TypeVar("V")

EVENT_KEYS = {
    "metric",
    "metric_field",
    "unique_id_field",
    "time_field",
    "email_field",
    "phone_field",
    "external_id_field",
    "person_field",
    "value_field",
    "value_currency_field",
    "value_currency",
    "lookback_field",
    "source_field",
    "properties",
}
# Profile location from flat fields: mapping key -> Klaviyo location key.
LOCATION_FIELD_KEYS = {
    "address1_field": "address1",
    "address2_field": "address2",
    "city_field": "city",
    "region_field": "region",
    "country_field": "country",
    "zip_field": "zip",
    "timezone_field": "timezone",
    "latitude_field": "latitude",
    "longitude_field": "longitude",
}
PROFILE_KEYS = {
    "email_field",
    "phone_field",
    "external_id_field",
    "person_field",
    "name_field",
    "first_name_field",
    "last_name_field",
    "image_field",
    "location_field",
    *LOCATION_FIELD_KEYS,
    "properties",
}


def path_of(spec: str) -> FieldPath:
    """A field path from its dotted spelling (`opted_out_subscription_types.total_count`)."""
    return tuple(spec.split("."))


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
    # field path -> property name; None sends every field not used above under its own name
    # (except the SDK's `_sdc_*` metadata).
    properties: dict[FieldPath, str] | None
    value_currency_field: FieldPath | None = None
    value_currency: str | None = None  # a fixed ISO 4217 code when no field gives one
    person_field: FieldPath | None = None  # the person's id in the source (Identity.person)
    # A boolean field true when the tap re-emits the event from its lookback (it may be in
    # Klaviyo already): sent the same, counted apart from new deliveries (stats.RunStats).
    lookback_field: FieldPath | None = None
    # The field naming where the event comes from (tap-intercom-events: its Intercom workspace),
    # sent in the `source_property` event property: reconcile then tells this source's event from
    # another source's event under the same unique_id (reconcile.py).
    source_field: FieldPath | None = None

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
        currency = spec.get("value_currency")
        if currency is not None and not (isinstance(currency, str) and currency.strip()):
            msg = f"{where}.value_currency must be an ISO 4217 code such as 'USD', got {currency!r}"
            raise MappingConfigError(msg)
        return cls(
            stream=stream,
            metric=metric,
            metric_field=_field(spec, "metric_field", where),
            unique_id_field=_field(spec, "unique_id_field", where),
            key_properties=list(key_properties),
            time_field=_field(spec, "time_field", where),
            email_field=_field(spec, "email_field", where),
            phone_field=_field(spec, "phone_field", where),
            external_id_field=_field(spec, "external_id_field", where),
            value_field=_field(spec, "value_field", where),
            properties=None
            if properties is None
            else {path_of(k): str(v) for k, v in properties.items()},
            value_currency_field=_field(spec, "value_currency_field", where),
            value_currency=currency.strip().upper() if currency else None,
            person_field=_field(spec, "person_field", where),
            lookback_field=_field(spec, "lookback_field", where),
            source_field=_field(spec, "source_field", where),
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
            self.value_currency_field,
            self.lookback_field,
            self.source_field,
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
    # Klaviyo location key -> field path (over what location_field gives).
    location_fields: dict[str, FieldPath] = field(default_factory=dict)
    person_field: FieldPath | None = None  # the person's id in the source (Identity.person)

    @classmethod
    def from_config(cls, stream: str, spec: Mapping[str, Any]) -> ProfileMapping:
        where = f"profile_streams.{stream}"
        _check_keys(spec, PROFILE_KEYS, where)
        properties = spec.get("properties") or {}
        if not isinstance(properties, Mapping):
            msg = f"{where}.properties must be an object of field -> property name"
            raise MappingConfigError(msg)
        return cls(
            stream=stream,
            email_field=_field(spec, "email_field", where),
            phone_field=_field(spec, "phone_field", where),
            external_id_field=_field(spec, "external_id_field", where),
            name_field=_field(spec, "name_field", where),
            first_name_field=_field(spec, "first_name_field", where),
            last_name_field=_field(spec, "last_name_field", where),
            image_field=_field(spec, "image_field", where),
            location_field=_field(spec, "location_field", where),
            properties={path_of(k): str(v) for k, v in properties.items()},
            location_fields={
                location_key: path
                for key, location_key in LOCATION_FIELD_KEYS.items()
                if (path := _field(spec, key, where)) is not None
            },
            person_field=_field(spec, "person_field", where),
        )


def _field(spec: Mapping[str, Any], key: str, where: str) -> FieldPath | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        msg = f"{where}.{key} must be a field name (string), got {value!r}"
        raise MappingConfigError(msg)
    return path_of(value) if value else None


def _check_keys(spec: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(spec, Mapping):
        msg = f"{where} must be an object, got {type(spec).__name__}"
        raise MappingConfigError(msg)
    unknown = sorted(set(spec) - allowed)
    if unknown:
        hints = [
            f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)
            for key in unknown
            for close in [difflib.get_close_matches(key, allowed, n=1)]
        ]
        msg = f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(sorted(allowed))}"
        raise MappingConfigError(msg)


def merged_over(defaults: Mapping[str, V], configured: Mapping[str, Any] | None) -> dict[str, V]:
    """The user's entries (per stream, or per metric) replace the defaults' for the same key."""
    merged: dict[str, V] = dict(defaults)
    merged.update(configured or {})
    return merged


def default_event_streams(configured: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return merged_over(DEFAULT_EVENT_STREAMS, configured)


def default_profile_streams(configured: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return merged_over(DEFAULT_PROFILE_STREAMS, configured)


def default_metric_property_names(
    configured: Mapping[str, Any] | None,
) -> dict[str, Mapping[str, str | None]]:
    return merged_over(DEFAULT_METRIC_PROPERTY_NAMES, configured)

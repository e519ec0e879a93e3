"""Request validation as strict as Klaviyo's: the official models, plus the rules they do not enforce.

Each `validate_*` function returns what the store needs, or raises `ApiRequestError` with one 400 error
per bad item (bulk requests are rejected whole, every bad item named by its JSON pointer).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from openapi_client.models import (
    EventCreateQueryV2,
    EventsBulkCreateJob,
    OnsiteProfileMeta,
    ProfileImportJobCreateQuery,
    ProfileUpsertQuery,
)
from pydantic import BaseModel, ValidationError

from api_sandbox.klaviyo.errors import ApiError, ApiRequestError, invalid
from api_sandbox.klaviyo.revisions import Revision
from api_sandbox.klaviyo.schema import (
    KeyTree,
    key_tree,
    not_arrays,
    shape,
    subtree,
    unknown_keys,
    with_key,
    without,
)

MAX_STRING_BYTES = 100 * 1024
MAX_ARRAY_ITEMS = 4000
MAX_NESTING = 10
MAX_METRIC_NAME = 127  # "Must be less than 128 characters."
MAX_BULK_EVENTS = 1000
MAX_BULK_PROFILES = 10_000
MAX_PROFILE_BYTES = 100 * 1024

BULK_EVENTS = "/data/attributes/events-bulk-create/data"
BULK_PROFILES = "/data/attributes/profiles/data"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}$")
# ISO-8601 as Klaviyo takes it: a date, optionally a time (seconds, up to microseconds) and an offset.
_ISO_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_ITEM_PREFIX = re.compile(
    rf"^({BULK_EVENTS}/\d+/attributes/(?:events/data/\d+|profile)|{BULK_PROFILES}/\d+)"
)
EVENT_IDENTIFIERS = ("email", "phone_number", "external_id", "anonymous_id")
PROFILE_IDENTIFIERS = ("email", "phone_number", "external_id")


@dataclass
class ProfileInput:
    """A profile as one request describes it: only the keys it sent (null means clear)."""

    pointer: str  # the JSON pointer of its resource object
    id: str | None
    attributes: dict[str, Any]
    patch: dict[str, Any] | None  # meta.patch_properties
    patch_pointer: str = ""

    def identifiers(self) -> dict[str, str]:
        return {
            key: value
            for key in EVENT_IDENTIFIERS
            if isinstance(value := self.attributes.get(key), str) and value
        }


@dataclass
class EventInput:
    pointer: str
    metric: str
    unique_id: str | None
    time: datetime  # UTC, truncated to the second
    properties: dict[str, Any]
    value: float | None
    value_currency: str | None
    backfill: bool


@dataclass
class BulkEntry:
    profile: ProfileInput
    events: list[EventInput]


# -- public validators -------------------------------------------------------------------------


def validate_create_event(
    body: Any, revision: Revision, now: datetime
) -> tuple[ProfileInput, EventInput]:
    errors = _structure_errors(body, EventCreateQueryV2, _create_event_tree(revision))
    if errors:
        raise ApiRequestError(errors)
    attributes = body["data"]["attributes"]
    profile_data = attributes["profile"]["data"]
    beside = revision.create_event_meta_beside_attributes
    profile = _profile_input(profile_data, "/data/attributes/profile/data", beside_meta=beside)
    if not beside:
        # The 25.0.0 models know `meta` only beside `attributes`: check this placement's
        # contents with the same official model.
        meta = profile.attributes.pop("meta", None)
        meta_pointer = f"{profile.pointer}/attributes/meta"
        if meta is not None:
            errors.extend(_model_errors(meta, OnsiteProfileMeta, meta_pointer))
            if errors:
                raise ApiRequestError(errors)
        profile.patch = _patch_of(meta)
        profile.patch_pointer = f"{meta_pointer}/patch_properties"
    _check_profile(profile, EVENT_IDENTIFIERS, errors)
    event = _check_event(attributes, "/data", revision, now, group_backfill=False, errors=errors)
    if errors or event is None:
        raise ApiRequestError(errors)
    return profile, event


def validate_bulk_events(body: Any, revision: Revision, now: datetime) -> list[BulkEntry]:
    tree = _bulk_events_tree(revision.has_backfill)
    errors = _structure_errors(body, EventsBulkCreateJob, tree, _bulk_events_sample(body, tree))
    entries_data = _items(body, "events-bulk-create")
    if entries_data is None:
        # The generated from_dict iterates a dict as if it were the list: say so ourselves.
        raise ApiRequestError(errors or [invalid("'data' must be an array.", BULK_EVENTS)])
    structure_failed = bool(errors)
    total = sum(_event_count(entry) for entry in entries_data)
    if not entries_data:
        # Klaviyo answers an empty bulk array with 400 (Segment PR #2885).
        raise ApiRequestError([invalid("At least one entry is required.", BULK_EVENTS)])
    if total > MAX_BULK_EVENTS:
        raise ApiRequestError(
            [
                invalid(
                    f"A request accepts up to {MAX_BULK_EVENTS} events; this one has {total}.",
                    BULK_EVENTS,
                )
            ]
        )
    entries: list[BulkEntry] = []
    for i, entry in enumerate(entries_data):
        if structure_failed and _malformed(i, BULK_EVENTS, errors):
            continue  # the item's structure error is its report
        entry_attributes = entry["attributes"]
        pointer = f"{BULK_EVENTS}/{i}/attributes"
        profile = _profile_input(
            entry_attributes["profile"]["data"], f"{pointer}/profile/data", beside_meta=True
        )
        _check_profile(profile, EVENT_IDENTIFIERS, errors)
        group_backfill = entry_attributes.get("backfill") is True
        events_data = entry_attributes["events"]["data"]
        if not isinstance(events_data, list) or not events_data:
            detail = "At least one event is required." if events_data == [] else None
            errors.append(
                invalid(detail or "'data' must be an array of events.", f"{pointer}/events/data")
            )
            continue
        events: list[EventInput] = []
        for j, event_data in enumerate(events_data):
            item = f"{pointer}/events/data/{j}"
            if structure_failed and _has_error_under(errors, item):
                continue
            event = _check_event(
                event_data["attributes"],
                item,
                revision,
                now,
                group_backfill=group_backfill,
                errors=errors,
            )
            if event is not None:
                events.append(event)
        entries.append(BulkEntry(profile, events))
    if not structure_failed:
        errors.extend(_repeated_unique_ids(entries))
    if errors:
        raise ApiRequestError(_one_per_item(errors))
    return entries


def validate_profile_import(body: Any, revision: Revision) -> ProfileInput:
    errors = _structure_errors(body, ProfileUpsertQuery, key_tree(ProfileUpsertQuery))
    if errors:
        raise ApiRequestError(errors)
    profile = _profile_input(body["data"], "/data", beside_meta=True)
    _check_profile(profile, PROFILE_IDENTIFIERS, errors)
    if errors:
        raise ApiRequestError(errors)
    return profile


def validate_bulk_profiles(
    body: Any, revision: Revision, raw_sizes: list[int]
) -> list[ProfileInput]:
    """`raw_sizes`: serialised size of each profile, for the 100 KB per-profile limit."""
    tree = key_tree(ProfileImportJobCreateQuery)
    errors = _structure_errors(
        body, ProfileImportJobCreateQuery, tree, _bulk_profiles_sample(body, tree)
    )
    profiles_data = _items(body, "profiles")
    if profiles_data is None:
        raise ApiRequestError(errors or [invalid("'data' must be an array.", BULK_PROFILES)])
    structure_failed = bool(errors)
    if not profiles_data:
        raise ApiRequestError([invalid("At least one profile is required.", BULK_PROFILES)])
    if len(profiles_data) > MAX_BULK_PROFILES:
        raise ApiRequestError(
            [
                invalid(
                    f"A request accepts up to {MAX_BULK_PROFILES} profiles; this one has {len(profiles_data)}.",
                    BULK_PROFILES,
                )
            ]
        )
    profiles: list[ProfileInput] = []
    for i, data in enumerate(profiles_data):
        pointer = f"{BULK_PROFILES}/{i}"
        if structure_failed and _malformed(i, BULK_PROFILES, errors):
            continue
        if raw_sizes[i] > MAX_PROFILE_BYTES:
            errors.append(
                invalid(
                    f"The profile payload is {raw_sizes[i]} bytes; at most {MAX_PROFILE_BYTES} are allowed per profile.",
                    pointer,
                )
            )
            continue
        profile = _profile_input(data, pointer, beside_meta=True)
        _check_profile(profile, PROFILE_IDENTIFIERS, errors)
        profiles.append(profile)
    if errors:
        raise ApiRequestError(_one_per_item(errors))
    return profiles


# -- structure: unknown keys and the official models -------------------------------------------


@cache
def _create_event_tree(revision: Revision) -> KeyTree:
    tree = key_tree(EventCreateQueryV2)
    if not revision.has_backfill:
        tree = without(tree, ("data", "attributes"), "backfill")
    if not revision.create_event_meta_beside_attributes:
        profile = ("data", "attributes", "profile", "data")
        tree = without(tree, profile, "meta")
        tree = with_key(tree, (*profile, "attributes"), "meta", key_tree(OnsiteProfileMeta))
    return tree


@cache
def _bulk_events_tree(has_backfill: bool) -> KeyTree:
    tree = key_tree(EventsBulkCreateJob)
    if not has_backfill:
        entry = ("data", "attributes", "events-bulk-create", "data", "attributes")
        tree = without(tree, entry, "backfill")
        tree = without(tree, (*entry, "events", "data", "attributes"), "backfill")
    return tree


def _structure_errors(
    body: Any, model: type[BaseModel], tree: KeyTree, sample: dict[str, Any] | None = None
) -> list[ApiError]:
    """Unknown keys and the models' verdict. A bulk body is first checked through `sample`, one
    item of each shape (far faster); only when that fails is every item checked, for the pointers."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return [invalid("The request body must be a JSON object with a 'data' object.", "/data")]
    if sample is not None and _passes(sample, model, tree):
        return []
    errors = [
        invalid(f"'{key}' is not a valid field for the resource '{resource}'.", pointer)
        for pointer, key, resource in unknown_keys(body, tree, "")
    ]
    errors += [invalid("Expected an array.", pointer) for pointer in not_arrays(body, tree, "")]
    return errors + _model_errors(body, model)


def _passes(body: dict[str, Any], model: type[BaseModel], tree: KeyTree) -> bool:
    if next(unknown_keys(body, tree, ""), None) is not None:
        return False
    if next(not_arrays(body, tree, ""), None) is not None:
        return False
    try:
        model.from_dict(body)  # type: ignore[attr-defined]
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


def _bulk_events_sample(body: Any, tree: KeyTree) -> dict[str, Any] | None:
    """The body with one entry per entry shape and one event per event shape (None: malformed)."""
    try:
        entry_tree = subtree(tree, "data", "attributes", "events-bulk-create", "data")
        event_tree = subtree(entry_tree, "attributes", "events", "data")
        job = body["data"]
        entries = job["attributes"]["events-bulk-create"]["data"]
        if not isinstance(entries, list) or not all(
            isinstance(entry["attributes"]["events"]["data"], list) for entry in entries
        ):
            return None
        # An entry's shape without its events: `events.data` (a list, checked above) is opaque.
        hollow_tree = with_key(entry_tree, ("attributes", "events"), "data", None)
        hollow_entries: dict[Hashable, dict[str, Any]] = {}
        events: dict[Hashable, Any] = {}
        for entry in entries:
            attributes = entry["attributes"]
            for event in attributes["events"]["data"]:
                events.setdefault(shape(event, event_tree), event)
            key = shape(entry, hollow_tree)
            if key not in hollow_entries:
                hollow_entries[key] = {
                    **entry,
                    "attributes": {**attributes, "events": {**attributes["events"], "data": []}},
                }
        samples = list(hollow_entries.values())
        if samples:
            first = samples[0]["attributes"]
            first["events"]["data"] = list(events.values())
        return {
            **body,
            "data": {
                **job,
                "attributes": {
                    **job["attributes"],
                    "events-bulk-create": {
                        **job["attributes"]["events-bulk-create"],
                        "data": samples,
                    },
                },
            },
        }
    except (KeyError, TypeError, AttributeError):
        return None


def _bulk_profiles_sample(body: Any, tree: KeyTree) -> dict[str, Any] | None:
    """The body with one profile per profile shape (None: malformed)."""
    try:
        profile_tree = subtree(tree, "data", "attributes", "profiles", "data")
        job = body["data"]
        profiles: dict[Hashable, Any] = {}
        if not isinstance(job["attributes"]["profiles"]["data"], list):
            return None
        for profile in job["attributes"]["profiles"]["data"]:
            profiles.setdefault(shape(profile, profile_tree), profile)
        return {
            **body,
            "data": {
                **job,
                "attributes": {
                    **job["attributes"],
                    "profiles": {**job["attributes"]["profiles"], "data": list(profiles.values())},
                },
            },
        }
    except (KeyError, TypeError, AttributeError):
        return None


def _model_errors(body: Any, model: type[BaseModel], prefix: str = "") -> list[ApiError]:
    """Klaviyo's verdict as the SDK's `from_dict` gives it; pointers from a full pydantic pass."""
    try:
        model.from_dict(body)  # type: ignore[attr-defined]
    except (ValueError, TypeError, KeyError, AttributeError) as verdict:
        try:
            model.model_validate(body)
        except ValidationError as full:
            errors: dict[str, ApiError] = {}
            for error in full.errors():
                converted = _from_pydantic(error, body, prefix)
                errors.setdefault(converted.pointer or "", converted)
            return list(errors.values())
        return [invalid(f"Invalid input: {verdict}", prefix or "/data")]
    return []


def _from_pydantic(error: Any, body: Any, prefix: str = "") -> ApiError:
    # pydantic's location also names union members ("value/float"): keep the part found in the body.
    path: list[str] = []
    node = body
    location = list(error["loc"])
    for step, part in enumerate(location):
        last = step == len(location) - 1
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif not (last and error["type"] == "missing"):
            break
        path.append(str(part))
    pointer = prefix + "/" + "/".join(path) if path else prefix or "/"
    field = path[-1] if path else prefix.rsplit("/", 1)[-1] or "data"
    if error["type"] == "missing":
        return invalid(f"'{field}' is a required field.", pointer)
    return invalid(f"'{field}': {error['msg']}.", pointer)


def _items(body: Any, collection: str) -> list[Any] | None:
    """The list of items of a bulk body, or None when the body is too malformed to reach it."""
    try:
        items = body["data"]["attributes"][collection]["data"]
    except (KeyError, TypeError):
        return None
    return items if isinstance(items, list) else None


def _event_count(entry: Any) -> int:
    try:
        return len(entry["attributes"]["events"]["data"])
    except (KeyError, TypeError):
        return 0


def _has_error_under(errors: list[ApiError], item: str) -> bool:
    return any(
        (error.pointer or "") == item or (error.pointer or "").startswith(item + "/")
        for error in errors
    )


_INSIDE_AN_EVENT = re.compile(r"/attributes/events/data/\d+/attributes/")


def _malformed(index: int, collection: str, errors: list[ApiError]) -> bool:
    """Whether a bulk item's structure is already reported (its rules cannot be checked)."""
    item_pointer = f"{collection}/{index}"
    item_errors = [
        e.pointer or ""
        for e in errors
        if e.pointer == item_pointer or (e.pointer or "").startswith(item_pointer + "/")
    ]
    if not item_errors:
        return False
    # An entry whose only errors are inside its events' attributes keeps its profile checkable.
    return collection != BULK_EVENTS or not all(
        _INSIDE_AN_EVENT.search(pointer) for pointer in item_errors
    )


def _document_order(error: ApiError) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in (error.pointer or "").split("/")
    )


def _one_per_item(errors: list[ApiError]) -> list[ApiError]:
    """Bulk requests: one error per bad item (event, profile), the first found, in document order."""
    seen: set[str] = set()
    kept: list[ApiError] = []
    for error in sorted(errors, key=_document_order):
        match = _ITEM_PREFIX.match(error.pointer or "")
        item = match.group(1) if match else (error.pointer or "")
        if item not in seen:
            seen.add(item)
            kept.append(error)
    return kept


# -- rules the models do not check ---------------------------------------------------------------


def _profile_input(data: dict[str, Any], pointer: str, *, beside_meta: bool) -> ProfileInput:
    meta = data.get("meta") if beside_meta else None
    return ProfileInput(
        pointer=pointer,
        id=data.get("id"),
        attributes=dict(data.get("attributes") or {}),
        patch=_patch_of(meta),
        patch_pointer=f"{pointer}/meta/patch_properties",
    )


def _patch_of(meta: Any) -> dict[str, Any] | None:
    if isinstance(meta, dict) and isinstance(meta.get("patch_properties"), dict):
        return meta["patch_properties"]
    return None


def _check_profile(
    profile: ProfileInput, identifier_keys: tuple[str, ...], errors: list[ApiError]
) -> None:
    attributes = profile.attributes
    pointer = f"{profile.pointer}/attributes"
    email = attributes.get("email")
    if email is not None and not _EMAIL.match(email):
        errors.append(invalid(f"Invalid email address '{email[:200]}'.", f"{pointer}/email"))
        return
    phone = attributes.get("phone_number")
    if phone is not None and not is_e164(phone):
        errors.append(
            invalid(
                f"Invalid phone number '{phone[:50]}': it must be a valid number in E.164 format, e.g. +15005550006.",
                f"{pointer}/phone_number",
            )
        )
        return
    if not profile.id and not any(
        isinstance(attributes.get(key), str) and attributes[key] for key in identifier_keys
    ):
        names = ", ".join(identifier_keys)
        errors.append(invalid(f"A profile identifier is required: one of id, {names}.", pointer))
        return
    unset = (profile.patch or {}).get("unset")
    if not (
        unset is None
        or isinstance(unset, str)
        or (isinstance(unset, list) and all(isinstance(key, str) for key in unset))
    ):
        errors.append(
            invalid(
                "'unset' must be a property name or a list of property names.",
                f"{profile.patch_pointer}/unset",
            )
        )
        return
    violation = value_limit_violation(attributes, pointer, nesting_counted=False)
    if violation is not None:
        errors.append(invalid(violation[1], violation[0]))


@lru_cache(maxsize=65536)
def is_e164(phone: str) -> bool:
    if not phone.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _check_event(
    attributes: dict[str, Any],
    pointer: str,
    revision: Revision,
    now: datetime,
    *,
    group_backfill: bool,
    errors: list[ApiError],
) -> EventInput | None:
    attributes_pointer = pointer + "/attributes"
    name = attributes["metric"]["data"]["attributes"]["name"]
    if not name.strip() or len(name) > MAX_METRIC_NAME:
        errors.append(
            invalid(
                f"The metric name must be 1 to {MAX_METRIC_NAME} characters (less than 128); got {len(name)}.",
                f"{attributes_pointer}/metric/data/attributes/name",
            )
        )
        return None
    time = _event_time(attributes.get("time"), revision, now)
    if isinstance(time, str):
        errors.append(invalid(time, f"{attributes_pointer}/time"))
        return None
    properties = attributes["properties"]
    limit = revision.max_event_properties
    if len(properties) > limit:
        errors.append(
            invalid(
                f"An event may have at most {limit} properties; this one has {len(properties)}.",
                f"{attributes_pointer}/properties",
            )
        )
        return None
    violation = (
        None
        if _within_limits(properties, 1)
        else value_limit_violation(properties, f"{attributes_pointer}/properties")
    )
    if violation is not None:
        errors.append(invalid(violation[1], violation[0]))
        return None
    return EventInput(
        pointer=pointer,
        metric=name,
        unique_id=attributes.get("unique_id"),
        time=time,
        properties=properties,
        value=attributes.get("value"),
        value_currency=attributes.get("value_currency"),
        backfill=attributes.get("backfill") is True or group_backfill,
    )


@lru_cache(maxsize=8)
def _time_bounds(earliest_year: int, now: datetime) -> tuple[datetime, datetime]:
    """Event times must fall in [bounds): worked out once per request (`now`), not per event."""
    return datetime(earliest_year, 1, 1, tzinfo=timezone.utc), now + timedelta(days=365)


def _event_time(value: Any, revision: Revision, now: datetime) -> datetime | str:
    """The event time in UTC to the second, or why it is not acceptable."""
    if value is None:
        return now.replace(microsecond=0)
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        return f"'{value!s:.60}' is not an ISO-8601 date-time (YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM|Z])."
    try:
        # Python 3.10's fromisoformat takes no "Z" suffix; every supported version takes +00:00.
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "zZ" else value)
    except ValueError:
        return f"'{value:.60}' is not a valid date-time."
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    elif parsed.tzinfo is not timezone.utc:
        parsed = parsed.astimezone(timezone.utc)
    if parsed.microsecond:
        parsed = parsed.replace(microsecond=0)
    earliest, latest = _time_bounds(revision.earliest_event_year, now)
    if parsed < earliest:
        return f"The event time {value} is too early: it must be after the year {revision.earliest_event_year}."
    if parsed > latest:
        return f"The event time {value} is too far in the future: at most 1 year ahead."
    return parsed


def value_limit_violation(
    value: Any, pointer: str, *, nesting_counted: bool = True
) -> tuple[str, str] | None:
    """(pointer, detail) of the first string over 100 KB, array over 4000 items or nesting over 10."""
    if _within_limits(value, 1):
        return None
    return _limit_violation(value, pointer, nesting_counted=nesting_counted)


def _within_limits(value: Any, depth: int) -> bool:
    """True when `value` certainly breaks no limit (at any nesting): the quick check every event
    and profile goes through. False sends it to `_limit_violation`, which finds the pointer (or
    nothing, e.g. deep nesting where it is not counted)."""
    if type(value) is dict:
        items: Any = value.values()
    elif type(value) is list:
        if len(value) > MAX_ARRAY_ITEMS:
            return False
        items = value
    else:
        return False
    for item in items:
        kind = type(item)
        if kind is str:
            if len(item) > MAX_STRING_BYTES // 4:
                return False
        elif kind is dict or kind is list:
            if depth >= MAX_NESTING or not _within_limits(item, depth + 1):
                return False
        elif kind is not int and kind is not float and kind is not bool and item is not None:
            return False
    return True


def _limit_violation(
    value: Any, pointer: str, *, nesting_counted: bool = True
) -> tuple[str, str] | None:
    """(pointer, detail) of the first string over 100 KB, array over 4000 items or nesting over 10."""
    # Pointers are built only for containers: most values are flat strings and numbers.
    stack: list[tuple[Any, str, int]] = [(value, pointer, 1)]
    while stack:
        container, where, depth = stack.pop()
        if nesting_counted and depth > MAX_NESTING:
            return where, f"Properties may be nested at most {MAX_NESTING} levels deep."
        if isinstance(container, dict):
            items: Any = container.items()
        else:
            if len(container) > MAX_ARRAY_ITEMS:
                return where, (
                    f"An array may have at most {MAX_ARRAY_ITEMS} items; this one has {len(container)}."
                )
            items = enumerate(container)
        for key, item in items:
            if isinstance(item, str):
                # A string of at most 25,600 characters cannot exceed 100 KB in UTF-8.
                if len(item) > MAX_STRING_BYTES // 4 and len(item.encode()) > MAX_STRING_BYTES:
                    return f"{where}/{key}", (
                        f"A string may be at most {MAX_STRING_BYTES} bytes (100 KB)."
                    )
            elif isinstance(item, (dict, list)):
                stack.append((item, f"{where}/{key}", depth + 1))
    return None


def _repeated_unique_ids(entries: list[BulkEntry]) -> list[ApiError]:
    """A unique_id repeated for the same profile and metric fails the whole bulk request."""
    # Entries sharing any identifier are the same profile: group them with a small union-find.
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        identity = list(entry.profile.identifiers().items())
        if entry.profile.id:
            identity.append(("id", entry.profile.id))
        for identifier in identity:
            if identifier in owner:
                parent[root(i)] = root(owner[identifier])
            else:
                owner[identifier] = i
    seen: set[tuple[int, str, str]] = set()
    errors: list[ApiError] = []
    for i, entry in enumerate(entries):
        for event in entry.events:
            if event.unique_id is None:
                continue
            key = (root(i), event.metric, event.unique_id)
            if key in seen:
                errors.append(
                    invalid(
                        f"unique_id '{event.unique_id}' is repeated for the same profile and metric '{event.metric}'; "
                        "no events of this request were processed.",
                        f"{event.pointer}/attributes/unique_id",
                    )
                )
            seen.add(key)
    return errors

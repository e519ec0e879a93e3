"""Bulk request bodies: chunking within Klaviyo's count and size limits, grouping events by
profile, deduplication, and reading `source.pointer`s of errors back to the items they name."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import msgspec

from target_klaviyo.items import EventItem, Identity, ProfileItem
from target_klaviyo.translate import drop_largest, json_default, json_size

MAX_EVENTS_PER_REQUEST = 1000
MAX_PROFILES_PER_JOB = 10_000
MAX_REQUEST_BYTES = 5 * 1024 * 1024
MAX_PROFILE_BYTES = 100 * 1024
# Stay under 5 MB with room for the envelope and any difference in how Klaviyo counts.
DEFAULT_MAX_REQUEST_BYTES = MAX_REQUEST_BYTES - 256 * 1024

_EVENTS_PREFIX = (
    b'{"data":{"type":"event-bulk-create-job","attributes":{"events-bulk-create":{"data":['
)
_PROFILES_PREFIX = b'{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
_SUFFIX = b"]}}}}"
_GROUP_PREFIX = (
    b'{"type":"event-bulk-create","attributes":{"profile":{"data":{"type":"profile","attributes":'
)
_GROUP_MIDDLE = b'}},"events":{"data":['
_GROUP_SUFFIX = b"]}}}"

_EVENT_POINTER = re.compile(
    r"^/data/attributes/events-bulk-create/data/(\d+)(?:/attributes/events/data/(\d+))?"
)
_UNIQUE_ID_POINTER = re.compile(r"/attributes/events/data/\d+/attributes/unique_id$")
_PROFILE_POINTER = re.compile(r"^/data/attributes/profiles/data/(\d+)")


# Payloads hold JSON types only (records.fit_value made Decimals numbers, datetimes text), which
# msgspec writes, compact and in UTF-8, for a fraction of json's CPU. A Decimal still goes through
# json_default (msgspec's own form is a string); a datetime would not, but none gets here.
# Request sizes are measured on these same bytes.
_ENCODER = msgspec.json.Encoder(enc_hook=json_default, decimal_format=json_default)
# Records, kept only to be decoded again for dead letters: written by json as before (NaN stays
# NaN, where msgspec writes null), so dead letters do not change.
_RECORD_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=json_default)


def encode(value: Any) -> bytes:
    return _ENCODER.encode(value)


def encode_record(record: Any) -> bytes:
    return _RECORD_ENCODER.encode(record).encode()


@dataclass
class ProfileGroup:
    """The events of one profile within one bulk request."""

    identity: Identity
    events: list[EventItem] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    profile: bytes = b""  # the identity's attributes, encoded

    def __post_init__(self) -> None:
        if not self.profile:
            self.profile = encode(self.identity.attributes())

    def to_bytes(self) -> bytes:
        return b"".join(
            (
                _GROUP_PREFIX,
                self.profile,
                _GROUP_MIDDLE,
                b",".join(self.encoded),
                _GROUP_SUFFIX,
            )
        )


@dataclass
class EventChunk:
    """One POST /api/event-bulk-create-jobs request."""

    groups: list[ProfileGroup]

    @property
    def event_count(self) -> int:
        return sum(len(g.events) for g in self.groups)

    def body(self) -> bytes:
        return _EVENTS_PREFIX + b",".join(g.to_bytes() for g in self.groups) + _SUFFIX

    def items(self) -> Iterator[EventItem]:
        for group in self.groups:
            yield from group.events

    def members(self) -> list[EventItem | ProfileItem]:
        return list(self.items())

    def halves(self) -> tuple[EventChunk, EventChunk]:
        """The request cut in two of (nearly) equal event counts; a profile group at the cut
        goes half into each."""
        middle = self.event_count // 2
        first: list[ProfileGroup] = []
        second: list[ProfileGroup] = []
        seen = 0
        for group in self.groups:
            count = len(group.events)
            if seen >= middle:
                second.append(group)
            elif seen + count <= middle:
                first.append(group)
            else:
                cut = middle - seen
                first.append(_part(group, 0, cut))
                second.append(_part(group, cut, count))
            seen += count
        return EventChunk(first), EventChunk(second)

    def settled(
        self, settle: Callable[[Identity], tuple[Identity, tuple[str, ...]]]
    ) -> tuple[EventChunk, Counter[str], int]:
        """This request with each group's identity as `settle` says (identifiers held by
        someone else left out); groups that end with the same identity are merged, each
        (metric, unique_id) once. Returns the request, the events each identifier kind was
        left out of, and how many repeats the merges dropped."""
        left_out: Counter[str] = Counter()
        merged: dict[tuple[Any, ...], ProfileGroup] = {}
        changed = False
        for original in self.groups:
            identity, kinds = settle(original.identity)
            group = original
            if kinds:
                changed = True
                for kind in kinds:
                    left_out[kind] += len(group.events)
                group = _part(group, 0, len(group.events), identity)
            key = identity.key
            if key in merged:
                merged[key] = _merged(merged[key], group)
            else:
                merged[key] = group
        if not changed:
            return self, left_out, 0
        groups = list(merged.values())
        repeats = self.event_count - sum(len(g.events) for g in groups)
        return EventChunk(groups), left_out, repeats

    def without(
        self,
        groups: Mapping[int, str],
        events: Mapping[tuple[int, int], str],
        identities: Mapping[int, Identity] | None = None,
    ) -> tuple[EventChunk, list[tuple[EventItem, str]]]:
        """This request minus the profile groups and the (group, event) positions named, each
        with the detail of why; a group in `identities` stays with that identity instead (an
        identifier that belongs to another profile left out).

        Returns the smaller request and the events taken out, with their details."""
        identities = identities or {}
        kept_groups: list[ProfileGroup] = []
        dropped: list[tuple[EventItem, str]] = []
        for index, group in enumerate(self.groups):
            if index in groups:
                dropped += [(item, groups[index]) for item in group.events]
                continue
            kept = ProfileGroup(identities.get(index, group.identity))
            if kept.identity is group.identity:
                kept.profile = group.profile
            for event_index, (item, encoded) in enumerate(
                zip(group.events, group.encoded, strict=True)
            ):
                detail = events.get((index, event_index))
                if detail is not None:
                    dropped.append((item, detail))
                else:
                    kept.events.append(item)
                    kept.encoded.append(encoded)
            if kept.events:
                kept_groups.append(kept)
        return EventChunk(kept_groups), dropped


def _part(
    group: ProfileGroup, start: int, stop: int, identity: Identity | None = None
) -> ProfileGroup:
    """Events [start, stop) of a group, as a group of its own (with another identity)."""
    return ProfileGroup(
        identity or group.identity,
        group.events[start:stop],
        group.encoded[start:stop],
        group.profile if identity is None else b"",  # b"": encoded from the new identity
    )


def _merged(first: ProfileGroup, second: ProfileGroup) -> ProfileGroup:
    """Two groups of one identity as one, each (metric, unique_id) once."""
    seen = {(item.metric, item.unique_id) for item in first.events}
    group = ProfileGroup(first.identity, list(first.events), list(first.encoded), first.profile)
    for item, encoded in zip(second.events, second.encoded, strict=True):
        if (item.metric, item.unique_id) not in seen:
            seen.add((item.metric, item.unique_id))
            group.events.append(item)
            group.encoded.append(encoded)
    return group


@dataclass
class Oversized:
    """An item larger than a whole request may be."""

    item: EventItem | ProfileItem
    size: int


@dataclass
class Dropped:
    """Properties taken out of an item so that the rest of it fits Klaviyo's size limits."""

    item: EventItem | ProfileItem
    names: list[str]  # dotted, under the item's `properties`


C = TypeVar("C")


@dataclass
class Chunking(Generic[C]):
    """A batch cut into requests, with what could not go into any."""

    chunks: list[C]
    duplicates: int
    oversized: list[Oversized]
    dropped: list[Dropped] = field(default_factory=list)


def _fitted(
    resource: dict[str, Any], data: bytes, limit: int, *, escaped: bool
) -> tuple[bytes, int, list[str]]:
    """An item's resource (`data` encoded) within `limit` bytes, its largest properties dropped
    if need be (translate.drop_largest): the bytes to send, their size as measured (`escaped`:
    by translate.json_size, the stricter of two readings) and the names dropped. Still over
    `limit` when dropping every property was not enough."""
    size = json_size(resource) if escaped else len(data)
    attributes = resource.get("attributes")
    properties = attributes.get("properties") if isinstance(attributes, dict) else None
    dropped: list[str] = []
    while size > limit and isinstance(properties, dict) and properties:
        dropped += drop_largest(properties, size - limit)
        data = encode(resource)
        size = json_size(resource) if escaped else len(data)
    return data, size, dropped


_GROUP_FRAME = len(_GROUP_PREFIX) + len(_GROUP_MIDDLE) + len(_GROUP_SUFFIX) + 1


def chunk_events(
    items: Iterable[EventItem],
    max_events: int = MAX_EVENTS_PER_REQUEST,
    max_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> Chunking[EventChunk]:
    """Bulk requests of at most `max_events` events and `max_bytes` bytes, events grouped by
    profile, each (profile, metric, unique_id) once (Klaviyo fails a request that repeats one)."""
    chunks: list[EventChunk] = []
    oversized: list[Oversized] = []
    dropped: list[Dropped] = []
    seen: set[tuple[Any, ...]] = set()
    duplicates = 0
    groups: dict[tuple[Any, ...], ProfileGroup] = {}
    size = len(_EVENTS_PREFIX) + len(_SUFFIX)
    count = 0

    for item in items:
        key = item.identity.key
        dedup_key = (key, item.metric, item.unique_id)
        if dedup_key in seen:
            duplicates += 1
            continue
        seen.add(dedup_key)
        encoded = encode(item.resource)
        group = groups.get(key)
        new_group = ProfileGroup(item.identity) if group is None else None
        extra = len(encoded) + 1 + (_GROUP_FRAME + len(new_group.profile) if new_group else 0)
        # Measured as the first event of a request (its group's frame and profile too): it may
        # have to start one.
        profile = (new_group if new_group is not None else groups[key]).profile
        alone = len(profile) + _GROUP_FRAME + len(_EVENTS_PREFIX) + len(_SUFFIX) + 1
        if len(encoded) + alone > max_bytes:
            limit = max_bytes - alone
            encoded, _, names = _fitted(item.resource, encoded, limit, escaped=False)
            if len(encoded) > limit:
                oversized.append(Oversized(item, len(encoded) + alone))
                continue
            dropped.append(Dropped(item, names))
            extra = len(encoded) + 1 + (_GROUP_FRAME + len(new_group.profile) if new_group else 0)
        item.resource = {}  # from here on the encoded bytes are what is sent: free the dicts
        if count >= max_events or size + extra > max_bytes:
            chunks.append(EventChunk(list(groups.values())))
            groups = {}
            group = None
            size = len(_EVENTS_PREFIX) + len(_SUFFIX)
            count = 0
            new_group = new_group or ProfileGroup(item.identity)
            extra = len(encoded) + 1 + _GROUP_FRAME + len(new_group.profile)
        if group is None:
            group = groups[key] = new_group or ProfileGroup(item.identity)
        group.events.append(item)
        group.encoded.append(encoded)
        size += extra
        count += 1
    if groups:
        chunks.append(EventChunk(list(groups.values())))
    return Chunking(chunks, duplicates, oversized, dropped)


class ProfileChunk:
    """One POST /api/profile-bulk-import-jobs request, held compactly while it waits to be sent:
    each profile as its encoded resource object, its identity and its encoded record (decoded
    again only for a dead letter or a resend; `profiles` decodes on access)."""

    def __init__(self, profiles: Iterable[ProfileItem] = (), encoded: Iterable[bytes] = ()) -> None:
        items = list(profiles)
        self.encoded: list[bytes] = list(encoded)
        self.identities: list[Identity] = [item.identity for item in items]
        self.records: list[bytes] = [encode_record(item.record) for item in items]

    @classmethod
    def of(
        cls, encoded: list[bytes], identities: list[Identity], records: list[bytes]
    ) -> ProfileChunk:
        chunk = cls()
        chunk.encoded, chunk.identities, chunk.records = encoded, identities, records
        return chunk

    @property
    def profiles(self) -> Sequence[ProfileItem]:
        return _Profiles(self)

    def __len__(self) -> int:
        return len(self.encoded)

    def item(self, index: int) -> ProfileItem:
        return ProfileItem(
            json.loads(self.records[index]), self.identities[index], json.loads(self.encoded[index])
        )

    def body(self) -> bytes:
        return _PROFILES_PREFIX + b",".join(self.encoded) + _SUFFIX

    def members(self) -> list[EventItem | ProfileItem]:
        return list(self.profiles)

    def halves(self) -> tuple[ProfileChunk, ProfileChunk]:
        middle = len(self) // 2
        return (
            ProfileChunk.of(self.encoded[:middle], self.identities[:middle], self.records[:middle]),
            ProfileChunk.of(self.encoded[middle:], self.identities[middle:], self.records[middle:]),
        )

    def settled(
        self, settle: Callable[[Identity], tuple[Identity, tuple[str, ...]]]
    ) -> tuple[ProfileChunk, Counter[str]]:
        """This job with each profile's identity as `settle` says: identifiers held by someone
        else are left out of the encoded profile. Returns the job and the profiles each
        identifier kind was left out of."""
        left_out: Counter[str] = Counter()
        identities: list[Identity] = []
        encoded: list[bytes] = []
        for identity, data in zip(self.identities, self.encoded, strict=True):
            settled, kinds = settle(identity)
            identities.append(settled)
            if kinds:
                left_out.update(kinds)
                data = _recoded(data, kinds)  # noqa: PLW2901 - the profile as it is now sent
            encoded.append(data)
        if not left_out:
            return self, left_out
        return ProfileChunk.of(encoded, identities, self.records), left_out

    def without(
        self, named: Mapping[int, str]
    ) -> tuple[ProfileChunk, list[tuple[ProfileItem, str]]]:
        """This request minus the profiles at the positions named (each with why); returns the
        smaller request and the profiles taken out, with their details."""
        kept = ProfileChunk()
        dropped: list[tuple[ProfileItem, str]] = []
        for index in range(len(self)):
            if index in named:
                dropped.append((self.item(index), named[index]))
            else:
                kept.encoded.append(self.encoded[index])
                kept.identities.append(self.identities[index])
                kept.records.append(self.records[index])
        return kept, dropped


class _Profiles(Sequence[ProfileItem]):
    """A chunk's profiles, decoded when read."""

    def __init__(self, chunk: ProfileChunk) -> None:
        self._chunk = chunk

    def __len__(self) -> int:
        return len(self._chunk)

    @overload
    def __getitem__(self, index: int) -> ProfileItem: ...

    @overload
    def __getitem__(self, index: slice) -> list[ProfileItem]: ...

    def __getitem__(self, index: int | slice) -> ProfileItem | list[ProfileItem]:
        if isinstance(index, slice):
            return [self._chunk.item(i) for i in range(len(self._chunk))[index]]
        if index < 0:
            index += len(self._chunk)
        if not 0 <= index < len(self._chunk):
            raise IndexError(index)
        return self._chunk.item(index)


def chunk_profiles(
    items: Iterable[ProfileItem],
    max_profiles: int = MAX_PROFILES_PER_JOB,
    max_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> Chunking[ProfileChunk]:
    """Bulk import jobs of at most `max_profiles` profiles and `max_bytes` bytes; a profile that
    comes more than once in a batch is sent once, as its latest record."""
    latest: dict[tuple[Any, ...], ProfileItem] = {}
    duplicates = 0
    for item in items:
        key = item.identity.key
        if key in latest:
            duplicates += 1
            del latest[key]  # keep the order of the latest occurrence
        latest[key] = item
    chunks: list[ProfileChunk] = []
    oversized: list[Oversized] = []
    dropped: list[Dropped] = []
    profiles: list[ProfileItem] = []
    encoded: list[bytes] = []
    size = len(_PROFILES_PREFIX) + len(_SUFFIX)
    for item in latest.values():
        data = encode(item.resource)
        # Within a quarter of the limit, no way of counting it can exceed the limit.
        if len(data) > MAX_PROFILE_BYTES // 4:
            data, measured, names = _fitted(item.resource, data, MAX_PROFILE_BYTES, escaped=True)
            if measured > MAX_PROFILE_BYTES:
                oversized.append(Oversized(item, measured))
                continue
            if names:
                dropped.append(Dropped(item, names))
        if len(profiles) >= max_profiles or size + len(data) + 1 > max_bytes:
            chunks.append(ProfileChunk(profiles, encoded))
            profiles, encoded = [], []
            size = len(_PROFILES_PREFIX) + len(_SUFFIX)
        profiles.append(item)
        encoded.append(data)
        size += len(data) + 1
    if profiles:
        chunks.append(ProfileChunk(profiles, encoded))
    return Chunking(chunks, duplicates, oversized, dropped)


def without_identifiers(resource: dict[str, Any], kinds: Iterable[str]) -> dict[str, Any]:
    """A profile resource object (`{"type": "profile", "attributes": {...}}`) without the
    identifier attributes named."""
    if not resource:
        return resource
    attributes = resource.get("attributes")
    if not isinstance(attributes, dict):
        return resource
    left_out = set(kinds)
    kept = {k: v for k, v in attributes.items() if k not in left_out}
    return {**resource, "attributes": kept}


def _recoded(data: bytes, kinds: Iterable[str]) -> bytes:
    return encode(without_identifiers(json.loads(data), kinds))


def bare_events(chunk: EventChunk, keep: Collection[str]) -> EventChunk:
    """The request with each event stripped to what identifies it: its profile, metric, time and
    unique_id, and only the properties named in `keep` (the unique-id and source properties
    reconcile matches by); no value."""
    groups = []
    for group in chunk.groups:
        encoded = []
        for data in group.encoded:
            event = json.loads(data)
            attributes = event.get("attributes") or {}
            properties = attributes.get("properties") or {}
            attributes["properties"] = {k: v for k, v in properties.items() if k in keep}
            attributes.pop("value", None)
            attributes.pop("value_currency", None)
            encoded.append(encode(event))
        groups.append(ProfileGroup(group.identity, list(group.events), encoded, group.profile))
    return EventChunk(groups)


def bare_profile(item: ProfileItem) -> ProfileItem:
    """The profile with its identifiers only."""
    return ProfileItem(
        item.record, item.identity, {"type": "profile", "attributes": item.identity.attributes()}
    )


def profile_import_body(item: ProfileItem) -> bytes:
    """POST /api/profile-import (one profile)."""
    return encode({"data": item.resource})


def event_pointer(pointer: str | None) -> tuple[int, int | None] | None:
    """(profile group index, event index or None) named by an error's `source.pointer` in a bulk
    events request; None when it names no item."""
    if not pointer:
        return None
    match = _EVENT_POINTER.match(pointer)
    if match is None:
        return None
    event = match.group(2)
    return int(match.group(1)), (int(event) if event is not None else None)


def names_unique_id(pointer: str | None) -> bool:
    """Whether an error's pointer names an event's unique_id (a repeat of a stored event)."""
    return bool(pointer) and _UNIQUE_ID_POINTER.search(pointer or "") is not None


def profile_pointer(pointer: str | None) -> int | None:
    """Index of the profile named by a `source.pointer` in a bulk profile import request."""
    if not pointer:
        return None
    match = _PROFILE_POINTER.match(pointer)
    return int(match.group(1)) if match else None

"""One sender per Klaviyo protocol: what to send, and what to do with each reply.

- `EventSender`: POST /api/event-bulk-create-jobs; a 400 or 409 takes out what the errors name.
- `ProfileSender`: POST /api/profile-import, one profile (small batches, and retries).
- `ProfileJobSender`: a bulk import job: submit, wait for it, read its import errors.

Each runs on the pool's threads; what Klaviyo refuses goes to the dead letters, and a failure
that no retry or split can mend raises KlaviyoError (the run stops).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from target_klaviyo.client import (
    EVENTS_BULK,
    PROFILE_IMPORT,
    PROFILES_BULK,
    PROFILES_BULK_ERRORS,
    PROFILES_BULK_JOB,
    Endpoint,
    Reply,
    Transport,
)
from target_klaviyo.deadletters import DeadLetters
from target_klaviyo.errors import KlaviyoError, error_detail
from target_klaviyo.items import IMPORT_ERROR, REJECTED, EventItem, ProfileItem
from target_klaviyo.payloads import (
    EventChunk,
    ProfileChunk,
    event_pointer,
    profile_import_body,
    profile_pointer,
)
from target_klaviyo.stats import RunStats

# A request is split again at most this often (each split removes at least one item).
MAX_SPLITS = 50
# A profile import job that has not completed by then is reported instead of waited for.
JOB_TIMEOUT_SECONDS = 3600


class _Sender:
    def __init__(self, transport: Transport, dead_letters: DeadLetters, stats: RunStats) -> None:
        self.transport = transport
        self.dead_letters = dead_letters
        self.stats = stats

    def reject(
        self, stream: str, dropped: list[tuple[EventItem, str]] | list[tuple[ProfileItem, str]]
    ) -> None:
        for item, detail in dropped:
            self.dead_letters.write(stream, item.record, REJECTED, detail)


def _failed(endpoint: Endpoint, stream: str, reply: Reply) -> KlaviyoError:
    return KlaviyoError(
        f"{endpoint.method} {endpoint.path} failed for stream '{stream}': {reply.describe()}"
    )


def _unnamed(endpoint: Endpoint, stream: str, what: str, reply: Reply) -> KlaviyoError:
    return KlaviyoError(
        f"{endpoint.method} {endpoint.path} for stream '{stream}' was rejected without naming "
        f"{what}: {reply.describe()}"
    )


class EventSender(_Sender):
    def send(self, stream: str, chunk: EventChunk) -> None:
        """Deliver one bulk events request; bad items go to dead letters, the rest again."""
        for _ in range(MAX_SPLITS):
            if not chunk.groups:
                return
            reply = self.transport.send(EVENTS_BULK, chunk.body())
            if reply.ok:
                self.stats.count_events(Counter(item.metric for item in chunk.items()))
                return
            if reply.status not in (400, 409):
                raise _failed(EVENTS_BULK, stream, reply)
            chunk, dropped = self._without_rejected(stream, chunk, reply)
            self.reject(stream, dropped)
        msg = f"POST {EVENTS_BULK.path} for stream '{stream}' was still rejected after {MAX_SPLITS} splits"
        raise KlaviyoError(msg)

    def _without_rejected(
        self, stream: str, chunk: EventChunk, reply: Reply
    ) -> tuple[EventChunk, list[tuple[EventItem, str]]]:
        """The request minus what Klaviyo's error pointers name; a 409 duplicate_profile group
        is kept without its phone number (the conflicting identifier)."""
        bad_groups: dict[int, str] = {}
        bad_events: dict[tuple[int, int], str] = {}
        conflicts: dict[int, str] = {}
        for error in reply.errors():
            located = event_pointer((error.get("source") or {}).get("pointer"))
            if located is None or located[0] >= len(chunk.groups):
                continue
            group_index, event_index = located
            detail = error_detail(error)
            if reply.status == 409 or error.get("code") == "duplicate_profile":
                conflicts[group_index] = detail
            elif event_index is None or event_index >= len(chunk.groups[group_index].events):
                bad_groups[group_index] = detail
            else:
                bad_events[(group_index, event_index)] = detail
        if not (bad_groups or bad_events or conflicts):
            raise _unnamed(EVENTS_BULK, stream, "an item", reply)
        return chunk.without(bad_groups, bad_events, conflicts)


class ProfileSender(_Sender):
    def send(self, stream: str, item: ProfileItem) -> None:
        """POST /api/profile-import for one profile; a 409 (the phone belongs to another
        profile) is sent again without the phone."""
        reply = self.transport.send(PROFILE_IMPORT, profile_import_body(item))
        if reply.status == 409 and item.identity.without_phone() is not None:
            item = item.without_phone()
            reply = self.transport.send(PROFILE_IMPORT, profile_import_body(item))
        if reply.ok:
            self.stats.count_profiles(1)
        elif reply.status in (400, 409):
            self.reject(stream, [(item, reply.first_detail())])
        else:
            raise _failed(PROFILE_IMPORT, stream, reply)


class ProfileJobSender(_Sender):
    def __init__(
        self,
        transport: Transport,
        dead_letters: DeadLetters,
        stats: RunStats,
        *,
        profiles: ProfileSender,
        job_poll_max_seconds: float = 2.0,
    ) -> None:
        super().__init__(transport, dead_letters, stats)
        self.profiles = profiles
        self.job_poll_max_seconds = job_poll_max_seconds

    def send(self, stream: str, chunk: ProfileChunk) -> None:
        """A bulk import job: submit, wait for it, and dead-letter its import errors."""
        job_id: str | None = None
        for _ in range(MAX_SPLITS):
            if not chunk.profiles:
                return
            reply = self.transport.send(PROFILES_BULK, chunk.body())
            if reply.ok:
                job_id = str(((reply.body or {}).get("data") or {}).get("id") or "")
                break
            if reply.status != 400:
                raise _failed(PROFILES_BULK, stream, reply)
            chunk, dropped = self._without_rejected(stream, chunk, reply)
            self.reject(stream, dropped)
        if not job_id:
            msg = f"POST {PROFILES_BULK.path} for stream '{stream}' returned no job id"
            raise KlaviyoError(msg)
        chunk.encoded = []  # sent: only the profiles are needed now, for the import errors
        attributes = self._wait_for_job(job_id)
        failed = int(attributes.get("failed_count") or 0)
        if attributes.get("status") == "cancelled":
            msg = f"Klaviyo cancelled profile import job {job_id} (stream '{stream}')"
            raise KlaviyoError(msg)
        self.stats.count_profiles(len(chunk.profiles) - failed)
        if failed:
            for item in self._import_errors(stream, chunk, job_id):
                self.profiles.send(stream, item)

    def _without_rejected(
        self, stream: str, chunk: ProfileChunk, reply: Reply
    ) -> tuple[ProfileChunk, list[tuple[ProfileItem, str]]]:
        named: dict[int, str] = {}
        for error in reply.errors():
            index = profile_pointer((error.get("source") or {}).get("pointer"))
            if index is not None and index < len(chunk.profiles):
                named[index] = error_detail(error)
        if not named:
            raise _unnamed(PROFILES_BULK, stream, "a profile", reply)
        return chunk.without(named)

    def _wait_for_job(self, job_id: str) -> dict[str, Any]:
        delay = 0.1
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while True:
            if time.monotonic() > deadline:
                msg = (
                    f"Klaviyo profile import job {job_id} did not complete within "
                    f"{JOB_TIMEOUT_SECONDS // 60} minutes"
                )
                raise KlaviyoError(msg)
            reply = self.transport.send(PROFILES_BULK_JOB, job_id=job_id)
            if reply.status != 200:
                msg = f"GET {PROFILES_BULK_JOB.path} for job {job_id} failed: {reply.describe()}"
                raise KlaviyoError(msg)
            attributes: dict[str, Any] = ((reply.body or {}).get("data") or {}).get(
                "attributes"
            ) or {}
            if attributes.get("status") in ("complete", "cancelled"):
                return attributes
            time.sleep(delay)
            delay = min(delay * 2, self.job_poll_max_seconds)

    def _import_errors(self, stream: str, chunk: ProfileChunk, job_id: str) -> list[ProfileItem]:
        """Dead-letter the job's import errors; returns the profiles to import again without
        their phone number (duplicate_profile: the phone belongs to another profile)."""
        retry: list[ProfileItem] = []
        by_identifier: dict[str, ProfileItem] = {}
        for item in chunk.profiles:
            for value in item.identity.key:
                if value is not None:
                    by_identifier.setdefault(value, item)
        url: Any = None
        while True:
            if url is None:
                # The largest page Klaviyo serves (the default is 20).
                reply = self.transport.send(
                    PROFILES_BULK_ERRORS, job_id=job_id, query="?page[size]=100"
                )
            else:
                reply = self.transport.send(PROFILES_BULK_ERRORS, url=url)
            if reply.status != 200:
                msg = f"GET {PROFILES_BULK_ERRORS.path} for job {job_id} failed: {reply.describe()}"
                raise KlaviyoError(msg)
            for entry in (reply.body or {}).get("data") or []:
                attributes = entry.get("attributes") or {}
                index = profile_pointer((attributes.get("source") or {}).get("pointer"))
                found: ProfileItem | None = None
                if index is not None and index < len(chunk.profiles):
                    found = chunk.profiles[index]
                else:
                    found = _match_original(attributes.get("original_payload"), by_identifier)
                if (
                    found is not None
                    and attributes.get("code") == "duplicate_profile"
                    and found.identity.without_phone() is not None
                ):
                    retry.append(found.without_phone())
                    continue
                record = found.record if found else attributes.get("original_payload")
                self.dead_letters.write(stream, record, IMPORT_ERROR, error_detail(attributes))
            url = ((reply.body or {}).get("links") or {}).get("next")
            if not url:
                return retry


def _match_original(original: Any, by_identifier: dict[str, ProfileItem]) -> ProfileItem | None:
    if not isinstance(original, dict):
        return None
    nested = original.get("attributes")
    attributes: dict[str, Any] = nested if isinstance(nested, dict) else original
    for key in ("email", "phone_number", "external_id"):
        value = attributes.get(key)
        if isinstance(value, str) and value in by_identifier:
            return by_identifier[value]
    return None

"""Sending payloads: a bounded pool shared by all sinks, and what to do with each reply.

Sinks hand chunks to `Delivery.submit` and go on reading; `Delivery.wait_all` is the barrier the
target passes before it writes a state line, so state only ever covers accepted data.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from target_klaviyo.client import (
    EVENTS_BULK,
    PROFILE_IMPORT,
    PROFILES_BULK,
    PROFILES_BULK_ERRORS,
    PROFILES_BULK_JOB,
    Endpoint,
    KlaviyoClient,
    KlaviyoError,
    Reply,
    describe,
)
from target_klaviyo.deadletters import DeadLetters
from target_klaviyo.mapping import IMPORT_ERROR, REJECTED, Identity, ProfileItem
from target_klaviyo.payloads import (
    EventChunk,
    ProfileChunk,
    ProfileGroup,
    encode,
    event_pointer,
    profile_import_body,
    profile_pointer,
)
from target_klaviyo.stats import RunStats

# A request is split again at most this often (each split removes at least one item).
MAX_SPLITS = 50
# A profile import job that has not completed by then is reported instead of waited for.
JOB_TIMEOUT_SECONDS = 3600


class DryRunWriter:
    """Writes each request it would send (method, path, body) as a JSON line."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def write(self, endpoint: Endpoint, body: bytes) -> None:
        line = b"".join(
            (
                b'{"method":',
                json.dumps(endpoint.method).encode(),
                b',"path":',
                json.dumps(endpoint.path).encode(),
                b',"body":',
                body,
                b"}\n",
            )
        )
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
            self._file.write(line)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class Delivery:
    """A bounded thread pool with back-pressure and one remembered failure."""

    def __init__(
        self,
        *,
        client: KlaviyoClient | None,
        dead_letters: DeadLetters,
        stats: RunStats,
        max_concurrency: int,
        max_pending: int,
        job_poll_max_seconds: float = 2.0,
        dry_run: DryRunWriter | None = None,
    ) -> None:
        self.client = client
        self.dead_letters = dead_letters
        self.stats = stats
        self.dry_run = dry_run
        self.job_poll_max_seconds = job_poll_max_seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="klaviyo"
        )
        self._slots = threading.BoundedSemaphore(max_pending)
        self._lock = threading.Lock()
        self._in_flight: set[concurrent.futures.Future[None]] = set()
        self._failure: BaseException | None = None

    # Scheduling

    def submit(self, task: Callable[..., None], *args: Any) -> None:
        """Run `task(*args)` on the pool; blocks while `max_pending` tasks are unfinished."""
        self.raise_if_failed()
        self._slots.acquire()
        try:
            self.raise_if_failed()
            future = self._pool.submit(self._run, task, args)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._forget)

    def _run(self, task: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            if self._failure is None:  # after a permanent failure, nothing more is sent
                task(*args)
        except BaseException as exc:
            with self._lock:
                first = self._failure is None
                if first:
                    self._failure = exc
            if first and self.client is not None:
                self.client.cancel()  # requests still retrying elsewhere give up at once
            raise
        finally:
            self._slots.release()

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def wait_all(self) -> None:
        """Return once every submitted task is done; raise the first permanent failure."""
        while True:
            with self._lock:
                pending = list(self._in_flight)
            if not pending:
                break
            concurrent.futures.wait(pending)
        self.raise_if_failed()

    def raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.dry_run is not None:
            self.dry_run.close()

    def _send(self, endpoint: Endpoint, body: bytes | None = None, **path: str) -> Reply:
        if self.client is None:
            msg = "no Klaviyo client (dry run)"
            raise KlaviyoError(msg)
        return self.client.send(endpoint, body, **path)

    # Events

    def send_events(self, stream: str, chunk: EventChunk) -> None:
        """Deliver one bulk events request; bad items go to dead letters, the rest again."""
        if self.dry_run is not None:
            self.dry_run.write(EVENTS_BULK, chunk.body())
            self.stats.count_events(Counter(item.metric for item in chunk.items()))
            return
        for _ in range(MAX_SPLITS):
            if not chunk.groups:
                return
            reply = self._send(EVENTS_BULK, chunk.body())
            if 200 <= reply.status < 300:
                self.stats.count_events(Counter(item.metric for item in chunk.items()))
                return
            if reply.status in (400, 409):
                chunk = self._without_rejected_events(stream, chunk, reply)
                continue
            msg = f"POST {EVENTS_BULK.path} failed for stream '{stream}': {describe(reply)}"
            raise KlaviyoError(msg)
        msg = f"POST {EVENTS_BULK.path} for stream '{stream}' was still rejected after {MAX_SPLITS} splits"
        raise KlaviyoError(msg)

    def _without_rejected_events(self, stream: str, chunk: EventChunk, reply: Reply) -> EventChunk:
        """The request minus what Klaviyo's error pointers name (dead-lettered); a 409
        duplicate_profile group is kept without its phone number (the conflicting identifier)."""
        bad_groups: dict[int, str] = {}
        bad_events: dict[tuple[int, int], str] = {}
        conflicts: dict[int, str] = {}
        for error in reply.errors():
            located = event_pointer((error.get("source") or {}).get("pointer"))
            if located is None or located[0] >= len(chunk.groups):
                continue
            group_index, event_index = located
            detail = _error_detail(error)
            if reply.status == 409 or error.get("code") == "duplicate_profile":
                conflicts[group_index] = detail
            elif event_index is None or event_index >= len(chunk.groups[group_index].events):
                bad_groups[group_index] = detail
            else:
                bad_events[(group_index, event_index)] = detail
        if not (bad_groups or bad_events or conflicts):
            msg = (
                f"POST {EVENTS_BULK.path} for stream '{stream}' was rejected without naming an "
                f"item: {describe(reply)}"
            )
            raise KlaviyoError(msg)
        groups: list[ProfileGroup] = []
        for index, group in enumerate(chunk.groups):
            if index in bad_groups:
                for item in group.events:
                    self.dead_letters.write(stream, item.record, REJECTED, bad_groups[index])
                continue
            identity = group.identity
            if index in conflicts:
                stripped = _without_phone(group.identity)
                if stripped is None:
                    for item in group.events:
                        self.dead_letters.write(stream, item.record, REJECTED, conflicts[index])
                    continue
                identity = stripped
            kept = ProfileGroup(identity)
            for event_index, (item, encoded) in enumerate(
                zip(group.events, group.encoded, strict=True)
            ):
                event_detail = bad_events.get((index, event_index))
                if event_detail is not None:
                    self.dead_letters.write(stream, item.record, REJECTED, event_detail)
                else:
                    kept.events.append(item)
                    kept.encoded.append(encoded)
            if kept.events:
                groups.append(kept)
        return EventChunk(groups)

    # Profiles

    def send_profile(self, stream: str, item: ProfileItem) -> None:
        """POST /api/profile-import for one profile (small batches)."""
        if self.dry_run is not None:
            self.dry_run.write(PROFILE_IMPORT, profile_import_body(item))
            self.stats.count_profiles(1)
            return
        reply = self._send(PROFILE_IMPORT, profile_import_body(item))
        if reply.status == 409 and _without_phone(item.identity) is not None:
            item = _profile_without_phone(item)
            reply = self._send(PROFILE_IMPORT, profile_import_body(item))
        if 200 <= reply.status < 300:
            self.stats.count_profiles(1)
        elif reply.status in (400, 409):
            self.dead_letters.write(stream, item.record, REJECTED, reply.first_detail())
        else:
            msg = f"POST {PROFILE_IMPORT.path} failed for stream '{stream}': {describe(reply)}"
            raise KlaviyoError(msg)

    def send_profile_job(self, stream: str, chunk: ProfileChunk) -> None:
        """A bulk import job: submit, wait for it, and dead-letter its import errors."""
        if self.dry_run is not None:
            self.dry_run.write(PROFILES_BULK, chunk.body())
            self.stats.count_profiles(len(chunk.profiles))
            return
        job_id: str | None = None
        for _ in range(MAX_SPLITS):
            if not chunk.profiles:
                return
            reply = self._send(PROFILES_BULK, chunk.body())
            if 200 <= reply.status < 300:
                job_id = str(((reply.body or {}).get("data") or {}).get("id") or "")
                break
            if reply.status == 400:
                chunk = self._without_rejected_profiles(stream, chunk, reply)
                continue
            msg = f"POST {PROFILES_BULK.path} failed for stream '{stream}': {describe(reply)}"
            raise KlaviyoError(msg)
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
                self.send_profile(stream, item)

    def _without_rejected_profiles(
        self, stream: str, chunk: ProfileChunk, reply: Reply
    ) -> ProfileChunk:
        bad: dict[int, str] = {}
        for error in reply.errors():
            index = profile_pointer((error.get("source") or {}).get("pointer"))
            if index is not None and index < len(chunk.profiles):
                bad[index] = _error_detail(error)
        if not bad:
            msg = (
                f"POST {PROFILES_BULK.path} for stream '{stream}' was rejected without naming a "
                f"profile: {describe(reply)}"
            )
            raise KlaviyoError(msg)
        kept = ProfileChunk([], [])
        for index, (item, encoded) in enumerate(zip(chunk.profiles, chunk.encoded, strict=True)):
            if index in bad:
                self.dead_letters.write(stream, item.record, REJECTED, bad[index])
            else:
                kept.profiles.append(item)
                kept.encoded.append(encoded)
        return kept

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
            reply = self._send(PROFILES_BULK_JOB, job_id=job_id)
            if reply.status != 200:
                msg = f"GET {PROFILES_BULK_JOB.path} for job {job_id} failed: {describe(reply)}"
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
                reply = self._send(PROFILES_BULK_ERRORS, job_id=job_id, query="?page[size]=100")
            else:
                reply = self._send_url(PROFILES_BULK_ERRORS, url)
            if reply.status != 200:
                msg = f"GET {PROFILES_BULK_ERRORS.path} for job {job_id} failed: {describe(reply)}"
                raise KlaviyoError(msg)
            for entry in (reply.body or {}).get("data") or []:
                attributes = entry.get("attributes") or {}
                detail = _error_detail(attributes)
                index = profile_pointer((attributes.get("source") or {}).get("pointer"))
                found: ProfileItem | None = None
                if index is not None and index < len(chunk.profiles):
                    found = chunk.profiles[index]
                else:
                    found = _match_original(attributes.get("original_payload"), by_identifier)
                if (
                    found is not None
                    and attributes.get("code") == "duplicate_profile"
                    and _without_phone(found.identity) is not None
                ):
                    retry.append(_profile_without_phone(found))
                    continue
                record = found.record if found else attributes.get("original_payload")
                self.dead_letters.write(stream, record, IMPORT_ERROR, detail)
            url = ((reply.body or {}).get("links") or {}).get("next")
            if not url:
                return retry

    def _send_url(self, endpoint: Endpoint, url: str) -> Reply:
        if self.client is None:
            msg = "no Klaviyo client (dry run)"
            raise KlaviyoError(msg)
        base = self.client.api_url
        # Follow `links.next` only on the configured host (never send the key elsewhere).
        if not url.startswith(base + "/"):
            msg = f"Klaviyo's next-page link points outside {base}: {url}"
            raise KlaviyoError(msg)
        return self.client.send(endpoint, url=url)


def _without_phone(identity: Identity) -> Identity | None:
    """The identity without its phone (Klaviyo's 409 is about it), or None if nothing is left."""
    if identity.phone_number is None:
        return None
    stripped = Identity(identity.email, None, identity.external_id)
    return stripped if stripped.usable else None


def _profile_without_phone(item: ProfileItem) -> ProfileItem:
    identity = _without_phone(item.identity) or item.identity
    attributes = {k: v for k, v in item.resource["attributes"].items() if k != "phone_number"}
    return ProfileItem(item.record, identity, {**item.resource, "attributes": attributes})


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


def _error_detail(error: dict[str, Any]) -> str:
    code = error.get("code") or ""
    detail = error.get("detail") or error.get("title") or ""
    pointer = (error.get("source") or {}).get("pointer")
    text = f"{code}: {detail}" if code else str(detail)
    return f"{text} (at {pointer})" if pointer else text


__all__ = ["Delivery", "DryRunWriter", "encode"]

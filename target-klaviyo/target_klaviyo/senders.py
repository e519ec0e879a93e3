"""One sender per Klaviyo protocol: what to send, and what to do with each reply.

- `EventSender`: POST /api/event-bulk-create-jobs; a 400 or 409 takes out what the errors name,
  a rejection that names nothing is bisected until the bad event is alone, and events Klaviyo
  refuses as repeats of stored ones count as delivered ("already in Klaviyo").
- `ProfileSender`: POST /api/profile-import, one profile (small batches, and retries).
- `ProfileJobSender`: a bulk import job: submit it (on the pool); once Klaviyo accepted it only
  its identifiers are kept, and `JobWatcher` (one thread of its own, so that slow jobs never hold
  the pool's threads) waits for it and reads its import errors.

Before anything is sent, the run's `IdentityBook` leaves out phone numbers and external_ids that
belong to another person; a 409 `duplicate_profile` or a `duplicate_profile` import error
teaches it the ones held by profiles this run has not seen.

Each runs on the pool's threads (or the watcher's); what Klaviyo refuses goes to the dead
letters, and a failure that no retry or split can mend raises KlaviyoError (the run stops).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
from target_klaviyo.errors import KlaviyoError, RunStoppingError, error_detail
from target_klaviyo.holders import Holders
from target_klaviyo.identities import PHONE, IdentityBook, conflicting_kind, without
from target_klaviyo.items import (
    HELD_BY_ANOTHER,
    IMPORT_ERROR,
    REJECTED,
    EventItem,
    Identity,
    ProfileItem,
)
from target_klaviyo.payloads import (
    EventChunk,
    ProfileChunk,
    bare_events,
    bare_profile,
    encode,
    event_pointer,
    names_unique_id,
    profile_import_body,
    profile_pointer,
    without_identifiers,
)
from target_klaviyo.pool import Hold, Pool
from target_klaviyo.refusals import Refusals, Suspect
from target_klaviyo.stats import RunStats

# A request is split again at most this often (each split removes at least one item).
MAX_SPLITS = 50
# A profile import job that has not completed by then is reported instead of waited for.
JOB_TIMEOUT_SECONDS = 3600
# A profile that conflicts again after this many identifiers were left out is dead-lettered.
MAX_CONFLICT_RETRIES = 2
ChunkT = TypeVar("ChunkT", EventChunk, ProfileChunk)
# The detail of an event taken out of a request because Klaviyo already holds it.
_ALREADY = "\x00already in Klaviyo"
# What a suspect profile that Klaviyo took with its identifiers only got of its record.
_IDENTIFIERS_ONLY = (
    "with its identifiers alone Klaviyo accepted it, so it was refused for its content: the rest "
    "of the profile was not delivered"
)


class _Sender:
    ENDPOINT: Endpoint  # whose refusals naming no item are told apart from bad data

    def __init__(
        self,
        transport: Transport,
        dead_letters: DeadLetters,
        stats: RunStats,
        book: IdentityBook | None = None,
        *,
        carried: Collection[str] = (),
    ) -> None:
        self.transport = transport
        self.dead_letters = dead_letters
        self.stats = stats
        self.book = book if book is not None else IdentityBook()
        self.holders = Holders(transport, self.book)
        self.refusals = Refusals(f"{self.ENDPOINT.method} {self.ENDPOINT.path}")
        # Event properties a stripped event keeps (the unique-id and source properties).
        self.carried = frozenset(carried)

    def accepted(self) -> None:
        """Klaviyo accepted a request: items it refused alone before are bad data."""
        self._reject_suspects(self.refusals.accepted())

    def settle(self) -> None:
        """At the state barrier: suspects left are dead-lettered, or the run stops
        (refusals.Refusals.settle). When nothing of the endpoint was accepted all run, one
        suspect is first sent again stripped to what identifies it: if Klaviyo takes that, the
        endpoint works and the suspects were refused for what they hold."""
        suspect = self.refusals.unexplained()
        if suspect is not None:
            delivered = self._bare_accepted(suspect)
            if delivered is not None:
                suspect.detail = f"{suspect.detail}; {delivered}"
                self.accepted()
        self._reject_suspects(self.refusals.settle())

    def _bare_accepted(self, suspect: Suspect) -> str | None:
        """Send the suspect stripped to what identifies it; what was delivered of it when
        Klaviyo accepted that, else None."""
        return None

    def _reject_suspects(self, suspects: list[Suspect]) -> None:
        for suspect in suspects:
            self.dead_letters.write(suspect.stream, suspect.item.record, REJECTED, suspect.detail)

    def count_left_out(self, left_out: Counter[str]) -> None:
        for kind, n in left_out.items():
            self.stats.count_left_out(kind, n)

    def bisect(
        self,
        stream: str,
        chunk: ChunkT,
        reply: Reply,
        deliver: Callable[[str, ChunkT], bool],
    ) -> None:
        """A request Klaviyo rejected without naming an item: `deliver` each half on its own
        until the bad item is alone (at most 2 log2(n) requests per bad item); that one is
        dead-lettered with Klaviyo's reason once Klaviyo accepts another request (until then it
        is only a suspect: refusals.py), the others are delivered. `deliver` returns True when
        its request was accepted at the first try."""
        members = chunk.members()
        if len(members) <= 1:
            detail = reply.first_detail() or reply.describe()
            for item in members:
                self.refusals.suspect(Suspect(stream, item, detail, chunk))
            return
        first, second = chunk.halves()
        if deliver(stream, first):
            # The first half went through as it was: the fault is in the second.
            self.bisect(stream, second, reply, deliver)
        else:
            deliver(stream, second)

    def resolve_conflict(self, identity: Identity, detail: str) -> Identity | None:
        """After a duplicate_profile: the identity without the identifier that belongs to
        another profile (which the book then leaves out for everyone else too), or None."""
        kind = conflicting_kind(identity, detail)
        if kind is None:
            return None
        value = getattr(identity, kind)
        self.book.disown(kind, value)
        return without(identity, (kind,))

    def held_elsewhere(self, stream: str, items: list[EventItem] | list[ProfileItem]) -> None:
        """Dead-letter people whose only identifier belongs to another person's profile."""
        for item in items:
            self.dead_letters.write(
                stream,
                item.record,
                HELD_BY_ANOTHER,
                "its only identifier, a phone number, belongs to another person's Klaviyo profile",
            )

    def reject(
        self,
        stream: str,
        dropped: list[tuple[EventItem, str]]
        | list[tuple[ProfileItem, str]]
        | list[tuple[EventItem | ProfileItem, str]],
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
    ENDPOINT = EVENTS_BULK

    def _bare_accepted(self, suspect: Suspect) -> str | None:
        if not isinstance(suspect.request, EventChunk):
            return None
        bare = bare_events(suspect.request, self.carried)
        if not self.transport.send(EVENTS_BULK, bare.body()).ok:
            return None
        self._count_delivered(bare)
        return (
            "alone and stripped of its properties and value Klaviyo accepted it, so it was refused "
            "for its content: the event is in Klaviyo without them"
        )

    def send(self, stream: str, chunk: EventChunk) -> None:
        """Deliver one bulk events request: identifiers held by someone else left out; bad
        items go to dead letters, the rest again."""
        with self.book.claiming:
            self.holders.check(group.identity for group in chunk.groups)
            chunk, left_out, repeats = chunk.settled(self.book.settle)
        unsendable = {i: "" for i, g in enumerate(chunk.groups) if not g.identity.usable}
        if unsendable:
            chunk, dropped = chunk.without(unsendable, {})
            left_out[PHONE] -= len(dropped)
            self.held_elsewhere(stream, [item for item, _ in dropped])
        self.count_left_out(+left_out)
        if repeats:
            self.stats.count_duplicates(repeats)
        self._deliver(stream, chunk)

    def _deliver(self, stream: str, chunk: EventChunk) -> bool:
        """Send until Klaviyo accepted what is left; True when the first try was accepted.
        Each rejection takes out at least one event or one identifier (a 409 names one
        conflict), so conflicts cost at most one request each beyond MAX_SPLITS."""
        for attempt in range(MAX_SPLITS + 2 * len(chunk.groups)):
            if not chunk.groups:
                return False
            reply = self.transport.send(EVENTS_BULK, chunk.body())
            if reply.ok:
                self._count_delivered(chunk)
                self.accepted()
                return attempt == 0
            if reply.status not in (400, 409):
                raise _failed(EVENTS_BULK, stream, reply)
            smaller = self._without_rejected(stream, chunk, reply)
            if smaller is None:
                self.refusals.refused(reply.first_detail() or reply.describe())
                self.bisect(stream, chunk, reply, self._deliver)
                return False
            chunk = smaller
        msg = f"POST {EVENTS_BULK.path} for stream '{stream}' was still rejected after {MAX_SPLITS} splits"
        raise KlaviyoError(msg)

    def _count_delivered(self, chunk: EventChunk) -> None:
        """Count a request Klaviyo accepted, per metric; the tap's lookback resends apart."""
        delivered: Counter[str] = Counter()
        resent: Counter[str] = Counter()
        for item in chunk.items():
            (resent if item.resent else delivered)[item.metric] += 1
        self.stats.count_events(delivered, resent)

    def _without_rejected(self, stream: str, chunk: EventChunk, reply: Reply) -> EventChunk | None:
        """The request minus what Klaviyo's error pointers name (dead-lettered, or counted as
        already in Klaviyo when the error is about a repeated unique_id); a 409
        duplicate_profile group is kept without the conflicting identifier. None when the
        errors name nothing."""
        bad_groups: dict[int, str] = {}
        bad_events: dict[tuple[int, int], str] = {}
        identities: dict[int, Identity] = {}
        single = len(chunk.groups) == 1
        for error in reply.errors():
            pointer = (error.get("source") or {}).get("pointer")
            located = event_pointer(pointer)
            if located is None and single and _is_conflict(reply, error):
                located = (0, None)  # a conflict of the only profile in the request
            if located is None or located[0] >= len(chunk.groups):
                continue
            group_index, event_index = located
            group = chunk.groups[group_index]
            detail = error_detail(error)
            if _is_conflict(reply, error):
                identity = self.resolve_conflict(
                    identities.get(group_index, group.identity), detail
                )
                if identity is None:
                    bad_groups[group_index] = detail
                else:
                    identities[group_index] = identity
                    kind = _left_out_kind(group.identity, identity)
                    self.stats.count_left_out(kind, len(group.events))
            elif event_index is None or event_index >= len(group.events):
                bad_groups[group_index] = detail
            elif names_unique_id(pointer):
                bad_events[(group_index, event_index)] = _ALREADY
            else:
                bad_events[(group_index, event_index)] = detail
        if not (bad_groups or bad_events or identities):
            return None
        smaller, dropped = chunk.without(bad_groups, bad_events, identities)
        already = [item for item, detail in dropped if detail == _ALREADY]
        if already:
            self.stats.count_already_in_klaviyo(len(already))
        self.reject(stream, [(item, detail) for item, detail in dropped if detail != _ALREADY])
        return smaller


def _is_conflict(reply: Reply, error: dict[str, Any]) -> bool:
    return reply.status == 409 or error.get("code") == "duplicate_profile"


def _left_out_kind(before: Identity, after: Identity) -> str:
    return "phone_number" if before.phone_number != after.phone_number else "external_id"


class ProfileSender(_Sender):
    ENDPOINT = PROFILE_IMPORT

    def send(self, stream: str, item: ProfileItem) -> None:
        """POST /api/profile-import for one profile; identifiers held by someone else are left
        out, and a 409 (an identifier belongs to another profile) is sent again without it."""
        with self.book.claiming:
            self.holders.check([item.identity])
            identity, kinds = self.book.settle(item.identity)
        if not identity.usable:
            self.held_elsewhere(stream, [item])
            return
        if kinds:
            self.count_left_out(Counter(kinds))
            item = ProfileItem(item.record, identity, without_identifiers(item.resource, kinds))
        reply = self.transport.send(PROFILE_IMPORT, profile_import_body(item))
        for _ in range(MAX_CONFLICT_RETRIES):
            if reply.status != 409:
                break
            stripped = self.resolve_conflict(item.identity, reply.first_detail())
            if stripped is None:
                break
            kind = _left_out_kind(item.identity, stripped)
            self.stats.count_left_out(kind, 1)
            item = ProfileItem(item.record, stripped, without_identifiers(item.resource, [kind]))
            reply = self.transport.send(PROFILE_IMPORT, profile_import_body(item))
        if reply.ok:
            self.stats.count_profiles(1)
            self.accepted()
        elif reply.status == 400 and not _names_a_field(reply):
            detail = reply.first_detail() or reply.describe()
            self.refusals.refused(detail)
            self.refusals.suspect(Suspect(stream, item, detail, item))
        elif reply.status in (400, 409):
            self.reject(stream, [(item, reply.first_detail())])
        else:
            raise _failed(PROFILE_IMPORT, stream, reply)

    def _bare_accepted(self, suspect: Suspect) -> str | None:
        if not isinstance(suspect.request, ProfileItem):
            return None
        reply = self.transport.send(PROFILE_IMPORT, profile_import_body(bare_profile(suspect.item)))
        return _IDENTIFIERS_ONLY if reply.ok else None


@dataclass
class AcceptedJob:
    """A bulk import job Klaviyo accepted: all that is kept of it until it completes."""

    stream: str
    job_id: str
    count: int
    # The profiles' identifiers in request order, one JSON [email, phone, external_id] a line:
    # what an import error without its original payload is matched back with.
    identifiers: bytes
    hold: Hold
    accepted_at: float = field(default_factory=time.monotonic)

    def identity(self, index: int) -> Identity | None:
        lines = self.identifiers.split(b"\n")
        if not 0 <= index < len(lines):
            return None
        email, phone, external_id = json.loads(lines[index])
        return Identity(email=email, phone_number=phone, external_id=external_id)


def _names_a_field(reply: Reply) -> bool:
    """Whether a profile-import error points into the profile (not at the whole request)."""
    pointers = [(error.get("source") or {}).get("pointer") for error in reply.errors()]
    return any(p and p.rstrip("/") not in ("", "/data") for p in pointers)


class ProfileJobSender(_Sender):
    ENDPOINT = PROFILES_BULK

    def __init__(
        self,
        transport: Transport,
        dead_letters: DeadLetters,
        stats: RunStats,
        *,
        profiles: ProfileSender,
        pool: Pool,
        job_poll_max_seconds: float = 2.0,
    ) -> None:
        super().__init__(transport, dead_letters, stats, profiles.book)
        self.profiles = profiles
        self.pool = pool
        self.watcher = JobWatcher(self, job_poll_max_seconds)

    def send(self, stream: str, chunk: ProfileChunk) -> None:
        """Submit a bulk import job (identifiers held by someone else left out); once Klaviyo
        accepted it, the watcher waits for it and the pool's thread is free again."""
        with self.book.claiming:
            self.holders.check(chunk.identities)
            chunk, left_out = chunk.settled(self.book.settle)
        unsendable = {i: "" for i, identity in enumerate(chunk.identities) if not identity.usable}
        if unsendable:
            chunk, dropped = chunk.without(unsendable)
            left_out[PHONE] -= len(dropped)
            self.held_elsewhere(stream, [item for item, _ in dropped])
        self.count_left_out(+left_out)
        self._submit(stream, chunk)

    def _submit(self, stream: str, chunk: ProfileChunk) -> bool:
        """True when the first try was accepted (see EventSender._deliver)."""
        for attempt in range(MAX_SPLITS):
            if not len(chunk):
                return False
            reply = self.transport.send(PROFILES_BULK, chunk.body())
            if reply.ok:
                job_id = str(((reply.body or {}).get("data") or {}).get("id") or "")
                if not job_id:
                    msg = f"POST {PROFILES_BULK.path} for stream '{stream}' returned no job id"
                    raise KlaviyoError(msg)
                self.watcher.add(
                    AcceptedJob(
                        stream,
                        job_id,
                        len(chunk),
                        b"\n".join(encode(list(identity.key)) for identity in chunk.identities),
                        self.pool.hold(),
                    )
                )
                self.accepted()
                return attempt == 0
            if reply.status != 400:
                raise _failed(PROFILES_BULK, stream, reply)
            named = self._named(chunk, reply)
            if not named:
                self.refusals.refused(reply.first_detail() or reply.describe())
                self.bisect(stream, chunk, reply, self._submit)
                return False
            chunk, dropped = chunk.without(named)
            self.reject(stream, dropped)
        msg = f"POST {PROFILES_BULK.path} for stream '{stream}' was still rejected after {MAX_SPLITS} splits"
        raise KlaviyoError(msg)

    def _bare_accepted(self, suspect: Suspect) -> str | None:
        if not isinstance(suspect.request, ProfileChunk):
            return None
        bare = bare_profile(suspect.item)
        # A job of the profile's identifiers: accepted means the endpoint works; not watched.
        reply = self.transport.send(
            PROFILES_BULK, ProfileChunk([bare], [encode(bare.resource)]).body()
        )
        return _IDENTIFIERS_ONLY if reply.ok else None

    @staticmethod
    def _named(chunk: ProfileChunk, reply: Reply) -> dict[int, str]:
        named: dict[int, str] = {}
        for error in reply.errors():
            index = profile_pointer((error.get("source") or {}).get("pointer"))
            if index is not None and index < len(chunk):
                named[index] = error_detail(error)
        return named

    def complete(self, job: AcceptedJob, attributes: dict[str, Any]) -> None:
        """A job is done: count it, read its import errors (on the watcher's thread)."""
        failed = int(attributes.get("failed_count") or 0)
        if attributes.get("status") == "cancelled":
            msg = f"Klaviyo cancelled profile import job {job.job_id} (stream '{job.stream}')"
            raise KlaviyoError(msg)
        self.stats.count_profiles(job.count - failed)
        if failed:
            for item in self._import_errors(job):
                self.profiles.send(job.stream, item)

    def poll(self, job: AcceptedJob) -> dict[str, Any] | None:
        """The job's attributes once it is complete or cancelled, else None."""
        if time.monotonic() - job.accepted_at > JOB_TIMEOUT_SECONDS:
            msg = (
                f"Klaviyo profile import job {job.job_id} did not complete within "
                f"{JOB_TIMEOUT_SECONDS // 60} minutes"
            )
            raise KlaviyoError(msg)
        reply = self.transport.send(PROFILES_BULK_JOB, job_id=job.job_id)
        if reply.status != 200:
            msg = f"GET {PROFILES_BULK_JOB.path} for job {job.job_id} failed: {reply.describe()}"
            raise KlaviyoError(msg)
        attributes: dict[str, Any] = ((reply.body or {}).get("data") or {}).get("attributes") or {}
        if attributes.get("status") in ("complete", "cancelled"):
            return attributes
        return None

    def _import_errors(self, job: AcceptedJob) -> list[ProfileItem]:
        """Dead-letter the job's import errors; returns the profiles to import again without
        the identifier that belongs to another profile (duplicate_profile), which the book
        leaves out from now on."""
        retry: list[ProfileItem] = []
        url: Any = None
        while True:
            if url is None:
                # The largest page Klaviyo serves (the default is 20).
                reply = self.transport.send(
                    PROFILES_BULK_ERRORS, job_id=job.job_id, query="?page[size]=100"
                )
            else:
                reply = self.transport.send(PROFILES_BULK_ERRORS, url=url)
            if reply.status != 200:
                msg = f"GET {PROFILES_BULK_ERRORS.path} for job {job.job_id} failed: {reply.describe()}"
                raise KlaviyoError(msg)
            for entry in (reply.body or {}).get("data") or []:
                attributes = entry.get("attributes") or {}
                item = _failed_profile(job, attributes)
                detail = error_detail(attributes)
                if attributes.get("code") == "duplicate_profile" and item is not None:
                    stripped = self.resolve_conflict(item.identity, detail)
                    if stripped is not None:
                        # ProfileSender leaves the disowned identifier out (and counts it).
                        retry.append(item)
                        continue
                record = item.record if item is not None else attributes.get("original_payload")
                self.dead_letters.write(job.stream, record, IMPORT_ERROR, detail)
            url = ((reply.body or {}).get("links") or {}).get("next")
            if not url:
                return retry

    def close(self) -> None:
        self.watcher.close()


def _failed_profile(job: AcceptedJob, attributes: dict[str, Any]) -> ProfileItem | None:
    """The profile an import error is about: Klaviyo's original payload (the profile as sent)
    and its identifiers (from the payload, else by the error's pointer)."""
    original = attributes.get("original_payload")
    resource: dict[str, Any] | None = None
    if isinstance(original, dict):
        nested = original.get("attributes")
        attrs = nested if isinstance(nested, dict) else original
        resource = {"type": "profile", "attributes": dict(attrs)}
        if isinstance(original.get("meta"), dict):
            resource["meta"] = original["meta"]
    identity: Identity | None = None
    index = profile_pointer((attributes.get("source") or {}).get("pointer"))
    if index is not None:
        identity = job.identity(index)
    if identity is None and resource is not None:
        attrs = resource["attributes"]
        identity = Identity(
            email=_str_or_none(attrs.get("email")),
            phone_number=_str_or_none(attrs.get("phone_number")),
            external_id=_str_or_none(attrs.get("external_id")),
        )
    if identity is None or not identity.usable:
        return None
    if resource is None:
        resource = {"type": "profile", "attributes": identity.attributes()}
    return ProfileItem(original if isinstance(original, dict) else resource, identity, resource)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class JobWatcher:
    """Waits for accepted bulk import jobs on a thread of its own, oldest first (jobs complete
    in about the order they were submitted), each polled with a growing delay; a completed job
    releases its hold on the pool, a failed one fails the run."""

    def __init__(self, sender: ProfileJobSender, poll_max_seconds: float) -> None:
        self._sender = sender
        self._poll_max = poll_max_seconds
        self._jobs: deque[AcceptedJob] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, job: AcceptedJob) -> None:
        with self._wake:
            if self._closed:
                job.hold.release(RunStoppingError("the run is stopping"))
                return
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="klaviyo-jobs", daemon=True)
                self._thread.start()
            self._wake.notify()

    def __len__(self) -> int:
        return len(self._jobs)

    def _run(self) -> None:
        delay = 0.1
        while True:
            with self._wake:
                while not self._jobs and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._jobs[0]
            try:
                attributes = self._sender.poll(job)
                if attributes is not None:
                    self._sender.complete(job, attributes)
            except BaseException as exc:  # noqa: BLE001 - the run's failure, raised by the pool
                self._done(job, exc)
                continue
            if attributes is not None:
                self._done(job, None)
                delay = 0.1
                continue
            with self._wake:
                self._wake.wait(delay)
            delay = min(delay * 2, self._poll_max)

    def _done(self, job: AcceptedJob, error: BaseException | None) -> None:
        with self._wake:
            if self._jobs and self._jobs[0] is job:
                self._jobs.popleft()
        job.hold.release(error)

    def close(self) -> None:
        """Stop waiting; jobs still pending fail (the run is stopping)."""
        with self._wake:
            self._closed = True
            pending = list(self._jobs)
            self._jobs.clear()
            self._wake.notify_all()
        for job in pending:
            job.hold.release(RunStoppingError("the run is stopping"))
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

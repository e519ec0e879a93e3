"""Bulk profile import jobs: accepted synchronously, imported asynchronously (queued -> processing -> complete)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from api_sandbox.klaviyo.store import (
    DuplicateProfileError,
    KlaviyoStore,
    UnknownProfileError,
    new_id,
)
from api_sandbox.klaviyo.validation import ProfileInput

JOB_TYPE = "profile-bulk-import-job"
IMPORT_SLICE = 500  # profiles per transaction (~15 ms)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@dataclass
class ProfileImportError:
    """One profile the job could not import (a JSON:API `import-error` resource)."""

    id: str
    code: str
    title: str
    detail: str
    pointer: str
    original_payload: dict[str, Any]


@dataclass
class ProfileImportJob:
    id: str
    profiles: list[ProfileInput]
    original_payloads: list[dict[str, Any]]
    list_ids: list[str]
    status: str = "queued"
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started_at: datetime | None = None
    completed_at: datetime | None = None
    completed_count: int = 0
    failed_count: int = 0
    errors: list[ProfileImportError] = field(default_factory=list)

    def resource(self, base_url: str) -> dict[str, Any]:
        url = f"{base_url}/api/profile-bulk-import-jobs/{self.id}/"
        return {
            "type": JOB_TYPE,
            "id": self.id,
            "attributes": {
                "status": self.status,
                "created_at": _iso(self.created_at),
                "total_count": len(self.profiles),
                "completed_count": self.completed_count,
                "failed_count": self.failed_count,
                "completed_at": _iso(self.completed_at),
                "expires_at": _iso(self.created_at + timedelta(days=7)),
                "started_at": _iso(self.started_at),
            },
            "relationships": {
                "lists": {"data": [{"type": "list", "id": list_id} for list_id in self.list_ids]},
                "profiles": {"links": {"self": f"{url}relationships/profiles/"}},
                "import-errors": {"links": {"self": f"{url}relationships/import-errors/"}},
            },
            "links": {"self": url},
        }


class ProfileImportJobs:
    def __init__(
        self,
        store: KlaviyoStore,
        job_seconds: float,
        worker: Executor,
        identity: Callable[[], str] = lambda: "reject",
    ) -> None:
        self.store = store
        self.identity = identity  # the identity_conflicts reading in force when a slice is imported
        self.worker = worker  # where slices are imported (see KlaviyoState.worker)
        self.job_seconds = job_seconds
        self.jobs: dict[str, ProfileImportJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def create(
        self, profiles: list[ProfileInput], payloads: list[dict[str, Any]], list_ids: list[str]
    ) -> ProfileImportJob:
        job = ProfileImportJob(new_id(), profiles, payloads, list_ids)
        self.jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: ProfileImportJob) -> None:
        await asyncio.sleep(self.job_seconds / 2)
        job.status = "processing"
        job.started_at = datetime.now(timezone.utc)
        # On the worker thread, in slices: requests handed over meanwhile wait one slice at most.
        loop = asyncio.get_running_loop()
        for start in range(0, len(job.profiles), IMPORT_SLICE):
            await loop.run_in_executor(self.worker, self._import, job, start, start + IMPORT_SLICE)
        await asyncio.sleep(self.job_seconds / 2)
        job.status = "complete"
        job.completed_at = datetime.now(timezone.utc)

    def _import(self, job: ProfileImportJob, start: int, stop: int) -> None:
        """Import profiles [start, stop) of the job, each on its own (a conflict fails only it)."""
        profiles = job.profiles[start:stop]
        with self.store.transaction():
            outcomes = self.store.upsert_profiles(
                profiles, keep_going=True, identity=self.identity()
            )
        self.store.count_profile_writes(outcomes)
        for index, (profile, outcome) in enumerate(zip(profiles, outcomes, strict=True), start):
            if isinstance(outcome, DuplicateProfileError):
                job.errors.append(
                    ProfileImportError(
                        new_id(),
                        "duplicate_profile",
                        "Conflict.",
                        f"The {outcome.identifier} of this profile belongs to another profile "
                        f"({outcome.duplicate_profile_id}).",
                        f"/data/attributes/profiles/data/{index}",
                        job.original_payloads[index],
                    )
                )
            elif isinstance(outcome, UnknownProfileError):
                job.errors.append(
                    ProfileImportError(
                        new_id(),
                        "invalid",
                        "Invalid input.",
                        f"No profile with id {profile.id} exists.",
                        f"/data/attributes/profiles/data/{index}/id",
                        job.original_payloads[index],
                    )
                )
        job.failed_count = len(job.errors)
        job.completed_count = min(stop, len(job.profiles)) - job.failed_count

    def clear(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.jobs.clear()

    async def close(self) -> None:
        self.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "offset" and number.isdigit() else None

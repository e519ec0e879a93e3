"""Mutations scheduled to fire while the stand-in serves: after N more API requests, or one every K.

Counting and firing happen in the app's outermost middleware, on the event loop that also runs every
handler and control endpoint, so a mutation applies between two handlers' synchronous sections, never
inside one (no handler awaits between reading the data and rendering it). Nothing here needs a lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api_sandbox.intercom.mutations import MutationError, apply_mutation, check_mutation
from api_sandbox.intercom.state import IntercomState

MAX_RESULTS = (
    10_000  # fired results kept for GET (the oldest go first); counts are exact regardless
)


@dataclass(slots=True)
class Schedule:
    id: int
    mutations: list[dict[str, Any]]
    start: int  # API requests answered when it was scheduled
    after_requests: int
    every_requests: int | None  # None: every mutation fires at once, after `after_requests`
    times: int  # firings (rate form); the one-shot form fires len(mutations) mutations once
    fired: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.times if self.every_requests is not None else len(self.mutations)

    @property
    def pending(self) -> int:
        return self.total - self.fired

    def next_due(self) -> int | None:
        """The API request count at which the next mutation fires."""
        if self.pending <= 0:
            return None
        if self.every_requests is None:
            return self.start + self.after_requests
        return self.start + self.after_requests + self.fired * self.every_requests

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "after_requests": self.after_requests,
            "every_requests": self.every_requests,
            "times": self.total,
            "scheduled_at_request": self.start,
            "next_due_request": self.next_due(),
            "fired": self.fired,
            "failed": self.failed,
            "pending": self.pending,
            "mutations": self.mutations,
        }


def _count(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{name} must be an integer >= 1, got {value!r}"
        raise MutationError(msg)
    return value


@dataclass
class MutationSchedule:
    state: IntercomState
    api_requests: int = 0
    schedules: list[Schedule] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 1
    _next_due: int | None = (
        None  # the smallest next_due over all schedules: a cheap check per request
    )

    def add(self, body: dict[str, Any]) -> Schedule:
        """Validate and add a schedule; MutationError names what is wrong (nothing is added then)."""
        known = {"mutations", "after_requests", "every_requests", "times"}
        unknown = sorted(set(body) - known)
        if unknown:
            msg = f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            raise MutationError(msg)
        mutations = body.get("mutations")
        if not isinstance(mutations, list) or not mutations:
            raise MutationError("the body needs a non-empty 'mutations' list")
        for index, mutation in enumerate(mutations):
            try:
                check_mutation(mutation)
            except MutationError as exc:
                msg = f"#{index}: {exc}"
                raise MutationError(msg) from None
        every: int | None = None
        if body.get("every_requests") is not None:
            every = _count(body, "every_requests", 1)
            after = _count(body, "after_requests", every)
            times = _count(body, "times", len(mutations))
        else:
            if "times" in body:
                raise MutationError("times needs every_requests (the rate form)")
            if body.get("after_requests") is None:
                raise MutationError("give after_requests (fire once) or every_requests (a rate)")
            after = _count(body, "after_requests", 1)
            times = 1
        schedule = Schedule(
            id=self._next_id,
            mutations=mutations,
            start=self.api_requests,
            after_requests=after,
            every_requests=every,
            times=times,
        )
        self._next_id += 1
        self.schedules.append(schedule)
        self._recompute()
        return schedule

    def cancel(self) -> int:
        """Drop every pending mutation; how many there were. Fired results stay."""
        cancelled = sum(s.pending for s in self.schedules)
        # a one-shot schedule fires all its mutations at once, so a pending one has fired none
        self.schedules = [s for s in self.schedules if s.fired]
        for s in self.schedules:
            s.times = s.fired
        self._recompute()
        return cancelled

    def clear(self) -> None:
        """On reset: the ids the schedules name belong to the old data set."""
        self.schedules.clear()
        self.results.clear()
        self._next_due = None

    def _recompute(self) -> None:
        dues = [d for s in self.schedules if (d := s.next_due()) is not None]
        self._next_due = min(dues) if dues else None

    def answered(self) -> None:
        """One more API request was answered: fire whatever is due now, in schedule order."""
        self.api_requests += 1
        if self._next_due is None or self._next_due > self.api_requests:
            return
        for schedule in self.schedules:
            while (due := schedule.next_due()) is not None and due <= self.api_requests:
                if schedule.every_requests is None:
                    index = schedule.fired
                    mutation = schedule.mutations[index]
                else:
                    index = schedule.fired % len(schedule.mutations)
                    mutation = schedule.mutations[index]
                self._fire(schedule, index, mutation)
        self._recompute()

    def _fire(self, schedule: Schedule, index: int, mutation: dict[str, Any]) -> None:
        record: dict[str, Any] = {
            "schedule": schedule.id,
            "index": index,
            "request": self.api_requests,
            "action": mutation.get("action"),
        }
        schedule.fired += 1
        try:
            record.update(apply_mutation(self.state, mutation))
            record["error"] = None
        except MutationError as exc:
            schedule.failed += 1
            record["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 (a bug in an action must not take the server down)
            schedule.failed += 1
            record["error"] = f"{type(exc).__name__}: {exc}"
        self.results.append(record)
        if len(self.results) > MAX_RESULTS:
            del self.results[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "api_requests": self.api_requests,
            "pending": sum(s.pending for s in self.schedules),
            "fired": sum(s.fired for s in self.schedules),
            "failed": sum(s.failed for s in self.schedules),
            "schedules": [s.to_json() for s in self.schedules],
            "results": self.results,
        }

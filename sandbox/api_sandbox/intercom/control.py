"""The /_sandbox control endpoints of the Intercom stand-in (docs/interfaces.md §3): no auth, limits or faults."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from api_sandbox.faults import CONTROL_PREFIX, FaultInjector
from api_sandbox.intercom import render
from api_sandbox.intercom.errors import json_response
from api_sandbox.intercom.mutations import MutationError, apply_mutations
from api_sandbox.intercom.rate_limit import WindowRateLimiter
from api_sandbox.intercom.schedule import MutationSchedule
from api_sandbox.intercom.state import CURSOR_MODES, SEARCH_KINDS, IntercomState

RESET_FIELDS = ("seed", "contacts", "conversations", "tickets", "now")
QUIRKS = (
    "cursor_repeat_rate",
    "contact_search_delay_seconds",
    "ignore_sort",
    "cursor_mode",
    "search_lag_seconds",
    "clock_offset_seconds",
)
RATE_LIMIT_FIELDS = ("per_minute", "window_seconds")
DATASET_KINDS = ("contacts", "conversations", "tickets", "admins", "teams", "tags")


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        msg = f"the body is not valid JSON: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(body, dict):
        msg = "the body must be a JSON object"
        raise ValueError(msg)
    return body


class IntercomControl:
    def __init__(
        self, state: IntercomState, faults: FaultInjector, schedule: MutationSchedule
    ) -> None:
        self.state = state
        self.faults = faults
        self.schedule = schedule

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post(f"{CONTROL_PREFIX}/reset", self.reset)
        r.add_get(f"{CONTROL_PREFIX}/dataset", self.dataset)
        r.add_get(f"{CONTROL_PREFIX}/ledger", self.ledger)
        r.add_post(f"{CONTROL_PREFIX}/mutations", self.mutations)
        r.add_get(f"{CONTROL_PREFIX}/mutations/schedule", self.scheduled)
        r.add_post(f"{CONTROL_PREFIX}/mutations/schedule", self.scheduled)
        r.add_delete(f"{CONTROL_PREFIX}/mutations/schedule", self.scheduled)
        r.add_get(f"{CONTROL_PREFIX}/rate-limits", self.rate_limits)
        r.add_post(f"{CONTROL_PREFIX}/rate-limits", self.rate_limits)
        r.add_get(f"{CONTROL_PREFIX}/stats", self.stats)
        r.add_get(f"{CONTROL_PREFIX}/quirks", self.quirks)
        r.add_post(f"{CONTROL_PREFIX}/quirks", self.quirks)

    async def reset(self, request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
        except ValueError as exc:
            return _bad_request(f"reset: {exc}")
        unknown = sorted(set(body) - set(RESET_FIELDS))
        if unknown:
            return _bad_request(
                f"reset: unknown field(s) {', '.join(unknown)}; known: {', '.join(RESET_FIELDS)}"
            )
        for name, value in body.items():
            if value is None and name == "now":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return _bad_request(f"reset: {name} must be a non-negative integer, got {value!r}")
        self.state.reset(**body)
        self.schedule.clear()  # pending mutations name ids of the old data set
        return json_response(self._summary())

    def _summary(self) -> dict[str, Any]:
        ws = self.state.workspace
        s = self.state.settings
        return {
            "seed": s.seed,
            "now": ws.now,
            "contacts": len(ws.contacts),
            "conversations": len(ws.conversations),
            "tickets": len(ws.tickets),
            "ledger_events": len(ws.ledger),
            "generation_seconds": round(ws.generation_seconds, 3),
        }

    async def dataset(self, request: web.Request) -> web.Response:
        """The raw objects as API 2.14 renders them (conversations and tickets with all their parts)."""
        kind = request.query.get("kind")
        ws = self.state.workspace
        if kind == "contacts":
            data = [render.contact(ws, c, 14) for c in ws.contacts.values() if not c.deleted]
        elif kind == "conversations":
            data = [
                render.conversation(ws, c, 14, with_parts=True, cap=None)
                for c in ws.conversations.values()
            ]
        elif kind == "tickets":
            data = [
                render.ticket(ws, t, 14, with_parts=True, cap=None) for t in ws.tickets.values()
            ]
        elif kind == "admins":
            data = [render.admin(a) for a in ws.admins.values()]
        elif kind == "teams":
            data = [render.team(t) for t in ws.teams.values()]
        elif kind == "tags":
            data = [{"type": "tag", "id": t.id, "name": t.name} for t in ws.tags.values()]
        else:
            return _bad_request(
                f"dataset: kind must be one of {', '.join(DATASET_KINDS)}, got {kind!r}"
            )
        return json_response({"kind": kind, "data": data})

    async def ledger(self, request: web.Request) -> web.Response:
        entries = self.state.workspace.ledger.values()
        metric = request.query.get("metric")
        if metric is not None:
            entries = [e for e in entries if e.metric == metric]  # type: ignore[assignment]
        return json_response({"events": [e.to_json() for e in entries]})

    async def mutations(self, request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            mutations = body.get("mutations")
            if not isinstance(mutations, list):
                raise MutationError("the body needs a 'mutations' list")
            results = apply_mutations(self.state, mutations)
        except (ValueError, MutationError) as exc:
            return _bad_request(f"mutations: {exc}")
        return json_response({"results": results})

    async def scheduled(self, request: web.Request) -> web.Response:
        """POST adds a schedule, DELETE cancels what is pending, GET shows pending and fired ones."""
        if request.method == "POST":
            try:
                body = await _json_object(request)
                schedule = self.schedule.add(body)
            except (ValueError, MutationError) as exc:
                return _bad_request(f"mutations/schedule: {exc}")
            return json_response({"schedule": schedule.to_json()})
        if request.method == "DELETE":
            cancelled = self.schedule.cancel()
            return json_response({"cancelled": cancelled, **self.schedule.to_json()})
        return json_response(self.schedule.to_json())

    async def rate_limits(self, request: web.Request) -> web.Response:
        """GET shows the rate limit; POST {per_minute, window_seconds} replaces it (a new window count)."""
        limiter = self.state.rate_limiter
        if request.method == "POST":
            try:
                body = await _json_object(request)
            except ValueError as exc:
                return _bad_request(f"rate-limits: {exc}")
            unknown = sorted(set(body) - set(RATE_LIMIT_FIELDS))
            if unknown:
                return _bad_request(
                    f"rate-limits: unknown field(s) {', '.join(unknown)}; "
                    f"known: {', '.join(RATE_LIMIT_FIELDS)}"
                )
            per_minute = body.get("per_minute", limiter.limit_per_minute)
            window = body.get("window_seconds", limiter.window_seconds)
            if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 0:
                return _bad_request(
                    f"rate-limits: per_minute must be an integer >= 0, got {per_minute!r}"
                )
            if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
                return _bad_request(f"rate-limits: window_seconds must be > 0, got {window!r}")
            self.state.rate_limiter = limiter = WindowRateLimiter(
                per_minute, window_seconds=float(window)
            )
        return json_response(limiter.describe())

    async def stats(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "requests": dict(self.state.requests),
                "statuses": dict(self.state.statuses),
                "dataset": self._summary(),
            }
        )

    async def quirks(self, request: web.Request) -> web.Response:
        """GET shows the quirk knobs; POST changes some of them (all are checked before any applies);
        `search_lag_seconds` changes only the kinds it names."""
        repeater = self.state.cursor_repeater
        if request.method == "POST":
            try:
                body = await _json_object(request)
            except ValueError as exc:
                return _bad_request(f"quirks: {exc}")
            unknown = sorted(set(body) - set(QUIRKS))
            if unknown:
                return _bad_request(
                    f"quirks: unknown quirk(s) {', '.join(unknown)}; known: {', '.join(QUIRKS)}"
                )
            rate = body.get("cursor_repeat_rate", repeater.rate)
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                return _bad_request(
                    f"quirks: cursor_repeat_rate must be between 0 and 1, got {rate!r}"
                )
            delay = body.get("contact_search_delay_seconds", self.state.contact_search_delay)
            if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
                return _bad_request(
                    f"quirks: contact_search_delay_seconds must be >= 0, got {delay!r}"
                )
            ignore_sort = body.get("ignore_sort", {})
            if not isinstance(ignore_sort, dict) or any(
                kind not in SEARCH_KINDS or not isinstance(on, bool)
                for kind, on in ignore_sort.items()
            ):
                return _bad_request(
                    "quirks: ignore_sort must be an object of search kinds "
                    f"({', '.join(SEARCH_KINDS)}) to true or false, got {ignore_sort!r}"
                )
            mode = body.get("cursor_mode", self.state.cursor_mode)
            if mode not in CURSOR_MODES:
                return _bad_request(
                    f"quirks: cursor_mode must be one of {', '.join(CURSOR_MODES)}, got {mode!r}"
                )
            lag = body.get("search_lag_seconds", {})
            if not isinstance(lag, dict) or any(
                kind not in SEARCH_KINDS
                or isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or seconds < 0
                for kind, seconds in lag.items()
            ):
                return _bad_request(
                    "quirks: search_lag_seconds must be an object of search kinds "
                    f"({', '.join(SEARCH_KINDS)}) to seconds >= 0, got {lag!r}"
                )
            offset = body.get("clock_offset_seconds", self.state.clock_offset)
            if isinstance(offset, bool) or not isinstance(offset, int | float):
                return _bad_request(
                    f"quirks: clock_offset_seconds must be a number of seconds, got {offset!r}"
                )
            if "cursor_repeat_rate" in body:
                repeater.configure(float(rate), self.faults.settings.seed)
            self.state.contact_search_delay = float(delay)
            self.state.ignore_sort.update(ignore_sort)
            self.state.cursor_mode = mode
            self.state.clock_offset = float(offset)
            objects = self.state.searchable()
            for kind, seconds in lag.items():
                self.state.search_lag.configure(kind, float(seconds), objects[kind])
        return json_response(
            {
                "cursor_repeat_rate": repeater.rate,
                "contact_search_delay_seconds": self.state.contact_search_delay,
                "ignore_sort": dict(self.state.ignore_sort),
                "cursor_mode": self.state.cursor_mode,
                "search_lag_seconds": dict(self.state.search_lag.seconds),
                "clock_offset_seconds": self.state.clock_offset,
            }
        )

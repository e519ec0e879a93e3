"""Fault injection shared by both stand-ins: latency, 500s, 429s, empty bodies, dropped connections."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
from typing import Protocol

from aiohttp import web

from api_sandbox.settings import FaultSettings

CONTROL_PREFIX = "/_sandbox"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultResponder(Protocol):
    """Each API renders injected errors in its own error format."""

    def server_error(self, request: web.Request) -> web.Response: ...

    def throttled(self, request: web.Request) -> web.Response: ...


class FaultInjector:
    """Holds the current fault settings, draws faults and counts what it injected."""

    def __init__(self, settings: FaultSettings, responder: FaultResponder) -> None:
        self.responder = responder
        self.injected: Counter[str] = Counter()
        self.configure(settings)

    def configure(self, settings: FaultSettings) -> None:
        settings.validate()
        self.settings = settings
        self._random = random.Random(settings.seed)

    def update(self, changes: dict[str, object]) -> FaultSettings:
        """Apply a partial update (from the control endpoint); unknown keys are an error."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            msg = (
                f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
            raise ValueError(msg)
        merged = {**asdict(self.settings), **changes}
        self.configure(FaultSettings(**merged))
        return self.settings

    def _draw(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        s = self.settings
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        if self._draw(s.error_rate):
            self.injected["error"] += 1
            return self.responder.server_error(request)
        if self._draw(s.throttle_rate):
            self.injected["throttle"] += 1
            return self.responder.throttled(request)
        response = await handler(request)
        if self._draw(s.drop_rate):
            self.injected["drop"] += 1
            # The request was processed, but the client never hears back (as with a proxy reset).
            if request.transport is not None:
                request.transport.abort()
            return response
        if response.status == 200 and self._draw(s.empty_body_rate):
            self.injected["empty_body"] += 1
            return web.Response(status=200, body=b"", content_type="application/json")
        return response

    async def control(self, request: web.Request) -> web.Response:
        """GET shows the fault settings and counts; POST changes some of them."""
        if request.method == "POST":
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise TypeError("body must be a JSON object")
                self.update(changes)
            except (ValueError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(
            {"settings": asdict(self.settings), "injected": dict(self.injected)}
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", f"{CONTROL_PREFIX}/faults", self.control)
        app.router.add_route("POST", f"{CONTROL_PREFIX}/faults", self.control)

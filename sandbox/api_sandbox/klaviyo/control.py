"""The /_sandbox control endpoints of the Klaviyo stand-in (no auth, no rate limit, no faults)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api_sandbox.faults import CONTROL_PREFIX
from api_sandbox.klaviyo.reads import forget_request
from api_sandbox.klaviyo.state import KlaviyoState


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        payload = await request.json() if request.can_read_body else {}
    except ValueError as exc:
        msg = f"body must be JSON: {exc}"
        raise ValueError(msg) from None
    if not isinstance(payload, dict):
        msg = "body must be a JSON object"
        raise ValueError(msg)
    return payload


def build_report(state: KlaviyoState) -> dict[str, Any]:
    return {
        "metrics": state.store.metrics(),
        "profiles": state.store.profile_count(),
        "rejected_requests": state.store.rejected_requests(),
        "requests": dict(state.requests),
        "throttled": state.statuses.get("429", 0),
        "skipped_for_identity_conflicts": dict(state.store.skipped),
        "profile_writes": {
            "created": state.store.profile_writes["created"],
            "updated": state.store.profile_writes["updated"],
        },
    }


def add_control_routes(app: web.Application, state: KlaviyoState) -> None:
    async def reset(request: web.Request) -> web.Response:
        state.jobs.clear()
        await state.offload(state.store.reset)  # after whatever the worker has in hand
        state.limiter.set_scale(state.limiter.scale)  # forgets the window counts
        state.requests.clear()
        state.statuses.clear()
        state.faults.injected.clear()
        return web.json_response({"reset": True})

    async def report(request: web.Request) -> web.Response:
        return web.json_response(await state.offload(build_report, state))

    async def events(request: web.Request) -> web.Response:
        return web.Response(
            text=await state.offload(state.store.events_json, request.query.get("metric")),
            content_type="application/json",
        )

    async def profiles(request: web.Request) -> web.Response:
        return web.json_response({"profiles": await state.offload(state.store.profiles)})

    async def keys(request: web.Request) -> web.Response:
        try:
            payload = await _json_object(request)
            scopes = payload.get("scopes")
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise ValueError("'scopes' must be a list of strings, e.g. ['events:write']")
            account = payload.get("account")
            if account is not None and not isinstance(account, str):
                raise ValueError("'account' must be a string (an account id)")
            account_id = state.keys.add(str(payload.get("key") or ""), scopes, account)
        except ValueError as exc:
            return _bad_request(str(exc))
        return web.json_response(
            {"key_added": True, "scopes": sorted(scopes), "account": account_id}
        )

    async def behaviour(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                state.behaviour.update(await _json_object(request))
            except ValueError as exc:
                return _bad_request(str(exc))
        return web.json_response(state.behaviour.to_json())

    async def rate_limits(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                payload = await _json_object(request)
                scale = payload.get("scale")
                if isinstance(scale, bool) or not isinstance(scale, (int, float)):
                    raise ValueError("'scale' must be a number >= 0 (0 turns rate limits off)")
                state.limiter.set_scale(float(scale))
            except ValueError as exc:
                return _bad_request(str(exc))
        return web.json_response({"scale": state.limiter.scale})

    async def forget(request: web.Request) -> web.Response:
        try:
            query = forget_request(await _json_object(request))
        except ValueError as exc:
            return _bad_request(str(exc))
        return web.json_response({"forgotten": await state.offload(state.store.run, query)})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {"requests": dict(state.requests), "statuses": dict(state.statuses)}
        )

    routes = [
        ("POST", "reset", reset),
        ("GET", "report", report),
        ("GET", "events", events),
        ("GET", "profiles", profiles),
        ("POST", "keys", keys),
        ("GET", "rate-limits", rate_limits),
        ("POST", "rate-limits", rate_limits),
        ("GET", "stats", stats),
        ("POST", "forget", forget),
        ("GET", "behaviour", behaviour),
        ("POST", "behaviour", behaviour),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, f"{CONTROL_PREFIX}/{path}", handler)
    state.faults.add_routes(app)

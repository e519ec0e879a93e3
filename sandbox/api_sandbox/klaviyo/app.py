"""The Klaviyo stand-in's aiohttp application."""

from __future__ import annotations

from aiohttp import web

from api_sandbox.faults import CONTROL_PREFIX, Handler
from api_sandbox.klaviyo.control import add_control_routes
from api_sandbox.klaviyo.endpoints import ENDPOINTS, serve
from api_sandbox.klaviyo.errors import ApiError, error_response
from api_sandbox.klaviyo.state import KlaviyoState
from api_sandbox.settings import KlaviyoSettings

STATE = web.AppKey("klaviyo_state", KlaviyoState)
# Above Klaviyo's 5 MB so the stand-in itself can answer an oversized payload with Klaviyo's 413.
CLIENT_MAX_SIZE = 16 * 1024 * 1024
_BULK_CREATE = ("/api/event-bulk-create-jobs", "/api/profile-bulk-import-jobs")


def create_app(settings: KlaviyoSettings) -> web.Application:
    state = KlaviyoState.create(settings)

    @web.middleware
    async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Stats of API calls (control calls excluded), counted outside the fault injector."""
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        route = request.match_info.route.resource
        path = route.canonical.rstrip("/") if route is not None else "(unknown)"
        state.requests[f"{request.method} {path}"] += 1
        try:
            response = await handler(request)
        except web.HTTPException as http_error:
            response = _as_json_api(http_error)
        state.statuses[str(response.status)] += 1
        return response

    @web.middleware
    async def refuse_unexplained(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Behaviour `unexplained_rejections`: a 400 whose error names no item."""
        scope = state.behaviour.unexplained_rejections
        if scope != "off" and not request.path.startswith(CONTROL_PREFIX):
            bulk = request.method == "POST" and request.path.rstrip("/") in _BULK_CREATE
            if scope == "all" or bulk:
                return error_response(
                    [ApiError(400, "invalid", "The request could not be processed.")]
                )
        return await handler(request)

    app = web.Application(
        middlewares=[count_requests, refuse_unexplained, state.faults.middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[STATE] = state
    for endpoint, handler in ENDPOINTS:
        handle = serve(endpoint, handler, state)
        app.router.add_route(endpoint.method, endpoint.path, handle)
        app.router.add_route(endpoint.method, endpoint.path + "/", handle)
    add_control_routes(app, state)

    async def close(app: web.Application) -> None:
        await state.jobs.close()
        state.shutdown()
        state.store.close()

    app.on_cleanup.append(close)
    return app


def _as_json_api(http_error: web.HTTPException) -> web.Response:
    """Router errors (unknown path, wrong method, oversized body) in Klaviyo's error format."""
    code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
        http_error.status, "error"
    )
    return error_response([ApiError(http_error.status, code, http_error.reason)])

"""The Intercom stand-in's aiohttp application: auth, versions, Accept, rate limit, faults, routes."""

from __future__ import annotations

import hmac
import logging
from email.utils import formatdate

from aiohttp import web

from api_sandbox.faults import CONTROL_PREFIX, FaultInjector, Handler
from api_sandbox.intercom.api import IntercomApi
from api_sandbox.intercom.control import IntercomControl
from api_sandbox.intercom.errors import error_response
from api_sandbox.intercom.schedule import MutationSchedule
from api_sandbox.intercom.state import VERSION_KEY, VERSIONS, IntercomState
from api_sandbox.settings import IntercomSettings

log = logging.getLogger(__name__)
STATE_KEY = web.AppKey("intercom_state", IntercomState)


class IntercomFaults:
    """Injected faults in Intercom's own shapes: a 500 server_error and a 429 like the rate limiter's."""

    def __init__(self, state: IntercomState) -> None:
        self.state = state

    def server_error(self, request: web.Request) -> web.Response:
        return error_response(500, "server_error", "Server Error")

    def throttled(self, request: web.Request) -> web.Response:
        limiter = self.state.rate_limiter
        return error_response(
            429, "rate_limit_exceeded", limiter.exceeded_message(), limiter.exhausted_headers()
        )


def _accepts_json(accept: str | None) -> bool:
    """Whether an Accept header admits application/json (a missing header does not: Intercom sends 406)."""
    if not accept:
        return False
    for media_range in accept.split(","):
        kind, *params = (piece.strip() for piece in media_range.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and kind.lower() in ("application/json", "application/*", "*/*"):
            return True
    return False


def _api_middleware(state: IntercomState) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        expected = state.settings.token
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
            # no rate-limit headers when the credentials are invalid
            return error_response(401, "unauthorized", "Access Token Invalid")
        allowed, headers = state.rate_limiter.hit()
        if not allowed:
            return error_response(
                429, "rate_limit_exceeded", state.rate_limiter.exceeded_message(), headers
            )
        response = await _checked(request, handler, state)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    return middleware


async def _checked(
    request: web.Request, handler: Handler, state: IntercomState
) -> web.StreamResponse:
    if not _accepts_json(request.headers.get("Accept")):
        return error_response(
            406,
            "client_error",
            f"The Accept header must admit application/json, got {request.headers.get('Accept')!r}",
        )
    version_header = request.headers.get("Intercom-Version")
    version = VERSIONS.get(version_header or state.settings.default_version)
    if version is None:
        return error_response(
            400,
            "intercom_version_invalid",
            f"The requested version could not be found: {version_header!r} "
            f"(this sandbox serves {', '.join(VERSIONS)})",
        )
    request[VERSION_KEY] = version
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        # Intercom answers an unknown path or an unsupported method with a 404
        return error_response(404, "not_found", "Resource Not Found")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("Intercom stand-in failed on %s %s", request.method, request.path)
        return error_response(500, "server_error", "Server Error")


def _stats_middleware(state: IntercomState, schedule: MutationSchedule) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        route = request.match_info.route.resource
        name = route.canonical if route is not None else request.path
        state.requests[f"{request.method} {name}"] += 1
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            state.statuses[str(exc.status)] += 1
            raise
        finally:
            # every API request counts once it is answered (any status): due mutations fire now,
            # after this response was built and before any other handler runs on the loop
            schedule.answered()
        state.statuses[str(response.status)] += 1
        # the stand-in's clock (quirk `clock_offset_seconds`), as Intercom's servers stamp it
        response.headers["Date"] = formatdate(state.now(), usegmt=True)
        return response

    return middleware


def create_app(settings: IntercomSettings) -> web.Application:
    state = IntercomState(settings)
    schedule = MutationSchedule(state)
    faults = FaultInjector(settings.faults, IntercomFaults(state))
    app = web.Application(
        middlewares=[_stats_middleware(state, schedule), _api_middleware(state), faults.middleware]
    )
    app[STATE_KEY] = state
    IntercomApi(state).add_routes(app)
    IntercomControl(state, faults, schedule).add_routes(app)
    faults.add_routes(app)
    return app

"""The Klaviyo API endpoints: the common pipeline (auth, revision, scope, rate limit, body) and handlers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from pydantic_core import from_json

from api_sandbox.klaviyo.errors import JSON_API, ApiError, ApiRequestError, error_response
from api_sandbox.klaviyo.jobs import decode_cursor, encode_cursor
from api_sandbox.klaviyo.rate_limits import Decision, Limit
from api_sandbox.klaviyo.reads import get_events, get_metrics
from api_sandbox.klaviyo.revisions import Revision, parse_revision
from api_sandbox.klaviyo.state import KlaviyoState
from api_sandbox.klaviyo.store import (
    DuplicateProfileError,
    RepeatedUniqueIdError,
    StoredDuplicateError,
    UnknownProfileError,
)
from api_sandbox.klaviyo.validation import (
    BulkEntry,
    EventInput,
    ProfileInput,
    validate_bulk_events,
    validate_bulk_profiles,
    validate_create_event,
    validate_profile_import,
)

MB = 1024 * 1024
XS = Limit(1, 15)
XL = Limit(350, 3500)
M = Limit(10, 150)
L = Limit(75, 750)
ACCEPTED_CONTENT_TYPES = ("application/json", JSON_API)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

Body = Any
ACCOUNT = web.RequestKey("klaviyo_account", str)  # the account of the request's API key
Handler = Callable[[web.Request, KlaviyoState, Revision, Body], Awaitable[web.Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # without the trailing slash; both forms are served
    scopes: tuple[str, ...]
    limit: Limit
    max_body_bytes: int | None  # POST only

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def limit_for(self, revision: Revision) -> Limit:
        if self.path in ("/api/profile-import", "/api/profiles"):
            return Limit(self.limit.burst, revision.profile_import_per_minute)
        return self.limit


def _accepted() -> web.Response:
    return web.Response(status=202)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _json_api(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload).encode(), content_type=JSON_API)


def _base_url(request: web.Request) -> str:
    return str(request.url.origin())


def _duplicate_profile(conflict: DuplicateProfileError, pointer: str) -> ApiRequestError:
    """Klaviyo's 409 as reported (klaviyo-api-node #74, #75). The conflict's holder was made by an
    earlier entry of the same (rolled-back) request: no id to name, and the detail says so."""
    if conflict.new:
        return ApiRequestError(
            [
                ApiError(
                    409,
                    "duplicate_profile",
                    "An earlier profile of this request has one of these identifiers.",
                    pointer=pointer,
                )
            ]
        )
    return ApiRequestError(
        [
            ApiError(
                409,
                "duplicate_profile",
                "A profile already exists with one of these identifiers.",
                pointer=pointer,
                meta={"duplicate_profile_id": conflict.duplicate_profile_id},
            )
        ]
    )


def _unknown_profile(missing: UnknownProfileError) -> ApiRequestError:
    return ApiRequestError(
        [
            ApiError(
                400,
                "invalid",
                f"No profile with id {missing.profile.id} exists.",
                pointer=f"{missing.profile.pointer}/id",
            )
        ]
    )


def _entry_pointer(profile: ProfileInput) -> str:
    """`.../profile/data` -> `.../profile`: where Klaviyo points a profile conflict."""
    return profile.pointer.removesuffix("/data")


# -- handlers ----------------------------------------------------------------------------------


# A body arrives as bytes: parsed, validated and stored on the worker thread (`state.offload`).


async def create_event(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    await state.offload(_create_event, state, revision, body)
    return _accepted()


def _create_event(state: KlaviyoState, revision: Revision, raw: bytes) -> None:
    _store_event(state, *_checked_event(revision, raw))


def _checked_event(revision: Revision, raw: bytes) -> tuple[ProfileInput, EventInput]:
    return validate_create_event(_parse(raw), revision, _now())


def _store_event(state: KlaviyoState, profile: ProfileInput, event: EventInput) -> None:
    # Single create keeps the first of a repeated unique_id (documented), whatever stored_duplicates.
    try:
        state.store.add_events([(profile, [event])], identity=state.behaviour.identity_conflicts)
    except DuplicateProfileError as conflict:
        raise _duplicate_profile(conflict, _entry_pointer(profile)) from None
    except UnknownProfileError as missing:
        raise _unknown_profile(missing) from None


async def bulk_create_events(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    await state.offload(_bulk_create_events, state, revision, body)
    return _accepted()


def _bulk_create_events(state: KlaviyoState, revision: Revision, raw: bytes) -> None:
    _store_bulk_events(state, _checked_bulk_events(revision, raw))


def _checked_bulk_events(revision: Revision, raw: bytes) -> list[BulkEntry]:
    return validate_bulk_events(_parse(raw), revision, _now())


def _store_bulk_events(state: KlaviyoState, entries: list[BulkEntry]) -> None:
    behaviour = state.behaviour
    try:
        state.store.add_events(
            [(entry.profile, entry.events) for entry in entries],
            identity=behaviour.identity_conflicts,
            skip_conflicts=behaviour.bulk_event_conflicts == "item",
            reject_stored=behaviour.stored_duplicates == "reject",
        )
    except StoredDuplicateError as stored:
        raise ApiRequestError(
            [
                ApiError(
                    400,
                    "invalid",
                    f"unique_id '{event.unique_id}' was already recorded for the same profile and "
                    f"metric '{event.metric}'; no events of this request were processed.",
                    pointer=f"{event.pointer}/attributes/unique_id",
                )
                for event in stored.events
            ]
        ) from None
    except DuplicateProfileError as conflict:
        raise _duplicate_profile(conflict, _entry_pointer(conflict.profile)) from None
    except RepeatedUniqueIdError as repeated:
        event = repeated.event
        raise ApiRequestError(
            [
                ApiError(
                    400,
                    "invalid",
                    f"unique_id '{event.unique_id}' is repeated for the same profile and metric "
                    f"'{event.metric}'; no events of this request were processed.",
                    pointer=f"{event.pointer}/attributes/unique_id",
                )
            ]
        ) from None
    except UnknownProfileError as missing:
        raise _unknown_profile(missing) from None


async def profile_import(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    resource, created = await state.offload(
        _profile_import, state, revision, body, _base_url(request)
    )
    return _json_api({"data": resource}, status=201 if created else 200)


def _profile_import(
    state: KlaviyoState, revision: Revision, raw: bytes, base_url: str
) -> tuple[dict[str, Any], bool]:
    return _store_profile(state, _checked_profile(revision, raw), base_url)


def _checked_profile(revision: Revision, raw: bytes) -> ProfileInput:
    return validate_profile_import(_parse(raw), revision)


def _store_profile(
    state: KlaviyoState, profile: ProfileInput, base_url: str
) -> tuple[dict[str, Any], bool]:
    try:
        with state.store.transaction():
            profile_id, created = state.store.upsert_profile(
                profile, state.behaviour.identity_conflicts
            )
        state.store.count_profile_writes([(profile_id, created)])
    except DuplicateProfileError as conflict:
        raise _duplicate_profile(conflict, "/data/attributes") from None
    except UnknownProfileError as missing:
        raise _unknown_profile(missing) from None
    return _profile_resource(state, profile_id, base_url), created


def _profile_resource(state: KlaviyoState, profile_id: str, base_url: str) -> dict[str, Any]:
    return _resource_of(state.store.profile(profile_id), base_url)


def _resource_of(stored: dict[str, Any], base_url: str) -> dict[str, Any]:
    profile_id = stored["id"]
    attributes = {key: value for key, value in stored.items() if key not in ("id", "anonymous_id")}
    attributes["last_event_date"] = None
    url = f"{base_url}/api/profiles/{profile_id}/"
    return {
        "type": "profile",
        "id": profile_id,
        "attributes": attributes,
        "relationships": {
            "lists": {"links": {"self": f"{url}relationships/lists/", "related": f"{url}lists/"}},
            "segments": {
                "links": {"self": f"{url}relationships/segments/", "related": f"{url}segments/"}
            },
        },
        "links": {"self": url},
    }


# GET /api/profiles: the filters Klaviyo documents for these fields ("`id`, `email`,
# `phone_number`, `external_id`: `any`, `equals`"), e.g. any(phone_number,["+1...","+4..."]).
_PROFILE_FILTER = re.compile(r"^(equals|any)\((id|email|phone_number|external_id),(.*)\)$", re.S)


async def get_profiles(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    field, values = _profile_filter(request.query.get("filter"))
    size = _page_size(request)
    offset = _page_offset(request)
    if state.behaviour.profile_lookups == "stale":
        found: list[dict[str, Any]] = []
    else:
        found = state.store.profiles_holding(field, values) if field else state.store.profiles()
    page = found[offset : offset + size]
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if offset + size < len(found):
        query = dict(request.query)
        query["page[cursor]"] = encode_cursor(offset + size)
        links["next"] = str(request.url.with_query(query))
    base = _base_url(request)
    return _json_api({"data": [_resource_of(p, base) for p in page], "links": links})


def _profile_filter(text: str | None) -> tuple[str | None, list[str]]:
    if text is None:
        return None, []
    match = _PROFILE_FILTER.match(text.strip())
    values: Any = None
    if match is not None:
        try:
            values = json.loads(match.group(3))
        except ValueError:
            values = None
        if match.group(1) == "equals":
            values = [values]
    if not (isinstance(values, list) and values and all(isinstance(v, str) for v in values)):
        raise ApiRequestError(
            [
                ApiError(
                    400,
                    "invalid",
                    f"Invalid filter '{text}': use equals(field,\"value\") or "
                    'any(field,["value",...]) on id, email, phone_number or external_id.',
                    parameter="filter",
                )
            ]
        )
    return str(match.group(2)) if match else None, values


def _page_size(request: web.Request) -> int:
    size_text = request.query.get("page[size]", str(DEFAULT_PAGE_SIZE))
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
        raise ApiRequestError(
            [
                ApiError(
                    400,
                    "invalid",
                    f"page[size] must be an integer from 1 to {MAX_PAGE_SIZE}; got '{size_text}'.",
                    parameter="page[size]",
                )
            ]
        )
    return int(size_text)


def _page_offset(request: web.Request) -> int:
    if "page[cursor]" not in request.query:
        return 0
    decoded = decode_cursor(request.query["page[cursor]"])
    if decoded is None:
        raise ApiRequestError(
            [ApiError(400, "invalid", "Invalid page[cursor].", parameter="page[cursor]")]
        )
    return decoded


async def bulk_import_profiles(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    body, items, profiles = await state.offload(_checked_bulk_profiles, revision, body)
    lists = ((body["data"].get("relationships") or {}).get("lists") or {}).get("data") or []
    job = state.jobs.create(profiles, items, [entry["id"] for entry in lists])
    return _json_api({"data": job.resource(_base_url(request))}, status=202)


def _checked_bulk_profiles(
    revision: Revision, raw: bytes
) -> tuple[Any, list[Any], list[ProfileInput]]:
    body = _parse(raw)
    items = _bulk_profile_items(body)
    sizes = [len(json.dumps(item)) for item in items]
    return body, items, validate_bulk_profiles(body, revision, sizes)


def _bulk_profile_items(body: Body) -> list[Any]:
    try:
        items = body["data"]["attributes"]["profiles"]["data"]
    except (KeyError, TypeError):
        return []
    return items if isinstance(items, list) else []


async def get_import_job(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    job = state.jobs.jobs.get(request.match_info["job_id"])
    if job is None:
        raise _job_not_found(request.match_info["job_id"])
    return _json_api({"data": job.resource(_base_url(request))})


async def get_import_errors(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    job_id = request.match_info["job_id"]
    job = state.jobs.jobs.get(job_id)
    if job is None:
        raise _job_not_found(job_id)
    size = _page_size(request)
    offset = _page_offset(request)
    page = job.errors[offset : offset + size]
    url = f"{_base_url(request)}/api/profile-bulk-import-jobs/{job_id}/import-errors/"
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if offset + size < len(job.errors):
        links["next"] = f"{url}?page[size]={size}&page[cursor]={encode_cursor(offset + size)}"
    if offset > 0:
        links["prev"] = (
            f"{url}?page[size]={size}&page[cursor]={encode_cursor(max(0, offset - size))}"
        )
    data = [
        {
            "type": "import-error",
            "id": error.id,
            "attributes": {
                "code": error.code,
                "title": error.title,
                "detail": error.detail,
                "source": {"pointer": error.pointer},
                "original_payload": error.original_payload,
            },
        }
        for error in page
    ]
    return _json_api({"data": data, "links": links})


async def get_accounts(
    request: web.Request, state: KlaviyoState, revision: Revision, body: Body
) -> web.Response:
    """The key's own account (Klaviyo: "test if a Private API Key belongs to the correct account")."""
    account = state.keys.account(request[ACCOUNT])
    url = f"{_base_url(request)}/api/accounts/"
    return _json_api(
        {
            "data": [
                {
                    "type": "account",
                    "id": account.id,
                    "attributes": account.attributes(),
                    "links": {"self": f"{url}{account.id}/"},
                }
            ],
            "links": {"self": url, "next": None, "prev": None},
        }
    )


def _job_not_found(job_id: str) -> ApiRequestError:
    return ApiRequestError(
        [ApiError(404, "not_found", f"A profile bulk import job with id {job_id} does not exist.")]
    )


ENDPOINTS: list[tuple[Endpoint, Handler]] = [
    (Endpoint("GET", "/api/accounts", ("accounts:read",), XS, None), get_accounts),
    (Endpoint("POST", "/api/events", ("events:write",), XL, 5 * MB), create_event),
    (Endpoint("GET", "/api/events", ("events:read",), XL, None), get_events),
    (Endpoint("GET", "/api/metrics", ("metrics:read",), M, None), get_metrics),
    (
        Endpoint("POST", "/api/event-bulk-create-jobs", ("events:write",), M, 5 * MB),
        bulk_create_events,
    ),
    (Endpoint("POST", "/api/profile-import", ("profiles:write",), L, 100 * 1024), profile_import),
    (Endpoint("GET", "/api/profiles", ("profiles:read",), L, None), get_profiles),
    (
        Endpoint(
            "POST", "/api/profile-bulk-import-jobs", ("lists:write", "profiles:write"), M, 5 * MB
        ),
        bulk_import_profiles,
    ),
    (
        Endpoint(
            "GET",
            "/api/profile-bulk-import-jobs/{job_id}",
            ("lists:read", "profiles:read"),
            M,
            None,
        ),
        get_import_job,
    ),
    (
        Endpoint(
            "GET",
            "/api/profile-bulk-import-jobs/{job_id}/import-errors",
            ("profiles:read",),
            M,
            None,
        ),
        get_import_errors,
    ),
]


# -- the pipeline every API call goes through --------------------------------------------------


def serve(
    endpoint: Endpoint, handler: Handler, state: KlaviyoState
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        decision: Decision | None = None
        try:
            state.keys.authorize(request.headers.get("Authorization"), ())
            revision = parse_revision(request.headers.get("revision"))
            account = state.keys.authorize(request.headers.get("Authorization"), endpoint.scopes)
            request[ACCOUNT] = account
            decision = state.limiter.check(account, endpoint.name, endpoint.limit_for(revision))
            if decision is not None and not decision.allowed:
                return error_response([_throttled(decision.retry_after)], decision.headers())
            body = await _read_body(request, endpoint) if endpoint.method == "POST" else None
            response = await handler(request, state, revision, body)
        except ApiRequestError as rejection:
            state.store.record_rejected(
                endpoint.name, rejection.status, [e.to_json() for e in rejection.errors]
            )
            response = error_response(rejection.errors, rejection.headers)
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    return handle


def _throttled(retry_after: int) -> ApiError:
    unit = "second" if retry_after == 1 else "seconds"
    return ApiError(
        429,
        "throttled",
        f"Request was throttled. Expected available in {retry_after} {unit}.",
        pointer="/data",
        links={
            "type": "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"
        },
    )


async def _read_body(request: web.Request, endpoint: Endpoint) -> bytes:
    """The raw body, once its media type and size are acceptable (parsed by `_parse`)."""
    media_type = request.content_type
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise ApiRequestError(
            [
                ApiError(
                    415,
                    "unsupported_media_type",
                    f"Unsupported media type '{media_type}' in request: use application/json or {JSON_API}.",
                )
            ]
        )
    raw = await request.read()
    limit = endpoint.max_body_bytes or 0
    if len(raw) > limit:
        raise ApiRequestError(
            [
                ApiError(
                    413,
                    "request_too_large",
                    f"The payload is {len(raw)} bytes; {endpoint.path} accepts at most {limit}.",
                    pointer="/data",
                )
            ]
        )
    return raw


def _parse(raw: bytes) -> Body:
    try:
        return from_json(raw)
    except ValueError:
        pass  # json's own message, and its verdict on the edge cases, e.g. nesting over 200 levels
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiRequestError(
            [ApiError(400, "parse_error", f"JSON parse error: {exc}.", pointer="/data")]
        ) from None

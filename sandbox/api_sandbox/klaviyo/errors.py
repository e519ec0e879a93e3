"""JSON:API error objects in the shape Klaviyo returns them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_API = "application/vnd.api+json"

# Titles as Klaviyo (a Django REST framework JSON:API service) words them.
TITLES = {
    "invalid": "Invalid input.",
    "parse_error": "Malformed request.",
    "not_authenticated": "Authentication credentials were not provided.",
    "authentication_failed": "Incorrect authentication credentials.",
    "permission_denied": "You do not have permission to perform this action.",
    "not_found": "Not found.",
    "method_not_allowed": "Method not allowed.",
    "duplicate_profile": "Conflict.",
    "gone": "Revision retired.",
    "unsupported_media_type": "Unsupported media type.",
    "request_too_large": "Request entity too large.",
    "throttled": "Request was throttled.",
    "error": "A server error occurred.",
}


@dataclass
class ApiError:
    """One entry of a JSON:API `errors` array."""

    status: int
    code: str
    detail: str
    pointer: str | None = None
    parameter: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self) -> dict[str, Any]:
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        return {
            "id": self.id,
            "status": self.status,
            "code": self.code,
            "title": TITLES.get(self.code, "Error."),
            "detail": self.detail,
            "source": source,
            "links": self.links,
            "meta": self.meta,
        }


class ApiRequestError(Exception):
    """Raised anywhere in a handler to answer with these errors (all of one status)."""

    def __init__(self, errors: list[ApiError], headers: dict[str, str] | None = None) -> None:
        super().__init__(errors[0].detail if errors else "error")
        self.errors = errors
        self.status = errors[0].status
        self.headers = headers or {}


def invalid(detail: str, pointer: str) -> ApiError:
    return ApiError(400, "invalid", detail, pointer=pointer)


def error_body(errors: list[ApiError]) -> list[dict[str, Any]]:
    return [error.to_json() for error in errors]


def error_response(errors: list[ApiError], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=errors[0].status,
        body=json.dumps({"errors": error_body(errors)}).encode(),
        content_type=JSON_API,
        headers=headers,
    )

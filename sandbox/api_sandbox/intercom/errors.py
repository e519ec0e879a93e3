"""Intercom's error shape (`error.list`, reference §5.2) and the JSON encoding of every response."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data).encode(), status=status, content_type="application/json")


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "type": "error.list",
        "request_id": str(uuid.uuid4()),
        "errors": [{"code": code, "message": message}],
    }
    response = json_response(body, status=status)
    if headers:
        response.headers.update(headers)
    return response

"""Request bodies shaped as Klaviyo's API reference shows them, and a tiny caller, for tests and demos.

These build inputs only; what the stand-in must answer is written out by hand in each test.
"""

from __future__ import annotations

from typing import Any

import requests

LATEST_REVISION = "2026-10-15"


def headers(
    key: str | None = "pk_sandbox",
    revision: str | None = LATEST_REVISION,
    content_type: str | None = "application/vnd.api+json",
) -> dict[str, str]:
    result = {"Accept": "application/vnd.api+json"}
    if key is not None:
        result["Authorization"] = f"Klaviyo-API-Key {key}"
    if revision is not None:
        result["revision"] = revision
    if content_type is not None:
        result["Content-Type"] = content_type
    return result


def call(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = "pk_sandbox",
    revision: str | None = LATEST_REVISION,
    content_type: str | None = "application/vnd.api+json",
    session: requests.Session | None = None,
) -> requests.Response:
    """One API call; `body` is sent as JSON (bytes are sent as they are)."""
    payload: dict[str, Any] = {}
    if isinstance(body, bytes):
        payload["data"] = body
    elif body is not None:
        payload["json"] = body
    send = session.request if session is not None else requests.request
    return send(
        method,
        f"{base_url}{path}",
        headers=headers(key, revision, content_type),
        timeout=30,
        **payload,
    )


def metric(name: str) -> dict[str, Any]:
    return {"data": {"type": "metric", "attributes": {"name": name}}}


def event_attributes(
    name: str = "Created Conversation",
    *,
    unique_id: str | None = "conversation:1:created",
    time: str | None = "2025-05-01T12:34:56+00:00",
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "properties": {"Title": "Refund"} if properties is None else properties,
        "metric": metric(name),
    }
    if time is not None:
        attributes["time"] = time
    if unique_id is not None:
        attributes["unique_id"] = unique_id
    return attributes


def create_event(profile: dict[str, Any] | None = None, **event: Any) -> dict[str, Any]:
    """POST /api/events body for one event of the profile with these attributes."""
    attributes = event_attributes(**event)
    attributes["profile"] = {
        "data": {"type": "profile", "attributes": profile or {"email": "ana@example.com"}}
    }
    return {"data": {"type": "event", "attributes": attributes}}


def bulk_entry(
    profile: dict[str, Any], events: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """One `event-bulk-create` entry: a profile and its events (each from `event_attributes`)."""
    return {
        "type": "event-bulk-create",
        "attributes": {
            **extra,
            "profile": {"data": {"type": "profile", "attributes": profile}},
            "events": {"data": [{"type": "event", "attributes": event} for event in events]},
        },
    }


def bulk_events(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": entries}},
        }
    }


def profile_import(attributes: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": attributes, **data}}


def bulk_profiles(profiles: list[dict[str, Any]], **data: Any) -> dict[str, Any]:
    """POST /api/profile-bulk-import-jobs body; each profile is a dict of attributes."""
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {
                "profiles": {
                    "data": [{"type": "profile", "attributes": profile} for profile in profiles]
                }
            },
            **data,
        }
    }

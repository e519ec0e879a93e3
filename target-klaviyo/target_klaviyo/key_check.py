"""The key check behind `meltano config test target-klaviyo`: one cheap authenticated call,
GET /api/accounts (Klaviyo: "test if a Private API Key belongs to the correct account").

A single request outside the run's pool and limiters (1/s, 15/m for this endpoint): it is made
once, before anything else, and only for Meltano's test stream.
"""

from __future__ import annotations

from typing import Any

import requests

from target_klaviyo.client import redact
from target_klaviyo.errors import KlaviyoConfigError, KlaviyoError, error_detail

ACCOUNTS_PATH = "/api/accounts"


def check_key(*, api_url: str, api_key: str, revision: str, timeout: float) -> str:
    """One line saying the key works (and, with the scope, whose account it is); raises
    KlaviyoConfigError naming the setting when Klaviyo refuses the key or the revision."""
    url = api_url.rstrip("/") + ACCOUNTS_PATH
    headers = {
        "Authorization": f"Klaviyo-API-Key {api_key}",
        "revision": revision,
        "Accept": "application/vnd.api+json",
        "User-Agent": "target-klaviyo",
    }
    try:
        response = requests.get(url, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        msg = (
            f"cannot reach Klaviyo at {api_url} ({type(exc).__name__}): check the 'api_url' setting"
        )
        raise KlaviyoError(redact(msg, api_key)) from None
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    detail = error_detail(errors[0], with_pointer=False) if errors else ""
    status = response.status_code
    if status == 200:
        return redact(_account_line(body), api_key)
    if status == 401:
        msg = (
            f"Klaviyo rejected the API key (401 {detail}) on GET {ACCOUNTS_PATH}: set a valid "
            "private key in the 'api_key' setting (TARGET_KLAVIYO_API_KEY)"
        )
        raise KlaviyoConfigError(redact(msg, api_key))
    if status == 403:
        # Authenticated: only the accounts:read scope is missing, which delivery never needs.
        return (
            "Klaviyo accepted the API key (it lacks the accounts:read scope, so its account "
            "is not shown; delivery needs events:write and profiles:write)"
        )
    if status == 410:
        msg = f"Klaviyo has retired API revision {revision} (410 {detail}): set a newer 'revision'"
        raise KlaviyoConfigError(msg)
    msg = f"GET {ACCOUNTS_PATH} answered HTTP {status} {detail}".rstrip()
    raise KlaviyoError(redact(msg, api_key))


def _account_line(body: Any) -> str:
    data = body.get("data") if isinstance(body, dict) else None
    account = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    attributes = account.get("attributes") or {}
    contact = attributes.get("contact_information") or {}
    name = contact.get("organization_name") if isinstance(contact, dict) else None
    label = f"{account.get('id', '?')}" + (f" ({name})" if name else "")
    return f"Klaviyo accepted the API key: it belongs to account {label}"

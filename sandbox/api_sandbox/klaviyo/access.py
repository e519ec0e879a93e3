"""API keys, their scopes and accounts: `Authorization: Klaviyo-API-Key <key>`; a missing scope is 403.

Private keys of one account share its rate limits ("private key integrations share the same rate
limit quota per account"); the configured key belongs to MAIN_ACCOUNT, as do added keys unless
they name another account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api_sandbox.klaviyo.errors import ApiError, ApiRequestError

ALL_SCOPES = frozenset(
    {
        "accounts:read",
        "events:read",
        "events:write",
        "lists:read",
        "lists:write",
        "metrics:read",
        "metrics:write",
        "profiles:read",
        "profiles:write",
    }
)
SCHEME = "Klaviyo-API-Key"
MAIN_ACCOUNT = "SBXACC"  # the id of the configured key's account


@dataclass(frozen=True)
class Account:
    """What GET /api/accounts shows of an account (Klaviyo's account id is its public API key)."""

    id: str

    def attributes(self) -> dict[str, Any]:
        return {
            "test_account": True,
            "contact_information": {
                "default_sender_name": f"Sandbox {self.id}",
                "default_sender_email": f"sender-{self.id.lower()}@example.com",
                "website_url": "https://example.com",
                "organization_name": f"Sandbox account {self.id}",
                "street_address": {
                    "address1": "1 Example Street",
                    "address2": None,
                    "city": "Boston",
                    "region": "MA",
                    "country": "US",
                    "zip": "02110",
                },
            },
            "industry": "Software / SaaS",
            "timezone": "UTC",
            "preferred_currency": "USD",
            "public_api_key": self.id,
            "locale": "en-US",
        }


class KeyRing:
    """The keys: the configured one has every scope, added ones only theirs; each key has an account."""

    def __init__(self, main_key: str) -> None:
        self.main_key = main_key
        self._scopes: dict[str, frozenset[str]] = {main_key: ALL_SCOPES}
        self._accounts: dict[str, str] = {main_key: MAIN_ACCOUNT}

    def add(self, key: str, scopes: list[str], account: str | None = None) -> str:
        """Add (or redefine) a key; returns its account id."""
        unknown = sorted(set(scopes) - ALL_SCOPES)
        if not key or unknown:
            msg = f"a key needs a non-empty 'key' and known scopes; unknown: {unknown}"
            raise ValueError(msg)
        if account is not None and (not account or not account.isalnum()):
            msg = f"'account' must be a non-empty alphanumeric account id, got {account!r}"
            raise ValueError(msg)
        self._scopes[key] = frozenset(scopes)
        self._accounts[key] = account or MAIN_ACCOUNT
        return self._accounts[key]

    def reset(self) -> None:
        self._scopes = {self.main_key: ALL_SCOPES}
        self._accounts = {self.main_key: MAIN_ACCOUNT}

    def account(self, account_id: str) -> Account:
        return Account(account_id)

    def authorize(self, header: str | None, needed: tuple[str, ...]) -> str:
        """The key's account id, or raise the 401/403 Klaviyo answers with; the key itself never
        appears in an error."""
        if not header:
            raise ApiRequestError(
                [
                    ApiError(
                        401, "not_authenticated", "Authentication credentials were not provided."
                    )
                ]
            )
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        scopes = self._scopes.get(key) if scheme == SCHEME else None
        if scopes is None:
            raise ApiRequestError(
                [
                    ApiError(
                        401,
                        "authentication_failed",
                        f"Incorrect authentication credentials: expected '{SCHEME} <private key>' with a valid key.",
                    )
                ]
            )
        granted = scopes | {scope.replace(":write", ":read") for scope in scopes}
        missing = [scope for scope in needed if scope not in granted]
        if missing:
            raise ApiRequestError(
                [
                    ApiError(
                        403,
                        "permission_denied",
                        f"You do not have permission to perform this action: the key lacks scope(s) {', '.join(missing)}.",
                    )
                ]
            )
        return self._accounts[key]

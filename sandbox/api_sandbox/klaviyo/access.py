"""API keys and their scopes: `Authorization: Klaviyo-API-Key <key>`; a missing scope is 403."""

from __future__ import annotations

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


class KeyRing:
    """The sandbox account's keys: the configured one has every scope, added ones only theirs."""

    def __init__(self, main_key: str) -> None:
        self.main_key = main_key
        self._scopes: dict[str, frozenset[str]] = {main_key: ALL_SCOPES}

    def add(self, key: str, scopes: list[str]) -> None:
        unknown = sorted(set(scopes) - ALL_SCOPES)
        if not key or unknown:
            msg = f"a key needs a non-empty 'key' and known scopes; unknown: {unknown}"
            raise ValueError(msg)
        self._scopes[key] = frozenset(scopes)

    def reset(self) -> None:
        self._scopes = {self.main_key: ALL_SCOPES}

    def authorize(self, header: str | None, needed: tuple[str, ...]) -> None:
        """Raise the 401/403 Klaviyo answers with; the key itself never appears in an error."""
        if not header:
            raise ApiRequestError(
                [
                    ApiError(
                        401, "not_authenticated", "Authentication credentials were not provided."
                    )
                ]
            )
        scheme, _, key = header.strip().partition(" ")
        scopes = self._scopes.get(key.strip()) if scheme == SCHEME else None
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

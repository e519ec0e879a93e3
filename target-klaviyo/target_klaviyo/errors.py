"""The target's exceptions, and the one place that turns a Klaviyo error object into text."""

from __future__ import annotations

from typing import Any


class KlaviyoError(Exception):
    """A failure the target cannot work around: the run stops before acknowledging state."""


class KlaviyoConfigError(KlaviyoError):
    """Klaviyo refused the configuration (key, scopes, revision): fix a setting, then rerun."""


class RunStoppingError(KlaviyoError):
    """The run is stopping after another request failed for good: send nothing more."""


class InputError(KlaviyoError):
    """The input is not a Singer message stream (the message names the line, never its content)."""


class MappingConfigError(ValueError):
    """The mapping settings are wrong; the message names the setting."""


def error_detail(error: dict[str, Any], *, with_pointer: bool = True) -> str:
    """`code: detail (at /source/pointer)` of one entry of a JSON:API `errors` list (Klaviyo's
    bulk import errors have the same shape)."""
    code = error.get("code") or ""
    detail = error.get("detail") or error.get("title") or ""
    text = ": ".join(str(part) for part in (code, detail) if part)
    pointer = (error.get("source") or {}).get("pointer") if with_pointer else None
    return f"{text} (at {pointer})" if pointer else text

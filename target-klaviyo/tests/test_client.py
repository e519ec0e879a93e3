"""Pure parts of the HTTP client: Retry-After, Cloudflare challenges, redaction, error details."""

from __future__ import annotations

from target_klaviyo.client import Reply, _is_cloudflare_challenge, _retry_after, redact


def test_retry_after_is_read_in_seconds_with_a_default_of_one() -> None:
    assert _retry_after({"Retry-After": "3"}) == 3.0
    assert _retry_after({"retry-after": "0"}) == 0.0
    assert _retry_after({}) == 1.0
    assert _retry_after({"Retry-After": "soon"}) == 1.0
    assert _retry_after({"Retry-After": "9999"}) == 120.0  # capped


def test_cloudflare_challenge_403_is_recognised() -> None:
    assert _is_cloudflare_challenge({"cf-mitigated": "challenge"})
    assert _is_cloudflare_challenge({"Content-Type": "text/html; charset=UTF-8"})
    assert not _is_cloudflare_challenge({"Content-Type": "application/vnd.api+json"})


def test_the_key_is_redacted_from_any_text() -> None:
    assert (
        redact("header Klaviyo-API-Key pk_abc failed", "pk_abc")
        == "header Klaviyo-API-Key [redacted] failed"
    )
    assert redact("nothing here", None) == "nothing here"


def test_first_error_detail() -> None:
    reply = Reply(
        400,
        {"errors": [{"code": "invalid", "detail": "Invalid email address 'x'.", "source": {}}]},
        {},
    )
    assert reply.first_detail() == "invalid: Invalid email address 'x'."
    assert Reply(500, None, {}).first_detail() == ""

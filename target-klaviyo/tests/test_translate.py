"""Pure translations: times, phones, names, avatars, locations and Klaviyo's value limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from target_klaviyo.translate import (
    LimitCounter,
    TranslationError,
    avatar_url,
    fit_value,
    location_parts,
    split_name,
    to_e164,
    to_iso_utc,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T10:00:00+00:00", "2026-03-01T10:00:00+00:00"),
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00+00:00"),
        ("2026-03-01T12:00:00+02:00", "2026-03-01T10:00:00+00:00"),
        ("2026-03-01T10:00:00.250Z", "2026-03-01T10:00:00.250+00:00"),
        (1772359200, "2026-03-01T10:00:00+00:00"),
        (1772359200000, "2026-03-01T10:00:00+00:00"),
        (Decimal("1772359200"), "2026-03-01T10:00:00+00:00"),
        (dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc), "2026-03-01T10:00:00+00:00"),
        (dt.datetime(2026, 3, 1, 10, 0), "2026-03-01T10:00:00+00:00"),  # noqa: DTZ001 - naive is UTC
        (dt.date(2026, 3, 1), "2026-03-01T00:00:00+00:00"),
        (None, None),
    ],
)
def test_times_become_iso_8601_utc(value: object, expected: str | None) -> None:
    assert to_iso_utc(value) == expected


@pytest.mark.parametrize("value", ["yesterday", True, [1]])
def test_a_value_that_is_no_time_is_an_error(value: object) -> None:
    with pytest.raises(TranslationError):
        to_iso_utc(value)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 415-555-2671", "US", "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("12345", "US", None),
        ("not a phone", "US", None),
        ("   ", "US", None),
    ],
)
def test_phones_become_e164_or_nothing(raw: str, region: str, expected: str | None) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ana", ("Ana", None)),
        ("Ana Maria Silva", ("Ana", "Maria Silva")),
        ("  Bo  Li ", ("Bo", "Li")),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_names_split_at_the_first_space(name: str | None, expected: tuple[str, str]) -> None:
    assert split_name(name) == expected


def test_avatar_is_an_object_or_a_string() -> None:
    assert avatar_url({"type": "avatar", "image_url": "https://a/x.png"}) == "https://a/x.png"
    assert avatar_url("https://a/y.png") == "https://a/y.png"
    assert avatar_url({"type": "avatar", "image_url": None}) is None
    assert avatar_url(None) is None


def test_location_keeps_only_non_null_city_country_region() -> None:
    location = {"type": "location", "city": "Lisbon", "country": None, "region": "Lisboa", "x": 1}
    assert location_parts(location) == {"city": "Lisbon", "region": "Lisboa"}
    assert location_parts({"city": None, "country": None, "region": None}) is None


def test_values_are_cut_to_klaviyos_limits() -> None:
    cuts = LimitCounter()
    long_text = "é" * 60_000  # 120,000 bytes in UTF-8
    fitted = fit_value(long_text, 1, cuts)
    assert len(fitted.encode()) <= 100 * 1024
    assert fit_value(list(range(4500)), 1, cuts) == list(range(4000))
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(12):
        deep = {"d": deep}
    fitted_deep = fit_value(deep, 1, cuts)
    # The property value counts as level 2 (the properties object is level 1); below level 10
    # the rest is kept as JSON text.
    node = fitted_deep
    for _ in range(8):
        node = node["d"]
    assert isinstance(node["d"], str)
    assert node["d"].startswith('{"d": {"d":')
    assert cuts.cut == 3


def test_decimals_and_datetimes_become_json_values() -> None:
    cuts = LimitCounter()
    assert fit_value(Decimal(3), 1, cuts) == 3
    assert fit_value(Decimal("2.5"), 1, cuts) == 2.5
    assert fit_value({"at": dt.datetime(2026, 1, 2, 3, 4, 5)}, 1, cuts) == {  # noqa: DTZ001
        "at": "2026-01-02T03:04:05+00:00"
    }
    assert cuts.cut == 0

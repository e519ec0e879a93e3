"""The `unexplained_rejections` reading over HTTP: a 400 whose error names no item (no `source.pointer`),
answered before the request is processed, for the bulk create endpoints ("bulk") or every API call ("all")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.testing import control

BULK = "/api/event-bulk-create-jobs"


@pytest.fixture
def refusing(url: str) -> Iterator[str]:
    yield url
    control(url, "behaviour", {"unexplained_rejections": "off"})


def bulk_request(url: str) -> requests.Response:
    entry = ex.bulk_entry(
        {"email": "ana@example.com"}, [ex.event_attributes("Opened", unique_id="u-1")]
    )
    return ex.call(url, "POST", BULK, ex.bulk_events([entry]))


def assert_unexplained(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert (error["code"], error["source"]) == ("invalid", {})


def test_bulk_requests_are_refused_naming_no_item_and_nothing_is_stored(refusing: str) -> None:
    url = refusing
    control(url, "reset", {})
    assert (
        control(url, "behaviour", {"unexplained_rejections": "bulk"})["unexplained_rejections"]
        == "bulk"
    )
    assert_unexplained(bulk_request(url))
    job = ex.call(
        url,
        "POST",
        "/api/profile-bulk-import-jobs",
        ex.bulk_profiles([{"email": "bo@example.com"}]),
    )
    assert_unexplained(job)
    single = ex.call(
        url, "POST", "/api/profile-import", ex.profile_import({"email": "cy@example.com"})
    )
    assert single.status_code in (200, 201), single.text  # only the bulk endpoints under "bulk"
    control(url, "behaviour", {"unexplained_rejections": "all"})
    assert_unexplained(ex.call(url, "GET", "/api/accounts"))
    control(url, "behaviour", {"unexplained_rejections": "off"})
    assert bulk_request(url).status_code == 202
    assert [e["unique_id"] for e in control(url, "events")["events"]] == ["u-1"]

"""merge_contact over HTTP: the merged contact is 404 up to 2.15 and 410 `contact_merged` with a Link to
the contact it went into at 2.16, gone from list and search; its ledger entries stay."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000
T0 = NOW + 1000  # after all generated history


@pytest.fixture
def url(start_sandbox: Any) -> str:
    sandbox = start_sandbox(IntercomSettings(now=NOW, rate_limit_per_minute=0))
    return str(sandbox.urls["intercom"])


def client(url: str, version: str = "2.14") -> IntercomTestClient:
    return IntercomTestClient(url, version=version)


def two_contacts(url: str) -> tuple[str, str]:
    data = client(url).get("/contacts", params={"per_page": 2}).json()["data"]
    return data[0]["id"], data[1]["id"]


def merge(url: str, contact_id: str, into: str, **extra: Any) -> dict[str, Any]:
    mutation = {"action": "merge_contact", "contact_id": contact_id, "into_contact_id": into}
    return client(url).mutate({**mutation, **extra})[0]


def test_merged_contact_is_404_up_to_2_15_and_410_with_a_link_at_2_16(url: str) -> None:
    lead, user = two_contacts(url)
    result = merge(url, lead, user, at=T0)
    assert result["ids"] == {"contact_id": lead, "into_contact_id": user}
    assert result["ledger"] == []
    for version in ("2.11", "2.12", "2.13", "2.14", "2.15"):
        response = client(url, version).get(f"/contacts/{lead}")
        assert response.status_code == 404, version
        assert response.json()["errors"][0]["code"] == "not_found"
        assert "Link" not in response.headers
    gone = client(url, "2.16").get(f"/contacts/{lead}")
    assert gone.status_code == 410
    body = gone.json()
    assert body["type"] == "error.list"
    [error] = body["errors"]
    assert error["code"] == "contact_merged"
    assert user in error["message"]
    assert gone.headers["Link"] == f'<{url}/contacts/{user}>; rel="canonical"'
    # Following the Link gives the contact merged into.
    canonical = gone.headers["Link"].split(";")[0].strip("<>")
    followed = client(url, "2.16").get(canonical.removeprefix(url))
    assert followed.status_code == 200
    assert followed.json()["id"] == user
    assert followed.json()["updated_at"] == T0  # the merge updates the contact merged into
    # The tags of a merged contact: 404 at every version (listTagsForAContact documents only 404).
    assert client(url, "2.16").get(f"/contacts/{lead}/tags").status_code == 404


def test_merged_contact_leaves_list_and_search(url: str) -> None:
    lead, user = two_contacts(url)
    api = client(url)
    total = api.get("/contacts").json()["total_count"]
    merge(url, lead, user)
    assert api.get("/contacts").json()["total_count"] == total - 1
    for version in ("2.14", "2.16"):
        query = {"field": "id", "operator": "IN", "value": [lead, user]}
        found = client(url, version).search_all("contacts", query)
        assert [c["id"] for c in found] == [user], version
    listed = api.control("dataset?kind=contacts")["data"]
    assert lead not in {c["id"] for c in listed}


def test_ledger_keeps_the_merged_contacts_events(url: str) -> None:
    lead, user = two_contacts(url)
    api = client(url)
    before = api.control("ledger")["events"]
    of_lead = [e for e in before if e["contact_id"] == lead]
    merge(url, lead, user)
    after = api.control("ledger")["events"]
    assert after == before  # nothing added, nothing removed, still the merged contact's id
    assert [e for e in after if e["contact_id"] == lead] == of_lead


def test_merges_of_merges_link_to_the_live_contact(url: str) -> None:
    data = client(url).get("/contacts", params={"per_page": 3}).json()["data"]
    first, second, third = (c["id"] for c in data)
    merge(url, first, second)
    merge(url, second, third)
    gone = client(url, "2.16").get(f"/contacts/{first}")
    assert gone.status_code == 410
    assert gone.headers["Link"] == f'<{url}/contacts/{third}>; rel="canonical"'


def test_bad_merges_are_rejected(url: str) -> None:
    lead, user = two_contacts(url)
    for mutation in (
        {"action": "merge_contact", "contact_id": lead, "into_contact_id": lead},
        {"action": "merge_contact", "contact_id": lead, "into_contact_id": "nope"},
        {"action": "merge_contact", "contact_id": lead},
    ):
        response = requests.post(
            f"{url}/_sandbox/mutations", json={"mutations": [mutation]}, timeout=10
        )
        assert response.status_code == 400, mutation
    merge(url, lead, user)
    again = requests.post(
        f"{url}/_sandbox/mutations",
        json={
            "mutations": [{"action": "merge_contact", "contact_id": lead, "into_contact_id": user}]
        },
        timeout=10,
    )
    assert again.status_code == 400  # a merged contact is no contact any more
    assert "no contact" in again.json()["error"]

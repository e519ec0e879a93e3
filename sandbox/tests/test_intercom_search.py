"""Search over HTTP: the query language, its 400s, Intercom's timestamp quirks, keyset cursors, looping cursors.

Records the quirk tests look at are made by mutations at hand-picked times after the generated history
(which ends at NOW), so the expected results are written down here, not computed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import FaultSettings, IntercomSettings

NOW = 1_750_000_000  # 2025-06-15 15:06:40 UTC; the generated history ends here
DAY25 = 1_750_809_600  # 2025-06-25 00:00:00 UTC, after all generated data
NOON25 = DAY25 + 12 * 3600
DAY26 = DAY25 + 86_400


def _client(start_sandbox: Any, **settings: Any) -> IntercomTestClient:
    sandbox = start_sandbox(IntercomSettings(now=NOW, rate_limit_per_minute=0, **settings))
    return IntercomTestClient(sandbox.urls["intercom"])


def _codes(response: requests.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [e["code"] for e in response.json()["errors"]]


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {str(item["id"]) for item in items}


@pytest.fixture
def api(start_sandbox: Any) -> IntercomTestClient:
    return _client(start_sandbox)


# ---- contacts: calendar-day timestamps -----------------------------------------------------------------


@pytest.fixture
def dated_contacts(api: IntercomTestClient) -> dict[str, str]:
    """Five contacts edited at known times on 25-27 June (all other contacts are older)."""
    ids = [c["id"] for c in api.get("/contacts", params={"per_page": 5}).json()["data"]]
    times = {
        "A": DAY25 + 3600,  # 01:00 on the 25th
        "B": NOON25,
        "E": NOON25 + 6800,  # later on the same day as B
        "C": DAY26 + 60,  # 00:01 on the 26th
        "D": DAY26 + 86_400 + 100,  # the 27th
    }
    named = dict(zip(times, ids, strict=True))
    api.mutate(
        *(
            {"action": "edit_contact", "contact_id": named[n], "changes": {"name": n}, "at": at}
            for n, at in times.items()
        )
    )
    return named


def _contact_ids(api: IntercomTestClient, operator: str, value: Any) -> set[str]:
    return _ids(
        api.search_all("contacts", {"field": "updated_at", "operator": operator, "value": value})
    )


def test_contact_greater_than_starts_at_the_next_day(
    api: IntercomTestClient, dated_contacts: dict[str, str]
) -> None:
    c = dated_contacts
    # E was updated after NOON25 on the same day, yet `>` skips the rest of that day
    assert _contact_ids(api, ">", NOON25) == {c["C"], c["D"]}
    assert _contact_ids(api, ">", str(NOON25)) == {c["C"], c["D"]}
    assert _contact_ids(api, ">", DAY25 - 1) == {c["A"], c["B"], c["E"], c["C"], c["D"]}


def test_contact_equals_matches_the_whole_day(
    api: IntercomTestClient, dated_contacts: dict[str, str]
) -> None:
    c = dated_contacts
    assert _contact_ids(api, "=", NOON25) == {c["A"], c["B"], c["E"]}
    assert _contact_ids(api, "=", DAY26 + 43_000) == {c["C"]}


def test_contact_less_than_is_before_the_start_of_the_day(
    api: IntercomTestClient, dated_contacts: dict[str, str]
) -> None:
    c = dated_contacts
    before_25 = _contact_ids(api, "<", NOON25)
    assert len(before_25) == 195  # the 200 generated contacts minus the five moved to the 25th-27th
    assert not before_25 & set(c.values())
    before_26 = _contact_ids(api, "<", DAY26 + 80_000)
    assert len(before_26) == 198
    assert c["C"] not in before_26
    assert c["D"] not in before_26


@pytest.mark.parametrize("operator", [">=", "<=", "!=", "IN", "NIN"])
@pytest.mark.parametrize("field", ["updated_at", "created_at"])
def test_contact_date_operators_other_than_eq_gt_lt_are_400(
    api: IntercomTestClient, operator: str, field: str
) -> None:
    value: Any = [NOW] if operator in ("IN", "NIN") else NOW
    response = api.post(
        "/contacts/search", {"query": {"field": field, "operator": operator, "value": value}}
    )
    assert _codes(response) == ["parameter_invalid"]


def test_contact_search_other_fields(api: IntercomTestClient) -> None:
    contacts = api.get("/contacts", params={"per_page": 150}).json()["data"]
    with_email = next(c for c in contacts if c["email"])
    found = api.search_all(
        "contacts", {"field": "email", "operator": "=", "value": with_email["email"]}
    )
    assert _ids(found) == {with_email["id"]}
    leads = api.search_all("contacts", {"field": "role", "operator": "=", "value": "lead"})
    assert leads
    assert {c["role"] for c in leads} == {"lead"}
    tagged = next(c for c in contacts if c["tags"]["data"])
    tag_id = tagged["tags"]["data"][0]["id"]
    by_tag = api.search_all("contacts", {"field": "tag_id", "operator": "=", "value": tag_id})
    assert tagged["id"] in _ids(by_tag)
    spaced = next(c for c in contacts if c["custom_attributes"].get("Plan Tier") == "pro")
    pro = api.search_all(
        "contacts", {"field": "custom_attributes.Plan Tier", "operator": "=", "value": "pro"}
    )
    assert spaced["id"] in _ids(pro)
    assert all(c["custom_attributes"]["Plan Tier"] == "pro" for c in pro)


# ---- conversations and tickets: inclusive > and < ------------------------------------------------------


@pytest.fixture
def new_conversations(api: IntercomTestClient) -> list[str]:
    contact_id = api.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"]
    results = api.mutate(
        {"action": "new_conversation", "contact_id": contact_id, "at": DAY25 + 1000},
        {"action": "new_conversation", "contact_id": contact_id, "at": DAY25 + 1100},
    )
    return [r["ids"]["conversation_id"] for r in results]


def _conversation_ids(api: IntercomTestClient, query: dict[str, Any]) -> set[str]:
    return _ids(api.search_all("conversations", query))


def test_conversation_greater_and_less_than_are_inclusive(
    api: IntercomTestClient, new_conversations: list[str]
) -> None:
    first, second = new_conversations
    assert _conversation_ids(
        api, {"field": "created_at", "operator": ">", "value": DAY25 + 1000}
    ) == {
        first,
        second,
    }
    assert _conversation_ids(
        api, {"field": "created_at", "operator": ">", "value": DAY25 + 1001}
    ) == {second}
    assert _conversation_ids(
        api, {"field": "created_at", "operator": ">=", "value": DAY25 + 1100}
    ) == {second}
    up_to_first = api.post(
        "/conversations/search",
        {"query": {"field": "created_at", "operator": "<", "value": DAY25 + 1000}},
    ).json()
    assert up_to_first["total_count"] == 401  # 400 generated + the first new one
    window = {
        "operator": "AND",
        "value": [
            {"field": "updated_at", "operator": ">", "value": DAY25 + 1000},
            {"field": "updated_at", "operator": "<", "value": DAY25 + 1000},
        ],
    }
    assert _conversation_ids(api, window) == {first}


def test_ticket_bounds_are_inclusive_and_groups_nest(api: IntercomTestClient) -> None:
    contact_id = api.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"]
    made = api.mutate(
        {"action": "new_ticket", "contact_id": contact_id, "state": "submitted", "at": DAY25},
        {"action": "new_ticket", "contact_id": None, "state": "resolved", "at": DAY25 + 100},
        {
            "action": "new_ticket",
            "contact_id": contact_id,
            "state": "waiting_on_customer",
            "at": DAY25 + 200,
        },
    )
    submitted, resolved, waiting = (r["ids"]["ticket_id"] for r in made)
    created_from = {"field": "created_at", "operator": ">", "value": DAY25}
    assert _ids(api.search_all("tickets", created_from)) == {submitted, resolved, waiting}
    nested = {
        "operator": "AND",
        "value": [
            {
                "operator": "OR",
                "value": [
                    {"field": "state", "operator": "=", "value": "resolved"},
                    {"field": "state", "operator": "=", "value": "waiting_on_customer"},
                ],
            },
            {"operator": "OR", "value": [created_from]},
        ],
    }
    assert _ids(api.search_all("tickets", nested)) == {resolved, waiting}
    upto = {"field": "created_at", "operator": "<", "value": DAY25 + 100}
    in_window = api.search_all("tickets", {"operator": "AND", "value": [created_from, upto]})
    assert _ids(in_window) == {submitted, resolved}
    in_states = {"field": "state", "operator": "IN", "value": ["submitted", "resolved"]}
    in_query = {"operator": "AND", "value": [created_from, in_states]}
    assert _ids(api.search_all("tickets", in_query)) == {submitted, resolved}
    no_contact = {"field": "contact_ids", "operator": "=", "value": contact_id}
    assert _ids(
        api.search_all("tickets", {"operator": "AND", "value": [created_from, no_contact]})
    ) == {
        submitted,
        waiting,
    }


def test_ticket_category_uses_search_terms(api: IntercomTestClient) -> None:
    trackers = api.search_all("tickets", {"field": "category", "operator": "=", "value": "tracker"})
    assert trackers
    assert {t["category"] for t in trackers} == {"Tracker"}
    assert (
        api.search_all("tickets", {"field": "category", "operator": "=", "value": "Tracker"}) == []
    )


# ---- the request body and its 400s ---------------------------------------------------------------------


def _filters(n: int) -> list[dict[str, Any]]:
    return [{"field": "created_at", "operator": ">", "value": i} for i in range(n)]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/tickets/search", {"query": {"field": "ticket_state", "operator": "=", "value": "resolved"}}, "invalid_field"),
        ("/conversations/search", {"query": {"field": "colour", "operator": "=", "value": 1}}, "invalid_field"),
        ("/contacts/search", {"query": {"field": "state", "operator": "=", "value": "open"}}, "invalid_field"),
        ("/conversations/search", {"query": {"field": "id", "operator": "LIKE", "value": 1}}, "parameter_invalid"),
        ("/conversations/search", {"query": {"field": "id", "operator": "IN", "value": 1}}, "parameter_invalid"),
        ("/conversations/search", {"query": {"field": "id", "operator": "="}}, "parameter_invalid"),
        ("/conversations/search", {"query": {"operator": "XOR", "value": _filters(2)}}, "parameter_invalid"),
        ("/conversations/search", {"query": {"operator": "AND", "value": []}}, "parameter_invalid"),
        ("/conversations/search", {"query": {"operator": "AND", "value": _filters(16)}}, "parameter_invalid"),
        ("/conversations/search", {"query": "updated_at > 1"}, "parameter_invalid"),
        ("/conversations/search", {"query": {"field": "updated_at", "operator": ">", "value": "yesterday"}}, "parameter_invalid"),
        ("/conversations/search", {"pagination": {"per_page": 10}}, "parameter_invalid"),
        ("/conversations/search", {"query": None}, "parameter_invalid"),
        ("/conversations/search", {"query": _filters(1)[0], "pagination": {"per_page": 151}}, "parameter_invalid"),
        ("/contacts/search", {"query": _filters(1)[0], "pagination": {"per_page": 0}}, "parameter_invalid"),
        ("/conversations/search", {"query": _filters(1)[0], "pagination": {"starting_after": "bm90IGEgY3Vyc29y"}}, "parameter_invalid"),
        ("/conversations/search", {"query": _filters(1)[0], "sort": {"field": "updated_at", "order": "up"}}, "invalid_sort_order"),
        ("/conversations/search", {"query": _filters(1)[0], "sort": {"field": "colour", "order": "ascending"}}, "invalid_field"),
        ("/tickets/search", [1, 2], "parameter_invalid"),
    ],
)  # fmt: skip
def test_bad_search_bodies_are_400(
    api: IntercomTestClient, path: str, body: Any, code: str
) -> None:
    assert _codes(api.post(path, body)) == [code]


def test_nesting_beyond_two_levels_is_400_and_two_is_fine(api: IntercomTestClient) -> None:
    two = {"operator": "AND", "value": [{"operator": "OR", "value": _filters(2)}, _filters(1)[0]]}
    assert api.post("/conversations/search", {"query": two}).status_code == 200
    three = {
        "operator": "AND",
        "value": [{"operator": "OR", "value": [{"operator": "AND", "value": _filters(2)}]}],
    }
    assert _codes(api.post("/conversations/search", {"query": three})) == ["parameter_invalid"]
    fifteen = {"operator": "OR", "value": _filters(15)}
    assert api.post("/conversations/search", {"query": fifteen}).status_code == 200


def test_invalid_json_is_400_parameter_invalid(api: IntercomTestClient) -> None:
    response = api.session.post(
        f"{api.base_url}/conversations/search",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert _codes(response) == ["parameter_invalid"]


def test_cursor_of_another_sort_is_400(api: IntercomTestClient) -> None:
    query = {"field": "created_at", "operator": ">", "value": 0}
    by_id = {"field": "id", "order": "ascending"}
    first = api.post(
        "/conversations/search", {"query": query, "sort": by_id, "pagination": {"per_page": 5}}
    )
    cursor = first.json()["pages"]["next"]["starting_after"]
    other = api.post(
        "/conversations/search",
        {"query": query, "pagination": {"per_page": 5, "starting_after": cursor}},
    )
    assert _codes(other) == ["parameter_invalid"]


# ---- cursors -------------------------------------------------------------------------------------------


def test_search_pages_cover_everything_once_and_last_page_has_no_next(
    api: IntercomTestClient,
) -> None:
    query = {"field": "created_at", "operator": ">", "value": 0}
    for per_page in (7, 150):
        contacts = api.search_all(
            "contacts", query, per_page=per_page, sort={"field": "updated_at", "order": "ascending"}
        )
        assert len(contacts) == 200
        assert len(_ids(contacts)) == 200
        times = [c["updated_at"] for c in contacts]
        assert times == sorted(times)
    last = api.post("/tickets/search", {"query": query, "pagination": {"per_page": 150}}).json()
    assert last["total_count"] == 100
    assert last["pages"] == {"type": "pages", "page": 1, "per_page": 150, "total_pages": 1}


def test_keyset_cursor_is_stable_when_earlier_records_are_deleted(api: IntercomTestClient) -> None:
    query = {"field": "created_at", "operator": ">", "value": 0}
    sort = {"field": "id", "order": "ascending"}
    page1 = api.post(
        "/conversations/search", {"query": query, "sort": sort, "pagination": {"per_page": 10}}
    ).json()
    assert [c["id"] for c in page1["conversations"]] == [str(i) for i in range(100_000, 100_010)]
    assert page1["pages"]["page"] == 1
    api.mutate(
        {"action": "delete_conversation", "conversation_id": "100003"},
        {"action": "delete_conversation", "conversation_id": "100012"},
    )
    cursor = page1["pages"]["next"]["starting_after"]
    page2 = api.post(
        "/conversations/search",
        {"query": query, "sort": sort, "pagination": {"per_page": 10, "starting_after": cursor}},
    ).json()
    # offset paging would skip 100010 after a deletion on page 1; keyset paging does not
    assert [c["id"] for c in page2["conversations"]] == [
        "100010", "100011", "100013", "100014", "100015", "100016", "100017", "100018", "100019", "100020",
    ]  # fmt: skip
    assert page2["pages"]["page"] == 2
    assert page2["total_count"] == 398


def _walk(api: IntercomTestClient, pages: int) -> list[str]:
    """Next cursors of a conversation search, `pages` pages long (follows repeats as a naive client would)."""
    query = {"field": "created_at", "operator": ">", "value": 0}
    cursors: list[str] = []
    cursor = None
    for _ in range(pages):
        body = {"query": query, "pagination": {"per_page": 10, "starting_after": cursor}}
        page = api.post("/conversations/search", body).json()
        cursor = page["pages"]["next"]["starting_after"]
        cursors.append(cursor)
    return cursors


def test_cursor_repeat_rate_one_sends_the_client_back(api: IntercomTestClient) -> None:
    assert api.control("quirks", {"cursor_repeat_rate": 1.0}) == {
        "cursor_repeat_rate": 1.0,
        "contact_search_delay_seconds": 0.0,
        "ignore_sort": {"contacts": False, "conversations": False, "tickets": False},
        "cursor_mode": "keyset",
        "search_lag_seconds": {"contacts": 0.0, "conversations": 0.0, "tickets": 0.0},
        "clock_offset_seconds": 0.0,
    }
    c1, c2, c3, c4 = _walk(api, 4)
    # page 2 (reached with c1) points back at c1: A -> B -> A -> B, the loop peers hit
    assert c2 == c1
    assert c3 == c1
    assert c4 == c1


def test_cursor_repeat_is_deterministic_with_the_fault_seed(start_sandbox: Any) -> None:
    walks = []
    for _ in range(2):
        api = _client(start_sandbox, faults=FaultSettings(seed=7))
        api.control("quirks", {"cursor_repeat_rate": 0.3})
        walks.append(_walk(api, 20))
    assert walks[0] == walks[1]
    assert len(set(walks[0])) < 20  # some cursor came back


def test_without_the_quirk_cursors_never_repeat(api: IntercomTestClient) -> None:
    cursors = _walk(api, 20)
    assert len(set(cursors)) == 20


@pytest.mark.parametrize(
    "body",
    [
        {"cursor_repeat_rate": 2},
        {"cursor_repeat_rate": "x"},
        {"loop": 1},
        {"contact_search_delay_seconds": -1},
        {"cursor_repeat_rate": 0.5, "contact_search_delay_seconds": "soon"},
        {"ignore_sort": {"companies": True}},
        {"ignore_sort": {"tickets": 1}},
        {"ignore_sort": True},
        {"cursor_mode": "page"},
        {"cursor_mode": "offset", "ignore_sort": {"tickets": "yes"}},
    ],
)
def test_bad_quirk_settings_are_400(api: IntercomTestClient, body: dict[str, Any]) -> None:
    response = requests.post(f"{api.base_url}/_sandbox/quirks", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"].startswith("quirks:")
    # nothing applied, not even the valid part of the body
    assert api.control("quirks") == {
        "cursor_repeat_rate": 0.0,
        "contact_search_delay_seconds": 0.0,
        "ignore_sort": {"contacts": False, "conversations": False, "tickets": False},
        "cursor_mode": "keyset",
        "search_lag_seconds": {"contacts": 0.0, "conversations": 0.0, "tickets": 0.0},
        "clock_offset_seconds": 0.0,
    }


def test_recently_edited_contacts_reach_search_after_the_delay(api: IntercomTestClient) -> None:
    api.control("quirks", {"contact_search_delay_seconds": 1.0})
    contact = api.get("/contacts", params={"per_page": 1}).json()["data"][0]
    api.mutate(
        {
            "action": "edit_contact",
            "contact_id": contact["id"],
            "changes": {"email": "late@example.com"},
        }
    )
    by_email = {"field": "email", "operator": "=", "value": "late@example.com"}
    assert api.search_all("contacts", by_email) == []
    assert api.get(f"/contacts/{contact['id']}").json()["email"] == "late@example.com"
    time.sleep(1.1)
    assert _ids(api.search_all("contacts", by_email)) == {contact["id"]}
    # the quirk stays off for unedited contacts and for the list endpoint
    assert api.get("/contacts").json()["total_count"] == 200

"""The Intercom stand-in's REST endpoints over HTTP: auth, Accept, versions, wrappers, 404s, parts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from api_sandbox.intercom.rate_limit import UNLIMITED
from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000  # 2025-06-15 15:06:40 UTC
TOKEN = IntercomSettings.token


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with BackgroundSandbox(IntercomSettings(now=NOW, rate_limit_per_minute=0)) as sandbox:
        yield sandbox.urls["intercom"]


@pytest.fixture
def api(base_url: str) -> IntercomTestClient:
    return IntercomTestClient(base_url)


def _error_codes(response: requests.Response) -> list[str]:
    body = response.json()
    assert body["type"] == "error.list"
    return [e["code"] for e in body["errors"]]


# ---- auth and headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, "Bearer "],
)
def test_bad_or_missing_token_is_401_without_rate_limit_headers(
    base_url: str, authorization: str | None
) -> None:
    headers = {"Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = requests.get(f"{base_url}/me", headers=headers, timeout=10)
    assert response.status_code == 401
    assert _error_codes(response) == ["unauthorized"]
    assert "X-RateLimit-Limit" not in response.headers
    assert TOKEN not in response.text


def test_authenticated_responses_carry_rate_limit_headers(api: IntercomTestClient) -> None:
    response = api.get("/me")
    assert response.status_code == 200
    # this module's stand-in has no rate limit: a budget no client would throttle itself on
    assert response.headers["X-RateLimit-Limit"] == str(UNLIMITED)
    assert response.headers["X-RateLimit-Remaining"] == str(UNLIMITED)
    assert int(response.headers["X-RateLimit-Reset"]) % 10 == 0


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/json", 200),
        ("*/*", 200),
        ("text/html, application/json;q=0.9", 200),
        ("application/*", 200),
        ("text/html", 406),
        ("application/json;q=0", 406),
        (None, 406),
    ],
)
def test_accept_header_must_admit_json(base_url: str, accept: str | None, status: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    session = requests.Session()
    session.headers.pop("Accept", None)  # requests sends */* unless told otherwise
    if accept is not None:
        headers["Accept"] = accept
    response = session.get(f"{base_url}/me", headers=headers, timeout=10)
    assert response.status_code == status


@pytest.mark.parametrize("version", ["2.99", "1.0", "Unstable", "latest"])
def test_unknown_version_is_400_intercom_version_invalid(base_url: str, version: str) -> None:
    response = IntercomTestClient(base_url, version=version).get("/me")
    assert response.status_code == 400
    assert _error_codes(response) == ["intercom_version_invalid"]


def test_unknown_path_and_method_are_404_error_lists(api: IntercomTestClient) -> None:
    assert _error_codes(api.get("/widgets")) == ["not_found"]
    response = api.session.delete(f"{api.base_url}/contacts", timeout=10)
    assert response.status_code == 404
    assert _error_codes(response) == ["not_found"]


# ---- lookups -------------------------------------------------------------------------------------------


def test_me_is_an_admin_with_its_app(api: IntercomTestClient) -> None:
    me = api.get("/me").json()
    assert me["type"] == "admin"
    assert me["app"]["type"] == "app"
    assert me["app"]["timezone"] == "UTC"


def test_lookup_wrappers(api: IntercomTestClient) -> None:
    admins = api.get("/admins").json()
    assert admins["type"] == "admin.list"
    assert {a["type"] for a in admins["admins"]} == {"admin"}
    assert all(a["name"] and a["email"] for a in admins["admins"])
    teams = api.get("/teams").json()
    assert teams["type"] == "team.list"
    assert {t["name"] for t in teams["teams"]} == {"Support", "Billing", "Escalations"}
    tags = api.get("/tags").json()
    assert tags["type"] == "list"
    assert len(tags["data"]) == 24
    assert set(tags["data"][0]) == {"type", "id", "name"}
    ticket_types = api.get("/ticket_types").json()
    assert ticket_types["type"] == "list"
    assert {t["category"] for t in ticket_types["data"]} == {"Customer", "Back-office", "Tracker"}


# ---- contacts ------------------------------------------------------------------------------------------


def test_contacts_list_pages_through_everything_once(api: IntercomTestClient) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"per_page": 60}
        if cursor:
            params["starting_after"] = cursor
        page = api.get("/contacts", params=params).json()
        assert page["type"] == "list"
        assert page["total_count"] == 200
        pages += 1
        assert page["pages"]["page"] == pages
        assert page["pages"]["total_pages"] == 4
        seen.extend(c["id"] for c in page["data"])
        if "next" not in page["pages"]:
            break
        cursor = page["pages"]["next"]["starting_after"]
    assert pages == 4
    assert len(seen) == 200
    assert len(set(seen)) == 200


@pytest.mark.parametrize("per_page", ["151", "0", "-1", "ten"])
def test_contacts_list_rejects_bad_per_page(api: IntercomTestClient, per_page: str) -> None:
    response = api.get("/contacts", params={"per_page": per_page})
    assert response.status_code == 400
    assert _error_codes(response) == ["parameter_invalid"]


def test_contacts_list_default_page_is_50_and_150_is_allowed(api: IntercomTestClient) -> None:
    assert len(api.get("/contacts").json()["data"]) == 50
    assert len(api.get("/contacts", params={"per_page": 150}).json()["data"]) == 150


def test_contact_by_id_and_unknown_id(api: IntercomTestClient) -> None:
    first = api.get("/contacts", params={"per_page": 1}).json()["data"][0]
    contact = api.get(f"/contacts/{first['id']}").json()
    assert contact == first
    response = api.get("/contacts/000000000000000000000000")
    assert response.status_code == 404
    assert _error_codes(response) == ["not_found"]
    assert api.get("/contacts/000000000000000000000000/tags").status_code == 404


def test_contact_lists_ten_tag_refs_and_tags_endpoint_gives_all_with_names(
    api: IntercomTestClient,
) -> None:
    contacts = api.get("/contacts", params={"per_page": 150}).json()["data"]
    many = [c for c in contacts if c["tags"]["total_count"] > 10]
    assert many, "the default data set has contacts with more than 10 tags"
    contact = many[0]
    assert len(contact["tags"]["data"]) == 10
    assert contact["tags"]["has_more"] is True
    assert set(contact["tags"]["data"][0]) == {"type", "id", "url"}
    tags = api.get(f"/contacts/{contact['id']}/tags").json()
    assert tags["type"] == "list"
    assert len(tags["data"]) == contact["tags"]["total_count"]
    assert all(t["name"] for t in tags["data"])
    few = next(c for c in contacts if 0 < c["tags"]["total_count"] <= 10)
    assert few["tags"]["has_more"] is False
    assert len(few["tags"]["data"]) == few["tags"]["total_count"]


# ---- conversations and tickets -------------------------------------------------------------------------


def test_conversation_list_wrapper_and_no_parts(api: IntercomTestClient) -> None:
    page = api.get("/conversations", params={"per_page": 5}).json()
    assert page["type"] == "conversation.list"
    assert page["total_count"] == 400
    assert page["pages"]["per_page"] == 5
    assert len(page["conversations"]) == 5
    assert all("conversation_parts" not in c for c in page["conversations"])


def test_conversation_by_id_has_parts_and_count_plus_one(api: IntercomTestClient) -> None:
    conversation = api.get("/conversations/100010").json()
    assert conversation["type"] == "conversation"
    assert conversation["id"] == "100010"
    parts = conversation["conversation_parts"]
    assert parts["type"] == "conversation_part.list"
    assert parts["total_count"] == len(parts["conversation_parts"])
    if conversation["statistics"] is not None:
        assert conversation["statistics"]["count_conversation_parts"] == parts["total_count"] + 1
    times = [p["created_at"] for p in parts["conversation_parts"]]
    assert times == sorted(times)
    assert all(isinstance(p["id"], str) for p in parts["conversation_parts"])


@pytest.mark.parametrize("path", ["/conversations/1", "/conversations/abc", "/tickets/1"])
def test_unknown_conversation_or_ticket_is_404(api: IntercomTestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert _error_codes(response) == ["not_found"]


def test_search_items_carry_no_parts(api: IntercomTestClient) -> None:
    query = {"field": "created_at", "operator": ">", "value": NOW - 40 * 86_400}
    conversations = api.post(
        "/conversations/search", {"query": query, "pagination": {"per_page": 150}}
    ).json()
    assert conversations["type"] == "conversation.list"
    assert len(conversations["conversations"]) == 150
    assert all("conversation_parts" not in c for c in conversations["conversations"])
    tickets = api.post("/tickets/search", {"query": query}).json()
    assert tickets["type"] == "ticket.list"
    assert tickets["total_count"] == 100
    assert len(tickets["tickets"]) == 20  # default per_page of ticket search
    assert all("ticket_parts" not in t for t in tickets["tickets"])


def test_ticket_by_id_has_parts_and_state_parts(api: IntercomTestClient) -> None:
    ticket = api.get("/tickets/600").json()
    assert ticket["type"] == "ticket"
    assert ticket["id"] == "600"
    assert ticket["ticket_id"] == "1"  # the inbox number, not the API id
    assert ticket["ticket_parts"]["type"] == "ticket_part.list"
    assert ticket["ticket_parts"]["total_count"] == len(ticket["ticket_parts"]["ticket_parts"])
    assert set(ticket["ticket_attributes"]) >= {"_default_title_", "_default_description_"}


def test_unassigned_is_0_or_null_before_216_and_always_0_in_216(api: IntercomTestClient) -> None:
    query = {"field": "created_at", "operator": ">", "value": 0}
    conversations = api.search_all("conversations", query)
    assert len(conversations) == 400
    admin_ids = {c["admin_assignee_id"] for c in conversations}
    team_ids = {c["team_assignee_id"] for c in conversations}
    assert 0 in admin_ids
    assert None in admin_ids
    assert 0 in team_ids
    assert None in team_ids
    v216 = IntercomTestClient(api.base_url, version="2.16").search_all("conversations", query)
    assert None not in {c["admin_assignee_id"] for c in v216}
    assert None not in {c["team_assignee_id"] for c in v216}


# ---- versions ------------------------------------------------------------------------------------------


def _resolved_ticket_id(api: IntercomTestClient) -> str:
    page = api.post(
        "/tickets/search", {"query": {"field": "state", "operator": "=", "value": "resolved"}}
    )
    return str(page.json()["tickets"][0]["id"])


def test_211_ticket_state_is_a_string_with_labels(api: IntercomTestClient) -> None:
    ticket_id = _resolved_ticket_id(api)
    ticket = IntercomTestClient(api.base_url, version="2.11").get(f"/tickets/{ticket_id}").json()
    assert ticket["ticket_state"] == "resolved"
    assert ticket["ticket_state_internal_label"] == "Resolved"
    assert ticket["ticket_state_external_label"] == "Resolved"
    assert ticket["admin_assignee_id"] is not None
    assert isinstance(ticket["admin_assignee_id"], str)


@pytest.mark.parametrize("version", ["2.12", "2.13", "2.14", "2.15", None])
def test_212_to_215_and_default_ticket_state_is_an_object(
    base_url: str, version: str | None
) -> None:
    api = IntercomTestClient(base_url, version=version)
    ticket = api.get(f"/tickets/{_resolved_ticket_id(api)}").json()
    assert ticket["ticket_state"] == {
        "type": "ticket_state",
        "id": "8540",
        "category": "resolved",
        "internal_label": "Resolved",
        "external_label": "Resolved",
    }
    assert "ticket_state_internal_label" not in ticket
    assert isinstance(ticket["admin_assignee_id"], str)
    assert isinstance(ticket["team_assignee_id"], str)


def test_216_ticket_assignees_are_integers_and_priority_has_levels(base_url: str) -> None:
    api = IntercomTestClient(base_url, version="2.16")
    tickets = api.search_all("tickets", {"field": "created_at", "operator": ">", "value": 0})
    assert all(isinstance(t["admin_assignee_id"], int) for t in tickets)
    assert 0 in {t["admin_assignee_id"] for t in tickets}
    assert isinstance(tickets[0]["ticket_state"], dict)
    conversations = api.search_all(
        "conversations", {"field": "created_at", "operator": ">", "value": 0}
    )
    levels = {c["priority"] for c in conversations}
    assert levels <= {"none", "low", "medium", "high", "urgent"}
    assert {"none", "urgent"} <= levels
    old = IntercomTestClient(base_url, version="2.15")
    old_levels = {
        c["priority"]
        for c in old.search_all("conversations", {"field": "id", "operator": ">", "value": 0})
    }
    assert old_levels == {"priority", "not_priority"}


@pytest.mark.parametrize(
    ("version", "has_updated_at"),
    [("2.11", False), ("2.13", False), ("2.14", True), ("2.16", True)],
)
def test_rating_updated_at_only_from_214(base_url: str, version: str, has_updated_at: bool) -> None:
    api = IntercomTestClient(base_url, version=version)
    conversations = api.search_all(
        "conversations", {"field": "created_at", "operator": ">", "value": 0}
    )
    rated = [c for c in conversations if c["conversation_rating"] is not None]
    assert rated
    assert all(("updated_at" in c["conversation_rating"]) is has_updated_at for c in rated)


def test_conversation_variety_in_api_shape(api: IntercomTestClient) -> None:
    conversations = api.search_all(
        "conversations", {"field": "created_at", "operator": ">", "value": 0}
    )
    assert {c["source"]["author"]["type"] for c in conversations} >= {"admin", "user", "lead"}
    assert {c["source"]["delivered_as"] for c in conversations} >= {
        "customer_initiated",
        "admin_initiated",
        "automated",
    }
    assert any(c["statistics"] is None for c in conversations)
    assert any(c["sla_applied"] is None for c in conversations)
    assert any(c["sla_applied"] is not None for c in conversations)
    assert any(c["conversation_rating"] is None for c in conversations)
    assert {c["read"] for c in conversations} == {True, False}
    assert any(c["title"] is None for c in conversations)
    assert any(c["title"] is not None for c in conversations)
    assert any(c["tags"]["tags"] for c in conversations)
    assert any(len(c["contacts"]["contacts"]) >= 2 for c in conversations)
    for c in conversations:
        assert NOW - 31 * 86_400 <= c["created_at"] <= c["updated_at"] <= NOW


# ---- smaller endpoints and the read-only control endpoints ---------------------------------------------


def test_admin_by_id_and_ticket_states(api: IntercomTestClient) -> None:
    admin = api.get("/admins/991267601").json()
    assert (admin["type"], admin["name"]) == ("admin", "Ciaran Lee")
    assert _error_codes(api.get("/admins/1")) == ["not_found"]
    states = api.get("/ticket_states").json()
    assert states["type"] == "list"
    assert [s["category"] for s in states["data"]] == [
        "submitted",
        "in_progress",
        "waiting_on_customer",
        "resolved",
    ]


def test_display_as_plaintext_strips_html(api: IntercomTestClient) -> None:
    html = api.get("/conversations/100020").json()
    text = api.get("/conversations/100020", params={"display_as": "plaintext"}).json()
    assert html["source"]["body"].startswith("<p>")
    assert text["source"]["body"] == html["source"]["body"].removeprefix("<p>").removesuffix("</p>")
    for part in text["conversation_parts"]["conversation_parts"]:
        assert "<" not in (part["body"] or "")


def test_dataset_ledger_and_stats_control_endpoints(api: IntercomTestClient) -> None:
    contacts = api.control("dataset?kind=contacts")
    assert contacts["kind"] == "contacts"
    assert len(contacts["data"]) == 200
    assert len(api.control("dataset?kind=conversations")["data"]) == 400
    assert len(api.control("dataset?kind=tickets")["data"]) == 100
    assert len(api.control("dataset?kind=admins")["data"]) == 7
    assert len(api.control("dataset?kind=teams")["data"]) == 3
    assert len(api.control("dataset?kind=tags")["data"]) == 24
    bad = requests.get(f"{api.base_url}/_sandbox/dataset?kind=companies", timeout=10)
    assert bad.status_code == 400
    assert "kind must be one of" in bad.json()["error"]
    resolved = api.control("ledger?metric=Resolved Ticket")["events"]
    assert resolved
    assert {e["metric"] for e in resolved} == {"Resolved Ticket"}
    assert all(
        e["key"] == f"ticket:{e['object_id']}:part:{e['part_id']}:resolved" for e in resolved
    )
    dataset = api.control("stats")["dataset"]
    assert (dataset["seed"], dataset["now"], dataset["contacts"]) == (1, NOW, 200)


def test_contact_fields_by_version(base_url: str) -> None:
    def contacts(version: str) -> list[dict[str, Any]]:
        page = IntercomTestClient(base_url, version=version).get(
            "/contacts", params={"per_page": 150}
        )
        return list(page.json()["data"])

    owned_214 = [c for c in contacts("2.14") if c["owner_id"] is not None]
    assert owned_214
    assert all(isinstance(c["owner_id"], int) for c in owned_214)
    owned_216 = [c for c in contacts("2.16") if c["owner_id"] is not None]
    assert all(isinstance(c["owner_id"], str) for c in owned_216)  # 2.16 made owner_id a string
    assert all("formatted_phone" in c for c in contacts("2.11"))
    assert all("formatted_phone" not in c for c in owned_214)


def test_error_responses_of_authenticated_calls_carry_rate_limit_headers(
    api: IntercomTestClient,
) -> None:
    for response in (
        api.get("/conversations/1"),
        api.post("/tickets/search", {"query": {"field": "nope", "operator": "=", "value": 1}}),
        IntercomTestClient(api.base_url, version="9.9").get("/me"),
    ):
        assert response.status_code in (400, 404)
        assert response.headers["X-RateLimit-Limit"] == str(UNLIMITED)

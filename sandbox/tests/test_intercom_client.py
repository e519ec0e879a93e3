"""The official python-intercom client (5.0.1) against the stand-in: its models must parse every response.

Its search pager never reaches page 2 (reference §12), so searches are paged by hand with
`pagination.starting_after`, as a tap using it would have to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from intercom import Intercom

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000


SETTINGS = IntercomSettings(
    now=NOW, rate_limit_per_minute=0, contacts=120, conversations=90, tickets=40
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with BackgroundSandbox(SETTINGS) as sandbox:
        yield sandbox.urls["intercom"]


def _client(base_url: str, version: str) -> Intercom:
    return Intercom(
        token=SETTINGS.token, base_url=base_url, headers={"Intercom-Version": version}, timeout=30
    )


@pytest.fixture
def client(base_url: str) -> Intercom:
    return _client(base_url, "2.14")


def _search_by_hand(search: Callable[..., Any], query: dict[str, Any], per_page: int) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        pagination: dict[str, Any] = {"per_page": per_page}
        if cursor is not None:
            pagination["starting_after"] = cursor
        pager = search(query=query, pagination=pagination)
        response = pager.response
        items.extend(pager.items)
        next_page = response.pages.next if response.pages else None
        if next_page is None or next_page.starting_after is None:
            return items
        cursor = next_page.starting_after


def test_client_lists_contacts_and_conversations(client: Intercom) -> None:
    contacts = list(client.contacts.list(per_page=50))
    assert len(contacts) == 120
    assert len({c.id for c in contacts}) == 120
    contact = client.contacts.find(contacts[0].id)
    assert contact.id == contacts[0].id
    conversations = list(client.conversations.list(per_page=40))
    assert len(conversations) == 90


def test_client_searches_contacts_conversations_and_tickets(client: Intercom) -> None:
    since = {"field": "updated_at", "operator": ">", "value": NOW - 40 * 86_400}
    contacts = _search_by_hand(client.contacts.search, since, per_page=50)
    assert len({c.id for c in contacts}) == 120
    conversations = _search_by_hand(client.conversations.search, since, per_page=25)
    assert len({c.id for c in conversations}) == 90
    tickets = _search_by_hand(client.tickets.search, since, per_page=15)
    assert len({t.id for t in tickets}) == 40
    assert {t.ticket_state.category for t in tickets} <= {
        "submitted",
        "in_progress",
        "waiting_on_customer",
        "resolved",
    }


def test_client_reads_single_conversations_tickets_and_lookups(client: Intercom) -> None:
    since = {"field": "created_at", "operator": ">", "value": 0}
    for item in _search_by_hand(client.conversations.search, since, per_page=150)[:30]:
        conversation = client.conversations.find(item.id)
        assert conversation.conversation_parts is not None
        assert conversation.conversation_parts.total_count is not None
    for item in _search_by_hand(client.tickets.search, since, per_page=150)[:15]:
        ticket = client.tickets.get(item.id)
        assert ticket is not None
        assert ticket.ticket_parts is not None
    assert len(client.admins.list().admins or []) == 7
    assert len(client.teams.list().teams or []) == 3
    assert len(client.tags.list().data) == 24
    assert client.ticket_types.list().data


@pytest.mark.parametrize("version", ["2.11", "2.16"])
def test_client_models_accept_other_versions(base_url: str, version: str) -> None:
    other = _client(base_url, version)
    since = {"field": "created_at", "operator": ">", "value": 0}
    tickets = _search_by_hand(other.tickets.search, since, per_page=150)
    assert len(tickets) == 40
    conversations = _search_by_hand(other.conversations.search, since, per_page=150)
    assert len(conversations) == 90
    assert other.conversations.find(conversations[0].id).id == conversations[0].id
    assert other.tickets.get(tickets[0].id) is not None

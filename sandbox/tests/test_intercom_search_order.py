"""Quirks Intercom's docs leave open, over HTTP: search that ignores `sort`, and keyset vs offset cursors."""

from __future__ import annotations

from typing import Any

import pytest

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000  # the generated history ends here
LATER = NOW + 10_000  # mutations at hand-picked times after it
EVERYTHING = {"field": "updated_at", "operator": ">", "value": 0}


@pytest.fixture
def api(start_sandbox: Any) -> IntercomTestClient:
    sandbox = start_sandbox(
        IntercomSettings(
            now=NOW, rate_limit_per_minute=0, contacts=60, conversations=50, tickets=30
        )
    )
    return IntercomTestClient(sandbox.urls["intercom"])


def _newest_first(api: IntercomTestClient, kind: str) -> list[str]:
    """Ids by updated_at descending (ties: the larger id first), from the raw data set."""
    data = api.control(f"dataset?kind={kind}")["data"]

    # the stand-in orders by (value, id) with its internal ids: numbers, except contacts' hex strings
    def key(o: dict[str, Any]) -> tuple[int, Any]:
        return (o["updated_at"], o["id"] if kind == "contacts" else int(o["id"]))

    return [str(o["id"]) for o in sorted(data, key=key, reverse=True)]


def _page(
    api: IntercomTestClient, kind: str, sort: Any, cursor: str | None, per_page: int = 5
) -> tuple[list[dict[str, Any]], str | None]:
    body: dict[str, Any] = {
        "query": EVERYTHING,
        "pagination": {"per_page": per_page, "starting_after": cursor},
    }
    if sort is not None:
        body["sort"] = sort
    response = api.post(f"/{kind}/search", body)
    assert response.status_code == 200, response.text
    page = response.json()
    items = page["data" if kind == "contacts" else kind]
    next_page = page["pages"].get("next")
    return items, next_page["starting_after"] if next_page else None


# ---- ignore_sort ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["conversations", "tickets", "contacts"])
def test_ignore_sort_returns_the_most_recently_updated_first_and_pages_through_it(
    api: IntercomTestClient, kind: str
) -> None:
    assert api.control("quirks", {"ignore_sort": {kind: True}})["ignore_sort"][kind] is True
    ascending = {"field": "updated_at", "order": "ascending"}
    for sort in (ascending, {"field": "created_at", "order": "ascending"}, None):
        seen: list[str] = []
        items, cursor = _page(api, kind, sort, None, per_page=7)
        seen += [str(i["id"]) for i in items]
        while cursor is not None:
            items, cursor = _page(api, kind, sort, cursor, per_page=7)
            seen += [str(i["id"]) for i in items]
        assert seen == _newest_first(api, kind)


def test_ignore_sort_is_per_search_kind_and_off_by_default(api: IntercomTestClient) -> None:
    assert api.control("quirks")["ignore_sort"] == {
        "contacts": False,
        "conversations": False,
        "tickets": False,
    }
    ascending = {"field": "updated_at", "order": "ascending"}
    api.control("quirks", {"ignore_sort": {"conversations": True, "tickets": True}})
    contacts = api.search_all("contacts", EVERYTHING, sort=ascending)
    assert [c["updated_at"] for c in contacts] == sorted(c["updated_at"] for c in contacts)
    conversations = api.search_all("conversations", EVERYTHING, sort=ascending)
    assert [c["updated_at"] for c in conversations] == sorted(
        (c["updated_at"] for c in conversations), reverse=True
    )
    assert len({c["updated_at"] for c in conversations}) > 1  # the order says something
    # the list endpoints are no search: GET /contacts stays in id order
    listed = api.get("/contacts", params={"per_page": 60}).json()["data"]
    assert [c["id"] for c in listed] == sorted(c["id"] for c in listed)
    api.control("quirks", {"ignore_sort": {"conversations": False}})
    assert api.control("quirks")["ignore_sort"] == {
        "contacts": False,
        "conversations": False,
        "tickets": True,
    }
    again = api.search_all("conversations", EVERYTHING, sort=ascending)
    assert [c["updated_at"] for c in again] == sorted(c["updated_at"] for c in again)


def test_ignore_sort_still_rejects_an_invalid_sort(api: IntercomTestClient) -> None:
    api.control("quirks", {"ignore_sort": {"tickets": True}})
    response = api.post(
        "/tickets/search", {"query": EVERYTHING, "sort": {"field": "updated_at", "order": "up"}}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_sort_order"


def test_ignore_sort_with_keyset_cursors_misses_what_moves_to_the_front(
    api: IntercomTestClient,
) -> None:
    """Newest first, a conversation updated while a client pages jumps behind the cursor."""
    api.control("quirks", {"ignore_sort": {"conversations": True}})
    order = _newest_first(api, "conversations")
    sort = {"field": "updated_at", "order": "ascending"}
    first, cursor = _page(api, "conversations", sort, None)
    assert [c["id"] for c in first] == order[:5]
    moved = order[20]
    api.mutate({"action": "note", "conversation_id": moved, "at": LATER})
    seen = [c["id"] for c in first]
    while cursor is not None:
        items, cursor = _page(api, "conversations", sort, cursor)
        seen += [c["id"] for c in items]
    assert seen == [i for i in order if i != moved]


# ---- cursor_mode ---------------------------------------------------------------------------------------


def _walk_with_a_move(
    api: IntercomTestClient, sort: dict[str, str], move_index: int
) -> tuple[list[str], list[str], str]:
    """Page conversations 5 at a time; after page 1, the item at `move_index` of the order gets a note."""
    first, cursor = _page(api, "conversations", sort, None)
    order_before = [c["id"] for c in api.search_all("conversations", EVERYTHING, sort=sort)]
    moved = order_before[move_index]
    api.mutate({"action": "note", "conversation_id": moved, "at": LATER})
    seen = [c["id"] for c in first]
    while cursor is not None:
        items, cursor = _page(api, "conversations", sort, cursor)
        seen += [c["id"] for c in items]
    return seen, order_before, moved


def test_keyset_cursors_neither_skip_nor_repeat_unmoved_items(api: IntercomTestClient) -> None:
    assert api.control("quirks")["cursor_mode"] == "keyset"
    ascending = {"field": "updated_at", "order": "ascending"}
    seen, before, moved = _walk_with_a_move(api, ascending, move_index=1)
    # the moved item is seen again in its new place at the end; nothing else is skipped or repeated
    assert seen == [*before, moved]


def test_offset_cursors_skip_an_item_when_a_read_one_moves_to_the_end(
    api: IntercomTestClient,
) -> None:
    assert api.control("quirks", {"cursor_mode": "offset"})["cursor_mode"] == "offset"
    ascending = {"field": "updated_at", "order": "ascending"}
    seen, before, moved = _walk_with_a_move(api, ascending, move_index=1)
    # everything after the moved one shifted one place forward: the 6th item fell behind the offset
    skipped = before[5]
    assert skipped not in seen
    assert seen == [*before[:5], *[i for i in before[6:]], moved]
    assert seen.count(moved) == 2


def test_offset_cursors_repeat_an_item_when_an_unread_one_moves_to_the_front(
    api: IntercomTestClient,
) -> None:
    api.control("quirks", {"cursor_mode": "offset"})
    descending = {"field": "updated_at", "order": "descending"}
    seen, before, moved = _walk_with_a_move(api, descending, move_index=12)
    # the moved item went to the front (not seen again); the 5th item shifted back over the offset
    assert seen == [*before[:5], before[4], *[i for i in before[5:] if i != moved]]
    assert moved not in seen


def test_keyset_descending_misses_the_item_that_moved_to_the_front_but_repeats_nothing(
    api: IntercomTestClient,
) -> None:
    descending = {"field": "updated_at", "order": "descending"}
    seen, before, moved = _walk_with_a_move(api, descending, move_index=12)
    assert seen == [i for i in before if i != moved]


def test_offset_cursors_page_everything_once_when_nothing_changes(
    api: IntercomTestClient,
) -> None:
    api.control("quirks", {"cursor_mode": "offset"})
    for kind in ("conversations", "tickets", "contacts"):
        for order in ("ascending", "descending"):
            sort = {"field": "created_at", "order": order}
            items = api.search_all(kind, EVERYTHING, per_page=7, sort=sort)
            times = [i["created_at"] for i in items]
            assert times == sorted(times, reverse=order == "descending")
            assert (
                len({i["id"] for i in items})
                == len(items)
                == ({"conversations": 50, "tickets": 30, "contacts": 60}[kind])
            )
    # the list endpoints page by offset too
    ids: list[str] = []
    cursor = None
    while True:
        params = {"per_page": 7, **({"starting_after": cursor} if cursor else {})}
        page = api.get("/conversations", params=params).json()
        ids += [c["id"] for c in page["conversations"]]
        if "next" not in page["pages"]:
            break
        cursor = page["pages"]["next"]["starting_after"]
    assert ids == _newest_first(api, "conversations")


def test_a_cursor_of_the_other_mode_is_400(api: IntercomTestClient) -> None:
    _, keyset_cursor = _page(api, "tickets", None, None)
    api.control("quirks", {"cursor_mode": "offset"})
    response = api.post(
        "/tickets/search",
        {"query": EVERYTHING, "pagination": {"per_page": 5, "starting_after": keyset_cursor}},
    )
    assert response.status_code == 400
    assert "another cursor mode" in response.json()["errors"][0]["message"]

"""Pure pieces of the Intercom stand-in without HTTP: Accept parsing, cursors, paging, query compilation."""

from __future__ import annotations

import base64
import json

import pytest

from api_sandbox.intercom.app import _accepts_json
from api_sandbox.intercom.paging import (
    CursorRepeater,
    Position,
    decode_cursor,
    encode_cursor,
    encode_offset_cursor,
    page_of,
    per_page_value,
    sort_key,
)
from api_sandbox.intercom.search import CONTACTS, TICKETS, SearchError, compile_query, sort_field


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", True),
        ("*/*", True),
        ("application/*;q=0.5", True),
        ("text/html,application/xhtml+xml,application/json;q=0.9", True),
        ("APPLICATION/JSON", True),
        ("application/json;q=0", False),
        ("application/json;q=nope", False),
        ("text/plain", False),
        ("", False),
        (None, False),
    ],
)
def test_accepts_json(accept: str | None, expected: bool) -> None:
    assert _accepts_json(accept) is expected


def test_cursor_is_base64_json_of_value_id_page_and_sort() -> None:
    cursor = encode_cursor(sort_key(1_750_000_000, 100_042), 3, "conversations:updated_at:asc")
    padded = cursor + "=" * (-len(cursor) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == [
        1_750_000_000,
        100_042,
        3,
        "conversations:updated_at:asc",
    ]
    assert decode_cursor(cursor, "conversations:updated_at:asc") == Position(
        page=3, key=(True, 1_750_000_000, 100_042)
    )


def test_cursor_with_a_null_sort_value_round_trips() -> None:
    cursor = encode_cursor(sort_key(None, "abc"), 1, "contacts:last_seen_at:desc")
    assert decode_cursor(cursor, "contacts:last_seen_at:desc") == Position(
        page=1, key=(False, 0, "abc")
    )


def test_offset_cursor_round_trips_and_is_refused_in_the_other_mode() -> None:
    cursor = encode_offset_cursor(40, 2, "tickets:updated_at:desc")
    assert decode_cursor(cursor, "tickets:updated_at:desc", "offset") == Position(page=2, offset=40)
    with pytest.raises(SearchError, match="another cursor mode"):
        decode_cursor(cursor, "tickets:updated_at:desc", "keyset")
    keyset = encode_cursor(sort_key(5, 7), 1, "tickets:updated_at:desc")
    with pytest.raises(SearchError, match="another cursor mode"):
        decode_cursor(keyset, "tickets:updated_at:desc", "offset")


@pytest.mark.parametrize(
    "cursor", ["", "%%%", "bm90IGpzb24", 42, encode_cursor((True, 1, 2), 1, "other")]
)
def test_bad_cursors_are_parameter_invalid(cursor: object) -> None:
    with pytest.raises(SearchError) as raised:
        decode_cursor(cursor, "conversations:updated_at:asc")
    assert raised.value.code == "parameter_invalid"


@pytest.mark.parametrize(("raw", "expected"), [(None, 20), (1, 1), (150, 150), ("30", 30)])
def test_per_page_values(raw: object, expected: int) -> None:
    assert per_page_value(raw, 20) == expected


@pytest.mark.parametrize("raw", [0, 151, -5, 2.5, True, "many"])
def test_per_page_rejects(raw: object) -> None:
    with pytest.raises(SearchError, match="per_page"):
        per_page_value(raw, 20)


def test_page_of_ascending_and_descending() -> None:
    items = ["a", "b", "c", "d", "e"]
    keys = [sort_key(v, i) for i, v in enumerate([10, 20, 20, 30, 40])]
    first = page_of(items, keys, descending=False, per_page=2, after=None, signature="s")
    assert (first.items, first.page, first.total_pages, first.total_count) == (["a", "b"], 1, 3, 5)
    assert first.next_cursor is not None
    second = page_of(
        items,
        keys,
        descending=False,
        per_page=2,
        after=decode_cursor(first.next_cursor, "s"),
        signature="s",
    )
    assert (second.items, second.page) == (["c", "d"], 2)
    assert second.next_cursor is not None
    last = page_of(
        items,
        keys,
        descending=False,
        per_page=2,
        after=decode_cursor(second.next_cursor, "s"),
        signature="s",
    )
    assert (last.items, last.page, last.next_cursor) == (["e"], 3, None)
    assert "next" not in last.pages_object()
    down = page_of(items, keys, descending=True, per_page=3, after=None, signature="s")
    assert down.items == ["e", "d", "c"]
    assert down.next_cursor is not None
    rest = page_of(
        items,
        keys,
        descending=True,
        per_page=3,
        after=decode_cursor(down.next_cursor, "s"),
        signature="s",
    )
    assert (rest.items, rest.next_cursor) == (["b", "a"], None)


def test_exactly_full_last_page_has_no_next() -> None:
    keys = [sort_key(i, i) for i in range(4)]
    page = page_of(list(range(4)), keys, descending=False, per_page=4, after=None, signature="s")
    assert page.next_cursor is None


def test_cursor_repeater_returns_the_previous_cursor_when_it_fires() -> None:
    repeater = CursorRepeater(seed=0)
    repeater.configure(1.0, seed=0)
    assert repeater.next_cursor("search", "A") == "A"  # nothing earlier to repeat
    assert repeater.next_cursor("search", "B") == "A"
    assert repeater.next_cursor("other search", "X") == "X"
    assert repeater.next_cursor("search", None) is None
    repeater.configure(0.0, seed=0)
    assert repeater.next_cursor("search", "C") == "C"


def test_contact_day_filters() -> None:
    class Stub:
        def __init__(self, updated_at: int) -> None:
            self.updated_at = updated_at

    noon = 1_750_852_800  # 2025-06-25 12:00 UTC
    later_same_day = Stub(noon + 3600)
    next_day = Stub(noon + 12 * 3600)  # 2025-06-26 00:00
    day_start = Stub(noon - 12 * 3600)
    greater = compile_query(CONTACTS, {"field": "updated_at", "operator": ">", "value": noon})
    assert [greater(s) for s in (day_start, later_same_day, next_day)] == [False, False, True]
    equal = compile_query(CONTACTS, {"field": "updated_at", "operator": "=", "value": noon})
    assert [equal(s) for s in (day_start, later_same_day, next_day)] == [True, True, False]
    less = compile_query(CONTACTS, {"field": "updated_at", "operator": "<", "value": noon})
    assert [less(s) for s in (Stub(noon - 12 * 3600 - 1), day_start)] == [True, False]


def test_ticket_filters_and_sort_validation() -> None:
    with pytest.raises(SearchError) as raised:
        compile_query(TICKETS, {"field": "ticket_state", "operator": "=", "value": "resolved"})
    assert raised.value.code == "invalid_field"
    assert sort_field(TICKETS, None)[:2] == ("updated_at", True)
    assert sort_field(TICKETS, {"field": "created_at", "order": "ascending"})[:2] == (
        "created_at",
        False,
    )
    with pytest.raises(SearchError) as bad_order:
        sort_field(TICKETS, {"field": "created_at", "order": "sideways"})
    assert bad_order.value.code == "invalid_sort_order"
    with pytest.raises(SearchError) as list_sort:
        sort_field(TICKETS, {"field": "contact_ids"})
    assert list_sort.value.code == "invalid_field"

"""paging.SliceSearch over HTTP: every object once, whatever the order, the cursors or a crowded second."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tap_intercom_events_testing import HISTORY_END, dataset, make_config, mutate

from api_sandbox.testing import control
from tap_intercom_events.client import IntercomClient
from tap_intercom_events.paging import SliceSearch

BUSY_SECOND = HISTORY_END + 120


def slice_search(url: str, page_size: int) -> SliceSearch:
    config = make_config(url)
    client = IntercomClient(base_url=url, access_token=config["access_token"], api_version="2.14")
    return SliceSearch(
        client,
        path="/conversations/search",
        results_key="conversations",
        page_size=page_size,
        logger=logging.getLogger("test"),
    )


@pytest.mark.parametrize(
    "quirks",
    [
        {},
        {"ignore_sort": {"conversations": True}},
        {"ignore_sort": {"conversations": True}, "cursor_mode": "offset"},
    ],
)
def test_slices_return_every_conversation_once_with_a_crowded_second(
    start_intercom: Any, quirks: dict[str, Any]
) -> None:
    url = start_intercom(seed=71, conversations=60, contacts=20, tickets=0)
    conversations = dataset(url, "conversations")
    # 12 conversations updated in one second: more than a page of 5 holds.
    crowd = [str(c["id"]) for c in conversations[:12]]
    mutate(url, *({"action": "note", "conversation_id": cid, "at": BUSY_SECOND} for cid in crowd))
    if quirks:
        control(url, "quirks", quirks)
    search = slice_search(url, page_size=5)
    slices = list(search.read_slices(0))

    ids = [str(item["id"]) for s in slices for item in s.items]
    assert sorted(ids) == sorted(str(c["id"]) for c in conversations)  # each once
    # Slices are consecutive, the last one unbounded, and each holds only its own range.
    assert [s.lower for s in slices[1:]] == [s.upper for s in slices[:-1]]
    assert slices[-1].upper is None
    for s in slices:
        for item in s.items:
            assert s.lower < item["updated_at"] and (
                s.upper is None or item["updated_at"] <= s.upper
            )
    (crowded,) = [s for s in slices if s.upper == BUSY_SECOND and s.lower == BUSY_SECOND - 1]
    assert sorted(str(i["id"]) for i in crowded.items) == sorted(crowd)
    # No slice but the crowded second needed a cursor: every other one came back as one page.
    requests = control(url, "stats")["requests"]["POST /conversations/search"]
    assert requests < 3 * len(slices) + 3 * 3

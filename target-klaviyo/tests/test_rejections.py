"""A request Klaviyo rejects without naming an item is bisected until the bad item is alone (it
alone is dead-lettered), and resent events Klaviyo refuses as repeats of stored ones count as
delivered ("already in Klaviyo"), over HTTP.

The stand-in names every bad item it finds; Klaviyo may not (issue 10: a 400 whose errors point
only at `/data`). `Unnamed` is an HTTP proxy in front of the stand-in that answers such a 400 for
any bulk request carrying a "poison" item, and forwards everything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from target_klaviyo_testing.harness import Klaviyo, run_target
from target_klaviyo_testing.proxy import Unnamed
from target_klaviyo_testing.singer import (
    contact,
    contacts_and_events,
    conversation_event,
)

from target_klaviyo.items import REJECTED


@pytest.fixture
def unnamed(klaviyo: Klaviyo) -> Iterator[Unnamed]:
    with Unnamed(klaviyo.url) as proxy:
        yield proxy


def events(n: int, poison: set[int]) -> list[dict[str, Any]]:
    return [
        conversation_event(
            i, i % 17, part=i, title="poison" if i in poison else f"Conversation {i}"
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("with_pointer", [True, False], ids=["pointer-data", "no-source"])
def test_a_rejection_naming_no_item_is_bisected_to_the_bad_event(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, with_pointer: bool
) -> None:
    n, poison = 200, {37}
    with Unnamed(klaviyo.url, with_pointer=with_pointer) as proxy:
        config = klaviyo.config(api_url=proxy.url)
        run = run_target(config, contacts_and_events(events(n, poison), state={"at": 1}), caplog)
    assert run.error is None
    assert run.state_lines == [{"at": 1}]
    [letter] = run.dead_letters
    assert letter["reason"] == REJECTED
    assert letter["record"]["event_id"] == "conversation:37:part:37:replied"
    assert letter["detail"] == (
        "invalid: The request could not be processed." if with_pointer else "invalid"
    )
    stored = {e["unique_id"] for e in klaviyo.events()}
    assert len(stored) == n - 1
    # One bad event costs at most two requests per halving.
    assert proxy.bulk_requests <= 1 + 2 * math.ceil(math.log2(n))


def test_several_bad_events_each_cost_only_themselves(
    klaviyo: Klaviyo, unnamed: Unnamed, caplog: pytest.LogCaptureFixture
) -> None:
    n, poison = 300, {0, 150, 299}
    run = run_target(
        klaviyo.config(api_url=unnamed.url),
        contacts_and_events(events(n, poison), state={"at": 2}),
        caplog,
    )
    assert run.error is None
    assert run.state_lines == [{"at": 2}]
    assert sorted(int(d["record"]["conversation_id"]) for d in run.dead_letters) == sorted(poison)
    assert len(klaviyo.events()) == n - len(poison)
    assert unnamed.bulk_requests <= 1 + len(poison) * 2 * math.ceil(math.log2(n))
    assert "rejected by Klaviyo: 3" in run.log


def test_a_profile_job_naming_no_profile_is_bisected(
    klaviyo: Klaviyo, unnamed: Unnamed, caplog: pytest.LogCaptureFixture
) -> None:
    contacts = [contact(i) for i in range(100)]
    contacts[63]["name"] = "poison pill"
    run = run_target(
        klaviyo.config(api_url=unnamed.url, profile_import_below=1),
        contacts_and_events(contacts=contacts),
        caplog,
    )
    assert run.error is None
    [letter] = run.dead_letters
    assert letter["record"]["id"] == "c63"
    assert len(klaviyo.profiles()) == 99
    assert "profiles upserted: 99" in run.log


def test_resends_refused_as_stored_count_as_delivered(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("behaviour", {"stored_duplicates": "reject"})
    first = events(40, set())
    assert run_target(klaviyo.config(), contacts_and_events(first[:25]), caplog).error is None
    # A rerun after a crash: the first 25 again (in the same requests as new ones) and 15 new.
    run = run_target(klaviyo.config(), contacts_and_events(first, state={"done": True}), caplog)
    assert run.error is None
    assert run.dead_letters == []
    assert run.state_lines == [{"done": True}]
    assert {e["unique_id"] for e in klaviyo.events()} == {e["event_id"] for e in first}
    assert "already in Klaviyo (resent events refused as repeats): 25" in run.log
    assert "events 'Replied to Conversation': 15" in run.log
    report = klaviyo.report()
    assert report["rejected_requests"], "the stand-in refused the resends"


def test_a_lone_bad_event_in_a_quiet_run_is_dead_lettered_and_state_moves(
    klaviyo: Klaviyo, unnamed: Unnamed, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's only event is refused without being named and nothing else of the endpoint
    was accepted: sent again without its properties and value, Klaviyo takes it, so it was the
    event's content, not Klaviyo refusing everything. The run does not stop for it."""
    run = run_target(
        klaviyo.config(api_url=unnamed.url),
        contacts_and_events(events(1, {0}), state={"at": 4}),
        caplog,
    )
    assert run.error is None
    assert run.state_lines == [{"at": 4}]
    [letter] = run.dead_letters
    assert letter["reason"] == REJECTED
    assert letter["record"]["event_id"] == "conversation:0:part:0:replied"
    assert "stripped of its properties and value Klaviyo accepted it" in letter["detail"]
    [stored] = klaviyo.events()
    assert stored["unique_id"] == "conversation:0:part:0:replied"
    assert "Title" not in stored["properties"]
    assert stored["properties"]["Unique ID"] == stored["unique_id"]  # reconcile still matches
    assert unnamed.refused == 1 and unnamed.bulk_requests == 2


def test_a_lone_bad_profile_in_a_quiet_run_is_dead_lettered(
    klaviyo: Klaviyo, unnamed: Unnamed, caplog: pytest.LogCaptureFixture
) -> None:
    poisoned = contact(5)
    poisoned["name"] = "poison pill"
    run = run_target(
        klaviyo.config(api_url=unnamed.url, profile_import_below=1),
        contacts_and_events(contacts=[poisoned], state={"at": 5}),
        caplog,
    )
    assert run.error is None
    assert run.state_lines == [{"at": 5}]
    [letter] = run.dead_letters
    assert letter["record"]["id"] == "c5"
    assert "with its identifiers alone Klaviyo accepted it" in letter["detail"]
    assert unnamed.refused == 1 and unnamed.bulk_requests == 2

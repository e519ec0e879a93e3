"""Mutations scheduled while the Intercom stand-in serves (POST/GET/DELETE /_sandbox/mutations/schedule), over HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings

NOW = 1_750_000_000  # generated history ends here, long before the wall clock


@pytest.fixture
def api(start_sandbox: Any) -> IntercomTestClient:
    sandbox = start_sandbox(
        IntercomSettings(
            now=NOW, rate_limit_per_minute=0, contacts=30, conversations=40, tickets=10
        )
    )
    return IntercomTestClient(sandbox.urls["intercom"])


def _schedule(api: IntercomTestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{api.base_url}/_sandbox/mutations/schedule", json=body, timeout=10)
    assert response.status_code == 200, response.text
    schedule: dict[str, Any] = response.json()["schedule"]
    return schedule


def _contact_conversation(api: IntercomTestClient) -> dict[str, Any]:
    """A conversation whose first contact exists (contact replies need one)."""
    for conversation in api.get("/conversations", params={"per_page": 40}).json()["conversations"]:
        contacts = conversation["contacts"]["contacts"]
        if contacts and api.get(f"/contacts/{contacts[0]['id']}").status_code == 200:
            return conversation
    raise AssertionError("no conversation with a contact")


def _ledger_keys(api: IntercomTestClient) -> set[str]:
    return api.ledger_keys()


def test_after_requests_fires_once_when_the_nth_api_request_is_answered(
    api: IntercomTestClient,
) -> None:
    conversation = _contact_conversation(api)
    cid = conversation["id"]
    base = _schedule(
        api,
        {"mutations": [{"action": "contact_reply", "conversation_id": cid}], "after_requests": 3},
    )["scheduled_at_request"]
    keys_before = _ledger_keys(api)
    # control requests do not count
    for _ in range(5):
        assert api.control("mutations/schedule")["pending"] == 1
    started = int(time.time())
    first = api.get(f"/conversations/{cid}").json()
    api.get("/me")
    state = api.control("mutations/schedule")
    assert (state["pending"], state["fired"], state["api_requests"] - base) == (1, 0, 2)
    third = api.get(f"/conversations/{cid}").json()  # answered before the mutation fires
    assert third["updated_at"] == first["updated_at"] == conversation["updated_at"]
    fourth = api.get(f"/conversations/{cid}").json()
    state = api.control("mutations/schedule")
    assert (state["pending"], state["fired"], state["failed"]) == (0, 1, 0)
    assert state["api_requests"] - base == 4
    [result] = state["results"]
    part_id = result["ids"]["part_id"]
    assert result["schedule"] == 1
    assert result["request"] - base == 3
    assert result["error"] is None
    assert started <= result["at"] <= int(time.time())  # `at` defaults to the time of firing
    assert fourth["updated_at"] == result["at"] > conversation["updated_at"]
    newest = fourth["conversation_parts"]["conversation_parts"][-1]
    assert (newest["id"], newest["part_type"]) == (part_id, "comment")
    key = f"conversation:{cid}:part:{part_id}:replied"
    assert [e["key"] for e in result["ledger"]] == [key]
    assert _ledger_keys(api) - keys_before == {key}
    # it fired once: more requests change nothing
    for _ in range(5):
        api.get("/me")
    assert api.control("mutations/schedule")["fired"] == 1
    assert _ledger_keys(api) - keys_before == {key}


def test_a_one_shot_list_fires_in_order_at_the_same_request(api: IntercomTestClient) -> None:
    cid = _contact_conversation(api)["id"]
    base = _schedule(
        api,
        {
            "mutations": [
                {"action": "note", "conversation_id": cid},
                {"action": "admin_reply", "conversation_id": cid},
                {"action": "contact_reply", "conversation_id": cid},
            ],
            "after_requests": 1,
        },
    )["scheduled_at_request"]
    api.get("/me")
    results = api.control("mutations/schedule")["results"]
    assert [(r["action"], r["request"] - base, r["error"]) for r in results] == [
        ("note", 1, None),
        ("admin_reply", 1, None),
        ("contact_reply", 1, None),
    ]
    parts = api.get(f"/conversations/{cid}").json()["conversation_parts"]["conversation_parts"]
    assert [p["id"] for p in parts[-3:]] == [r["ids"]["part_id"] for r in results]
    assert [p["part_type"] for p in parts[-3:]] == ["note", "comment", "comment"]


def test_the_rate_form_fires_one_mutation_every_k_requests_cycling_the_list(
    api: IntercomTestClient,
) -> None:
    cid = _contact_conversation(api)["id"]
    keys_before = _ledger_keys(api)
    schedule = _schedule(
        api,
        {
            "mutations": [
                {"action": "note", "conversation_id": cid},
                {"action": "contact_reply", "conversation_id": cid},
            ],
            "every_requests": 2,
            "times": 5,
        },
    )
    base = schedule["scheduled_at_request"]
    assert base > 0  # requests before scheduling do not count towards it
    assert schedule["next_due_request"] == base + 2
    assert (schedule["times"], schedule["pending"]) == (5, 5)
    fired_counts = []
    for _ in range(12):
        api.get("/me")
        fired_counts.append(api.control("mutations/schedule")["fired"])
    assert fired_counts == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]  # one every 2nd request
    state = api.control("mutations/schedule")
    assert [(r["action"], r["index"], r["request"] - base) for r in state["results"]] == [
        ("note", 0, 2),
        ("contact_reply", 1, 4),
        ("note", 0, 6),
        ("contact_reply", 1, 8),
        ("note", 0, 10),
    ]
    assert state["schedules"][0]["pending"] == 0
    assert state["schedules"][0]["next_due_request"] is None
    # notes are no contract event; each contact reply is one, recorded as it fired
    replies = {
        f"conversation:{cid}:part:{r['ids']['part_id']}:replied"
        for r in state["results"]
        if r["action"] == "contact_reply"
    }
    assert len(replies) == 2
    assert _ledger_keys(api) - keys_before == replies
    assert [e["key"] for r in state["results"] for e in r["ledger"]] == [
        f"conversation:{cid}:part:{r['ids']['part_id']}:replied"
        for r in state["results"]
        if r["action"] == "contact_reply"
    ]


def test_rate_form_defaults_each_mutation_once_and_after_requests_offsets_the_first(
    api: IntercomTestClient,
) -> None:
    cid = _contact_conversation(api)["id"]
    ticket = api.post(
        "/tickets/search", {"query": {"field": "created_at", "operator": ">", "value": 0}}
    ).json()["tickets"][0]
    base = _schedule(
        api,
        {
            "mutations": [
                {"action": "mark_read", "conversation_id": cid},
                {"action": "ticket_state", "ticket_id": ticket["id"], "state": "resolved"},
                {"action": "ticket_reply", "ticket_id": ticket["id"]},
            ],
            "after_requests": 1,
            "every_requests": 3,
        },
    )["scheduled_at_request"]
    for _ in range(10):
        api.get("/me")
    results = api.control("mutations/schedule")["results"]
    assert [(r["action"], r["request"] - base, r["error"]) for r in results] == [
        ("mark_read", 1, None),
        ("ticket_state", 4, None),
        ("ticket_reply", 7, None),
    ]
    assert api.get(f"/tickets/{ticket['id']}").json()["ticket_state"]["category"] == "resolved"


def test_every_action_can_be_scheduled(api: IntercomTestClient) -> None:
    conversations = api.get("/conversations", params={"per_page": 40}).json()["conversations"]
    cid = _contact_conversation(api)["id"]
    other = next(c["id"] for c in conversations if c["id"] != cid)
    contacts = api.get("/contacts", params={"per_page": 3}).json()["data"]
    not_waiting = {"field": "state", "operator": "!=", "value": "waiting_on_customer"}
    ticket = next(
        t
        for t in api.search_all("tickets", not_waiting)
        if t["contacts"]["contacts"]
        and api.get(f"/contacts/{t['contacts']['contacts'][0]['id']}").status_code == 200
    )
    tid = ticket["id"]
    mutations = [
        {"action": "contact_reply", "conversation_id": cid},
        {"action": "admin_reply", "conversation_id": cid},
        {"action": "note", "conversation_id": cid},
        {"action": "mark_read", "conversation_id": cid},
        {"action": "rate", "conversation_id": cid, "rating": 4},
        {"action": "bulk_parts", "conversation_id": cid, "count": 3, "author": "contact"},
        {"action": "new_conversation", "contact_id": contacts[0]["id"]},
        {"action": "ticket_state", "ticket_id": tid, "state": "waiting_on_customer"},
        {"action": "ticket_reply", "ticket_id": tid},
        {"action": "note", "ticket_id": tid},
        {"action": "new_ticket", "contact_id": contacts[1]["id"], "state": "submitted"},
        {"action": "edit_contact", "contact_id": contacts[1]["id"], "changes": {"name": "Ada"}},
        {"action": "delete_conversation", "conversation_id": other},
        {"action": "delete_contact", "contact_id": contacts[2]["id"]},
    ]
    _schedule(api, {"mutations": mutations, "every_requests": 1})
    for _ in range(len(mutations) + 2):
        api.get("/me")
    state = api.control("mutations/schedule")
    assert [r["action"] for r in state["results"]] == [m["action"] for m in mutations]
    assert [r["error"] for r in state["results"]] == [None] * len(mutations)
    by_action = {r["action"]: r for r in state["results"]}
    new_cid = by_action["new_conversation"]["ids"]["conversation_id"]
    new_tid = by_action["new_ticket"]["ids"]["ticket_id"]
    keys = _ledger_keys(api)
    assert f"conversation:{new_cid}:created" in keys
    assert {f"ticket:{new_tid}:created", f"ticket:{new_tid}:submitted:created"} <= keys
    assert len(by_action["bulk_parts"]["ledger"]) == 3
    assert by_action["rate"]["ledger"][0]["metric"] == "Rated Conversation"
    assert by_action["ticket_state"]["ledger"][0]["metric"] == "Marked Ticket as Waiting"
    assert by_action["ticket_reply"]["ledger"][0]["metric"] == "Replied to Ticket"
    assert by_action["note"]["ledger"] == []
    assert not any(k.startswith(f"conversation:{other}:") for k in keys)
    assert api.get(f"/conversations/{other}").status_code == 404
    assert api.get(f"/contacts/{contacts[2]['id']}").status_code == 404
    assert api.get(f"/contacts/{contacts[1]['id']}").json()["name"] == "Ada"


def test_a_mutation_that_fails_when_it_fires_is_reported_and_the_rest_still_fire(
    api: IntercomTestClient,
) -> None:
    cid = _contact_conversation(api)["id"]
    _schedule(
        api,
        {
            "mutations": [
                {"action": "delete_conversation", "conversation_id": cid},
                {"action": "contact_reply", "conversation_id": cid},
                {"action": "rate", "conversation_id": "100001", "rating": 9},
                {"action": "note", "conversation_id": "100001"},
            ],
            "after_requests": 2,
        },
    )
    assert api.get("/me").status_code == 200
    assert api.get("/me").status_code == 200
    assert api.get("/me").status_code == 200  # the server still answers
    state = api.control("mutations/schedule")
    assert (state["fired"], state["failed"], state["pending"]) == (4, 2, 0)
    assert state["schedules"][0]["failed"] == 2
    errors = [r["error"] for r in state["results"]]
    assert errors[0] is None
    assert errors[1] == f"no conversation with id '{cid}'"
    assert errors[2] == "rating must be an integer from 1 to 5, got 9"
    assert errors[3] is None
    assert "ids" not in state["results"][1]


def test_an_explicit_at_is_kept_and_one_before_updated_at_fails_at_firing(
    api: IntercomTestClient,
) -> None:
    conversation = _contact_conversation(api)
    cid = conversation["id"]
    later = NOW + 5000
    _schedule(
        api,
        {
            "mutations": [
                {"action": "contact_reply", "conversation_id": cid, "at": later},
                {"action": "admin_reply", "conversation_id": cid, "at": later - 1},
            ],
            "after_requests": 1,
        },
    )
    api.get("/me")
    first, second = api.control("mutations/schedule")["results"]
    assert (first["at"], first["ledger"][0]["time"]) == (later, later)
    assert "before conversation" in second["error"]
    assert api.get(f"/conversations/{cid}").json()["updated_at"] == later


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mutations": [{"action": "note", "conversation_id": "1"}]}, "give after_requests"),
        ({"mutations": [], "after_requests": 1}, "non-empty 'mutations'"),
        ({"after_requests": 1}, "non-empty 'mutations'"),
        ({"mutations": [{"action": "explode"}], "after_requests": 1}, "#0: unknown action"),
        ({"mutations": ["note"], "after_requests": 1}, "#0: a mutation must be an object"),
        ({"mutations": [{"action": "note", "at": -3}], "after_requests": 1}, "#0: at must be"),
        ({"mutations": [{"action": "note"}], "after_requests": 0}, "after_requests must be"),
        ({"mutations": [{"action": "note"}], "every_requests": 0}, "every_requests must be"),
        ({"mutations": [{"action": "note"}], "every_requests": True}, "every_requests must be"),
        ({"mutations": [{"action": "note"}], "after_requests": 1, "times": 2}, "times needs"),
        ({"mutations": [{"action": "note"}], "every_requests": 1, "times": 0}, "times must be"),
        ({"mutations": [{"action": "note"}], "after_requests": 1, "when": 2}, "unknown field"),
    ],
)
def test_bad_schedules_are_400_and_schedule_nothing(
    api: IntercomTestClient, body: dict[str, Any], message: str
) -> None:
    response = requests.post(f"{api.base_url}/_sandbox/mutations/schedule", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"].startswith("mutations/schedule: ")
    assert message in response.json()["error"]
    assert api.control("mutations/schedule")["schedules"] == []


def test_delete_cancels_what_is_pending_and_reset_clears_the_schedule(
    api: IntercomTestClient,
) -> None:
    cid = _contact_conversation(api)["id"]
    note = {"action": "note", "conversation_id": cid}
    _schedule(api, {"mutations": [note], "every_requests": 1, "times": 10})
    _schedule(api, {"mutations": [note], "after_requests": 50})
    api.get("/me")
    api.get("/me")
    cancelled = requests.delete(f"{api.base_url}/_sandbox/mutations/schedule", timeout=10).json()
    assert cancelled["cancelled"] == 9  # 8 of the rate form, 1 one-shot
    assert (cancelled["pending"], cancelled["fired"]) == (0, 2)
    for _ in range(60):
        api.get("/me")
    assert api.control("mutations/schedule")["fired"] == 2
    _schedule(api, {"mutations": [note], "after_requests": 1})
    api.control("reset", {"seed": 2, "contacts": 5, "conversations": 5, "tickets": 1, "now": NOW})
    state = api.control("mutations/schedule")
    assert (state["pending"], state["fired"], state["schedules"], state["results"]) == (
        0,
        0,
        [],
        [],
    )


def test_the_test_client_schedules_and_reads_back(api: IntercomTestClient) -> None:
    cid = _contact_conversation(api)["id"]
    schedule = api.schedule(
        {"action": "note", "conversation_id": cid}, every_requests=2, times=2, after_requests=1
    )
    assert (schedule["after_requests"], schedule["every_requests"], schedule["times"]) == (1, 2, 2)
    for _ in range(3):
        api.get("/me")
    assert [
        r["request"] - schedule["scheduled_at_request"] for r in api.scheduled()["results"]
    ] == [
        1,
        3,
    ]


def test_every_answered_api_request_counts_whatever_its_status(api: IntercomTestClient) -> None:
    base = _schedule(
        api, {"mutations": [{"action": "note", "conversation_id": "1"}], "after_requests": 3}
    )["scheduled_at_request"]
    assert requests.get(f"{api.base_url}/me", timeout=10).status_code == 401
    assert api.get("/conversations/999999999").status_code == 404
    state = api.control("mutations/schedule")
    assert (state["api_requests"] - base, state["pending"]) == (2, 1)
    api.get("/me")
    state = api.control("mutations/schedule")
    assert (state["fired"], state["failed"]) == (1, 1)  # conversation 1 does not exist


def test_firing_is_safe_while_clients_read_concurrently(api: IntercomTestClient) -> None:
    """Four threads read conversations and search while a reply fires on every request."""
    cid = _contact_conversation(api)["id"]
    before = api.get(f"/conversations/{cid}").json()["conversation_parts"]["total_count"]
    keys_before = _ledger_keys(api)
    replies = 120
    _schedule(
        api,
        {
            "mutations": [{"action": "contact_reply", "conversation_id": cid}],
            "every_requests": 1,
            "times": replies,
        },
    )
    failures: list[str] = []

    def read() -> None:
        client = IntercomTestClient(api.base_url)
        for i in range(40):
            if i % 2:
                response = client.get(f"/conversations/{cid}")
                if response.status_code != 200:
                    failures.append(str(response.status_code))
                    continue
                parts = response.json()["conversation_parts"]
                # a response is one consistent snapshot: total_count matches the parts listed
                if parts["total_count"] != len(parts["conversation_parts"]):
                    failures.append(f"{parts['total_count']} != {len(parts['conversation_parts'])}")
            else:
                items = client.search_all(
                    "conversations",
                    {"field": "updated_at", "operator": ">", "value": 0},
                    per_page=10,
                )
                if len({c["id"] for c in items}) != len(items):
                    failures.append("a keyset search repeated an item")

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    state = api.control("mutations/schedule")
    assert (state["fired"], state["failed"], state["pending"]) == (replies, 0, 0)
    made = {r["ids"]["part_id"] for r in state["results"]}
    assert len(made) == replies
    after = api.get(f"/conversations/{cid}").json()["conversation_parts"]
    assert after["total_count"] == before + replies
    assert _ledger_keys(api) - keys_before == {
        f"conversation:{cid}:part:{part_id}:replied" for part_id in made
    }

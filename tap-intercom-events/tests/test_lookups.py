"""Contact lookups: each contact fetched at most once per run, only when no search returned it.

Unit tests over a tiny HTTP server (ids searched in batches, GET fallback, 404/410 = no contact,
concurrent callers share a lookup), and whole syncs against the Intercom stand-in (request counts).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tap_intercom_events_testing import (
    HISTORY_END,
    dataset,
    ledger_keys,
    make_config,
    run_tap_in_process,
)

from api_sandbox.testing import control
from tap_intercom_events.client import IntercomClient
from tap_intercom_events.lookups import CONTACT_BATCH, ContactCache

RUN_AT = HISTORY_END + 3600
MELTANO_SELECTION = ("contacts", "conversation_events", "ticket_events")
PARTS_SELECTION = ("conversations", "conversation_parts", "conversation_events")


class FakeIntercom:
    """Contacts `c0`..`c{n-1}`; search leaves out `late` ids (indexed late); GET answers 404 for
    `deleted` and 410 for `merged`. Records every request."""

    def __init__(self, n: int, *, late: set[str], deleted: set[str], merged: set[str]) -> None:
        self.contacts = {f"c{i}": {"type": "contact", "id": f"c{i}", "role": "user",
                                   "email": f"c{i}@example.com", "phone": None,
                                   "external_id": str(i), "name": "x" * 50}
                         for i in range(n)}  # fmt: skip
        self.late, self.deleted, self.merged = late, deleted, merged
        self.searches: list[list[str]] = []
        self.gets: list[str] = []
        self.lock = threading.Lock()


def serve(fake: FakeIntercom) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            query = body["query"]
            assert query["field"] == "id"
            assert query["operator"] == "IN"
            ids = query["value"]
            with fake.lock:
                fake.searches.append(ids)
            hidden = fake.late | fake.deleted | fake.merged
            data = [fake.contacts[i] for i in ids if i in fake.contacts and i not in hidden]
            self._send(200, {"type": "list", "data": data, "total_count": len(data)})

        def do_GET(self) -> None:
            contact_id = self.path.rsplit("/", 1)[-1]
            with fake.lock:
                fake.gets.append(contact_id)
            if contact_id in fake.deleted:
                self._send(404, {"type": "error.list", "errors": [{"code": "not_found"}]})
            elif contact_id in fake.merged:
                self._send(410, {"type": "error.list", "errors": [{"code": "contact_merged"}]})
            else:
                self._send(200, fake.contacts[contact_id])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def fake_intercom() -> Iterator[tuple[FakeIntercom, IntercomClient]]:
    fake = FakeIntercom(200, late={"c7", "c70"}, deleted={"c8"}, merged={"c9"})
    server, url = serve(fake)
    client = IntercomClient(base_url=url, access_token="t", api_version="2.16", max_tries=1)
    yield fake, client
    server.shutdown()


def test_uncached_ids_are_searched_in_batches_and_only_the_rest_fetched(
    fake_intercom: tuple[FakeIntercom, IntercomClient],
) -> None:
    fake, client = fake_intercom
    cache = ContactCache(client)
    cache.add(fake.contacts["c0"])  # returned by the contacts stream's search
    wanted = {f"c{i}" for i in range(120)}
    found = cache.resolve(wanted)
    # c0 was cached: 119 ids in ceil(119 / 50) searches of at most CONTACT_BATCH ids each.
    assert [len(batch) for batch in fake.searches] == [50, 50, 19]
    assert all(len(batch) <= CONTACT_BATCH for batch in fake.searches)
    assert sorted(i for batch in fake.searches for i in batch) == sorted(wanted - {"c0"})
    # GET only for what the search did not return: late-indexed, deleted (404), merged (410).
    assert sorted(fake.gets) == ["c7", "c70", "c8", "c9"]
    assert set(found) == wanted - {"c8", "c9"}
    assert found["c7"] == {"id": "c7", "role": "user", "email": "c7@example.com",
                           "phone": None, "external_id": "7"}  # fmt: skip
    assert "name" not in found["c1"]  # trimmed
    # A second run-time lookup of the same ids costs nothing, gone ones included.
    assert cache.resolve(wanted | {"c8"}) == found
    assert len(fake.searches) == 3
    assert len(fake.gets) == 4


def test_concurrent_callers_share_each_lookup(
    fake_intercom: tuple[FakeIntercom, IntercomClient],
) -> None:
    fake, client = fake_intercom
    cache = ContactCache(client)
    barrier = threading.Barrier(6)
    results: list[dict[str, Any]] = []

    def resolve(offset: int) -> None:
        barrier.wait()
        results.append(cache.resolve({f"c{i}" for i in range(offset, offset + 60)}))

    threads = [threading.Thread(target=resolve, args=(k * 10,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    searched = [i for batch in fake.searches for i in batch]
    assert len(searched) == len(set(searched)) == 110  # c0..c109, each id once
    assert sorted(fake.gets) == ["c7", "c70", "c8", "c9"]
    assert all(len(r) >= 57 for r in results)


def route(stats: dict[str, Any], name: str) -> int:
    return int(stats["requests"].get(name, 0))


def test_meltano_selection_gets_no_contact_the_contacts_stream_returned(
    start_intercom: Any,
) -> None:
    url = start_intercom(seed=31, contacts=40, conversations=60, tickets=10)
    result = run_tap_in_process(make_config(url), streams=MELTANO_SELECTION, now=RUN_AT)
    stats = control(url, "stats")
    assert result.event_ids() == set(ledger_keys(url))
    # Every contact came from the contacts stream's search: no GET, no search by id.
    assert route(stats, "GET /contacts/{id}") == 0
    assert route(stats, "POST /contacts/search") == math.ceil(40 / 150)
    contacts = {c["id"]: c for c in dataset(url, "contacts")}
    for event in result.events():
        if event["contact_id"] is None:
            continue
        contact = contacts[event["contact_id"]]
        assert (event["contact_email"], event["contact_phone"]) == (
            contact["email"],
            contact["phone"],
        )


def test_parts_selection_looks_contacts_up_in_batches_each_once(start_intercom: Any) -> None:
    url = start_intercom(seed=32, contacts=120, conversations=150, tickets=0)
    control(url, "mutations", {"mutations": [{"action": "delete_contact", "contact_id": c["id"]}
                                             for c in dataset(url, "contacts")[:3]]})  # fmt: skip
    result = run_tap_in_process(make_config(url, page_size=40), streams=PARTS_SELECTION, now=RUN_AT)
    stats = control(url, "stats")
    named = {e["contact_id"] for e in result.records["conversation_events"] if e["contact_id"]}
    existing = {c["id"] for c in dataset(url, "contacts")}
    assert named - existing  # events of deleted contacts: the GET fallback answers 404
    # Each contact once: by search, or (deleted) one GET; never a GET for a found one.
    assert route(stats, "GET /contacts/{id}") == len(named - existing)
    slices = route(stats, "POST /conversations/search")
    assert route(stats, "POST /contacts/search") <= slices + math.ceil(len(named) / CONTACT_BATCH)
    assert route(stats, "POST /contacts/search") < len(named & existing) / 4
    contacts = {c["id"]: c for c in dataset(url, "contacts")}
    for event in result.records["conversation_events"]:
        contact = contacts.get(event["contact_id"])
        expected = (contact["email"], contact["external_id"]) if contact else (None, None)
        if contact is not None:
            assert (event["contact_email"], event["contact_external_id"]) == expected
        else:
            assert event["contact_phone"] is None

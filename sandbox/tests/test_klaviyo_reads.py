"""GET /api/events and GET /api/metrics over HTTP (filters, sort, cursor paging, sparse fieldsets,
page size by revision, rate limits), and the knob that forgets accepted events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api_sandbox.klaviyo import examples as ex
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

METRICS = ("Created Conversation", "Resolved Ticket")


def load(url: str) -> None:
    """Two metrics x two profiles x 3 days x 5 events an hour apart (60 events), one request."""
    entries = []
    for person in ("ana@example.com", "bo@example.com"):
        events = [
            ex.event_attributes(
                name,
                unique_id=f"{name}:{person}:{day}:{hour}",
                time=f"2026-11-{day:02d}T{hour:02d}:30:00+00:00",
                properties={"Unique ID": f"{name}:{person}:{day}:{hour}"},
            )
            for name in METRICS
            for day in (1, 2, 3)
            for hour in range(5)
        ]
        entries.append(ex.bulk_entry({"email": person}, events))
    assert (
        ex.call(url, "POST", "/api/event-bulk-create-jobs", ex.bulk_events(entries)).status_code
        == 202
    )


def get(url: str, path: str, revision: str = ex.LATEST_REVISION) -> Any:
    response = ex.call(url, "GET", path, revision=revision)
    assert response.status_code == 200, response.text
    return response.json()


def metric_ids(url: str) -> dict[str, str]:
    body = get(url, "/api/metrics?fields[metric]=name")
    assert body["links"]["next"] is None
    assert all(set(m["attributes"]) == {"name"} for m in body["data"])
    return {m["attributes"]["name"]: m["id"] for m in body["data"]}


def test_events_by_metric_and_day_paged_in_time_order(url: str) -> None:
    load(url)
    ids = metric_ids(url)
    assert sorted(ids) == sorted(METRICS) and all(len(i) == 6 for i in ids.values())
    query = (
        f"/api/events?filter=and(equals(metric_id,%22{ids['Resolved Ticket']}%22),"
        "greater-or-equal(datetime,2026-11-02T00:00:00Z),less-than(datetime,2026-11-03T00:00:00Z))"
        "&sort=datetime&fields[event]=datetime,event_properties&page[size]=3"
    )
    seen: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url + query
    while next_url:
        response = ex.call(next_url, "GET", "")
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["data"]
        next_url = body["links"]["next"]
        pages += 1
    assert pages == 4  # 10 events, 3 a page
    times = [e["attributes"]["datetime"] for e in seen]
    assert times == sorted(times)
    assert all(t.startswith("2026-11-02T") for t in times)
    assert {set(e["attributes"]) == {"datetime", "event_properties"} for e in seen} == {True}
    assert all(e["relationships"]["metric"]["data"]["id"] == ids["Resolved Ticket"] for e in seen)
    assert len({e["attributes"]["event_properties"]["Unique ID"] for e in seen}) == 10
    # The read shows no unique_id (the schema has none): only the properties as sent.
    assert all("unique_id" not in e["attributes"] for e in seen)


def test_descending_sort_timestamp_filter_and_errors(url: str) -> None:
    load(url)
    ids = metric_ids(url)
    body = get(
        url,
        f"/api/events?filter=equals(metric_id,'{ids['Created Conversation']}'),"
        "greater-than(timestamp,1793577600)&sort=-datetime",  # after 2026-11-02T00:00:00Z
    )
    times = [e["attributes"]["datetime"] for e in body["data"]]
    assert len(times) == 20 and times == sorted(times, reverse=True)
    assert set(body["data"][0]["attributes"]) == {
        "timestamp",
        "event_properties",
        "datetime",
        "uuid",
    }
    first = body["data"][0]
    assert first["attributes"]["timestamp"] == int(
        datetime.fromisoformat(first["attributes"]["datetime"]).timestamp()
    )
    assert first["links"]["self"] == f"{url}/api/events/{first['id']}/"
    assert first["relationships"]["profile"]["data"]["type"] == "profile"
    for query, parameter in (
        ("filter=equals(metric,'x')", "filter"),
        ("sort=name", "sort"),
        ("fields[event]=unique_id", "fields[event]"),
        ("page[size]=1001", "page[size]"),
        ("page[cursor]=bm9wZQ", "page[cursor]"),
    ):
        response = ex.call(url, "GET", f"/api/events?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["source"]["parameter"] == parameter
    # page[size] exists from revision 2026-01-15; before it, 200 a page.
    old = ex.call(url, "GET", "/api/events?page[size]=10", revision="2025-10-15")
    assert old.status_code == 400
    assert len(get(url, "/api/events", revision="2025-10-15")["data"]) == 60


def test_read_scopes_and_rate_limits(start_sandbox: Any) -> None:
    sandbox: BackgroundSandbox = start_sandbox(klaviyo=KlaviyoSettings(api_key="pk_sandbox"))
    url = sandbox.urls["klaviyo"]
    response = ex.call(url, "GET", "/api/metrics")
    assert response.status_code == 200
    # GET /api/metrics: 10/s, 150/m (the steady window is in RateLimit-Limit).
    assert response.headers["RateLimit-Limit"] == "150"
    assert ex.call(url, "GET", "/api/events").headers["RateLimit-Limit"] == "3500"
    control(url, "keys", {"key": "pk_profiles_only", "scopes": ["profiles:write"]})
    for path in ("/api/events", "/api/metrics"):
        assert ex.call(url, "GET", path, key="pk_profiles_only").status_code == 403


def test_forget_a_set_or_a_share_of_accepted_events(url: str) -> None:
    load(url)
    chosen = ["Created Conversation:ana@example.com:1:0", "Resolved Ticket:bo@example.com:3:4"]
    forgotten = control(url, "forget", {"unique_ids": chosen})["forgotten"]
    assert sorted(f["unique_id"] for f in forgotten) == sorted(chosen)
    stored = {e["unique_id"] for e in control(url, "events")["events"]}
    assert len(stored) == 58 and not stored & set(chosen)
    # The arrivals stay counted: the loss is silent.
    assert control(url, "report")["metrics"]["Created Conversation"]["arrivals"] == 30
    share = control(url, "forget", {"share": 0.5, "seed": 7, "metric": "Resolved Ticket"})
    assert len(share["forgotten"]) == 14  # half of the 29 left, rounded
    assert {f["metric"] for f in share["forgotten"]} == {"Resolved Ticket"}
    # A forgotten event can be sent again and is kept again.
    again = ex.bulk_events(
        [
            ex.bulk_entry(
                {"email": "ana@example.com"},
                [
                    ex.event_attributes(
                        "Created Conversation",
                        unique_id=chosen[0],
                        time="2026-11-01T00:30:00+00:00",
                    )
                ],
            )
        ]
    )
    assert ex.call(url, "POST", "/api/event-bulk-create-jobs", again).status_code == 202
    assert chosen[0] in {e["unique_id"] for e in control(url, "events")["events"]}
    response = ex.call(url, "GET", "/api/metrics")
    assert response.status_code == 200
    bad = ex.call(url, "GET", "/api/metrics?filter=equals(integration.name,'Intercom')")
    assert bad.json()["data"] == []

"""How long the stand-in spends on one 1,000-event bulk request: `python -m api_sandbox.klaviyo.bench`.

Measures, per request, JSON parsing, validation (official models + own rules) and storing, in this
process; then the HTTP round trip against `api-sandbox serve` in a child process (its own GIL).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from typing import Any

import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.klaviyo.revisions import parse_revision
from api_sandbox.klaviyo.store import KlaviyoStore
from api_sandbox.klaviyo.validation import validate_bulk_events

EVENTS_PER_REQUEST = 1000
METRICS = ("Created Conversation", "Replied to Conversation", "Read Conversation", "Created Ticket")


def bulk_request(batch: int, profiles: int) -> dict[str, Any]:
    """1,000 contract-like events spread over `profiles` profiles; unique per batch."""
    per_profile = EVENTS_PER_REQUEST // profiles
    entries = []
    for p in range(profiles):
        contact = batch * profiles + p
        events = []
        for e in range(per_profile):
            n = batch * EVENTS_PER_REQUEST + p * per_profile + e
            events.append(
                ex.event_attributes(
                    METRICS[n % len(METRICS)],
                    unique_id=f"conversation:{n}:created",
                    time=f"2025-05-01T{e // 3600 % 24:02d}:{e // 60 % 60:02d}:{e % 60:02d}+00:00",
                    properties={
                        "email": f"user{contact}@example.com",
                        "Title": f"Conversation {n}",
                        "Priority": "not_priority",
                        "Assigned Team": "Support",
                        "Assigned Admin Name": "Ana Admin",
                        "Tags": ["billing", "vip"],
                        "Conversation Part Count": 4,
                        "Custom Attributes": {"plan": "pro", "seats": 3},
                    },
                )
            )
        entries.append(ex.bulk_entry({"email": f"user{contact}@example.com"}, events))
    return ex.bulk_events(entries)


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20, help="bulk requests to measure")
    parser.add_argument("--profiles", type=int, default=250, help="profiles per request")
    args = parser.parse_args(argv)
    raws = [json.dumps(bulk_request(i, args.profiles)).encode() for i in range(args.requests)]
    revision = parse_revision(ex.LATEST_REVISION)
    store = KlaviyoStore(":memory:")
    parse, validate, keep = [], [], []
    for raw in raws:
        started = time.perf_counter()
        body = json.loads(raw)
        parsed = time.perf_counter()
        entries = validate_bulk_events(body, revision, datetime.now(timezone.utc))
        validated = time.perf_counter()
        store.add_events([(entry.profile, entry.events) for entry in entries])
        stored = time.perf_counter()
        parse.append(parsed - started)
        validate.append(validated - parsed)
        keep.append(stored - validated)
    out = sys.stdout
    out.write(
        f"{args.requests} requests of {EVENTS_PER_REQUEST} events, {len(raws[0])} bytes each\n"
    )
    out.write(f"  parse JSON : {_ms(parse)}\n  validate   : {_ms(validate)}\n")
    out.write(f"  store      : {_ms(keep)}\n")
    total = [a + b + c for a, b, c in zip(parse, validate, keep, strict=True)]
    out.write(f"  in-process : {_ms(total)}\n")

    from api_sandbox.testing import SandboxProcess

    with SandboxProcess("--only", "klaviyo", "--klaviyo-rate-scale", "0") as sandbox:
        url = sandbox.urls["klaviyo"]
        session = requests.Session()
        round_trips = []
        for raw in raws:
            started = time.perf_counter()
            response = ex.call(url, "POST", "/api/event-bulk-create-jobs", raw, session=session)
            round_trips.append(time.perf_counter() - started)
            if response.status_code != 202:
                out.write(f"unexpected {response.status_code}: {response.text[:300]}\n")
                return 1
    out.write(f"  HTTP round trip (server in a child process): {_ms(round_trips)}\n")
    rate = EVENTS_PER_REQUEST / statistics.median(round_trips)
    out.write(f"  => {rate:,.0f} events/s through one connection\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

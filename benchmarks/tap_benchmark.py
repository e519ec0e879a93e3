"""Benchmark: tap-intercom-events against the Intercom stand-in, measured against the physical limit.

The stand-in runs in a child process (its own GIL) with 20 ms latency per request and 10,000 calls a
minute (1,666 per 10-second window); the tap runs in another child process, as Meltano runs it.

The lower bound is the FEWEST requests the data needs, computed from the stand-in's data set
(`GET /_sandbox/dataset`, `GET /_sandbox/ledger`), never from what the tap sent, divided by the rate:

- search pages, ceil(n / 150) (at least 1), for conversations and tickets when a stream of theirs is
  selected, and for contacts: all contacts when `contacts` is selected, else the distinct contacts
  the selected events name (a search by id returns up to 150 a page);
- one detail GET per conversation and ticket (their parts are only in the detail);
- `GET /contacts/{id}/tags` for each contact with more than 10 tags (`contacts` selected);
- the list endpoints admins, teams, tags once each, ticket_types when selected, and `GET /me` once
  (the workspace every event record names).

Prints, per run: requests made, that minimum, bound / wall time (the ratio; 1.0 is the limit), 429s
and the tap's peak RSS. Two selections: `meltano` (contacts, conversation_events, ticket_events, what
the project's meltano.yml selects) and `parts` (conversations, conversation_parts,
conversation_events).

    .venv/bin/python benchmarks/tap_benchmark.py --sizes 5000 20000          # both selections
    .venv/bin/python benchmarks/tap_benchmark.py --sizes 2000 --selection parts
    .venv/bin/python benchmarks/tap_benchmark.py --memory                     # peak RSS per dimension

`--memory` runs without the rate limit and with 5 ms latency (memory does not depend on them) at
two sizes per dimension:
conversations (50k and 100k, contacts 1,000) and contacts (50k and 100k, conversations 2,000), the
Meltano selection; target: peak RSS under 150 MB and flat.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api_sandbox.testing import SandboxProcess, control
from tap_intercom_events.tap import TapIntercomEvents

RATE_PER_MINUTE = 10_000
PAGE = 150  # Intercom's largest search page
EMBEDDED_TAGS = 10  # a contact lists at most this many tags; more need /contacts/{id}/tags
SELECTIONS = {
    "meltano": ("contacts", "conversation_events", "ticket_events"),
    "parts": ("conversations", "conversation_parts", "conversation_events"),
}
CONVERSATION_STREAMS = {"conversations", "conversation_parts", "conversation_events"}
TICKET_STREAMS = {"tickets", "ticket_parts", "ticket_events"}


def catalog_with(streams: tuple[str, ...]) -> dict:
    catalog = TapIntercomEvents(config={"access_token": "x"}, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the process's peak resident set) while it is alive."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else None


def pages(n: int) -> int:
    return max(1, math.ceil(n / PAGE))


def fewest_requests(url: str, streams: tuple[str, ...]) -> dict[str, int]:
    """The fewest requests a full sync of `streams` needs, from the stand-in's data set."""
    selected = set(streams)
    need: dict[str, int] = {}
    with_events = bool(selected & {"conversation_events", "ticket_events"})
    if with_events or "contacts" in selected:
        need["admins, teams, tags, me"] = 4
    if "ticket_types" in selected:
        need["ticket_types"] = 1
    if selected & CONVERSATION_STREAMS:
        n = len(control(url, "dataset?kind=conversations")["data"])
        need["conversation search pages"] = pages(n)
        need["conversation details"] = n
    if selected & TICKET_STREAMS:
        n = len(control(url, "dataset?kind=tickets")["data"])
        need["ticket search pages"] = pages(n)
        need["ticket details"] = n
    contacts = control(url, "dataset?kind=contacts")["data"]
    if "contacts" in selected:
        need["contact search pages"] = pages(len(contacts))
        need["contact tag lists (> 10 tags)"] = sum(
            1
            for c in contacts
            if (c.get("tags") or {}).get("has_more")
            or len((c.get("tags") or {}).get("data") or []) > EMBEDDED_TAGS
        )
    elif with_events:
        existing = {str(c["id"]) for c in contacts}
        kinds = {"conversation"} if "conversation_events" in selected else set()
        kinds |= {"ticket"} if "ticket_events" in selected else set()
        named = {
            str(e["contact_id"])
            for e in control(url, "ledger")["events"]
            if e["object_type"] in kinds and e.get("contact_id")
        }
        need["contact search pages (by id, events' contacts)"] = (
            math.ceil(len(named & existing) / PAGE) if named & existing else 0
        )
        need["contact GETs (deleted contacts events name)"] = len(named - existing)
    return need


def run(
    conversations: int,
    contacts: int,
    streams: tuple[str, ...],
    concurrency: int,
    workdir: Path,
    *,
    rate_limited: bool = True,
    latency_ms: int = 20,
) -> dict:
    args = [
        "--only", "intercom", "--seed", "5",
        "--conversations", str(conversations), "--contacts", str(contacts), "--tickets", "0",
        "--latency-ms", str(latency_ms), "--intercom-rate-limit", str(RATE_PER_MINUTE if rate_limited else 0),
    ]  # fmt: skip
    started = time.monotonic()
    with SandboxProcess(*args).start(timeout=1800) as sandbox:
        url = sandbox.urls["intercom"]
        generated = time.monotonic() - started
        summary = control(url, "stats")["dataset"]
        config = workdir / "config.json"
        config.write_text(json.dumps({
            "access_token": "sandbox-intercom-token", "api_url": url,
            "start_date": "2000-01-01", "max_concurrency": concurrency,
        }))  # fmt: skip
        catalog = workdir / "catalog.json"
        catalog.write_text(json.dumps(catalog_with(streams)))
        log = workdir / "tap.log"
        if rate_limited:
            # Let the stand-in's current 10-second window start fresh for a fair lower bound.
            time.sleep(10 - time.time() % 10)
        with log.open("w") as stderr, open("/dev/null", "w") as stdout:  # noqa: PTH123
            t0 = time.monotonic()
            tap = subprocess.Popen(
                [sys.executable, "-m", "tap_intercom_events", "--config", str(config),
                 "--catalog", str(catalog)],
                stdout=stdout, stderr=stderr,
            )  # fmt: skip
            peak = 0.0
            while tap.poll() is None:
                peak = max(peak, peak_rss_mb(tap.pid) or 0.0)
                time.sleep(0.2)
            wall = time.monotonic() - t0
        if tap.returncode != 0:
            raise SystemExit(f"tap failed ({tap.returncode}): {log.read_text()[-2000:]}")
        stats = control(url, "stats")
        need = fewest_requests(url, streams)
    requests = sum(stats["requests"].values())
    minimum = sum(need.values())
    bound = minimum / (RATE_PER_MINUTE / 60)
    summary_line = next(
        (line for line in log.read_text().splitlines() if "sync summary" in line), ""
    )
    result = {
        "selection": ",".join(streams),
        "conversations": conversations,
        "contacts": contacts,
        "ledger_events": summary["ledger_events"],
        "generation_s": round(generated, 1),
        "wall_s": round(wall, 1),
        "requests": requests,
        "requests_by_route": stats["requests"],
        "status_429": int(stats["statuses"].get("429", 0)),
        "fewest_requests": minimum,
        "fewest_requests_by_kind": need,
        "requests_over_fewest": round(requests / minimum, 3),
        "peak_rss_mb": round(peak, 1),
        "tap_summary": summary_line.split("| ")[-1],
    }
    if rate_limited:
        result["fewest_requests_bound_s"] = round(bound, 1)
        result["ratio_bound_over_wall"] = round(bound / wall, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--contacts-per-conversation", type=float, default=0.25)
    parser.add_argument("--selection", choices=[*SELECTIONS, "both"], default="both")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--memory", action="store_true", help="peak RSS at two sizes per dimension (no rate limit)"
    )
    args = parser.parse_args()
    names = list(SELECTIONS) if args.selection == "both" else [args.selection]
    with tempfile.TemporaryDirectory(prefix="tap-bench-") as tmp:
        if args.memory:
            dimensions = [(50_000, 1_000), (100_000, 1_000), (2_000, 50_000), (2_000, 100_000)]
            for conversations, contacts in dimensions:
                result = run(
                    conversations,
                    contacts,
                    SELECTIONS["meltano"],
                    args.concurrency,
                    Path(tmp),
                    rate_limited=False,
                    latency_ms=5,
                )
                print(json.dumps(result, indent=2), flush=True)
            return
        for size in args.sizes:
            contacts = max(10, int(size * args.contacts_per_conversation))
            for name in names:
                result = run(size, contacts, SELECTIONS[name], args.concurrency, Path(tmp))
                print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()

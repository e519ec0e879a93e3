"""Benchmark: tap-intercom-events against the Intercom stand-in at Intercom's real rate limit.

The stand-in runs in a child process (its own GIL) with 20 ms latency per request and 10,000 calls a
minute (1,666 per 10-second window); the tap runs in another child process, as Meltano runs it.
Prints wall time, requests, the rate-limit lower bound (requests / allowed rate) over the actual
time (target >= 0.85), and the tap's peak RSS (target < 300 MB, flat as the data set grows).

    .venv/bin/python benchmarks/tap_benchmark.py                 # 10,000 and 20,000 conversations
    .venv/bin/python benchmarks/tap_benchmark.py --sizes 2000    # a quick look
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api_sandbox.testing import SandboxProcess, control
from tap_intercom_events.tap import TapIntercomEvents

RATE_PER_MINUTE = 10_000
STREAMS = ("conversations", "conversation_parts", "conversation_events")


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


def run(conversations: int, contacts: int, concurrency: int, workdir: Path) -> dict:
    args = [
        "--only", "intercom", "--seed", "5",
        "--conversations", str(conversations), "--contacts", str(contacts), "--tickets", "0",
        "--latency-ms", "20", "--intercom-rate-limit", str(RATE_PER_MINUTE),
    ]  # fmt: skip
    started = time.monotonic()
    with SandboxProcess(*args).start(timeout=900) as sandbox:
        url = sandbox.urls["intercom"]
        generated = time.monotonic() - started
        summary = control(url, "stats")["dataset"]
        config = workdir / "config.json"
        config.write_text(json.dumps({
            "access_token": "sandbox-intercom-token", "api_url": url,
            "start_date": "2000-01-01", "max_concurrency": concurrency,
        }))  # fmt: skip
        catalog = workdir / "catalog.json"
        catalog.write_text(json.dumps(catalog_with(STREAMS)))
        log = workdir / "tap.log"
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
    requests = sum(stats["requests"].values())
    answered = requests - int(stats["statuses"].get("429", 0))
    lower_bound = answered / (RATE_PER_MINUTE / 60)
    summary_line = next(
        (line for line in log.read_text().splitlines() if "sync summary" in line), ""
    )
    return {
        "conversations": conversations,
        "contacts": contacts,
        "ledger_events": summary["ledger_events"],
        "generation_s": round(generated, 1),
        "wall_s": round(wall, 1),
        "requests": requests,
        "status_429": int(stats["statuses"].get("429", 0)),
        "lower_bound_s": round(lower_bound, 1),
        "ratio": round(lower_bound / wall, 3),
        "peak_rss_mb": round(peak, 1),
        "tap_summary": summary_line.split("| ")[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--contacts-per-conversation", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tap-bench-") as tmp:
        for size in args.sizes:
            contacts = max(10, int(size * args.contacts_per_conversation))
            result = run(size, contacts, args.concurrency, Path(tmp))
            print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()

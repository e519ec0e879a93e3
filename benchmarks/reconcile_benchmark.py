"""Reconcile cost: target-klaviyo in reconcile mode over 150,000 events against the Klaviyo stand-in.

    .venv/bin/python benchmarks/reconcile_benchmark.py [--events 150000] [--forget 0.01]

The events of benchmarks/target_benchmark.py (9 metrics over about 8 days) are loaded with no rate
limits; the stand-in then forgets a share of them (POST /_sandbox/forget) and turns on Klaviyo's
real rate limits and 20 ms latency; the same input is then reconciled (`reconcile: true`,
`rate_limit_scale: 1`) in a child process. Printed: the read requests made next to the fewest the
data needs (one metrics page; per metric, a page per 1,000 events Klaviyo holds, at least one),
the heal requests next to the fewest (a bulk request per 1,000 missing events), the time next to
the rate-limit bound of those requests (`bounds.lower_bound_seconds`, Klaviyo's clock-aligned
windows from the run's start: reads at 350/s and 3,500/min, then the heal at 10/s and 150/min),
the target's peak RSS (from wait4), the reconcile's own phases (reading the input, reading Klaviyo,
healing) and a check that every forgotten event is back, once. At 350 reads a second the reads of
150,000 events (about 160) fit in one burst window: the bound is under a second, and the time is
the target's CPU (the input is translated as for a load) and the stand-in's serving of the pages.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bounds import lower_bound_seconds
from target_benchmark import write_input

from api_sandbox.testing import SandboxProcess, control
from target_klaviyo.client import EVENTS_BULK, GET_EVENTS, GET_METRICS
from target_klaviyo.payloads import MAX_EVENTS_PER_REQUEST
from target_klaviyo.revisions import MAX_EVENTS_PAGE_SIZE

TARGET = Path(sys.executable).parent / "target-klaviyo"
KEY = "pk_reconcile_bench"
METRICS_PAGE = 200  # GET /api/metrics: 200 a page


def run_target(
    config: dict[str, Any], input_path: Path, workdir: Path, name: str
) -> dict[str, Any]:
    config_path = workdir / f"{name}.json"
    config_path.write_text(json.dumps(config))
    log_path = workdir / f"{name}.log"
    started = time.monotonic()
    with log_path.open("w") as log, input_path.open() as lines:
        process = subprocess.Popen(
            [str(TARGET), "--config", str(config_path)],
            stdin=lines,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        _, status, usage = os.wait4(process.pid, 0)
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "seconds": round(time.monotonic() - started, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "log": str(log_path),
    }


def requests_of(url: str) -> Counter[str]:
    return Counter(control(url, "stats")["requests"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150_000)
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--forget", type=float, default=0.01, help="share the stand-in forgets")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        workdir = Path(tmp)
        input_path = workdir / "input.jsonl"
        write_input(input_path, args.events, args.profiles)
        sandbox_args = ["--only", "klaviyo", "--klaviyo-key", KEY, "--klaviyo-rate-scale", "0"]
        sandbox_args += ["--klaviyo-job-seconds", "0.05"]
        with SandboxProcess(*sandbox_args) as sandbox:
            url = sandbox.urls["klaviyo"]
            base = {"api_key": KEY, "api_url": url, "progress_interval": 0}
            load = run_target(
                {**base, "rate_limit_scale": 0, "dead_letter_path": str(workdir / "dead.jsonl")},
                input_path,
                workdir,
                "load",
            )
            if load["exit_code"] != 0:
                print(f"load failed: see {load['log']}", file=sys.stderr)
                return 1
            forgotten = control(url, "forget", {"share": args.forget, "seed": 20})["forgotten"]
            held = {m: r["events"] for m, r in control(url, "report")["metrics"].items()}
            control(url, "rate-limits", {"scale": 1})
            control(url, "faults", {"latency_ms": 20})
            before = requests_of(url)
            report_path = workdir / "reconcile.json"
            started_at = time.time()  # the stand-in's windows are on the clock
            result = run_target(
                {
                    **base,
                    "rate_limit_scale": 1,
                    "reconcile": True,
                    "reconcile_report_path": str(report_path),
                    "dead_letter_path": str(workdir / "reconcile-dead.jsonl"),
                },
                input_path,
                workdir,
                "reconcile",
            )
            made = requests_of(url) - before
            stored = control(url, "events")["events"]
            throttled = control(url, "report")["throttled"]
        report = json.loads(report_path.read_text())
    per_page = MAX_EVENTS_PAGE_SIZE
    fewest_reads = math.ceil(len(held) / METRICS_PAGE) + sum(
        max(1, math.ceil(n / per_page)) for n in held.values()
    )
    fewest_heal = math.ceil(len(forgotten) / MAX_EVENTS_PER_REQUEST)
    reads = made[f"GET {GET_EVENTS.path}"] + made[f"GET {GET_METRICS.path}"]
    heal = made[f"POST {EVENTS_BULK.path}"]
    read_bound = lower_bound_seconds(
        fewest_reads, GET_EVENTS.burst, GET_EVENTS.steady, start=started_at
    )
    heal_bound = lower_bound_seconds(
        fewest_heal, EVENTS_BULK.burst, EVENTS_BULK.steady, start=started_at + read_bound
    )
    ids = [e["unique_id"] for e in stored]
    out = {
        "events": args.events,
        "forgotten": len(forgotten),
        "report_total": report["total"],
        "exit_code": result["exit_code"],
        "seconds": result["seconds"],
        "phases_seconds": report["seconds"],
        "target_cpu_seconds": result["cpu_seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "read_requests": reads,
        "fewest_read_requests": fewest_reads,
        "heal_requests": heal,
        "fewest_heal_requests": fewest_heal,
        "rate_limit_bound_seconds": round(read_bound + heal_bound, 2),
        "throttled": throttled,
        "every_event_once": len(ids) == len(set(ids)) == args.events,
        "load": load,
    }
    print(json.dumps(out, indent=2))
    print(
        f"| {args.events:,} events, {len(forgotten):,} forgotten | {reads} reads (fewest "
        f"{fewest_reads}), {heal} heal requests (fewest {fewest_heal}) | {result['seconds']} s "
        f"({report['seconds']}; rate-limit bound {out['rate_limit_bound_seconds']} s) | "
        f"{result['peak_rss_mb']} MB |"
    )
    ok = out["every_event_once"] and report["total"]["missing"] == len(forgotten)
    return 0 if ok and result["exit_code"] == 4 else 1


if __name__ == "__main__":
    sys.exit(main())

"""N target runs on one Klaviyo account: do they pace themselves from Klaviyo's headers?

    python benchmarks/targets_on_one_account.py [--targets 1 2 4] [--events 60000] [--profiles 10000]

For each N, one Klaviyo stand-in with Klaviyo's real limits (enforced per account: every key of
an account shares them) and 20 ms latency, and N `target-klaviyo` processes started together with
the same key and no rate setting (rate_limit_scale left at 1), each on its own data (`--events`
events of `--profiles` profiles; no profile is shared between runs). Each run's events cost
ceil(events / 1000) bulk requests (two streams); the import jobs are sized as in target_benchmark.py
(10,000 profiles and 5 MB a job, from the profiles the account holds after the runs).

The account bound: the least time Klaviyo's per-endpoint windows allow for the requests all N
runs need together (the fewest that can carry the data), the largest over the endpoints
(`bounds.lower_bound_seconds`, from the moment the runs start: the windows are on the clock, so
240 requests need 68 s from the start of a minute window and 23 s from 50 s into one). Printed per N: each run's time, the bound over that time (1.0
means the run finished when the account as a whole could at the earliest), and the 429s. Before
each N, the same N runs without any rate limit give the machine floor (the slowest of them): on a
2-core machine the target and the stand-in need more CPU time than the account bound allows for
N = 1 and 2, so those runs are measured against the floor as well.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bounds import lower_bound_seconds
from target_benchmark import KEY, fewest_import_jobs, target_command, write_input

from api_sandbox.testing import SandboxProcess, control
from target_klaviyo.client import EVENTS_BULK, PROFILES_BULK
from target_klaviyo.payloads import MAX_EVENTS_PER_REQUEST


def fewest_event_requests(counts: dict[str, int]) -> int:
    return sum(math.ceil(n / MAX_EVENTS_PER_REQUEST) for n in counts.values())


def account_bound(needed: dict[str, int], start: float) -> float:
    """From clock time `start`: the stand-in's windows are on the clock, as Klaviyo's."""
    return max(
        lower_bound_seconds(
            needed[EVENTS_BULK.path], EVENTS_BULK.burst, EVENTS_BULK.steady, start=start
        ),
        lower_bound_seconds(
            needed[PROFILES_BULK.path], PROFILES_BULK.burst, PROFILES_BULK.steady, start=start
        ),
    )


def throttled_of(log: str) -> int | None:
    for line in reversed(log.splitlines()):
        if "throttled (429):" in line and "requests:" in line:
            return int(line.rsplit("throttled (429):", 1)[1].strip().replace(",", ""))
    return None


def run_n(
    runs: int,
    events: int,
    profiles: int,
    workdir: Path,
    source: str | None = None,
    *,
    limited: bool = True,
) -> dict[str, Any]:
    """N runs started together; `limited` False: the stand-in and the targets without rate limits
    (what the machine itself allows: the floor under the account bound on two shared cores)."""
    inputs = []
    for i in range(runs):
        path = workdir / f"input-{runs}-{i}.singer"
        counts = write_input(path, events, profiles, prefix=f"t{i}")
        inputs.append(path)
    sandbox_args = ["--only", "klaviyo", "--klaviyo-key", KEY, "--klaviyo-job-seconds", "0.5"]
    sandbox_args += ["--klaviyo-rate-scale", "1" if limited else "0", "--latency-ms", "20"]
    with SandboxProcess(*sandbox_args) as sandbox:
        url = sandbox.urls["klaviyo"]
        processes = []
        started = time.monotonic()
        started_at = time.time()
        for i, path in enumerate(inputs):
            config = {
                "api_key": KEY,
                "api_url": url,
                "dead_letter_path": str(workdir / f"dead-{runs}-{i}.jsonl"),
                "progress_interval": 0,
                "rate_limit_scale": 1 if limited else 0,
            }
            config_path = workdir / f"config-{runs}-{i}.json"
            config_path.write_text(json.dumps(config))
            log_path = workdir / f"target-{runs}-{i}.log"
            command, env = target_command(source)
            with log_path.open("w") as log, path.open() as lines:
                process = subprocess.Popen(
                    [*command, "--config", str(config_path)],
                    stdin=lines,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    env=env,
                )
            processes.append((process, log_path))
        results = []
        pending = dict(enumerate(processes))
        finished: dict[int, float] = {}
        while pending:
            for i, (process, _) in list(pending.items()):
                if process.poll() is not None:
                    finished[i] = time.monotonic() - started
                    del pending[i]
            time.sleep(0.05)
        report = control(url, "report")
        # The fewest requests all N runs' data needs together (import jobs sized from the
        # profiles the account holds, as target_benchmark.py does).
        needed = {
            EVENTS_BULK.path: fewest_event_requests(counts) * runs,
            PROFILES_BULK.path: fewest_import_jobs(control(url, "profiles")["profiles"]),
        }
        bound = round(account_bound(needed, started_at), 1)
    for i, (process, log_path) in enumerate(processes):
        log = log_path.read_text()
        if process.returncode != 0:
            msg = f"run {i} of {runs} exited with {process.returncode}: {log[-2000:]}"
            raise RuntimeError(msg)
        seconds = round(finished[i], 2)
        results.append(
            {
                "seconds": seconds,
                "bound_over_actual": round(bound / seconds, 3),
                "throttled": throttled_of(log),
            }
        )
    stored = sum(m["events"] for m in report["metrics"].values())
    return {
        "targets": runs,
        "account_bound_seconds": bound,
        "fewest_requests": needed,
        "runs": results,
        "throttled_total": report["throttled"],
        "requests": report["requests"],
        "events_stored": stored,
        "events_expected": events * runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument(
        "--target-src",
        help="directory holding another target_klaviyo package to run (e.g. a checkout of an "
        "older commit's target-klaviyo/)",
    )
    parser.add_argument("--workdir", help="keep inputs and logs here (default: a temporary dir)")
    args = parser.parse_args()
    rows = []
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="targets-one-account-") as tmp:
        workdir = Path(args.workdir or tmp)
        for runs in args.targets:
            floor = run_n(runs, args.events, args.profiles, workdir, args.target_src, limited=False)
            result = run_n(runs, args.events, args.profiles, workdir, args.target_src)
            result["machine_floor_seconds"] = max(r["seconds"] for r in floor["runs"])
            print(json.dumps(result, indent=2), flush=True)
            for checked in (floor, result):
                if checked["events_stored"] != checked["events_expected"]:
                    stored, expected = checked["events_stored"], checked["events_expected"]
                    print(f"MISMATCH: stored {stored} of {expected}")
                    return 1
            rows.append(result)
    print("\n| N | account bound | machine floor (no limits) | each run (bound / time) | 429s |")
    print("|---|---|---|---|---|")
    for result in rows:
        each = ", ".join(f"{r['seconds']} s ({r['bound_over_actual']})" for r in result["runs"])
        print(
            f"| {result['targets']} | {result['account_bound_seconds']:.1f} s "
            f"| {result['machine_floor_seconds']:.1f} s | {each} | {result['throttled_total']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

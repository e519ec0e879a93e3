"""target-klaviyo benchmark: 150,000 events for 20,000 profiles through the Klaviyo stand-in.

    .venv/bin/python benchmarks/target_benchmark.py [--events 150000] [--profiles 20000] [--mode both]

Modes (each a fresh stand-in in a child process, the target as `target-klaviyo` in another):
- limits: Klaviyo's real rate limits (`--klaviyo-rate-scale 1`, the target's rate_limit_scale 1)
  and 20 ms latency. Reports the rate-limit lower bound over the actual time. The bound: with fixed
  per-second and per-minute windows on the clock, N requests to one endpoint need at least the time
  `bounds.lower_bound_seconds` gives from the run's start (each second takes what both windows
  still allow; 150 requests at 10/s and 150/min: 14 s); the run's bound is the largest over the
  endpoints, with N the fewest requests that can carry the data (ceil(events/1000) per event
  stream; import jobs of at most 10,000 profiles and 5 MB each, sized from the profiles the
  stand-in stored).
- cpu: no rate limits and no latency: events per second of the whole run (process start to exit).
Both report the target's peak RSS (from wait4), the requests made next to the fewest the data
needs, and check that the stand-in holds every event once.
- memory: the cpu mode at two sizes per dimension (150,000 and 1,500,000 events; 32,000 and
  320,000 profiles): peak RSS and time of each. `--job-seconds 10` makes import jobs slow (they
  are waited for outside the sending threads, so events do not wait for them).
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
from pathlib import Path
from typing import Any

from bounds import lower_bound_seconds

from api_sandbox.testing import SandboxProcess, control
from target_klaviyo.client import EVENTS_BULK, PROFILES_BULK
from target_klaviyo.payloads import MAX_EVENTS_PER_REQUEST, MAX_PROFILES_PER_JOB, MAX_REQUEST_BYTES

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(sys.executable).parent / "target-klaviyo"
KEY = "pk_benchmark_1357"
# {"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[...]}}}} around them
JOB_ENVELOPE_BYTES = 200

CONVERSATION_METRICS = [
    "Created Conversation",
    "Replied to Conversation",
    "Replied to Conversation",
    "Read Conversation",
    "Rated Conversation",
]
TICKET_METRICS = ["Created Ticket", "Submitted Ticket", "Replied to Ticket", "Resolved Ticket"]
STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
INTEGER = {"type": ["integer", "null"]}


def event_schema(extra: dict[str, Any]) -> dict[str, Any]:
    base = {
        "event_id": {"type": "string"},
        "metric": {"type": "string"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "object_type": {"type": "string"},
        **{
            k: STRING
            for k in (
                "conversation_id",
                "ticket_id",
                "part_id",
                "contact_id",
                "contact_role",
                "contact_email",
                "contact_phone",
                "contact_external_id",
                "assigned_team",
                "assigned_admin_name",
                "assigned_admin_email",
            )
        },
        "snoozed_until": DATE_TIME,
    }
    return {"type": "object", "properties": {**base, **extra}}


SCHEMAS = {
    "conversation_events": event_schema(
        {
            "title": STRING,
            "waiting_since": DATE_TIME,
            "priority": STRING,
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "conversation_rating": INTEGER,
            "conversation_source": STRING,
            "conversation_delivered_as": STRING,
            "conversation_part_count": INTEGER,
            "sla_status": STRING,
            "reopen_count": INTEGER,
            "assignment_count": INTEGER,
            "custom_attributes": {"type": ["object", "null"]},
        }
    ),
    "ticket_events": event_schema(
        {
            "category": STRING,
            "ticket_part_count": INTEGER,
            "ticket_type": STRING,
            "ticket_name": STRING,
            "ticket_description": STRING,
            "is_shared": {"type": ["boolean", "null"]},
        }
    ),
    "contacts": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "role": STRING,
            "email": STRING,
            "phone": STRING,
            "external_id": STRING,
            "name": STRING,
            "avatar": {"type": ["object", "null"]},
            "location": {"type": ["object", "null"]},
            "has_hard_bounced": {"type": ["boolean", "null"]},
            "marked_email_as_spam": {"type": ["boolean", "null"]},
            "unsubscribed_from_emails": {"type": ["boolean", "null"]},
            "opted_out_subscription_types": {"type": ["object", "null"]},
            "custom_attributes": {"type": ["object", "null"]},
            "tag_names": {"type": ["array", "null"], "items": {"type": "string"}},
        },
    },
}
KEYS = {"conversation_events": ["event_id"], "ticket_events": ["event_id"], "contacts": ["id"]}


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def phone_of(contact: int, prefix: str = "") -> str | None:
    # A third of the contacts have a (free-form, valid) US phone; unique per contact (and per
    # prefix: runs with different prefixes share no phone).
    if contact % 3:
        return None
    area = 415 + 10 * (int(prefix[1:]) if prefix[1:].isdigit() else 0)
    return f"({area}) {200 + contact // 10_000:03d}-{contact % 10_000:04d}"


def contact_record(n: int, prefix: str = "") -> dict[str, Any]:
    return {
        "id": f"{prefix}6{n:07d}",
        "role": "user" if n % 5 else "lead",
        "email": f"{prefix}contact{n}@bench.example",
        "phone": phone_of(n, prefix),
        "external_id": f"{prefix}ext-{n}" if n % 2 else None,
        "name": f"Contact Number {n}",
        "avatar": {"type": "avatar", "image_url": f"https://img.bench.example/{n}.png"},
        "location": {
            "type": "location",
            "city": "Austin",
            "country": "United States",
            "region": None,
        },
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": n % 7 == 0,
        "opted_out_subscription_types": {"type": "list", "data": [], "total_count": 0},
        "custom_attributes": {"plan": "pro" if n % 2 else "free", "seats": n % 50},
        "tag_names": ["customer", f"cohort-{n % 12}"],
    }


def event_record(stream: str, n: int, contact: int, start: int, prefix: str = "") -> dict[str, Any]:
    occurred = start + n * 7
    common = {
        "occurred_at": iso(occurred),
        "contact_id": f"{prefix}6{contact:07d}",
        "contact_role": "user",
        "contact_email": f"{prefix}contact{contact}@bench.example",
        "contact_phone": phone_of(contact, prefix),
        "contact_external_id": f"{prefix}ext-{contact}" if contact % 2 else None,
        "assigned_team": "Support" if n % 3 else None,
        "assigned_admin_name": "Ada Admin" if n % 2 else None,
        "assigned_admin_email": "ada@corp.example" if n % 2 else None,
        "snoozed_until": None,
    }
    if stream == "conversation_events":
        metric = CONVERSATION_METRICS[n % len(CONVERSATION_METRICS)]
        return {
            "event_id": f"{prefix}conversation:{n // 4}:part:{n}:replied",
            "metric": metric,
            "object_type": "conversation",
            "conversation_id": str(n // 4),
            "ticket_id": None,
            "part_id": str(n),
            **common,
            "title": f"Question about order {n // 4}",
            "waiting_since": iso(occurred - 60) if n % 4 else None,
            "priority": "not_priority",
            "tags": ["billing", "vip"] if n % 10 == 0 else [],
            "conversation_rating": (n % 5) + 1 if metric == "Rated Conversation" else None,
            "conversation_source": "conversation",
            "conversation_delivered_as": "customer_initiated",
            "conversation_part_count": 4,
            "sla_status": None,
            "reopen_count": 0,
            "assignment_count": 1,
            "custom_attributes": {"Language": "en"},
        }
    metric = TICKET_METRICS[n % len(TICKET_METRICS)]
    return {
        "event_id": f"{prefix}ticket:{n // 4}:part:{n}:{metric.split()[0].lower()}",
        "metric": metric,
        "object_type": "ticket",
        "conversation_id": None,
        "ticket_id": str(n // 4),
        "part_id": str(n),
        **common,
        "category": "Customer",
        "ticket_part_count": 3,
        "ticket_type": "Bug report",
        "ticket_name": f"Ticket {n // 4}",
        "ticket_description": "The export fails with a timeout.",
        "is_shared": bool(n % 2),
    }


def write_input(path: Path, events: int, profiles: int, prefix: str = "") -> dict[str, int]:
    """Contacts first, then events (two thirds conversation, one third ticket), interleaved in
    runs like a tap's pages, with a state line every 5,000 events. `prefix` goes in front of
    every id, email and external id (inputs with different prefixes share no profile)."""
    conversation_share = (events * 2 // 3) // MAX_EVENTS_PER_REQUEST * MAX_EVENTS_PER_REQUEST
    counts = {
        "conversation_events": conversation_share,
        "ticket_events": events - conversation_share,
    }
    start = 1_767_225_600  # 2026-01-01
    with path.open("w") as out:
        for stream in ("contacts", "conversation_events", "ticket_events"):
            schema = {
                "type": "SCHEMA",
                "stream": stream,
                "schema": SCHEMAS[stream],
                "key_properties": KEYS[stream],
            }
            out.write(json.dumps(schema) + "\n")
        for n in range(profiles):
            out.write(
                json.dumps(
                    {"type": "RECORD", "stream": "contacts", "record": contact_record(n, prefix)}
                )
                + "\n"
            )
        made = {"conversation_events": 0, "ticket_events": 0}
        written = 0
        while written < events:
            for stream in ("conversation_events", "ticket_events"):
                for _ in range(500 if stream == "conversation_events" else 250):
                    if made[stream] >= counts[stream]:
                        break
                    n = made[stream]
                    record = event_record(stream, n, (n * 7919) % profiles, start, prefix)
                    out.write(
                        json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n"
                    )
                    made[stream] += 1
                    written += 1
                    if written % 5000 == 0:
                        out.write(
                            json.dumps({"type": "STATE", "value": {"events": written}}) + "\n"
                        )
        out.write(json.dumps({"type": "STATE", "value": {"events": written, "done": True}}) + "\n")
    return counts


def target_command(source: str | None) -> tuple[list[str], dict[str, str]]:
    """The installed target, or (`--target-src`) the target_klaviyo package of another checkout."""
    if source is None:
        return [str(TARGET)], dict(os.environ)
    env = dict(os.environ, PYTHONPATH=str(Path(source).resolve()))
    return [sys.executable, "-m", "target_klaviyo"], env


def sandbox_cpu_seconds(sandbox: SandboxProcess) -> float | None:
    """CPU the stand-in used (it shares the machine's two cores with the target)."""
    process = getattr(sandbox, "_process", None)
    if process is None:
        return None
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return round((int(fields[11]) + int(fields[12])) / ticks, 2)


def fewest_import_jobs(stored: list[dict[str, Any]]) -> int:
    """Import jobs the profiles need: at most 10,000 profiles and 5 MB a request, the bytes
    counted as Klaviyo's profile resources of what the stand-in stored (compact JSON)."""
    kept_by_klaviyo_only = {"id", "anonymous_id", "created", "updated"}
    total = 0
    for profile in stored:
        attributes = {
            k: v
            for k, v in profile.items()
            if k not in kept_by_klaviyo_only and v is not None and v not in ({}, [])
        }
        resource = {"type": "profile", "attributes": attributes}
        total += len(json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode()) + 1
    by_count = math.ceil(len(stored) / MAX_PROFILES_PER_JOB)
    return max(by_count, math.ceil(total / (MAX_REQUEST_BYTES - JOB_ENVELOPE_BYTES)))


def run(
    mode: str,
    input_path: Path,
    counts: dict[str, int],
    profiles: int,
    workdir: Path,
    *,
    job_seconds: float = 0.5,
    source: str | None = None,
) -> dict[str, Any]:
    limits = mode == "limits"
    sandbox_args = ["--only", "klaviyo", "--klaviyo-key", KEY]
    sandbox_args += ["--klaviyo-job-seconds", str(job_seconds)]
    sandbox_args += ["--klaviyo-rate-scale", "1" if limits else "0"]
    sandbox_args += ["--latency-ms", "20" if limits else "0"]
    with SandboxProcess(*sandbox_args) as sandbox:
        url = sandbox.urls["klaviyo"]
        config = {
            "api_key": KEY,
            "api_url": url,
            "rate_limit_scale": 1 if limits else 0,
            "dead_letter_path": str(workdir / f"dead-{mode}.jsonl"),
            "progress_interval": 5,
        }
        config_path = workdir / f"config-{mode}.json"
        config_path.write_text(json.dumps(config))
        log_path = workdir / f"target-{mode}.log"
        started = time.monotonic()
        started_at = time.time()  # the stand-in's rate-limit windows are on the clock
        command, env = target_command(source)
        with log_path.open("w") as log, input_path.open() as lines:
            process = subprocess.Popen(
                [*command, "--config", str(config_path)],
                stdin=lines,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
            )
            assert process.stdout is not None
            stdout = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        if process.returncode != 0:
            msg = f"target-klaviyo exited with {process.returncode}; see {log_path}"
            raise RuntimeError(msg)
        report = control(url, "report")
        stored_profiles = control(url, "profiles")["profiles"]
        sandbox_cpu = sandbox_cpu_seconds(sandbox)
    summary = [
        line.split("| target-klaviyo", 1)[-1].strip(" |")
        for line in log_path.read_text().splitlines()
        if "| target-klaviyo " in line and ("progress:" in line or "summary" in line)
    ]
    stored = sum(m["events"] for m in report["metrics"].values())
    expected = sum(counts.values())
    event_requests = sum(math.ceil(n / MAX_EVENTS_PER_REQUEST) for n in counts.values())
    profile_jobs = fewest_import_jobs(stored_profiles)
    bound = max(
        lower_bound_seconds(
            event_requests, EVENTS_BULK.burst, EVENTS_BULK.steady, start=started_at
        ),
        lower_bound_seconds(
            profile_jobs, PROFILES_BULK.burst, PROFILES_BULK.steady, start=started_at
        ),
    )
    # The fewest requests that can carry the data: full bulk requests, full import jobs, and
    # (at least) one status read per job.
    fewest = {
        f"POST {EVENTS_BULK.path}": event_requests,
        f"POST {PROFILES_BULK.path}": profile_jobs,
        "GET /api/profile-bulk-import-jobs/{job_id}": profile_jobs,
    }
    return {
        "mode": mode,
        "seconds": round(elapsed, 2),
        "events_stored": stored,
        "events_expected": expected,
        "profiles_stored": report["profiles"],
        "duplicates_arrived": sum(m["duplicates"] for m in report["metrics"].values()),
        "throttled": report["throttled"],
        "requests": report["requests"],
        "fewest_requests": fewest,
        "events_per_second": round(expected / elapsed),
        "target_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "events_per_target_cpu_second": round(expected / (usage.ru_utime + usage.ru_stime)),
        "sandbox_cpu_seconds": sandbox_cpu,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "lower_bound_seconds": bound,
        "bound_over_actual": round(bound / elapsed, 3) if limits else None,
        "final_state": stdout.strip().splitlines()[-1] if stdout.strip() else None,
        "target_log": summary[-14:],
    }


# Peak RSS at two sizes per dimension: (events, profiles).
MEMORY_SIZES = {
    "events": [(150_000, 20_000), (1_500_000, 20_000)],
    "profiles": [(15_000, 32_000), (15_000, 320_000)],
}


def memory(job_seconds: float, source: str | None = None, only: str | None = None) -> int:
    """--mode memory: the cpu mode at each size of MEMORY_SIZES; peak RSS and time."""
    rows = []
    for dimension, sizes in MEMORY_SIZES.items():
        if only and dimension not in only.split(","):
            continue
        for events, profiles in sizes:
            with tempfile.TemporaryDirectory(prefix="target-bench-") as tmp:
                workdir = Path(tmp)
                input_path = workdir / "input.singer"
                counts = write_input(input_path, events, profiles)
                result = run(
                    "cpu",
                    input_path,
                    counts,
                    profiles,
                    workdir,
                    job_seconds=job_seconds,
                    source=source,
                )
            ok = result["events_stored"] == result["events_expected"]
            ok = ok and result["profiles_stored"] == profiles
            rows.append((dimension, events, profiles, result, ok))
            print(
                json.dumps(
                    {
                        "dimension": dimension,
                        "events": events,
                        "profiles": profiles,
                        "seconds": result["seconds"],
                        "peak_rss_mb": result["peak_rss_mb"],
                        "all_stored": ok,
                    }
                ),
                flush=True,
            )
    print("\n| dimension | events | profiles | peak RSS | time |")
    print("|---|---|---|---|---|")
    for dimension, events, profiles, result, _ in rows:
        print(
            f"| {dimension} | {events:,} | {profiles:,} | {result['peak_rss_mb']} MB "
            f"| {result['seconds']} s |"
        )
    return 0 if all(row[4] for row in rows) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150_000)
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--mode", choices=["limits", "cpu", "both", "memory"], default="both")
    parser.add_argument(
        "--job-seconds", type=float, default=0.5, help="how long the stand-in's import jobs take"
    )
    parser.add_argument(
        "--target-src",
        help="directory holding another target_klaviyo package to run (e.g. an older commit's "
        "target-klaviyo/, for a before/after)",
    )
    parser.add_argument(
        "--sizes", help="memory mode: only these dimensions (events, profiles), comma-separated"
    )
    args = parser.parse_args()
    if args.mode == "memory":
        return memory(args.job_seconds, args.target_src, args.sizes)
    with tempfile.TemporaryDirectory(prefix="target-bench-") as tmp:
        workdir = Path(tmp)
        input_path = workdir / "input.singer"
        counts = write_input(input_path, args.events, args.profiles)
        modes = ["cpu", "limits"] if args.mode == "both" else [args.mode]
        for mode in modes:
            result = run(
                mode,
                input_path,
                counts,
                args.profiles,
                workdir,
                job_seconds=args.job_seconds,
                source=args.target_src,
            )
            print(json.dumps(result, indent=2))
            if result["events_stored"] != result["events_expected"]:
                print(f"MISMATCH: stored {result['events_stored']} of {result['events_expected']}")
                print((workdir / f"target-{mode}.log").read_text()[-3000:])
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

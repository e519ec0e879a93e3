"""`api-sandbox report`: what a running Klaviyo stand-in accepted, rejected and throttled."""

from __future__ import annotations

import json
import sys
from typing import Any

import requests

PROFILES_LISTED = 20
ERRORS_LISTED = 3


def print_report(klaviyo_url: str, *, as_json: bool) -> int:
    """Print the report of the stand-in at `klaviyo_url`; 0 on success, 1 when it cannot be read."""
    base = klaviyo_url.rstrip("/")
    try:
        report = _get(f"{base}/_sandbox/report")
        profiles = [] if as_json else _get(f"{base}/_sandbox/profiles")["profiles"]
    except (requests.RequestException, ValueError) as exc:
        sys.stderr.write(f"error: cannot read the Klaviyo stand-in's report at {base}: {exc}\n")
        return 1
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
        return 0
    sys.stdout.write("\n".join(format_report(report, profiles)) + "\n")
    return 0


def _get(url: str) -> Any:
    response = requests.get(url, timeout=30)
    response.raise_for_status()
    return response.json()


def format_report(report: dict[str, Any], profiles: list[dict[str, Any]]) -> list[str]:
    """The readable report: metrics, profiles, duplicates, rejected requests, throttling, traffic."""
    lines = [
        "Klaviyo stand-in report",
        "",
        "Metrics (events kept / arrivals / duplicates / backfilled)",
    ]
    metrics: dict[str, dict[str, int]] = report["metrics"]
    width = max((len(name) for name in metrics), default=10)
    for name, counts in sorted(metrics.items()):
        lines.append(
            f"  {name:<{width}}  {counts['events']:>8} {counts['arrivals']:>8}"
            f" {counts['duplicates']:>8} {counts['backfilled']:>8}"
        )
    if not metrics:
        lines.append("  (no events)")
    total_kept = sum(counts["events"] for counts in metrics.values())
    total_duplicates = sum(counts["duplicates"] for counts in metrics.values())
    writes = report.get("profile_writes") or {}
    created, updated = writes.get("created", 0), writes.get("updated", 0)
    lines += [
        f"  total: {total_kept} events kept, {total_duplicates} duplicates received",
        "",
        f"Profiles: {report['profiles']}",
        # Records of one person (the same email) are one profile: accepted records can be more.
        f"  profile records accepted: {created + updated} ({created} created, {updated} updated)",
    ]
    for profile in profiles[:PROFILES_LISTED]:
        identity = ", ".join(
            f"{key}={profile[key]}"
            for key in ("email", "phone_number", "external_id")
            if profile.get(key)
        )
        lines.append(f"  {profile['id']}  {identity or '(no identifier)'}")
    if len(profiles) > PROFILES_LISTED:
        lines.append(f"  ... and {len(profiles) - PROFILES_LISTED} more")
    rejected: list[dict[str, Any]] = report["rejected_requests"]
    lines += ["", f"Rejected requests: {len(rejected)}"]
    for request in rejected:
        errors = request["errors"]
        lines.append(f"  {request['endpoint']} -> {request['status']} ({len(errors)} error(s))")
        for error in errors[:ERRORS_LISTED]:
            source = error.get("source") or {}
            where = source.get("pointer") or source.get("parameter")
            lines.append(
                f"    {error['code']}: {error['detail']}" + (f" [{where}]" if where else "")
            )
        if len(errors) > ERRORS_LISTED:
            lines.append(f"    ... and {len(errors) - ERRORS_LISTED} more")
    skipped: dict[str, int] = report.get("skipped_for_identity_conflicts") or {}
    if skipped:
        lines += ["", "Events not stored for an identity conflict (bulk_event_conflicts item)"]
        lines += [f"  {name}: {count}" for name, count in sorted(skipped.items())]
    lines += ["", f"Throttled (429): {report['throttled']}", "", "Requests by endpoint"]
    for endpoint, count in sorted(report["requests"].items()):
        lines.append(f"  {endpoint}: {count}")
    return lines

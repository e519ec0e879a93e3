"""Print the plugins' run reports (report_path) of the last run, readably (used by scripts/demo.sh).

python scripts/run_report_summary.py output/tap-report.json output/target-report.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def tap_lines(report: dict[str, Any]) -> list[str]:
    ends = sorted({window["events_until"] for window in report["windows"].values()})
    truncated = report["truncated_part_lists"]
    return [
        f"tap-intercom-events: {report['outcome']} (exit code {report['exit_code']}), "
        f"API {report['api_version']}, events up to {', '.join(ends) or '-'}",
        f"  objects read: {report['objects_read']}; records by stream: {report['records_by_stream']}",
        f"  requests: {report['requests']:,}, throttled (429): {report['throttled']:,}, "
        f"truncated part lists: {truncated['objects']}",
    ]


def target_lines(report: dict[str, Any]) -> list[str]:
    dead = report["dead_letters"]
    lines = [
        f"target-klaviyo: {report['outcome']} (exit code {report['exit_code']}) in "
        f"{report['duration_seconds']} s; state moved: {'yes' if report['state_moved'] else 'no'}",
        f"  events sent: {report['events_delivered']:,}",
    ]
    lines += [f"    {metric}: {n:,}" for metric, n in sorted(report["events_by_metric"].items())]
    lines += [
        f"  events resent from the tap's lookback (possibly already in Klaviyo): "
        f"{report['events_resent_from_lookback']:,}",
        f"  profile records accepted: {report['profiles_upserted']:,} "
        "(Klaviyo makes one profile of records sharing an email)",
        f"  dead letters of this run: {sum(dead.values()):,}"
        + (
            f" (failing the run: {report['failing_dead_letters']})"
            if report["failing_dead_letters"]
            else ""
        ),
    ]
    lines += [f"    {reason}: {n:,}" for reason, n in sorted(dead.items())]
    lines.append(
        f"  rejected by Klaviyo: {report['rejected_by_klaviyo']:,}, requests: {report['requests']:,}, "
        f"throttled (429): {report['throttled']:,}"
    )
    if report["error"]:
        lines.append(f"  error: {report['error']}")
    return lines


def main() -> int:
    for name in sys.argv[1:]:
        path = Path(name)
        if not path.exists():
            print(f"{name}: no report (the plugin did not start)")
            continue
        report = json.loads(path.read_text())
        print(
            "\n".join(
                tap_lines(report)
                if report["plugin"] == "tap-intercom-events"
                else target_lines(report)
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Print how many dead letters there are, by stream and reason (used by scripts/demo.sh).

A line that is not a JSON object (a write cut short, e.g. by a full disk) is counted and named by
its line number instead of stopping the count."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Summary:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    unreadable: list[int] = field(default_factory=list)  # line numbers


def summarize(path: Path) -> Summary:
    summary = Summary()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                letter = json.loads(line)
            except ValueError:
                letter = None
            if not isinstance(letter, dict):
                summary.unreadable.append(number)
                continue
            summary.counts[(str(letter.get("stream")), str(letter.get("reason")))] += 1
    return summary


def main() -> int:
    path = Path(sys.argv[1])
    summary = summarize(path)
    for (stream, reason), count in sorted(summary.counts.items(), key=lambda item: -item[1]):
        print(f"  {count:6d}  {stream}: {reason}")
    if summary.unreadable:
        shown = ", ".join(str(n) for n in summary.unreadable[:10])
        more = ", ..." if len(summary.unreadable) > 10 else ""
        print(
            f"  {len(summary.unreadable):6d}  unreadable line(s), not JSON (line {shown}{more}): "
            "a write cut short, e.g. by a full disk"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

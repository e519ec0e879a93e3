"""Print how many dead letters there are, by stream and reason (used by scripts/demo.sh)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summarize(path: Path) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    with path.open() as lines:
        for line in lines:
            if line.strip():
                letter = json.loads(line)
                counts[(str(letter.get("stream")), str(letter.get("reason")))] += 1
    return counts


def main() -> int:
    path = Path(sys.argv[1])
    for (stream, reason), count in sorted(summarize(path).items(), key=lambda item: -item[1]):
        print(f"  {count:6d}  {stream}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Test fixtures of target-klaviyo (see klaviyo_harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The tests' helpers live beside them (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from klaviyo_harness import klaviyo  # the fixture; imported once the path is set

__all__ = ["klaviyo"]

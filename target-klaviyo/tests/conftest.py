"""Test fixtures of target-klaviyo (from the target_klaviyo_testing package)."""

from __future__ import annotations

from target_klaviyo_testing.harness import klaviyo

__all__ = ["klaviyo"]

"""`python -m target_klaviyo`."""

from __future__ import annotations

from target_klaviyo.target import TargetKlaviyo

TargetKlaviyo.cli()

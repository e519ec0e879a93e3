"""The package's one alias for a JSON object, as Intercom returns it and the tap emits it."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

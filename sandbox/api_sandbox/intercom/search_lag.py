"""Search that lags behind writes (quirk): what search sees of each object, per kind.

Intercom documents that a new contact "may not yet be available when searching… This delay can
take a few minutes" and says nothing about edits, conversations or tickets
(docs/api-assumptions.md I6). With a lag of D seconds on a kind, search matches and returns each
object as it was D seconds ago: its previous version for D seconds after a change, and nothing at
all for an object created within the last D seconds. GET by id is never late. Deletions and merges
leave search at once (the stand-in's other knobs test those).

Versions are kept only while the lag is on: a copy of every object when it is switched on, and a
copy of each changed or new object at every change after that (`IntercomState.changed`).
"""

from __future__ import annotations

import copy
from typing import Any

# since (stand-in clock seconds), the object from then on (None: not created yet)
Version = tuple[float, Any]
NEVER = float("-inf")


class SearchLag:
    """Search lag per kind and the versions it needs."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(kinds, 0.0)
        self._versions: dict[str, dict[Any, list[Version]]] = {kind: {} for kind in kinds}

    def configure(self, kind: str, seconds: float, objects: dict[Any, Any]) -> None:
        """Set one kind's lag; switching it on starts from the objects as they are now."""
        if seconds > 0 and self.seconds[kind] <= 0:
            self._versions[kind] = {key: [(NEVER, copy.deepcopy(o))] for key, o in objects.items()}
        elif seconds <= 0:
            self._versions[kind] = {}
        self.seconds[kind] = seconds

    def restart(self, objects_by_kind: dict[str, dict[Any, Any]]) -> None:
        """A new data set (reset): search has indexed all of it."""
        for kind, seconds in self.seconds.items():
            self.seconds[kind] = 0.0
            self.configure(kind, seconds, objects_by_kind[kind])

    def record(self, objects_by_kind: dict[str, dict[Any, Any]], now: float) -> None:
        """After a change: every object that differs from its newest version gets a new one."""
        for kind, seconds in self.seconds.items():
            if seconds <= 0:
                continue
            versions = self._versions[kind]
            for key, obj in objects_by_kind[kind].items():
                history = versions.get(key)
                if history is None:
                    versions[key] = [(NEVER, None), (now, copy.deepcopy(obj))]
                elif history[-1][1] != obj:
                    history.append((now, copy.deepcopy(obj)))

    def lagging(self, kind: str) -> bool:
        return self.seconds[kind] > 0

    def visible(self, kind: str, objects: list[Any], now: float) -> list[Any]:
        """`objects` (current, in search's order) as search sees them at `now`."""
        indexed_until = now - self.seconds[kind]
        versions = self._versions[kind]
        seen = []
        for obj in objects:
            history = versions.get(obj.id)
            if history is None:
                seen.append(obj)
                continue
            current = max(
                (i for i, (since, _) in enumerate(history) if since <= indexed_until), default=0
            )
            del history[:current]  # older versions are never searched again
            if history[0][1] is not None:
                seen.append(history[0][1])
        return seen

    def catching_up(self, kind: str, now: float) -> bool:
        """Whether some change of this kind is not searchable yet (results change with time)."""
        indexed_until = now - self.seconds[kind]
        return any(h[-1][0] > indexed_until for h in self._versions[kind].values())

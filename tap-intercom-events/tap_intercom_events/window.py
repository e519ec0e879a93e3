"""One run's window over an incremental stream (pure): what it reads and which events it emits.

What a bookmark (`replication_key_value`, `events_after`) promises, and why the window below keeps
that promise, is docs/interfaces.md section 4.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncWindow:
    """One run's slice of an incremental stream, in epoch seconds.

    The run reads every object with `updated_at > lower`, however far past `end` an object moves
    while the run reads (see paging.read_slices), and emits the events with
    `events_after < time <= end`. `end` is the second before the run started: everything up to it
    had happened when the run began, so any read during the run sees it; later events are the
    next run's. `floor` is the stored event floor (`events_after` is `floor - lookback`).
    `stored_floor` is the floor an earlier run stored, up to which it emitted every event: None
    on a first run and in a replay (which has no state).
    """

    lower: int
    end: int
    events_after: int
    floor: int
    stored_floor: int | None = None

    def holds_event(self, epoch: int) -> bool:
        return self.events_after < epoch <= self.end

    def reemits(self, epoch: int) -> bool:
        """Whether an event at `epoch` is in the span this window reads again (the lookback), so
        an earlier run may have emitted it already (the record's `from_lookback`)."""
        return self.stored_floor is not None and epoch <= self.stored_floor

    def holds_change(self, epoch: int | None) -> bool:
        """A part or object change this window reports (parts stream: new or edited parts)."""
        return epoch is not None and self.events_after < epoch <= self.end

    def resume_point(self, read_through: int) -> int:
        """The bookmark after every object with updated_at <= `read_through` was read and emitted.

        Capped at `end`: objects read later than `end` may hold events after `end`, which this
        window does not emit, so the next run must read them again.
        """
        return min(read_through, self.end)


def plan_window(
    *, bookmark: int | None, events_after: int | None, start_date: int, lookback: int, now: int
) -> SyncWindow:
    """The window of this run from the stored state.

    `events_after` is stored while a window is unfinished, so a resumed run keeps the floor of the
    interrupted one: objects it had not reached yet may hold events older than its bookmark.
    """
    cursor = start_date if bookmark is None else max(bookmark, start_date)
    floor = cursor if events_after is None else min(events_after, cursor)
    # A state with a bookmark only: a finished run stores its floor as the bookmark too.
    stored = bookmark if events_after is None else events_after
    return SyncWindow(
        lower=cursor - lookback,
        end=max(now - 1, cursor),
        events_after=floor - lookback,
        floor=floor,
        stored_floor=None if stored is None else min(floor, stored),
    )


def plan_replay(*, start: int, end: int) -> SyncWindow:
    """A replay's window: every event with `start <= time <= end`, from every object updated
    since `start` (an object's `updated_at` is never below the time of its events). No bookmark
    is read or written for it, so none of its events is marked as re-emitted from a lookback."""
    return SyncWindow(lower=start - 1, end=end, events_after=start - 1, floor=start - 1)

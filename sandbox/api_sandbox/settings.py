"""Settings of the two stand-ins, shared by the CLI, the test harness and the apps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultSettings:
    """Faults injected into API calls (never into the /_sandbox control endpoints).

    Rates are shares of requests, from 0.0 to 1.0, drawn from a random generator seeded by `seed`.
    """

    latency_ms: float = 0.0  # added to every API response
    error_rate: float = 0.0  # 500 before the request is processed
    throttle_rate: float = 0.0  # 429 before the request is processed (as the API's own 429)
    empty_body_rate: float = 0.0  # a 200 response sent with an empty body (request processed)
    drop_rate: float = 0.0  # connection closed with no response, after the request was processed
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        for name in ("error_rate", "throttle_rate", "empty_body_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"fault {name} must be between 0 and 1, got {value}"
                raise ValueError(msg)
        if self.latency_ms < 0:
            msg = f"fault latency_ms must be >= 0, got {self.latency_ms}"
            raise ValueError(msg)


@dataclass
class IntercomSettings:
    token: str = "sandbox-intercom-token"
    rate_limit_per_minute: int = 10_000  # Intercom's private-app limit; 0 turns rate limiting off
    rate_window_seconds: float = 10.0  # Intercom's window; shorter lets a 429 test wait less
    default_version: str = "2.14"  # the app's default Intercom-Version when the header is absent
    seed: int = 1
    contacts: int = 200
    conversations: int = 400
    tickets: int = 100
    now: int | None = None  # epoch seconds the generated history ends at; None: the current time
    # the workspace's `id_code` (GET /me `app.id_code`, `workspace_id` on contacts and ticket
    # types): two stand-ins with different ones are two workspaces whose ids may repeat
    workspace_id: str = "ecahpwf5"
    faults: FaultSettings = field(default_factory=FaultSettings)


@dataclass
class KlaviyoSettings:
    api_key: str = "pk_sandbox"
    db_path: str = ":memory:"  # SQLite file of what Klaviyo accepted
    rate_limit_scale: float = 1.0  # multiplies Klaviyo's per-endpoint limits; 0 turns them off
    job_seconds: float = 0.2  # how long a profile bulk import job stays queued/processing
    # Readings of what Klaviyo leaves undocumented (POST /_sandbox/behaviour changes them at run time):
    # a bulk event whose unique_id is already stored for its profile and metric: "keep_first" (the
    # request is accepted and the stored event kept) or "reject" (400 naming the item, nothing stored)
    stored_duplicates: str = "keep_first"
    # an identifier held by another profile than the one the request's first identifier means:
    # "reject" (409 duplicate_profile / import error), "attach" (the holder takes every identifier
    # sent, overwriting its own: one profile for two people) or "ignore" (left with its holder)
    identity_conflicts: str = "reject"
    # where bulk event create rejects an identity conflict: "request" (409, nothing stored) or
    # "item" (202; the conflicting entries' events are not stored, the others are)
    bulk_event_conflicts: str = "request"
    faults: FaultSettings = field(default_factory=FaultSettings)

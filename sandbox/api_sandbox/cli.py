"""`api-sandbox`: start the Intercom and/or Klaviyo stand-ins, or print the Klaviyo report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from api_sandbox.settings import FaultSettings, IntercomSettings, KlaviyoSettings


def _fault_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "faults (applied to both APIs; change at run time with POST /_sandbox/faults)"
    )
    group.add_argument("--latency-ms", type=float, default=0.0, help="added to every API response")
    group.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered 500"
    )
    group.add_argument("--throttle-rate", type=float, default=0.0, help="share answered 429")
    group.add_argument(
        "--empty-body-rate", type=float, default=0.0, help="share of 200s with an empty body"
    )
    group.add_argument(
        "--drop-rate", type=float, default=0.0, help="share of connections dropped after processing"
    )
    group.add_argument("--fault-seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="api-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the stand-ins on 127.0.0.1")
    serve.add_argument("--only", choices=["intercom", "klaviyo"], help="start one API only")
    serve.add_argument(
        "--intercom-port", type=int, default=0, help="0 picks a free port and prints it"
    )
    serve.add_argument(
        "--klaviyo-port", type=int, default=0, help="0 picks a free port and prints it"
    )
    serve.add_argument(
        "--ready-file",
        type=Path,
        help="write {'intercom': url, 'klaviyo': url} here once listening",
    )

    data = serve.add_argument_group("Intercom data")
    data.add_argument("--seed", type=int, default=1)
    data.add_argument("--contacts", type=int, default=200)
    data.add_argument("--conversations", type=int, default=400)
    data.add_argument("--tickets", type=int, default=100)
    data.add_argument(
        "--now", type=int, help="epoch seconds the generated history ends at (default: now)"
    )
    data.add_argument("--intercom-token", default=IntercomSettings.token)
    data.add_argument(
        "--workspace-id",
        default=IntercomSettings.workspace_id,
        help="the workspace's id_code (GET /me app.id_code)",
    )
    data.add_argument(
        "--intercom-rate-limit",
        type=int,
        default=IntercomSettings.rate_limit_per_minute,
        help="calls a minute, enforced per 10-second window; 0 turns it off",
    )
    data.add_argument(
        "--intercom-rate-window-seconds",
        type=float,
        default=IntercomSettings.rate_window_seconds,
        help="length of a rate-limit window (Intercom: 10); the limit per window scales with it",
    )

    klaviyo = serve.add_argument_group("Klaviyo")
    klaviyo.add_argument("--klaviyo-key", default=KlaviyoSettings.api_key)
    klaviyo.add_argument("--klaviyo-db", default=":memory:", help="SQLite file of accepted data")
    klaviyo.add_argument(
        "--klaviyo-rate-scale",
        type=float,
        default=1.0,
        help="multiplies Klaviyo's per-endpoint rate limits; 0 turns them off",
    )
    klaviyo.add_argument("--klaviyo-job-seconds", type=float, default=KlaviyoSettings.job_seconds)
    klaviyo.add_argument(
        "--klaviyo-stored-duplicates",
        choices=["keep_first", "reject"],
        default=KlaviyoSettings.stored_duplicates,
        help="a bulk event whose unique_id is already stored for its profile and metric: kept "
        "first (202) or the request rejected (400 naming it)",
    )
    klaviyo.add_argument(
        "--klaviyo-identity-conflicts",
        choices=["reject", "attach", "ignore"],
        default=KlaviyoSettings.identity_conflicts,
        help="an identifier held by another profile: 409 duplicate_profile / import error, "
        "attached to its holder (overwriting), or ignored",
    )
    klaviyo.add_argument(
        "--klaviyo-bulk-event-conflicts",
        choices=["request", "item"],
        default=KlaviyoSettings.bulk_event_conflicts,
        help="bulk event create with an identity conflict: the whole request 409, or only the "
        "conflicting entries left out (202)",
    )
    _fault_args(serve)

    report = sub.add_parser("report", help="print what the Klaviyo stand-in accepted")
    report.add_argument("--klaviyo-url", required=True, help="e.g. http://127.0.0.1:8701")
    report.add_argument("--json", action="store_true", help="print the raw JSON report")
    return parser


def _settings(args: argparse.Namespace) -> tuple[IntercomSettings | None, KlaviyoSettings | None]:
    faults = FaultSettings(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        empty_body_rate=args.empty_body_rate,
        drop_rate=args.drop_rate,
        seed=args.fault_seed,
    )
    intercom = IntercomSettings(
        token=args.intercom_token,
        rate_limit_per_minute=args.intercom_rate_limit,
        rate_window_seconds=args.intercom_rate_window_seconds,
        seed=args.seed,
        contacts=args.contacts,
        conversations=args.conversations,
        tickets=args.tickets,
        now=args.now,
        workspace_id=args.workspace_id,
        faults=faults,
    )
    klaviyo = KlaviyoSettings(
        api_key=args.klaviyo_key,
        db_path=args.klaviyo_db,
        rate_limit_scale=args.klaviyo_rate_scale,
        job_seconds=args.klaviyo_job_seconds,
        stored_duplicates=args.klaviyo_stored_duplicates,
        identity_conflicts=args.klaviyo_identity_conflicts,
        bulk_event_conflicts=args.klaviyo_bulk_event_conflicts,
        faults=FaultSettings(**vars(faults)),
    )
    return (None if args.only == "klaviyo" else intercom), (
        None if args.only == "intercom" else klaviyo
    )


def _check(args: argparse.Namespace) -> None:
    """Fail before starting anything, with one line naming the bad flag."""
    for flag in ("contacts", "conversations", "tickets", "intercom_rate_limit"):
        if getattr(args, flag) < 0:
            msg = f"--{flag.replace('_', '-')} must be >= 0, got {getattr(args, flag)}"
            raise ValueError(msg)
    if not args.intercom_rate_window_seconds > 0:
        msg = f"--intercom-rate-window-seconds must be > 0, got {args.intercom_rate_window_seconds}"
        raise ValueError(msg)
    if args.klaviyo_rate_scale < 0:
        msg = f"--klaviyo-rate-scale must be >= 0, got {args.klaviyo_rate_scale}"
        raise ValueError(msg)
    intercom, klaviyo = _settings(args)
    for settings in (intercom, klaviyo):
        if settings is not None:
            settings.faults.validate()


async def _serve(args: argparse.Namespace) -> None:
    from api_sandbox.server import build_apps, start_sites

    intercom, klaviyo = _settings(args)
    apps = build_apps(intercom, klaviyo)
    sites = await start_sites(apps, {"intercom": args.intercom_port, "klaviyo": args.klaviyo_port})
    for name, url in sites.urls.items():
        print(f"{name} listening on {url}", flush=True)
    if args.ready_file:
        args.ready_file.write_text(json.dumps(sites.urls))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sites.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        try:
            _check(args)
        except ValueError as exc:
            print(f"api-sandbox: {exc}", file=sys.stderr)
            return 2
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
        return 0
    from api_sandbox.klaviyo.report import print_report

    return print_report(args.klaviyo_url, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())

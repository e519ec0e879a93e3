"""target-klaviyo: Singer records -> Klaviyo events (metrics) and profiles, through the bulk APIs."""

from __future__ import annotations

import atexit
import decimal
import gc
import json
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import cached_property
from types import FrameType
from typing import IO, Any

import click
import msgspec
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target

from target_klaviyo.defaults import DEFAULT_REPORT_STREAMS
from target_klaviyo.errors import InputError, KlaviyoError, MappingConfigError
from target_klaviyo.key_check import check_key
from target_klaviyo.report import (
    UNDELIVERED_EXIT_CODE,
    build_report,
    failing_dead_letters,
    policy_line,
    write_report,
)
from target_klaviyo.runtime import Runtime
from target_klaviyo.settings import CONFIG_SCHEMA, Settings, setting
from target_klaviyo.sinks import (
    MELTANO_TEST_STREAM,
    ConfigTestSink,
    EventSink,
    ProfileSink,
    ReportSink,
    SkippedSink,
)

GC_GEN0_THRESHOLD = 50_000
# What each Singer message type must hold (the SDK's own checks print the whole line).
_REQUIRED_KEYS = {
    "SCHEMA": ("stream", "schema"),
    "RECORD": ("stream", "record"),
    "STATE": ("value",),
    "ACTIVATE_VERSION": ("stream", "version"),
    "BATCH": ("stream", "encoding", "manifest"),
}
# msgspec reads a line at a fraction of json's CPU, to the same values (numbers with a fraction
# or an exponent as Decimals, like the SDK's reader). It refuses what json takes beyond RFC 8259
# (NaN, Infinity, lone surrogates, ints near 4,300 digits): json reads those lines again.
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
# msgspec nests a few levels deeper than json before a RecursionError: a line that could be
# nested anywhere near that deep (json's limit is near 1,000) is left to json, as before.
_FAST_MAX_BRACKETS = 500


class NumberedReader(SimpleSingerReader):
    """The SDK's reader, but a bad line stops the run with one line naming its number, never its
    content (which holds personal data); blank lines are skipped."""

    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[Any, Callable[[dict], None]]
    ) -> Counter[str]:
        counts: dict[str, int] = defaultdict(int)
        for number, line in enumerate(file_input or self.default_input, 1):
            if not line.strip():
                continue
            message = _message_of(line, number)
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                msg = f"input line {number}: unknown Singer message type {str(kind)[:40]!r}"
                raise InputError(msg)
            try:
                callback(message)
            except InvalidInputLine:
                msg = f"input line {number}: not a valid Singer {kind} message"
                raise InputError(msg) from None
            except RecordsWithoutSchemaException:
                msg = (
                    f"input line {number}: a RECORD of stream {str(message['stream'])[:100]!r} "
                    "before any SCHEMA of it"
                )
                raise InputError(msg) from None
            counts[kind] += 1
        return Counter(counts)


def _fast_read(line: str) -> Any:
    """The line's value as msgspec reads it, or None when msgspec cannot read it."""
    # Nesting N deep takes 2N characters: most lines are too short to need counting.
    if (
        len(line) >= 2 * _FAST_MAX_BRACKETS
        and line.count("{") + line.count("[") >= _FAST_MAX_BRACKETS
    ):
        return None
    try:
        return _DECODER.decode(line)
    except Exception:  # noqa: BLE001 - json reads the line again and its verdict is the one kept
        return None


def _message_of(line: str, number: int) -> dict[str, Any]:
    try:
        message = _fast_read(line)
        if message is None:  # a line of `null` too: json reads it as None as well
            message = deserialize_json(line)
    except json.JSONDecodeError as exc:
        msg = f"input line {number} is not JSON ({exc.msg} at column {exc.colno})"
        raise InputError(msg) from None
    except (ValueError, RecursionError) as exc:
        msg = f"input line {number} is not JSON ({type(exc).__name__})"
        raise InputError(msg) from None
    if not isinstance(message, dict) or "type" not in message:
        msg = f"input line {number} is not a Singer message (no 'type')"
        raise InputError(msg)
    missing = [k for k in _REQUIRED_KEYS.get(message["type"], ()) if k not in message]
    if missing:
        msg = f"input line {number}: a {message['type']} message without {', '.join(missing)}"
        raise InputError(msg)
    if message["type"] == "RECORD" and not isinstance(message["record"], dict):
        msg = f"input line {number}: the RECORD's 'record' is not an object"
        raise InputError(msg)
    if message["type"] == "SCHEMA" and not (
        isinstance(message["schema"], dict)
        and isinstance(message["schema"].get("properties"), dict)
    ):
        msg = f"input line {number}: the SCHEMA's 'schema' has no 'properties' object"
        raise InputError(msg)
    return message


class TargetKlaviyo(Target):
    """Delivers event streams as Klaviyo events and profile streams as Klaviyo profiles."""

    name = "target-klaviyo"
    config_jsonschema = CONFIG_SCHEMA
    message_reader_class = NumberedReader
    # The line a configuration or delivery failure stopped the run with (invoke), for the report.
    stopped_by_error: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._finished = False
        self._finish_lock = threading.Lock()
        self._writing_state = False
        self._deferred_signal: int | None = None
        self._stopped_by_signal: int | None = None
        self._input_read = False
        self._reconcile_code = 0  # reconcile mode's exit code (reconcile_fail_on), for the report
        self.exit_code = 0
        # The error line of an earlier target of this process (tests run several) is not this run's.
        type(self).stopped_by_error = None
        # However the run ends (end of input, a failure, a signal), the summary is logged once:
        # at the end of the input, or else when the process exits.
        atexit.register(self.finish)
        # Translating a batch allocates many small dicts while tens of thousands of records are
        # alive: with the default threshold the garbage collector takes a large share of that time.
        gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)
        # How often drain_all (and so a state line) happens; the SDK's default is 5 minutes.
        self._MAX_RECORD_AGE_IN_MINUTES = float(setting(self.config, "state_interval_seconds")) / 60

    @cached_property
    def runtime(self) -> Runtime:
        """Settings checked once, and the shared pool; built on the first stream."""
        return Runtime.from_config(self.config, self.logger)

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        settings = self.runtime.settings
        in_events = stream_name in settings.event_streams
        in_profiles = stream_name in settings.profile_streams
        if in_events and in_profiles:
            msg = (
                f"stream '{stream_name}' is in both 'event_streams' and 'profile_streams': "
                "keep it in one"
            )
            raise MappingConfigError(msg)
        if stream_name in settings.skip_streams:
            return SkippedSink
        if in_profiles and settings.reconcile:
            # Reconcile mode checks events; profiles are the regular runs' to send.
            return SkippedSink
        if in_events:
            return EventSink
        if in_profiles:
            return ProfileSink
        if stream_name == MELTANO_TEST_STREAM:
            return ConfigTestSink
        if stream_name in DEFAULT_REPORT_STREAMS:
            return ReportSink
        if settings.skip_unmapped:
            self.logger.warning(
                "stream '%s' has no mapping; skipping it (unmapped_streams is 'skip')", stream_name
            )
            return SkippedSink
        msg = (
            f"stream '{stream_name}' has no mapping: add it to 'event_streams' or "
            "'profile_streams', list it in 'skip_streams', or set 'unmapped_streams' to 'skip'"
        )
        raise MappingConfigError(msg)

    def _write_state_message(self, state: dict) -> None:
        # The barrier: every request submitted so far must have succeeded before any state
        # goes out (sinks return from process_batch once their requests are queued).
        runtime = self.runtime
        runtime.pool.wait_all()
        if runtime.settings.reconcile:
            return  # a reconcile run moves no bookmark (its input is a replay)
        if runtime.settings.dry_run:
            self.logger.info("dry run: not emitting state (a real run must still send this data)")
            return
        # A signal while the line is written waits for the line to be whole.
        self._writing_state = True
        try:
            super()._write_state_message(state)
        finally:
            self._writing_state = False
        runtime.stats.count_state_line()
        if self._deferred_signal is not None:
            self._stop_on_signal(self._deferred_signal)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT: stop at once with exit code 128 + the signal (143, 130), so that
        Meltano reports a failed run. Nothing more is acknowledged: the last state line written
        covers only what Klaviyo accepted, and a rerun from it resends the rest (the SDK's own
        handler drained every sink from inside the signal and then exited 0)."""
        if self._writing_state:
            self._deferred_signal = signum
            return
        self._stop_on_signal(signum)

    def _stop_on_signal(self, signum: int) -> None:
        code = 128 + signum
        self._stopped_by_signal = signum
        self.logger.error(
            "target-klaviyo stopped: received signal %d; records not yet delivered are not "
            "acknowledged (rerun from the last state line); exit code %d",
            signum,
            code,
        )
        if "runtime" in self.__dict__:
            self.runtime.transport.cancel()  # requests still retrying give up at once
        sys.exit(code)

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        if "runtime" in self.__dict__:
            self.runtime.pool.wait_all()
            self._input_read = True
            try:
                self._reconcile()
            except Exception:
                self._input_read = False  # reconciling failed: the run did not finish
                raise
        self._input_read = True
        self.finish()
        if self.exit_code:
            # After the last state line: Meltano keeps the state of what Klaviyo accepted.
            sys.exit(self.exit_code)

    def _reconcile(self) -> None:
        """Reconcile mode, at the end of the input: read, match, heal and report; a run that
        found what `reconcile_fail_on` fails on exits with code 4 after the summary."""
        reconciler = self.runtime.reconcile
        if reconciler is None:
            return
        lines, code = reconciler.finish()
        for line in lines:
            self.logger.info(line)
        if code:
            self._reconcile_code = code
            self.finish()
            sys.exit(code)

    def finish(self) -> None:
        """Stop the pool, close files, log the summary and write the run report (once)."""
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
        atexit.unregister(self.finish)
        if "runtime" not in self.__dict__:
            self.logger.info("summary: nothing sent")
            return
        runtime = self.runtime
        runtime.close()
        settings, stats = runtime.settings, runtime.stats
        elapsed = stats.elapsed
        if settings.dry_run:
            self.logger.info(
                "dry run: requests written to %s; nothing was sent", settings.dry_run_path
            )
        for line in stats.summary_lines(dry_run=settings.dry_run, elapsed=elapsed):
            self.logger.info(line)
        if runtime.dead_letters.path is not None and stats.dead_letters.total():
            self.logger.warning("dead letters written to %s", runtime.dead_letters.path)
        outcome = self._outcome(settings.fail_on)
        if settings.report_path is not None:
            report = build_report(
                stats,
                outcome=outcome,
                exit_code=self.exit_code,
                elapsed=elapsed,
                fail_on=settings.fail_on,
                dry_run=settings.dry_run,
                dead_letter_path=settings.dead_letter_path,
                error=type(self).stopped_by_error,
            )
            try:
                write_report(settings.report_path, report)
            except OSError as exc:
                self.logger.error(
                    "cannot write the run report to %s (%s)", settings.report_path, exc.strerror
                )
            else:
                self.logger.info("run report written to %s", settings.report_path)

    def _outcome(self, fail_on: str) -> str:
        """How the run ended, its exit code set to match: 'stopped' (a signal), 'failed' (an
        error before the end of the input), 'undelivered' (fail_on) or 'delivered'."""
        if self._stopped_by_signal is not None:
            self.exit_code = 128 + self._stopped_by_signal
            return "stopped"
        if not self._input_read:
            self.exit_code = 1
            return "failed"
        if self._reconcile_code:
            self.exit_code = self._reconcile_code
            return "unreconciled"
        failing = failing_dead_letters(self.runtime.stats.dead_letters, fail_on)
        if failing:
            self.logger.error(policy_line(failing, fail_on))
            self.exit_code = UNDELIVERED_EXIT_CODE
            return "undelivered"
        return "delivered"

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--test"],
                is_flag=True,
                default=False,
                help="Check the API key with one GET /api/accounts, send nothing, and exit "
                "(0: Klaviyo accepted it; 1: one line saying what to fix).",
            )
        )
        return command

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        file_input: IO[str] | None = None,
        test: bool = False,
    ) -> None:
        """Run the target; a configuration or delivery failure ends the run with one clear line
        and exit code 1, with no state emitted for what was not delivered (the summary follows,
        as the process exits). `--test` only checks the key."""
        try:
            if test:
                cls.test_key(config)
                return
            super().invoke(
                about=about, about_format=about_format, config=config, file_input=file_input
            )
        except (KlaviyoError, MappingConfigError) as exc:
            cls.logger.error("target-klaviyo stopped: %s", exc)
            cls.stopped_by_error = str(exc)  # the report is written as the process exits
            sys.exit(1)

    @classmethod
    def test_key(cls, config: Any) -> None:
        """`--test`: the check behind Meltano's test stream, without any input."""
        # `config` is the SDK's parsed --config input, or None when none was given.
        target = cls(
            config=config.config if config is not None else {},
            validate_config=True,
            parse_env_config=config is not None and config.parse_env,
        )
        settings = Settings.from_config(target.config)
        if settings.api_key is None:
            msg = "no Klaviyo API key: set the 'api_key' setting (TARGET_KLAVIYO_API_KEY)"
            raise KlaviyoError(msg)
        line = check_key(
            api_url=settings.api_url,
            api_key=settings.api_key,
            revision=settings.revision,
            timeout=settings.request_timeout,
        )
        target.logger.info("test: %s", line)


if __name__ == "__main__":
    TargetKlaviyo.cli()

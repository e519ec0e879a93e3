"""Runs sharing one Klaviyo account pace themselves from RateLimit-* and Retry-After.

`Account` plays Klaviyo's per-account fixed windows (as the stand-in does, on a faster clock: a
0.1 s burst window and a 1.6 s steady one); each `client` is one run's limiter with its own
threads, knowing nothing of the others but the headers.
"""

from __future__ import annotations

import math
import threading
import time

import pytest

from target_klaviyo.limiter import WindowLimiter, rate_limit_headers

SECOND = 0.1
MINUTE = 1.6
BURST = 10
STEADY = 60


class Account:
    """Fixed burst and steady windows shared by every client; headers as Klaviyo sends them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, int], int] = {}
        self.throttled = 0
        self.started = time.monotonic()

    def request(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            now = time.monotonic() - self.started
            burst_window, steady_window = math.floor(now / SECOND), math.floor(now / MINUTE)
            burst = self.counts.get(("b", burst_window), 0)
            steady = self.counts.get(("s", steady_window), 0)
            reset = (steady_window + 1) * MINUTE - now
            if burst >= BURST or steady >= STEADY:
                self.throttled += 1
                wait = reset if steady >= STEADY else (burst_window + 1) * SECOND - now
                return 429, {"Retry-After": f"{wait:.3f}"}
            self.counts[("b", burst_window)] = burst + 1
            self.counts[("s", steady_window)] = steady + 1
            headers = {
                "RateLimit-Limit": str(STEADY),
                "RateLimit-Remaining": str(STEADY - steady - 1),
                "RateLimit-Reset": f"{reset:.3f}",
            }
            return 202, headers


def client(account: Account, requests: int, finished: list[float]) -> threading.Thread:
    limiter = WindowLimiter(BURST, STEADY, second=SECOND * 1.02, minute=MINUTE * 1.005, probe=True)
    todo = [requests]
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if todo[0] == 0:
                    return
                todo[0] -= 1
            while True:
                sent_at = limiter.acquire()
                time.sleep(0.004)  # the round trip
                status, headers = account.request()
                limiter.done(headers)
                if status != 429:
                    break
                limiter.release(sent_at)
                limiter.throttled(float(headers["Retry-After"]))

    def run() -> None:
        workers = [threading.Thread(target=worker) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        finished.append(time.monotonic() - account.started)

    return threading.Thread(target=run)


@pytest.mark.parametrize("runs", [1, 2, 4])
def test_runs_on_one_account_share_it_with_few_429s(runs: int) -> None:
    per_run = 40
    account = Account()
    finished: list[float] = []
    clients = [client(account, per_run, finished) for _ in range(runs)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    bound = (
        max(
            math.ceil(per_run * runs / BURST) - 1,
            (math.ceil(per_run * runs / STEADY) - 1) * MINUTE / SECOND,
        )
        * SECOND
    )
    assert sum(account.counts[k] for k in account.counts if k[0] == "s") == per_run * runs
    # Every run ends near the account's bound for all of them together, with few 429s
    # (without the headers, 4 runs at the documented limits collect hundreds).
    assert max(finished) < bound * 1.6 + 0.3, (finished, bound)
    assert account.throttled <= 4 * runs, account.throttled


def test_headers_parsed_and_the_window_learned() -> None:
    assert rate_limit_headers(
        {"RateLimit-Limit": "150", "ratelimit-remaining": "7", "RateLimit-Reset": "12"}
    ) == (150, 7, 12.0)
    assert rate_limit_headers({"Retry-After": "3"}) is None
    assert (
        rate_limit_headers(
            {"RateLimit-Limit": "x", "RateLimit-Remaining": "1", "RateLimit-Reset": "1"}
        )
        is None
    )
    limiter = WindowLimiter(10, 150)
    limiter.done({"RateLimit-Limit": "30", "RateLimit-Remaining": "29", "RateLimit-Reset": "59"})
    # The account's window is a fifth of the documented one: so is the burst.
    assert (limiter.burst, limiter.steady) == (2, 30)


def test_no_budget_left_waits_for_the_reset() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = WindowLimiter(10, 150, clock=lambda: now[0], sleep=sleep)
    limiter.acquire()
    limiter.done({"RateLimit-Limit": "150", "RateLimit-Remaining": "0", "RateLimit-Reset": "20"})
    limiter.acquire()
    assert slept and sum(slept) == pytest.approx(20.0)

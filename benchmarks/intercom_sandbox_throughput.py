"""Intercom stand-in throughput: data generation time and GET /conversations/{id} requests a second.

Starts `api-sandbox serve --only intercom` in a child process (its own GIL), then hits random conversations
from a few client threads with keep-alive connections. Each thread runs an aiohttp client with a few requests
in flight (`--client aiohttp`, the default), or a blocking `requests` session (`--client requests`, which is
itself the bottleneck at ~1,500 requests/s on one core). Usage:

    .venv/bin/python benchmarks/intercom_sandbox_throughput.py [--conversations 100000] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import requests

from api_sandbox.settings import IntercomSettings
from api_sandbox.testing import SandboxProcess, control

FIRST_CONVERSATION_ID = 100_000


def _memory_mb(pid: int) -> float | None:
    """Resident memory of the server process (Linux), None elsewhere."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


HEADERS = {
    "Authorization": f"Bearer {IntercomSettings.token}",
    "Accept": "application/json",
    "Intercom-Version": "2.14",
}


async def _hammer_async(
    base_url: str, conversations: int, seconds: float, seed: int, in_flight: int
) -> int:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession, rng: random.Random) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            conversation_id = FIRST_CONVERSATION_ID + rng.randrange(conversations)
            async with session.get(f"{base_url}/conversations/{conversation_id}") as response:
                body = await response.read()
                assert response.status == 200, body[:200]
            done += 1

    async with aiohttp.ClientSession(headers=HEADERS) as session:
        await asyncio.gather(
            *(worker(session, random.Random(seed * 1000 + i)) for i in range(in_flight))
        )
    return done


@dataclass(frozen=True)
class Load:
    client: str  # aiohttp or requests
    base_url: str
    conversations: int
    seconds: float
    in_flight: int


def _hammer(load: Load, seed: int, counts: list[int]) -> None:
    base_url, conversations, seconds = load.base_url, load.conversations, load.seconds
    if load.client == "aiohttp":
        counts.append(
            asyncio.run(_hammer_async(base_url, conversations, seconds, seed, load.in_flight))
        )
        return
    session = requests.Session()
    session.headers.update(HEADERS)
    rng = random.Random(seed)
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        conversation_id = FIRST_CONVERSATION_ID + rng.randrange(conversations)
        response = session.get(f"{base_url}/conversations/{conversation_id}", timeout=30)
        assert response.status_code == 200, response.text[:200]
        done += 1
    counts.append(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=5_000)
    parser.add_argument("--tickets", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--in-flight", type=int, default=8, help="requests in flight per aiohttp thread"
    )
    parser.add_argument("--client", choices=["aiohttp", "requests"], default="aiohttp")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    started = time.perf_counter()
    server = SandboxProcess(
        "--only",
        "intercom",
        "--conversations",
        str(args.conversations),
        "--contacts",
        str(args.contacts),
        "--tickets",
        str(args.tickets),
        "--intercom-rate-limit",
        "0",
    )
    with server:
        startup = time.perf_counter() - started
        base_url = server.urls["intercom"]
        dataset = control(base_url, "stats")["dataset"]
        pid = server._process.pid if server._process else 0
        print(
            f"data set: {dataset['conversations']} conversations, {dataset['contacts']} contacts, "
            f"{dataset['tickets']} tickets, {dataset['ledger_events']} ledger events"
        )
        print(
            f"generation: {dataset['generation_seconds']:.2f} s (process start to listening: {startup:.2f} s)"
        )
        memory = _memory_mb(pid)
        if memory is not None:
            print(f"server resident memory: {memory:.0f} MB")
        counts: list[int] = []
        load = Load(args.client, base_url, args.conversations, args.seconds, args.in_flight)
        threads = [
            threading.Thread(target=_hammer, args=(load, i, counts)) for i in range(args.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = sum(counts)
        print(
            f"GET /conversations/{{id}}: {total} requests in {args.seconds:.0f} s from {args.threads} "
            f"{args.client} client threads = {total / args.seconds:.0f} requests/s"
        )


if __name__ == "__main__":
    main()

"""Runs the stand-ins' aiohttp apps on 127.0.0.1, in this process (CLI) or a background thread (tests)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from aiohttp import web

from api_sandbox.settings import IntercomSettings, KlaviyoSettings

HOST = "127.0.0.1"


def build_apps(
    intercom: IntercomSettings | None, klaviyo: KlaviyoSettings | None
) -> dict[str, web.Application]:
    apps: dict[str, web.Application] = {}
    if intercom is not None:
        from api_sandbox.intercom.app import create_app as create_intercom_app

        apps["intercom"] = create_intercom_app(intercom)
    if klaviyo is not None:
        from api_sandbox.klaviyo.app import create_app as create_klaviyo_app

        apps["klaviyo"] = create_klaviyo_app(klaviyo)
    return apps


@dataclass
class RunningSites:
    urls: dict[str, str] = field(default_factory=dict)
    runners: list[web.AppRunner] = field(default_factory=list)

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()


async def start_sites(apps: dict[str, web.Application], ports: dict[str, int]) -> RunningSites:
    """Start each app on its port (0 picks a free one) and return the base URLs."""
    sites = RunningSites()
    for name, app in apps.items():
        # access_log=None: a benchmark makes hundreds of thousands of requests.
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, ports.get(name, 0), backlog=1024)
        await site.start()
        server = site._server  # aiohttp exposes no public accessor for the bound port
        if server is None:
            msg = f"the {name} stand-in did not start listening"
            raise RuntimeError(msg)
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        sites.urls[name] = f"http://{HOST}:{port}"
        sites.runners.append(runner)
    return sites


class BackgroundSandbox:
    """Both stand-ins on an event loop in a daemon thread: for tests in the same process."""

    def __init__(
        self,
        intercom: IntercomSettings | None = None,
        klaviyo: KlaviyoSettings | None = None,
    ) -> None:
        self._apps = build_apps(intercom, klaviyo)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="sandbox")
        self._sites: RunningSites | None = None

    @property
    def apps(self) -> dict[str, web.Application]:
        return self._apps

    @property
    def urls(self) -> dict[str, str]:
        if self._sites is None:
            msg = "the sandbox is not started"
            raise RuntimeError(msg)
        return self._sites.urls

    def start(self) -> BackgroundSandbox:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start_sites(self._apps, {}), self._loop)
        self._sites = future.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._sites is not None:
            asyncio.run_coroutine_threadsafe(self._sites.close(), self._loop).result(timeout=30)
            self._sites = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A proxy in front of the Klaviyo stand-in that refuses, as Klaviyo may, every bulk request
carrying a "poison" item with a 400 naming no item (issue 10: errors pointing only at `/data`),
and forwards everything else."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

UNNAMED = {
    "errors": [
        {
            "id": "e1",
            "status": 400,
            "code": "invalid",
            "title": "Invalid input.",
            "detail": "The request could not be processed.",
            "source": {"pointer": "/data"},
        }
    ]
}


class Unnamed:
    """Forwards to the stand-in; a bulk request holding b"poison" gets a 400 naming no item."""

    def __init__(self, upstream: str, *, with_pointer: bool = True) -> None:
        self.upstream = upstream
        self.bulk_requests = 0
        self.refused = 0
        body = UNNAMED if with_pointer else {"errors": [{"status": 400, "code": "invalid"}]}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                bulk = self.command == "POST" and "bulk" in self.path
                if bulk:
                    with lock:
                        proxy.bulk_requests += 1
                if bulk and data is not None and b"poison" in data:
                    with lock:
                        proxy.refused += 1
                    self._reply(
                        400, {"Content-Type": "application/vnd.api+json"}, json.dumps(body).encode()
                    )
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                response = requests.request(
                    self.command, proxy.upstream + self.path, data=data, headers=headers, timeout=30
                )
                keep = {
                    k: v
                    for k, v in response.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                }
                self._reply(response.status_code, keep, response.content)

            def _reply(self, status: int, headers: dict[str, str], content: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Unnamed:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

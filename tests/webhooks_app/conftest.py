"""Fixtures of the webhook tests: a real HTTP server on a free local port that records every request and
answers with the statuses a test scripts, endpoints pointing at it, and a URL nobody listens on; plus the
billing and disputes fixtures the end-to-end tests start from."""
from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.billing_app.invoice_fixtures import no_delivery  # noqa: F401 - fixture for the end-to-end tests
from tests.disputes_app.conftest import session, support, tariff, ticket  # noqa: F401 - fixtures, likewise
from webhooks_app.models import WebhookEndpoint


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive lookups, as HTTP wants
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """What the local server got, and what it answers next (200 once the script runs out)."""

    def __init__(self):
        self.requests: list[Received] = []
        self.script: deque[int] = deque()
        self.hold = threading.Event()  # set: answer at once; clear: keep the client waiting (timeouts)
        self.hold.set()
        self._arrived = threading.Condition()
        self.url = ""

    def answer_with(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def record(self, received: Received) -> int:
        with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        return self.script.popleft() if self.script else 200

    def wait_for(self, count: int, timeout: float = 20) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.record(Received(self.path, self.headers, body))
            receiver.hold.wait(timeout=10)
            reply = b'{"received": true}' if status < 300 else f"receiver says {status}".encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format, *args):  # keep the test output quiet
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up waiting (timeout tests)
        pass


@pytest.fixture
def receiver():
    receiver = Receiver()
    server = _QuietServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    receiver.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def refused_url() -> str:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def make_endpoint(operator, url: str, *, event_types=(), is_active=True, description="") -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(operator=operator, url=url, event_types=list(event_types),
                                          is_active=is_active, description=description)


@pytest.fixture
def endpoint(operator, receiver) -> WebhookEndpoint:
    """The operator's endpoint on the local server, subscribed to every event."""
    return make_endpoint(operator, f"{receiver.url}/hooks/all", description="helpdesk")

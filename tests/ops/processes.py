"""The real processes the fault-tolerance tests start and break: a Redis server of our own, Celery workers
on the test database, and a gate in front of localstripe."""
from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import redis
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str,
             diagnostics: Callable[[], str] = lambda: "") -> object:
    """Poll `predicate` until it is truthy (returned) or `timeout` seconds pass (the test fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{diagnostics()}")
        time.sleep(0.1)


def database_url() -> str:
    """The URL of pytest-django's test database (test_<name>), for subprocesses."""
    s = connection.settings_dict
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    return (f"postgres://{quote(s['USER'] or 'postgres', safe='')}{password}@{s['HOST'] or '127.0.0.1'}:"
            f"{s['PORT'] or 5432}/{s['NAME']}")


# --- Redis -----------------------------------------------------------------------------------------

class RedisServer:
    """A redis-server of our own on a free port, with an append-only file as in production: what was
    queued survives a restart; what could not be queued while it was down is the producers' business."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: the append-only file is flushed), as `systemctl stop` does."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        redis.Redis.from_url(self.url).flushall()


# --- Celery workers --------------------------------------------------------------------------------

class Worker:
    """`celery -A evbilling worker` in its own process group, logging to a file."""

    def __init__(self, *, name: str, env: dict[str, str], log: Path, pool: str):
        self.name, self.env, self.log, self.pool = name, env, log, pool
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "evbilling", "worker", f"--pool={self.pool}", "--concurrency=1",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{self.name}@%h", "-l", "INFO"],
                cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for(lambda: "ready." in self.output() or self.process.poll() is not None, timeout=30,
                 what=f"worker {self.name} to start", diagnostics=self.output)
        assert self.process.poll() is None, f"worker {self.name} exited:\n{self.output()}"
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def received(self, task: str) -> list[str]:
        """Ids of the `task` messages this worker was given, in order (a redelivered one appears again)."""
        return re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", self.output())

    def pool_children(self) -> list[int]:
        """The prefork pool's processes (the worker's children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill(self) -> None:
        """SIGKILL to the worker and its pool: no shutdown, no acknowledgement, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM to the worker: the running task finishes), then nothing left behind."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill()


# --- Stripe behind a gate ----------------------------------------------------------------------------

class StripeGate:
    """An HTTP proxy in front of localstripe. `down()` closes its port (connection refused: Stripe is
    unreachable), `up()` opens it again; `hold(pattern)` lets matching requests reach Stripe but keeps
    their answer until `let_go()`, so a caller can die after Stripe acted and before it heard back."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: ThreadingHTTPServer | None = None
        self.hold_pattern: re.Pattern | None = None
        self.held = threading.Event()
        self.released = threading.Event()
        self.requests: list[str] = []

    def up(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def hold(self, pattern: str) -> None:
        self.hold_pattern = re.compile(pattern)
        self.held.clear()
        self.released.clear()

    def let_go(self) -> None:
        self.hold_pattern = None
        self.released.set()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            upstream.request(method, path, body=body or None, headers=headers)
            response = upstream.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            upstream.close()


def _handler(gate: StripeGate) -> type[BaseHTTPRequestHandler]:
    skipped = {"connection", "transfer-encoding", "content-length", "keep-alive", "host"}

    class Handler(BaseHTTPRequestHandler):
        def _proxy(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skipped}
            status, response_headers, payload = gate.forward(self.command, self.path, headers, body)
            gate.requests.append(f"{self.command} {self.path} -> {status}")
            pattern = gate.hold_pattern
            if pattern is not None and pattern.search(self.path):
                gate.held.set()
                gate.released.wait(timeout=60)
            try:
                self.send_response(status)
                for name, value in response_headers:
                    if name.lower() not in skipped:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the caller is gone (killed while it waited)

        do_GET = do_POST = do_DELETE = _proxy

        def log_message(self, *args) -> None:
            pass

    return Handler



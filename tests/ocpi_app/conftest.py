"""Fixtures of the OCPI tests: our CPO party, registered partners with known tokens (for the conformance
tests through Django's client), and an independent eMSP (extrawest-ocpi) in its own virtual environment,
started on a free port for the interoperability tests against our live server."""
from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ocpi_app.auth import token_hash
from ocpi_app.models import CpoParty, Partner
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
PEER_DIR = Path(__file__).resolve().parent / "peer"
PEER_VENV = Path(os.environ.get("OCPI_PEER_VENV", ROOT / ".venv-ocpi-peer"))


def auth_header(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
def cpo_party(operator):
    return CpoParty.objects.create(operator=operator, country_code="DE", party_id="VOL")


@pytest.fixture
def other_cpo_party(other_operator):
    return CpoParty.objects.create(operator=other_operator, country_code="GB", party_id="BRL")


def registered_partner(operator, *, name="Roam eMSP", country_code="NL", party_id="RMS",
                       url="https://emsp.example.com/ocpi") -> tuple[Partner, str]:
    """A partner registered with `operator`, and the token it calls us with."""
    token = secrets.token_urlsafe(32)
    partner = Partner.objects.create(
        operator=operator, name=name, status=Partner.Status.REGISTERED, country_code=country_code,
        party_id=party_id, role="EMSP", business_name=name, token_hash=token_hash(token),
        token_kind=Partner.TokenKind.C, token_theirs="their-token-" + party_id, versions_url=f"{url}/versions",
        version="2.2.1", endpoints=[{"identifier": m, "role": "RECEIVER", "url": f"{url}/2.2.1/{m}"}
                                    for m in ("credentials", "locations", "tariffs", "sessions", "cdrs")],
    )
    return partner, token


@pytest.fixture
def partner(operator, cpo_party):
    return registered_partner(operator)


@pytest.fixture
def other_partner(other_operator, other_cpo_party):
    return registered_partner(other_operator, name="Other eMSP", country_code="FR", party_id="OTH")


@contextmanager
def partner_receiver(answer: dict, received: list[tuple[str, dict]]) -> Iterator[str]:
    """A partner's receiver on a free local port: records each POST or PUT as (path, JSON body) in `received` and
    answers with the OCPI envelope `answer` (read at each request, so a test may change it). Yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            body = json.dumps({"timestamp": "2026-03-02T08:00:00Z", **answer}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peer_venv() -> Path:
    """The peer's own virtual environment (extrawest-ocpi pins pydantic 1 and FastAPI 0.101, which clash with
    ours), made once from peer/requirements.txt and reused while that file does not change. `make test` makes it
    before pytest starts (`make ocpi-peer`); made here when absent. One maker at a time (pytest-xdist workers)."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / "requirements.stamp"
    wanted = (PEER_DIR / "requirements.txt").read_text()
    PEER_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(PEER_VENV.parent / f"{PEER_VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PEER_DIR / "requirements.txt")],
                           check=True)
            stamp.write_text(wanted)
    return python


class Peer:
    def __init__(self, url: str, token_a: str):
        self.url, self.token_a = url, token_a
        self.versions_url = f"{url}/ocpi/versions"

    def control(self, path: str, body: dict | None = None) -> dict:
        method = "POST" if body is not None else "GET"
        request = urllib.request.Request(f"{self.url}/control/{path}", method=method,  # noqa: S310 - our own peer
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own peer on 127.0.0.1
            return json.loads(answer.read())


@pytest.fixture(scope="session")
def ocpi_peer():
    """The extrawest-ocpi eMSP on a free port (token A known to the test), stopped at the end of the run."""
    python = _peer_venv()
    port, token_a = _free_port(), secrets.token_urlsafe(24)
    process = subprocess.Popen([str(python), str(PEER_DIR / "emsp.py"), str(port), token_a], cwd=PEER_DIR)
    peer = Peer(f"http://127.0.0.1:{port}", token_a)
    deadline = time.monotonic() + 30
    while True:
        try:
            peer.control("store")
            break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the extrawest-ocpi peer did not start")
            time.sleep(0.2)
    yield peer
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def live_ocpi(live_server, settings):
    """Our OCPI server live on 127.0.0.1, announcing its own address."""
    settings.OCPI_BASE_URL = live_server.url
    settings.OCPI_ALLOW_PRIVATE_HOSTS = True
    return live_server


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)

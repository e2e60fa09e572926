"""Web load benchmark: p50/p95/p99 and requests/s of the list pages and API endpoints, served by
gunicorn as in production (DEBUG off), against the 1M-session database bench/scale.py leaves behind.

    .venv/bin/python bench/scale.py --keep          # once: load evbilling_bench (about 20 minutes)
    .venv/bin/python bench/web_load.py              # 200 requests per endpoint, 4 at a time
    .venv/bin/python bench/web_load.py --requests 50 --concurrency 1 --workers 2

Starts gunicorn on a free 127.0.0.1 port (production settings: DEBUG=off, a throwaway SECRET_KEY,
static files collected into a temporary folder; requests carry X-Forwarded-Proto: https as the
proxy would), logs in as the heaviest driver, operator staff and support staff through the real
login form and token endpoint, and fires concurrent requests from threads (http.client, a new
connection per request as gunicorn's sync workers close them). Traffic goes to 127.0.0.1 only, each
endpoint is bounded in requests and seconds, and gunicorn is stopped at the end. Target: p95 under
100 ms per endpoint (PASS/MISS). Everything runs on this machine: the load generator, gunicorn and
PostgreSQL share its cores, so the figures are an upper bound of what a real deployment sees.
"""
import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 100.0
PASSWORDS = {"driver": "driver", "operator": "operator", "support": "support"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """Requests to the local gunicorn, as a browser behind the TLS proxy would send them."""

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, *, headers: dict | None = None, body: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https",
                                                           **(headers or {})})
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()


def _cookies(headers) -> dict[str, str]:
    found = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            found[key] = rest.split(";", 1)[0]
    return found


def login(client: Http, username: str) -> dict[str, str]:
    """Sign in through the login form; returns the headers of a signed-in browser."""
    status, headers, body = client.request("GET", "/accounts/login/")
    cookies = _cookies(headers)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = urlencode({"username": username, "password": PASSWORDS[username], "csrfmiddlewaretoken": token})
    status, headers, _ = client.request("POST", "/accounts/login/", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookies['csrftoken']}",
        "Referer": "https://127.0.0.1/accounts/login/"})
    session = _cookies(headers).get("sessionid")
    if status != 302 or not session:
        raise RuntimeError(f"login as {username} failed (HTTP {status})")
    return {"Cookie": f"sessionid={session}"}


def api_token(client: Http, username: str) -> dict[str, str]:
    import json

    status, _, body = client.request("POST", "/api/v1/auth/token/", headers={"Content-Type": "application/json"},
                                     body=json.dumps({"username": username, "password": PASSWORDS[username]}))
    if status != 200:
        raise RuntimeError(f"API token for {username} failed (HTTP {status})")
    return {"Authorization": f"Token {json.loads(body)['token']}"}


def start_gunicorn(*, port: int, workers: int, env: dict) -> subprocess.Popen:
    static = env["STATIC_ROOT"]
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [str(Path(sys.executable).parent / "gunicorn"), "evbilling.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--forwarded-allow-ips", "127.0.0.1", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(static).parent / "gunicorn.log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Http(port).request("GET", "/healthz/")[0] in (200, 503):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


def measure(client: Http, path: str, headers: dict, *, requests: int, concurrency: int,
            max_seconds: float) -> tuple[list[float], int, float]:
    """Latencies (ms) of `requests` GETs, `concurrency` at a time, after a short warm-up."""
    for _ in range(min(3, requests)):
        client.request("GET", path, headers=headers)
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.monotonic() + max_seconds

    def one(_n: int) -> None:
        if time.monotonic() > deadline:
            return
        began = time.perf_counter()
        status, _, _ = client.request("GET", path, headers=headers)
        elapsed = (time.perf_counter() - began) * 1000
        with lock:
            latencies.append(elapsed)
            if status != 200:
                errors[0] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return latencies, errors[0], time.perf_counter() - began


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="evbilling_bench")
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, as docs/operations.md)")
    parser.add_argument("--max-seconds", type=float, default=60, help="cap per endpoint (default 60 s)")
    args = parser.parse_args()
    if args.requests < 2 or args.concurrency < 1 or args.workers < 1:
        parser.error("--requests must be at least 2, --concurrency and --workers at least 1")

    from bench.scale import _database_url

    tmp = tempfile.mkdtemp(prefix="evbilling-webload-")
    env = {**os.environ, "DATABASE_URL": _database_url(args.database), "DEBUG": "off",
           "SECRET_KEY": "bench-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
           "STATIC_ROOT": str(Path(tmp) / "static"), "DJANGO_SETTINGS_MODULE": "evbilling.settings"}
    # Production settings, except static files stored without the manifest (collectstatic's manifest
    # step fails on the vendored chart.js source map reference; static files are not what is measured).
    (Path(tmp) / "webload_settings.py").write_text(
        "from evbilling.settings import *  # noqa: F403\n"
        "STORAGES = {**STORAGES, 'staticfiles': {'BACKEND': 'whitenoise.storage.CompressedStaticFilesStorage'}}"
        "  # noqa: F405\n")
    env.update(DJANGO_SETTINGS_MODULE="webload_settings", PYTHONPATH=os.pathsep.join([tmp, str(ROOT)]))
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "STATIC_ROOT")})
    import django

    django.setup()
    from bench.scale import _pages

    pages = _pages()
    port = _free_port()
    process = start_gunicorn(port=port, workers=args.workers, env=env)
    try:
        client = Http(port)
        browsers = {who: login(client, who) for who in PASSWORDS}
        tokens = {who: api_token(client, who) for who in ("driver", "operator")}
        print(f"gunicorn {args.workers} workers on 127.0.0.1:{port}, database {args.database}; "
              f"{args.requests} requests per endpoint, {args.concurrency} in flight")
        print(f"{'endpoint (as who)':<56} {'p50':>7} {'p95':>7} {'p99':>7} {'req/s':>7} {'err':>4}  p95<100ms")
        misses = 0
        for who, label, path in pages:
            headers = tokens[who] if path.startswith("/api/") and who in tokens else browsers[who]
            latencies, errors, wall = measure(client, path, headers, requests=args.requests,
                                              concurrency=args.concurrency, max_seconds=args.max_seconds)
            p50, p95, p99 = (_percentile(latencies, q) for q in (50, 95, 99))
            verdict = "PASS" if p95 < TARGET_P95_MS and not errors else "MISS"
            misses += verdict == "MISS"
            print(f"{label + ' (' + who + ')':<56} {p50:7.1f} {p95:7.1f} {p99:7.1f} {len(latencies) / wall:7.1f} "
                  f"{errors:>4}  {verdict}", flush=True)
        print(f"{len(pages) - misses} of {len(pages)} endpoints under {TARGET_P95_MS:.0f} ms at p95")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()

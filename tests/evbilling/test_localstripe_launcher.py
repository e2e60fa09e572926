"""evbilling.localstripe_launcher: each localstripe keeps its own state file (localstripe 1.15 alone shares
/tmp/localstripe.pickle between every instance on the machine)."""
from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request

import pytest
from localstripe.resources import Store

from evbilling.localstripe_launcher import state_dump, state_file, state_load
from tests.billing_app.payment_fixtures import _free_port, localstripe_start

AUTH = "Basic " + base64.b64encode(b"sk_test_" + b"x" * 24 + b":").decode()


def _call(url: str, path: str, data: dict | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url + path, data=body, headers={"Authorization": AUTH})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.load(response)


def _emails(url: str) -> set[str]:
    return {customer["email"] for customer in _call(url, "/v1/customers")["data"]}


@pytest.fixture
def launched():
    """Start launcher instances; all stopped at the end of the test."""
    processes = []

    def start(state_dir, **kwargs):
        process, url = localstripe_start(state_dir, **kwargs)
        processes.append(process)
        return process, url

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_two_instances_keep_separate_state(launched, tmp_path):
    _, first = launched(tmp_path / "first", from_scratch=False)
    _call(first, "/v1/customers", {"email": "only-in-first@example.com"})

    _, second = launched(tmp_path / "second", from_scratch=False)

    assert _emails(second) == set()
    assert _emails(first) == {"only-in-first@example.com"}


def test_an_instance_restarted_on_its_state_dir_finds_its_state(launched, tmp_path):
    port = _free_port()
    process, url = launched(tmp_path, port=port, from_scratch=False)
    _call(url, "/v1/customers", {"email": "kept@example.com"})
    process.terminate()
    process.wait(timeout=10)

    _, url = launched(tmp_path, port=port, from_scratch=False)

    assert _emails(url) == {"kept@example.com"}
    assert state_file(tmp_path, port).exists()


def test_state_past_a_thousand_objects_loads_back(tmp_path):
    """localstripe's own loader rewrote its file per object while reading it: 'pickle data was truncated'."""
    state = Store({f"customer:cus_{n}": {"id": f"cus_{n}", "email": f"driver{n}@example.com"} for n in range(1500)})
    path = state_file(tmp_path, 8420)

    state_dump(state, path)

    assert state_load(path) == dict(state)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_no_state_file_is_an_empty_state(tmp_path):
    assert state_load(state_file(tmp_path, 8420)) == {}

"""No client Host in any answer, redirects included: werkzeug's slash-merging redirects carry a relative Location."""
from __future__ import annotations

import pytest

from .test_gunicorn import Server
from .test_hostile_http import get, port

FORGED = b"evil.example.com"
# Targets the router answers with a redirect (merged slashes): pages, the API with its query, static files.
REDIRECTED = [b"//articles//ibuprofen", b"/articles///ibuprofen?from=x", b"//api//v1//search?q=cramps&k=1",
              b"/api//docs", b"//static//style.css"]


@pytest.fixture(scope="module")
def server(index_dir, tmp_path_factory):
    running = Server(index_dir, tmp_path_factory.mktemp("redirects"))
    try:
        yield running
    finally:
        running.stop()


def test_redirects_are_relative_and_never_name_the_clients_host(server):
    for target in REDIRECTED:
        status, headers, body = get(port(server), target, FORGED)
        assert status == 308, (target, status, body[:200])
        location = headers["location"]
        assert location.startswith("/") and not location.startswith("//"), (target, location)
        assert b"evil" not in body and "evil.example.com" not in str(headers), (target, headers, body[:300])
        followed, _, _ = get(port(server), location.encode(), FORGED)
        assert followed in (200, 404), (target, location, followed)  # a page or a clean 404: never another hop
    status, headers, _ = get(port(server), b"//articles//ibuprofen?q=a%20b", FORGED)
    assert headers["location"] == "/articles/ibuprofen?q=a%20b"

"""Health that tells the truth: a build that cannot be read fails /healthz and every answer is 503, not 500;
a newly published build is what /healthz names at once; the production server's workers say so in one line."""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from indexer.pipeline import build_index

from .conftest import CORPUS
from .serving import serving
from .test_gunicorn import Server

QUIET = {"log": lambda line: None}
UNREADABLE = "cannot be read"


def fetch(url: str) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.load(exc)


def assert_unavailable(status: int, body: dict) -> None:
    assert status == 503, (status, body)
    assert body["error"]["code"] == "index_unavailable" and "cannot be read" in body["error"]["message"]
    assert "/" not in body["error"]["message"]  # no server path reaches a client


@pytest.fixture()
def own_index(tmp_path, index_dir) -> Path:
    """A copy of the session's index that a test may delete."""
    return Path(shutil.copytree(index_dir, tmp_path / "index", symlinks=True))


def test_a_deleted_index_fails_health_and_answers_503_until_a_build_is_published(own_index, embedder, caplog):
    from search_app import create_app

    caplog.set_level(logging.INFO, logger="medsearch.live")
    app = create_app({"index": str(own_index), "reload_interval_ms": 50})
    with serving(app) as base:  # a real server: each request on a new thread, as a respawned worker's are
        status, _, health = fetch(base + "/healthz")
        assert status == 200 and health["status"] == "ok"
        shutil.rmtree(own_index)
        for path in ("/api/v1/search?q=cramps", "/healthz", "/api/search?q=ibuprofen", "/healthz"):
            status, headers, body = fetch(base + path)
            assert_unavailable(status, body)
            assert "X-Medsearch-Build" not in headers  # no build answered
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(base + "/search?q=cramps", timeout=30)
        assert page.value.code == 503 and b"cannot be read" in page.value.read()
        said = [r for r in caplog.records if UNREADABLE in r.getMessage()]
        assert len(said) == 1 and said[0].levelname == "ERROR" and str(own_index) in said[0].getMessage()
        assert not [r for r in caplog.records if r.exc_info]  # said in a line, never a traceback

        newer = build_index([CORPUS], own_index, embedder, **QUIET).build_id  # the index is built again
        status, headers, health = fetch(base + "/healthz")
        assert status == 200 and health["build_id"] == newer == headers["X-Medsearch-Build"]
        status, headers, _ = fetch(base + "/api/v1/search?q=cramps")
        assert status == 200 and headers["X-Medsearch-Build"] == newer


def test_healthz_names_a_newly_published_build_at_once(own_index, embedder):
    from search_app import create_app

    app = create_app({"index": str(own_index), "reload_interval_ms": 3_600_000})  # no request-driven check soon
    client = app.test_client()
    first = client.get("/healthz").get_json()["build_id"]
    newer = build_index([CORPUS], own_index, embedder, force=True, **QUIET).build_id
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["build_id"] == newer != first
    assert health.get_json()["published_build_id"] == newer and health.headers["X-Medsearch-Build"] == newer
    assert client.get("/api/v1/search?q=cramps").headers["X-Medsearch-Build"] == newer


def test_hot_swap_off_keeps_the_build_but_still_checks_it_can_be_read(own_index, embedder):
    from search_app import create_app

    app = create_app({"index": str(own_index), "reload_interval_ms": 0})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    build_index([CORPUS], own_index, embedder, force=True, keep_builds=1, **QUIET)  # the served build is pruned
    health = client.get("/healthz")
    assert_unavailable(health.status_code, health.get_json())


def test_production_workers_stop_taking_traffic_when_the_index_is_deleted(tmp_path, embedder):
    index_dir = tmp_path / "index"
    build_index([CORPUS], index_dir, embedder, **QUIET)
    srv = Server(index_dir, tmp_path)
    try:
        assert fetch(srv.base + "/healthz")[0] == 200
        deadline = time.monotonic() + 60
        while len(srv.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(index_dir)
        # Every worker, whichever answers, fails its health check and refuses searches with 503.
        for _ in range(6):
            assert_unavailable(*fetch(srv.base + "/healthz")[::2])
            assert_unavailable(*fetch(srv.base + "/api/v1/search?q=cramps")[::2])

        # A worker started after the index vanished says so in one log line, and answers 503 too.
        before = srv.workers()
        os.kill(min(before), signal.SIGKILL)
        fresh = srv.wait_for(lambda line: line["message"].startswith("Booting worker") and line["pid"] not in before
                             and line["pid"])
        srv.wait_for(lambda line: line["pid"] == fresh and UNREADABLE in line["message"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line["pid"] == fresh for line in srv.lines(srv.out)):
            assert_unavailable(*fetch(srv.base + "/healthz")[::2])
        said = [line for line in srv.lines(srv.err) if line["pid"] == fresh and line["level"] == "error"]
        assert len(said) == 1 and UNREADABLE in said[0]["message"] and str(index_dir) in said[0]["message"]

        # Published again: every worker serves the new build, without a restart.
        newer = build_index([CORPUS], index_dir, embedder, **QUIET).build_id
        deadline = time.monotonic() + 60
        recent: list[tuple[int, str]] = []
        while time.monotonic() < deadline and not (len(recent) >= 10 and set(recent[-10:]) == {(200, newer)}):
            status, _, body = fetch(srv.base + "/healthz")
            recent.append((status, body.get("build_id", "")))
        assert set(recent[-10:]) == {(200, newer)}
    finally:
        srv.stop()
    access = srv.lines(srv.out)
    assert {line["status"] for line in access} <= {200, 503}  # never a 500
    assert not [line for line in srv.lines(srv.err) if "exception" in line or "Traceback" in line.get("message", "")]

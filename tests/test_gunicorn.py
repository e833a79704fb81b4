"""The production server as `make serve-prod` runs it: gunicorn, preloaded app, JSON logs, hot swap per worker."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from indexer.pipeline import build_index

from .conftest import ROOT
from .test_hot_swap import corpus

GUNICORN = Path(sys.executable).parent / "gunicorn"


class Server:
    """A gunicorn master started for one test; its JSON log lines are read as they come."""

    def __init__(self, index_dir: Path, log_dir: Path, env: dict[str, str] | None = None):
        env = {**os.environ, "MEDSEARCH_INDEX": str(index_dir), "MEDSEARCH_HOST": "127.0.0.1", "MEDSEARCH_PORT": "0",
               "MEDSEARCH_WORKERS": "2", "MEDSEARCH_THREADS": "2", "MEDSEARCH_RELOAD_INTERVAL_MS": "100", **(env or {})}
        self.out, self.err = log_dir / "access.log", log_dir / "error.log"
        self.process = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                                        stdout=self.out.open("w"), stderr=self.err.open("w"))
        found = self.wait_for(lambda line: re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line.get("message", "")))
        self.base = f"http://127.0.0.1:{found.group(1)}"

    def lines(self, path: Path) -> list[dict]:
        """The complete log lines so far: a line a worker is still writing has no newline yet and waits."""
        complete = path.read_text().rpartition("\n")[0]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def wait_for(self, match, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines(self.err):
                found = match(line)
                if found:
                    return found
            assert self.process.poll() is None, self.err.read_text()[-2000:]
            time.sleep(0.1)
        raise AssertionError(f"not seen in the server log within {timeout} s")

    def workers(self) -> set[int]:
        """Pids of the workers booted so far."""
        return {line["pid"] for line in self.lines(self.err) if line["message"].startswith("Booting worker")}

    def get(self, path: str) -> tuple[int, str, dict]:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:
            return response.status, response.headers["X-Medsearch-Build"], json.load(response)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # quick shutdown: the test is over
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture()
def server(tmp_path, embedder):
    sources = {word: corpus(tmp_path, word) for word in ("alpha", "beta")}
    index_dir = tmp_path / "index"
    build_index([sources["alpha"]], index_dir, embedder, log=lambda line: None)
    running = Server(index_dir, tmp_path)
    try:
        yield running, index_dir, sources
    finally:
        running.stop()


def test_served_by_preloaded_workers_with_json_logs_and_live_swaps(server, embedder):
    srv, index_dir, sources = server
    status, first_build, body = srv.get("/api/v1/search?q=private+question+about+cramps&k=2")
    assert status == 200 and body["build_id"] == first_build
    deadline = time.monotonic() + 60  # on a loaded machine the second worker may log its boot a little later
    while len(srv.workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(srv.workers()) == 2
    # The ONNX default never loads torch into a worker (it would cost each about 150 MiB of its own).
    assert not [pid for pid in srv.workers() if "libtorch" in Path(f"/proc/{pid}/maps").read_text()]

    # A new build is published: every worker swaps to it, with no restart.
    newer = build_index([sources["beta"]], index_dir, embedder, force=True, log=lambda line: None).build_id
    deadline = time.monotonic() + 60
    recent: list[str] = []
    while time.monotonic() < deadline and not (len(recent) >= 20 and set(recent[-20:]) == {newer}):
        status, build, _ = srv.get("/api/v1/search?q=marker&k=1")
        assert status == 200
        recent.append(build)
    assert set(recent[-20:]) == {newer}

    # A worker that dies is replaced by a fork of the master, which still holds the first build:
    # the new worker opens the published build before its first request.
    before = srv.workers()
    os.kill(min(before), signal.SIGKILL)
    replacement = srv.wait_for(lambda line: line["message"].startswith("Booting worker") and line["pid"] not in before
                               and line["pid"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(line["pid"] == replacement for line in srv.lines(srv.out)):
        srv.get("/healthz")
    served_by_new = [line for line in srv.lines(srv.out) if line["pid"] == replacement]
    assert served_by_new and {line["build"] for line in served_by_new} == {newer}

    # Access lines are JSON with the build that answered, and never the reader's question.
    access = srv.lines(srv.out)
    assert {"path", "status", "duration_ms", "build", "method", "remote"} <= set(access[0])
    assert all(line["status"] == 200 for line in access)
    assert "private" not in srv.out.read_text()
    assert not [line for line in srv.lines(srv.err) if line["level"] in ("error", "critical") and
                "SIGKILL" not in line["message"] and "exited" not in line["message"]]

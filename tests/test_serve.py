"""The README's commands as a person runs them: quiet on a fresh machine, served by gunicorn, --dev by Flask."""
from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from .conftest import CORPUS, ROOT

NOISE = re.compile(r"WARNING|DEBUG|Loading weights|development server|Traceback|it/s\]|pre-processing", re.I)


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")}
    return {**base, **extra}


class Served:
    """``python -m search_app serve ...`` in the background, until its first line names its address."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, ready: re.Pattern):
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "search_app", "serve", *args], cwd=ROOT, env=env,
                                        stdout=log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = ready.search(log.read_text())
            if found:
                self.base = found.group(1)
                return
            assert self.process.poll() is None, log.read_text()
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the server did not start within 120 s:\n{log.read_text()}")

    def get(self, path: str, **headers: str):
        request = urllib.request.Request(self.base + path, headers=headers)
        return urllib.request.urlopen(request, timeout=30)

    def stop(self) -> str:
        """Ctrl-C, as a person stops it; returns everything it printed."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return self.log.read_text()


def test_a_fresh_build_prints_no_third_party_warnings_or_debug_lines(tmp_path):
    # A fresh model cache: the ONNX export and its int8 quantisation happen in this build, as on a new machine.
    result = subprocess.run([sys.executable, "-m", "indexer", "build", str(CORPUS), "--index", str(tmp_path / "ix")],
                            cwd=ROOT, env=_env(MEDSEARCH_MODEL_CACHE=str(tmp_path / "cache")),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache").is_dir() and any((tmp_path / "cache").rglob("model.onnx"))
    output = result.stdout + result.stderr
    assert not [line for line in output.splitlines() if NOISE.search(line)], output
    assert "published build" in result.stdout


def test_serve_is_gunicorn_with_one_worker_and_says_only_where_it_listens(index_dir, tmp_path):
    served = Served(["--index", str(index_dir), "--port", "0"], _env(), tmp_path / "serve.log",
                    re.compile(r"at (http://127\.0\.0\.1:\d+) "))
    try:
        with served.get("/search?q=amitriptyline+cramps") as response:
            assert response.status == 200 and response.headers["Server"].startswith("gunicorn")
            page = response.read().decode()
        assert "Can amitriptyline cause muscle cramps?" in page
        style = re.search(r'href="(/static/style\.css\?v=[0-9a-f]{12})"', page).group(1)
        with served.get(style, **{"Accept-Encoding": "gzip"}) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert "immutable" in response.headers["Cache-Control"]
            assert b":root" in gzip.decompress(response.read())
    finally:
        output = served.stop()
    assert served.process.returncode == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medsearch: serving build "), output
    assert "1 worker" in lines[0] and not NOISE.search(output)


def test_ctrl_c_stops_the_worker_at_once_whatever_stop_signals_follow(index_dir, tmp_path):
    # Ctrl-C signals the worker twice: SIGINT from the terminal (the whole process group), then SIGQUIT from the
    # arbiter. A second signal handled inside the first one's handler waited forever on a lock the first held, and
    # the arbiter killed the worker after 30 s with an error line; one handled during the worker's exit hook ended
    # it with an error line. A stream of stop signals behind the Ctrl-C lands in those places (and nested handlers
    # up to Python's recursion limit); the worker must stop on the first and ignore the rest.
    served = Served(["--index", str(index_dir), "--port", "0"], _env(), tmp_path / "serve.log",
                    re.compile(r"at (http://127\.0\.0\.1:\d+) "))
    try:
        with served.get("/healthz") as response:
            assert response.status == 200
        [worker] = psutil.Process(served.process.pid).children()
        os.killpg(served.process.pid, signal.SIGINT)
        end = time.monotonic() + 0.3
        try:
            while time.monotonic() < end and worker.status() != psutil.STATUS_ZOMBIE:
                worker.send_signal(signal.SIGQUIT)
                worker.send_signal(signal.SIGINT)
        except psutil.NoSuchProcess:  # the worker has exited and been reaped
            pass
        served.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass  # the worker is stuck: the server is killed below and its output shown
    finally:
        if served.process.poll() is None:
            os.killpg(served.process.pid, signal.SIGKILL)
            served.process.wait()
    output = served.log.read_text()
    assert served.process.returncode == 0, output
    assert len(output.strip().splitlines()) == 1, output


def test_serve_dev_is_flasks_server_with_its_reloader(index_dir, tmp_path):
    served = Served(["--index", str(index_dir), "--port", "0", "--dev"], _env(), tmp_path / "dev.log",
                    re.compile(r"Running on (http://127\.0\.0\.1:\d+)"))
    try:
        deadline = time.monotonic() + 120
        while True:  # the reloader's second process loads the model before it answers
            try:
                with served.get("/healthz") as response:
                    assert response.status == 200 and response.headers["Server"].startswith("Werkzeug")
                    break
            except OSError:
                assert time.monotonic() < deadline, served.log.read_text()
                time.sleep(0.5)
    finally:
        output = served.stop()
    assert "Restarting with" in output  # the reloader runs the server in a child it restarts on changes
    assert "Traceback" not in output


def test_serve_with_a_missing_index_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "search_app", "serve", "--index", str(tmp_path / "none")],
                            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.mark.parametrize("name", ["style.css", "search.js", "favicon.svg"])
def test_static_files_have_a_versioned_url_a_year_of_cache_and_gzip(client, name):
    page = client.get("/").get_data(as_text=True)
    url = re.search(rf'(/static/{re.escape(name)}\?v=([0-9a-f]{{12}}))"', page)
    assert url, page[:400]
    versioned, version = url.groups()
    plain = client.get(versioned)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    packed = client.get(versioned, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data)
    # The version is the file's content: the same bytes under another version, or none, are not cached for long.
    assert client.get(f"/static/{name}?v=000000000000").headers["Cache-Control"] == "no-cache"
    assert client.get(f"/static/{name}").headers["Cache-Control"] == "no-cache"
    again = client.get(versioned, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/static/nothing-here.css").status_code == 404

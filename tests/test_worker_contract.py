"""The contract of search_app/web/worker.py, a version-locked adapter over gunicorn's ThreadWorker internals.

RequestWorker overrides and calls methods of gunicorn's threaded worker that are not a public API. These tests
fail, naming what moved, when the installed gunicorn is not the version the adapter was written for or no longer
has what it overrides with the same parameters. The behaviour itself is tested against the real server in
tests/test_hostile_http.py and tests/test_gunicorn.py.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import gunicorn
from gunicorn.workers.gthread import TConn, ThreadWorker

from search_app.web import worker

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_gunicorn_is_the_version_the_adapter_is_locked_to():
    assert gunicorn.__version__ == worker.GUNICORN_VERSION
    pins = {path: re.search(r"gunicorn==([\w.]+)", (ROOT / path).read_text()) for path in
            ("pyproject.toml", "requirements.txt")}
    assert {path: found and found.group(1) for path, found in pins.items()} == {
        "pyproject.toml": worker.GUNICORN_VERSION, "requirements.txt": worker.GUNICORN_VERSION}


def test_every_base_method_the_adapter_overrides_keeps_its_parameters():
    moved = {name: str(inspect.signature(getattr(ThreadWorker, name))) if hasattr(ThreadWorker, name) else None
             for name in worker.ADAPTS}
    assert moved == worker.ADAPTS


def test_the_adapter_names_every_base_method_it_overrides():
    own = {name for name, value in vars(worker.RequestWorker).items() if callable(value) or isinstance(value, staticmethod)}
    overridden = {name for name in own if hasattr(ThreadWorker, name)}
    assert overridden <= set(worker.ADAPTS), sorted(overridden - set(worker.ADAPTS))


def test_the_base_state_the_adapter_reads_is_still_set_where_it_was():
    source = inspect.getsource(ThreadWorker.init_process) + inspect.getsource(ThreadWorker.__init__)
    assert all(re.search(rf"self\.{name}\s*=", source) for name in worker.ADAPTS_STATE), worker.ADAPTS_STATE
    assert list(inspect.signature(TConn.__init__).parameters) == ["self", "cfg", "sock", "client", "server"]

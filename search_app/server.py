"""The server `python -m search_app serve` (and so `make serve`) runs: gunicorn in this process, one worker.

The same production server as `make serve-prod` (gunicorn.conf.py), sized and worded for one person's
machine: one worker of ``threads`` threads, forked from a master that loaded the model and index once,
gunicorn's own messages only from warnings up, no access log, and one line saying where to point the
browser. ``serve --dev`` runs Flask's development server with its reloader instead.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

# The request limits of gunicorn.conf.py: a query of the longest length the API accepts fits in a request line.
LIMITS = {"timeout": 30, "graceful_timeout": 30, "keepalive": 5, "limit_request_line": 8190,
          "limit_request_fields": 50, "limit_request_field_size": 8190}


class _Gunicorn(BaseApplication):
    """gunicorn with its settings given here instead of read from a file or argv."""

    def __init__(self, load: Callable[[], Any], options: dict[str, Any]):
        self._load, self._options = load, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._load()


def _announce(build_id: Callable[[], str], threads: int) -> Callable:
    def when_ready(server) -> None:
        where = ", ".join(str(listener) for listener in server.LISTENERS)
        print(f"medsearch: serving build {build_id()} at {where} (gunicorn, 1 worker, {threads} threads); "
              "press Ctrl-C to stop", file=sys.stderr, flush=True)
    return when_ready


def worker_exit(server, worker) -> None:
    """End a worker here, with its exit status, without the interpreter's teardown (a gunicorn hook).

    onnxruntime, once imported by the master that forks the workers, hangs the teardown of a forked
    child (in C++, after the last Python frame): each worker told to stop (Ctrl-C, a restart, a deploy)
    would wait out ``graceful_timeout`` (30 s) and be killed with an error line. The worker's requests
    are done by then and its logs are flushed here; nothing else of it needs to be torn down.
    """
    exc = sys.exc_info()[1]
    code = exc.code if isinstance(exc, SystemExit) else (1 if exc is not None else 0)
    if not isinstance(code, int):
        code = 0 if code is None else 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _refresh(worker) -> None:
    """A worker forked after a hot swap starts from the master's build: open the published one first (or say
    in one line that it cannot be read), then watch `current` from a thread of the worker's own."""
    live = worker.wsgi.extensions["medsearch_live"]
    live.refresh()
    live.watch()


def run(conf: dict) -> None:
    """Load the app (a bad index fails here, before anything binds), then serve it until Ctrl-C."""
    from . import create_app

    # One model thread per request thread: the threads are the concurrency (see gunicorn.conf.py). Set before
    # the ONNX Runtime session is made in this process: a session made with a thread pool and then forked has
    # a worker that hangs on exit (joining pool threads the fork did not copy) until gunicorn kills it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    app = create_app(conf)
    options = {
        "bind": [f"{conf['host']}:{conf['port']}"], "workers": 1, "threads": conf["threads"],
        # The production worker: a request is read whole before a thread takes it, and the rest of an answer the
        # client does not take at once is sent after the thread lets go of it (search_app/worker.py).
        "worker_class": "search_app.worker.RequestWorker", "worker_connections": 1000,
        "preload_app": True, "proc_name": "medsearch", "loglevel": "warning",
        "accesslog": None, "control_socket_disable": True, **LIMITS,
        "when_ready": _announce(lambda: app.extensions["medsearch_live"].current().index.build_id, conf["threads"]),
        "post_worker_init": _refresh, "worker_exit": worker_exit,
    }
    _Gunicorn(lambda: app, options).run()


def run_dev(conf: dict) -> None:
    """Flask's development server with its reloader: code changes restart it (the model loads again)."""
    from werkzeug.serving import is_running_from_reloader, run_simple

    from . import create_app

    # The reloader's first process only watches files and restarts the second, which serves: only that one
    # needs the model and index.
    app = create_app(conf) if is_running_from_reloader() else _not_served
    run_simple(conf["host"], conf["port"], app, use_reloader=True, threaded=True)


def _not_served(environ, start_response):  # pragma: no cover - never called: this process only watches files
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]

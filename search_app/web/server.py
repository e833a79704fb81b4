"""The one gunicorn configuration, read by both servers: `make serve` (`python -m search_app serve`, gunicorn run
in this process by `run`) and `make serve-prod` (`gunicorn -c gunicorn.conf.py`, which takes `gunicorn_options`).

Both fork their workers from a master that loaded the model and index once, use the production worker
(search_app/web/worker.py: a request is read whole before a thread takes it, and what of an answer a client does not
take at once is sent from the worker's event loop) and the same limits and hooks. They differ only where a
person's machine and a deployment differ: `make serve` runs one worker, logs gunicorn's warnings only and says in
one line where to point the browser; `make serve-prod` runs ``workers`` workers and logs one JSON object a line
(the access log on stdout, everything else on stderr). ``serve --dev`` runs Flask's development server with its
reloader instead.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from .settings import AppSettings, ServerSettings

# A query of the longest length the API accepts, percent-encoded, fits in a request line.
LIMITS = {"timeout": 30, "graceful_timeout": 30, "keepalive": 5, "limit_request_line": 8190,
          "limit_request_fields": 50, "limit_request_field_size": 8190}


def gunicorn_options(settings: AppSettings, *, production: bool) -> dict[str, Any]:
    """gunicorn's settings for medsearch's ``settings``: a deployment's (``production``) or one person's."""
    server = settings.server
    options: dict[str, Any] = {
        "bind": [f"{server.host}:{server.port}"],
        "workers": server.workers if production else 1,
        "threads": server.threads,
        # gthread, except that each request is read on the worker's event loop and a thread takes it only once it
        # is whole, and what of its answer the client does not take at once is sent from the loop: slow senders,
        # half-open clients and clients that never read hold a socket each, never a thread (bench/README.md). A
        # request not whole within 10 s is dropped, an answer not taken within 20 s is reset; gunicorn's own
        # 400/414/431 answers come in the app's error shape.
        "worker_class": "search_app.web.worker.RequestWorker",
        "worker_connections": 1000,  # sockets per worker (slow clients included) before it stops accepting
        "preload_app": True,         # load the model and index once, before forking
        "proc_name": "medsearch",
        "control_socket_disable": True,  # no runtime control socket in $HOME (and no clash between two servers)
        **LIMITS,
        "post_fork": _post_fork(settings.search.backend), "post_worker_init": refresh, "worker_exit": worker_exit,
    }
    if production:
        options.update({"accesslog": "-", "logconfig_dict": LOGGING})
    else:
        options.update({"loglevel": "warning", "accesslog": None})
    return options


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines become fields (the query string is left out: it is health data)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name, "pid": record.process}
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            entry.update(remote=atoms["h"], method=atoms["m"], path=atoms["U"], status=_int(atoms["s"]),
                         bytes=_int(atoms["B"]), duration_ms=round(_int(atoms["D"]) / 1000, 2),
                         build=atoms["{x-medsearch-build}o"], user_agent=atoms["a"])
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        # Libraries that chatter at INFO (model loading, BM25 indexing) only speak up for warnings.
        "bm25s": {"level": "WARNING"}, "sentence_transformers": {"level": "WARNING"},
        "transformers": {"level": "WARNING"}, "httpx": {"level": "WARNING"}, "faiss": {"level": "WARNING"},
    },
}


def _post_fork(backend: str) -> Callable:
    """With the torch backend, each worker runs its model on one torch thread (the workers share the cores).

    The ONNX backends (the default) need nothing here: their session was made in the master with
    OMP_NUM_THREADS threads, and importing torch would add its libraries to every worker.
    """
    def post_fork(server, worker) -> None:
        if backend == "torch":
            import torch

            torch.set_num_threads(1)
    return post_fork


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


def refresh(worker) -> None:
    """A worker forked after a hot swap starts from the master's build: open the published one first (or say
    in one line that it cannot be read), then watch `current` from a thread of the worker's own."""
    live = worker.wsgi.extensions["medsearch_live"]
    live.refresh()
    live.watch()


def run(conf: Mapping[str, Any]) -> None:
    """Load the app for resolved settings (a bad index fails here, before anything binds), then serve it until
    Ctrl-C."""
    from . import create_app

    # One model thread per request thread: the threads are the concurrency (see gunicorn.conf.py). Set before
    # the ONNX Runtime session is made in this process: a session made with a thread pool and then forked has
    # a worker that hangs on exit (joining pool threads the fork did not copy) until gunicorn kills it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    app = create_app(conf)
    settings: AppSettings = app.config["MEDSEARCH"]
    options = gunicorn_options(settings, production=False)
    options["when_ready"] = _announce(lambda: app.extensions["medsearch_live"].current().index.build_id,
                                      settings.server.threads)
    _Gunicorn(lambda: app, options).run()


def run_dev(conf: Mapping[str, Any]) -> None:
    """Flask's development server with its reloader, for resolved settings: code changes restart it (the model
    loads again)."""
    from werkzeug.serving import is_running_from_reloader, run_simple

    from . import create_app

    # The reloader's first process only watches files and restarts the second, which serves: only that one
    # needs the model and index.
    server = ServerSettings.from_conf(conf)
    app = create_app(conf) if is_running_from_reloader() else _not_served
    run_simple(server.host, server.port, app, use_reloader=True, threaded=True)


def _not_served(environ, start_response):  # pragma: no cover - never called: this process only watches files
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]

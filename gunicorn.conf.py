"""Production server settings: `make serve-prod`, or `.venv/bin/gunicorn -c gunicorn.conf.py`.

The app is created once in the master (model and index loaded once) and the workers are
forked from it, so they share those memory pages instead of each loading its own copy.
Each worker answers several requests at once on threads. Address, workers and threads come
from the medsearch settings (`MEDSEARCH_HOST`, `MEDSEARCH_PORT`, `MEDSEARCH_WORKERS`,
`MEDSEARCH_THREADS`); gunicorn's own flags still override them. Logs are one JSON object a
line: the access log on stdout, everything else on stderr.
"""
import json
import logging
import os
import sys
import time

from indexer import settings as settings_mod

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the logs while the model loads
# One thread per worker thread (ONNX Runtime, torch and FAISS): concurrency comes from workers and threads,
# and OpenMP teams spinning for idle cores made each search about 1.5x slower on 2 cores (bench/README.md).
# Set before the app is loaded: OpenMP reads it once, and the ONNX session takes its thread count from it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    _conf = settings_mod.resolve()
except settings_mod.BadSetting as exc:  # refuse to start, in one line rather than gunicorn's traceback
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)

wsgi_app = "search_app.worker:production_app()"  # create_app(); a broken index is one error line
bind = [f"{_conf['host']}:{_conf['port']}"]
workers = _conf["workers"]
threads = _conf["threads"]
# gthread, except that each request (head and body) is read on the worker's event loop and a thread
# takes it only once it is whole, and what of its answer the client does not take at once is sent from
# the loop: slow senders, half-open clients and clients that never read hold a socket each, never a
# thread (search_app/worker.py; bench/README.md). A request not whole within 10 s is dropped, an answer
# not taken within 20 s is reset; gunicorn's own 400/414/431 answers come in the app's error shape.
worker_class = "search_app.worker.RequestWorker"
worker_connections = 1000   # sockets per worker (slow clients included) before it stops accepting
preload_app = True          # load the model and index once, before forking
timeout = 30                # a worker silent this long is restarted
graceful_timeout = 30
keepalive = 5               # an idle kept-alive connection waits on the event loop, not on a thread
limit_request_line = 8190   # room for the longest query the API accepts, percent-encoded
limit_request_fields = 50
limit_request_field_size = 8190
proc_name = "medsearch"
accesslog = "-"
control_socket_disable = True  # no runtime control socket in $HOME (and no clash between two servers)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines become fields (the query string is left out: it is health data)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
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


logconfig_dict = {
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


def post_fork(server, worker):
    """With the torch backend, each worker runs its model on one torch thread (the workers share the cores).

    The ONNX backends (the default) need nothing here: their session was made in the master with
    OMP_NUM_THREADS threads, and importing torch would add its libraries to every worker.
    """
    if _conf["backend"] == "torch":
        import torch

        torch.set_num_threads(1)


def post_worker_init(worker):
    """A worker forked after a hot swap starts from the master's build: open the published one first (or say
    in one line that it cannot be read), then watch `current` from a thread of the worker's own."""
    live = worker.wsgi.extensions["medsearch_live"]
    live.refresh()
    live.watch()


def worker_exit(server, worker):
    """A stopped worker ends at once, not 30 s later with an error line (onnxruntime; see search_app/server.py)."""
    from search_app.server import worker_exit as end

    end(server, worker)

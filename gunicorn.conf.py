"""Production server: `make serve-prod`, or `.venv/bin/gunicorn -c gunicorn.conf.py`.

The settings are those of `search_app.web.server.gunicorn_options`, the one configuration `make serve` uses too:
workers forked from one preloaded app (model and index loaded once), each answering on threads through the
production worker, one JSON object a log line. Address, workers and threads come from the medsearch settings
(`MEDSEARCH_HOST`, `MEDSEARCH_PORT`, `MEDSEARCH_WORKERS`, `MEDSEARCH_THREADS`); gunicorn's own flags still
override them.
"""
import os
import sys

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

from search_app.web.server import gunicorn_options  # noqa: E402  (after the environment above is set)
from search_app.web.settings import AppSettings  # noqa: E402

wsgi_app = "search_app.web.worker:production_app()"  # create_app(); a broken index is one error line
globals().update(gunicorn_options(AppSettings.from_conf(_conf), production=True))

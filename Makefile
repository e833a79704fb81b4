# The two commands: `make serve` (install, build the corpus index if missing or stale, serve)
# and `make test` (install, run the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INDEX ?= var/index
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: serve serve-prod test lint index install clean

# requirements.txt pins everything, setuptools included, so the project itself (pyproject.toml) installs
# editable without resolving or downloading anything again.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# The indexer compares fingerprints with the live build and does nothing when it is current.
index: install
	$(PY) -m indexer build corpus --index $(INDEX)

# gunicorn with one worker (search_app/web/server.py); `python -m search_app serve --dev` for Flask's reloader.
serve: index
	MEDSEARCH_INDEX=$(INDEX) $(PY) -m search_app serve --host $(HOST) --port $(PORT)

# Production: gunicorn, workers forked from one preloaded app (see gunicorn.conf.py), JSON logs.
serve-prod: index
	MEDSEARCH_INDEX=$(INDEX) MEDSEARCH_HOST=$(HOST) MEDSEARCH_PORT=$(PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py

# Debian's Chromium for the browser tests where this user may install it (.ci/chromium); pytest's last lines
# say what was skipped without it.
test: install
	@bash .ci/chromium
	$(PY) -m pytest -q

# The lint and type checks CI runs (ruff and mypy at the versions of requirements-dev.txt; settings in pyproject.toml).
lint: install
	$(PY) -m pip install -q -r requirements-dev.txt
	$(VENV)/bin/ruff check indexer search_app bench tests
	$(VENV)/bin/mypy indexer search_app

clean:
	rm -rf $(VENV) var

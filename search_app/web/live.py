"""Hot index swap and health: every request is answered by one searcher, of a build that can be read.

The indexer publishes a build by pointing ``INDEX/current`` at it (one atomic rename).
A serving process checks that pointer with one ``readlink`` at most every
``reload_interval_ms``: a server worker from a thread of its own (``watch``), so that a worker
no request reaches swaps as soon as a busy one; elsewhere on the first request after the
interval. When it moved, a background thread opens and checks the new build beside the live one,
warms it with a query, and swaps one reference. Requests already running keep the searcher they
started with (Python keeps it alive while they hold it), so no request fails, waits for the load,
or mixes two builds.

Each check also opens the served build's catalog as a new reader would. A build that can no
longer be read (its directory deleted or moved under the server) is logged once, and every
request, ``/healthz`` included, is answered 503 until it can be read again or a readable build is
published: a load balancer then takes the process out of rotation, where it used to answer 500s
while its health check said ok. ``/healthz`` checks at once, whatever the interval, and waits a
little for a newly published build to be swapped in, so that it names the build that is published.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app, g

from indexer.errors import IndexNotFound
from indexer.publishing import CURRENT

from ..core.ranking import Searcher, open_searcher
from ..core.settings import SearchSettings

log = logging.getLogger("medsearch.live")
# Longest a health check waits for a newly published build to be opened and swapped in; a load balancer's
# probe usually allows more, and a swap usually takes less (bench/README.md).
HEALTH_WAIT_S = 5.0


class LiveSearcher:
    """Holds the searcher of the live build, swaps in a newly published one without a restart, and knows
    whether the build it serves can still be read."""

    def __init__(self, settings: SearchSettings, reload_interval_ms: int,
                 opener: Callable[[SearchSettings], Searcher] = open_searcher):
        self._settings = settings
        self._opener = opener
        self._pointer = Path(settings.index) / CURRENT
        self._interval = max(0, reload_interval_ms) / 1000
        seen = self._read_pointer()  # read before opening: a publish during the open is noticed next check
        self._searcher = opener(settings)
        self._seen = seen or self._searcher.index.build_dir.name
        self._next_check = time.monotonic() + self._interval
        self._loading = threading.Lock()  # held by the one thread opening a new build
        self._loader: threading.Thread | None = None
        self._unreadable: str | None = None  # why the served build cannot be read, while it cannot
        self._watching = False
        self.swaps = 0

    def current(self) -> Searcher:
        """The searcher a new request should use, after at most one cheap check of ``current``.

        Raises IndexNotFound while the served build cannot be read (the app answers 503).
        """
        if self._interval and not self._watching:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self._interval
                self._check()
        return self._serving()

    def health(self, wait: float = HEALTH_WAIT_S) -> Searcher:
        """The searcher a health check reports: ``current`` looked at now, a newly published build picked up
        (waiting up to ``wait`` seconds for its swap), the served build checked readable."""
        if self._interval:
            self._check(wait)
        else:  # hot swap turned off: the build stays, but whether it can be read is still checked
            self.probe()
        return self._serving()

    def published(self) -> str | None:
        """The build ``current`` names now (None when the index is a build directory, or nothing is published)."""
        return self._read_pointer()

    def refresh(self) -> bool:
        """Open the published build now, in this thread, if it is not the one served; True if swapped.

        For a fresh server worker: it must not answer from a stale build while a newer one is live,
        and it says at once, in one log line, when the build it would serve cannot be read.
        """
        target = self._read_pointer()
        swapped = False
        if target is not None and target != self._searcher.index.build_dir.name:
            with self._loading:
                swapped = self._load(target)
        self.probe()
        return swapped

    def watch(self) -> None:
        """Check ``current`` every interval from a thread of its own (call it in a server worker, after the fork)."""
        if not self._interval or self._watching:
            return
        self._watching = True
        threading.Thread(target=self._watch, name="medsearch-watch", daemon=True).start()

    def probe(self) -> None:
        """Check that the served build can still be read; log once when it cannot, and once when it can again."""
        searcher = self._searcher
        try:
            searcher.index.check_readable()
        except IndexNotFound as exc:
            if searcher is not self._searcher:  # swapped meanwhile: the retired build does not matter
                return
            if self._unreadable is None:
                log.error("build %s cannot be read, so this process answers 503 (its health check too) until it can "
                          "or a readable build is published: %s", searcher.index.build_id, exc)
            self._unreadable = f"build {searcher.index.build_id} cannot be read: {exc}"
            return
        if self._unreadable is not None and searcher is self._searcher:
            log.info("build %s can be read again", searcher.index.build_id)
            self._unreadable = None

    def _serving(self) -> Searcher:
        reason = self._unreadable
        if reason is not None:
            raise IndexNotFound(reason)
        return self._searcher

    def _read_pointer(self) -> str | None:
        try:
            return Path(os.readlink(self._pointer)).name
        except OSError:  # no pointer (a build directory given directly, or the index deleted) or mid-publish
            return None

    def _watch(self) -> None:
        while True:
            time.sleep(self._interval)
            try:
                self._check()
            except Exception as exc:  # the watch goes on; requests still check on their own
                log.error("checking %s for a newly published build failed: %s", self._pointer, exc)
                self._watching = False
                return

    def _check(self, wait: float = 0.0) -> None:
        target = self._read_pointer()
        if target is not None and target != self._seen and self._loading.acquire(blocking=False):
            thread = threading.Thread(target=self._load_in_background, args=(target,), name="medsearch-swap",
                                      daemon=True)
            try:
                thread.start()
            except BaseException:
                self._loading.release()
                raise
            self._loader = thread
        loader = self._loader
        if wait and loader is not None:
            loader.join(wait)
        self.probe()

    def _load_in_background(self, target: str) -> None:
        try:
            self._load(target)
        finally:
            self._loading.release()

    def _load(self, target: str) -> bool:
        old = self._searcher
        started = time.perf_counter()
        try:
            searcher = self._opener(self._settings)
            searcher.search("warm up the new build", 1)  # first-query costs are paid here, not by a reader
        except Exception as exc:  # a broken or vanished build: keep serving the live one, say why once
            self._seen = target
            log.error("could not open the newly published build %s, still serving %s: %s", target,
                      old.index.build_id, exc)
            return False
        self._seen = searcher.index.build_dir.name  # the open may have found a build newer than ``target``
        if searcher.index.build_dir == old.index.build_dir:
            return False
        self._searcher = searcher  # one reference assignment: each request sees the old build or the new
        self._unreadable = None    # just opened and searched: it can be read
        self.swaps += 1
        log.info("now serving build %s (was %s), opened in %.2f s", searcher.index.build_id, old.index.build_id,
                 time.perf_counter() - started)
        return True


def pinned_searcher(health: bool = False) -> Searcher:
    """The searcher of the build answering this request, pinned on first use (as flaskr's ``get_db``).

    Everything a request touches (search, passages, articles, the build header) comes from
    this one build, also while a newer build is swapped in. ``health``: the health check's pin,
    which looks for a newly published build first. IndexNotFound while the build cannot be read.
    """
    if "searcher" not in g:
        live = current_app.extensions["medsearch_live"]
        g.searcher = live.health() if health else live.current()
    return g.searcher

"""Hot index swap: every request is answered by one searcher; a newly published build is swapped in live.

The indexer publishes a build by pointing ``INDEX/current`` at it (one atomic rename).
A serving process checks that pointer with one ``readlink`` at most every
``reload_interval_ms``; when it moved, a background thread opens and checks the new build
beside the live one, warms it with a query, and swaps one reference. Requests already
running keep the searcher they started with (Python keeps it alive while they hold it),
so no request fails, waits for the load, or mixes two builds.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from flask import current_app, g

from indexer.publishing import CURRENT

from .ranking import Searcher, open_searcher

log = logging.getLogger("medsearch.live")


class LiveSearcher:
    """Holds the searcher of the live build and swaps in a newly published one without a restart."""

    def __init__(self, conf: dict, opener: Callable[[dict], Searcher] = open_searcher):
        self._conf = conf
        self._opener = opener
        self._pointer = Path(conf["index"]) / CURRENT
        self._interval = max(0, int(conf["reload_interval_ms"])) / 1000
        seen = self._read_pointer()  # read before opening: a publish during the open is noticed next check
        self._searcher = opener(conf)
        self._seen = seen or self._searcher.index.build_dir.name
        self._next_check = time.monotonic() + self._interval
        self._loading = threading.Lock()  # held by the one thread opening a new build
        self.swaps = 0

    def current(self) -> Searcher:
        """The searcher a new request should use, after at most one cheap check of ``current``."""
        if self._interval:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self._interval
                self._check()
        return self._searcher

    def refresh(self) -> bool:
        """Open the published build now, in this thread, if it is not the one served; True if swapped.

        For a fresh server worker: it must not answer from a stale build while a newer one is live.
        """
        target = self._read_pointer()
        if target is None or target == self._searcher.index.build_dir.name:
            return False
        with self._loading:
            return self._load(target)

    def _read_pointer(self) -> str | None:
        try:
            return Path(os.readlink(self._pointer)).name
        except OSError:  # no pointer (a build directory given directly) or mid-publish: nothing to do
            return None

    def _check(self) -> None:
        target = self._read_pointer()
        if target is None or target == self._seen or not self._loading.acquire(blocking=False):
            return
        thread = threading.Thread(target=self._load_in_background, args=(target,), name="medsearch-swap", daemon=True)
        try:
            thread.start()
        except BaseException:
            self._loading.release()
            raise

    def _load_in_background(self, target: str) -> None:
        try:
            self._load(target)
        finally:
            self._loading.release()

    def _load(self, target: str) -> bool:
        old = self._searcher
        started = time.perf_counter()
        try:
            searcher = self._opener(self._conf)
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
        self.swaps += 1
        log.info("now serving build %s (was %s), opened in %.2f s", searcher.index.build_id, old.index.build_id,
                 time.perf_counter() - started)
        return True


def pinned_searcher() -> Searcher:
    """The searcher of the build answering this request, pinned on first use (as flaskr's ``get_db``).

    Everything a request touches (search, passages, articles, the build header) comes from
    this one build, also while a newer build is swapped in.
    """
    if "searcher" not in g:
        g.searcher = current_app.extensions["medsearch_live"].current()
    return g.searcher

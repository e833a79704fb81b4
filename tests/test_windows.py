"""The write embeds one window's new texts while it cuts the next (``indexer/windows.py``)."""
from __future__ import annotations

import threading
import time

from indexer.engines import LocalEngine
from indexer.index import SearchIndex
from indexer.pipeline import build_index

from .conftest import CORPUS


class Watched:
    """The real embedder, noting when the build's own thread counts tokens: it does so to cut passages."""

    def __init__(self, embedder):
        self._embedder = embedder
        self.cuts: list[float] = []

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def count_tokens(self, texts):
        if threading.current_thread() is threading.main_thread():
            self.cuts.append(time.perf_counter())
        return self._embedder.count_tokens(texts)


class Timed(LocalEngine):
    """The local engine, noting when and on which thread each window's texts are embedded."""

    def __init__(self, embedder):
        super().__init__(embedder)
        self.runs: list[tuple[float, float, str]] = []

    def encode(self, texts):
        start = time.perf_counter()
        vectors = super().encode(texts)
        self.runs.append((start, time.perf_counter(), threading.current_thread().name))
        return vectors


def test_passages_are_cut_while_the_window_before_is_embedded(tmp_path, embedder):
    watched = Watched(embedder)
    engine = Timed(embedder)
    report = build_index([CORPUS], tmp_path / "index", watched, window=4, engine=engine,  # type: ignore[arg-type]
                         log=lambda line: None, progress=False)
    assert report.exit_code == 0 and report.embedded == report.texts > 20
    assert len(engine.runs) > 5
    assert all(name.startswith("medsearch-embed-window") for _, _, name in engine.runs)  # never the build's thread
    # The build went on cutting passages while windows were being embedded.
    overlapped = [run for run in engine.runs if any(run[0] < cut < run[1] for cut in watched.cuts)]
    assert len(overlapped) >= len(engine.runs) // 2, (len(overlapped), len(engine.runs))
    index = SearchIndex.open(tmp_path / "index")
    assert index.text_count == report.texts and len(index) == report.passages

"""The write's passages, a window at a time: placed on their texts, embedded while the next window is cut.

Each passage is placed on its text (``texts.py``): the first passage of a text brings its vector and
BM25 document, later copies only point at it, so duplicates are never embedded, stored or indexed twice.
A passage carried from the live build (``LivePassage``) brings its text's vector from the live store; its
text's key is worked out once per text of the live build, not once per passage.

Embedding and the rest of the write take turns no longer: when a window is full, its new texts that the
embedding cache lacks are handed to one embedding thread (``Windows.flush``), and the build goes on reading,
chunking and placing the next window while they are embedded; the window is written (vectors, catalog rows,
BM25 documents, in text order) when the next one is full or at ``finish``. The model's runs release the GIL,
so on a machine of few cores the build costs about what embedding costs (bench/README.md, issue 29). At most
one window waits for its vectors; the cache, the catalog and the vector store are touched by the build's own
thread only.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import texts
from .cache import EmbeddingCache
from .carry import BuildCatalog, LivePassage
from .catalog import Row
from .embedding import Embedder
from .engines import Engine, LocalEngine
from .errors import MedsearchError
from .lexical import tokens
from .models import Passage, context_prefix
from .store import VectorStore
from .texts import TextTable

if TYPE_CHECKING:
    from .pipeline import BuildReport


@dataclass
class _Window:
    """One window placed on its texts, waiting for the vectors of the texts the cache lacked."""

    rows: list[Row]
    vectors: list[np.ndarray | None]   # by new text, in text order (None: being embedded)
    lexical: list[list[str]]           # the BM25 document of each new text
    todo: list[tuple[int, bytes, str]]  # (position in ``vectors``, cache key, text) of each text being embedded
    embedded: int = 0                  # new texts embedded for it (here, or by the engine ahead of the build)
    from_cache: int = 0                # new texts whose vectors the cache had
    embedding: Future | None = None    # the embedding thread's vectors of ``todo``, in its order


class Windows:
    """Passages waiting for vectors, written a window at a time in row order (module docstring)."""

    def __init__(self, vectors: VectorStore, catalog: BuildCatalog, embedder: Embedder, cache: EmbeddingCache,
                 report: BuildReport, on_flush: Callable[[int], None], window: int, engine: Engine | None = None,
                 ahead: int = 0, live_vectors: VectorStore | None = None):
        self.window = window
        self.engine = engine or LocalEngine(embedder)
        self.ahead = ahead  # cache hits still to be counted as embedded (the engine embedded them ahead)
        self.items: list[tuple[Passage | LivePassage, str]] = []  # each with its medicine (``texts.subject``)
        self.vectors, self.catalog, self.embedder, self.cache = vectors, catalog, embedder, cache
        self.live_vectors = live_vectors
        self.report, self.on_flush = report, on_flush
        self.lexical_docs: list[list[str]] = []
        self.texts = TextTable()
        self.keys = texts.remembering()
        self.live_keys: dict[int, tuple[bytes, bytes]] = {}  # live text id -> (its key, digest of its stored text)
        self._waiting: _Window | None = None  # the window whose texts are being embedded
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="medsearch-embed-window")

    def add(self, passage: Passage | LivePassage, medicine: str) -> None:
        """Queue a passage of an article about ``medicine``: one chunked now, or one of the live build carried over."""
        self.items.append((passage, medicine))
        if len(self.items) >= self.window:
            self.flush()

    def flush(self) -> None:
        """Place the queued passages on their texts and start embedding what the cache lacks; the window before
        is written meanwhile (its vectors are waited for)."""
        if not self.items:
            return
        window = self._place()
        if window.todo:  # queued behind the window before: the thread goes from one window to the next
            window.embedding = self._thread.submit(self._encode, [text for _, _, text in window.todo])
        self._write_waiting()
        self._waiting = window

    def finish(self) -> None:
        """Write every passage queued: the last window, after its vectors."""
        self.flush()
        self._write_waiting()

    def close(self) -> None:
        """Stop the embedding thread (after the run it is in, if any); what waits unwritten is dropped."""
        self._waiting = None
        self._thread.shutdown(wait=True, cancel_futures=True)

    # -- one window ---------------------------------------------------------------------------
    def _encode(self, batch: list[str]) -> np.ndarray:
        """The engine's vectors of texts the cache lacks, timed and counted in the report (embedding thread)."""
        t0 = time.perf_counter()
        fresh = self.engine.encode(batch)
        self.report.embed_seconds += time.perf_counter() - t0
        self.report.tokens_embedded += sum(min(n + 2, self.embedder.max_seq_length)
                                           for n in self.embedder.count_tokens(batch))
        return fresh

    def _live_texts(self) -> dict[int, str]:
        """The live texts of this window's carried passages whose key is not yet known (it is learnt here)."""
        unknown = {p.text_id for p, _ in self.items if isinstance(p, LivePassage) and p.text_id not in self.live_keys}
        found = self.catalog.live_texts(sorted(unknown)) if unknown else {}
        context = {p.text_id: (m, p.heading) for p, m in self.items if isinstance(p, LivePassage) and p.text_id in unknown}
        for text_id, text in found.items():
            # Every passage of a live text has the same key (that is what shares a text), so any one's medicine and
            # heading do.
            medicine, heading = context[text_id]
            self.live_keys[text_id] = (texts.key(medicine, heading, text), texts.digest(text))
        return found

    def _place(self) -> _Window:
        """Place the queued passages on their texts; the new texts' vectors from the live build and the cache."""
        fetched = self._live_texts()

        def live_text(text_id: int) -> str:
            if text_id not in fetched:
                fetched.update(self.catalog.live_texts([text_id]))
            return fetched[text_id]

        def own_text(p: Passage | LivePassage) -> str:
            if isinstance(p, Passage):
                return p.text
            return p.own if p.own is not None else live_text(p.text_id)

        rows: list[Row] = []
        new: list[Passage | LivePassage] = []  # the first passage of each new text, in text order
        for p, medicine in self.items:
            carried = isinstance(p, LivePassage)
            if isinstance(p, LivePassage):
                text_key, stored = self.live_keys[p.text_id]
                own = stored if p.own is None else texts.digest(p.own)
            else:
                text_key, own = self.keys(medicine, p.heading, p.text)
            known = self.texts.find(text_key)
            if known is None:
                rows.append((p.id, p.article_id, p.section_id, p.ordinal, self.texts.add(text_key, own), None,
                             own_text(p)))
                new.append(p)
            else:  # a copy keeps its own text only where its case or spacing differs from the text's
                rows.append((p.id, p.article_id, p.section_id, p.ordinal, known[0],
                             own_text(p) if known[1] != own else None, ""))
                self.report.shared += not carried
            self.report.carried += carried
        self.items = []
        vectors: list[np.ndarray | None] = [None] * len(new)
        live = [(i, p.text_id) for i, p in enumerate(new) if isinstance(p, LivePassage)]
        if live:
            if self.live_vectors is None:
                raise MedsearchError("a passage was carried over without the live build's vectors")
            found = self.live_vectors.vectors(np.array([text_id for _, text_id in live], dtype=np.int64))
            for (i, _), vector in zip(live, found):
                vectors[i] = vector
        missing = [(i, p.embed_text) for i, p in enumerate(new) if isinstance(p, Passage)]
        todo: list[tuple[int, bytes, str]] = []
        embedded = from_cache = 0
        if missing:
            keys = [self.cache.key(text) for _, text in missing]
            cached = self.cache.get_many(keys)
            for (i, text), key in zip(missing, keys):
                vector = cached.get(key)
                if vector is None:
                    todo.append((i, key, text))
                else:
                    vectors[i] = vector
            hits = len(missing) - len(todo)
            ahead, self.ahead = min(hits, self.ahead), self.ahead - min(hits, self.ahead)
            embedded, from_cache = len(todo) + ahead, hits - ahead
        lexical = [tokens(p.embed_text if isinstance(p, Passage) else context_prefix(p.title, p.heading) + own_text(p))
                   or ["\0"] for p in new]
        return _Window(rows, vectors, lexical, todo, embedded, from_cache)

    def _write_waiting(self) -> None:
        """Write the waiting window, once its texts are embedded (the cache keeps them at once)."""
        window, self._waiting = self._waiting, None
        if window is None:
            return
        if window.embedding is not None:
            fresh = window.embedding.result()  # re-raises the embedding's error here
            self.cache.put_many([key for _, key, _ in window.todo], fresh)
            for (i, _, _), vector in zip(window.todo, fresh):
                window.vectors[i] = vector
        if window.vectors:
            self.vectors.add(np.stack([v for v in window.vectors if v is not None]))  # every one is found by now
        self.catalog.add_rows(window.rows)
        self.lexical_docs.extend(window.lexical)
        self.report.embedded += window.embedded  # counted as written, as the progress line says
        self.report.from_cache += window.from_cache
        self.on_flush(len(window.rows))

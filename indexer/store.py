"""The vector index: the only module that imports FAISS."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

DEFAULT_FACTORY = "Flat"  # exact inner product; on unit vectors that is cosine similarity
HNSW_FACTORY = "HNSW32,Flat"  # graph search: sub-linear, approximate, no training step
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# A bigger graph needs a wider walk for the same recall: measured recall@10 against exact search was
# 0.988 at 34k and 0.984 at 200k vectors with 128, but 0.950 at 1M, where 512 gave 0.980 (bench/ann_recall.py).
HNSW_EF_SEARCH_LARGE = 512
HNSW_LARGE_FROM = 300_000
AUTO_HNSW_FROM = 200_000  # below this many passages exact search stays within a few ms here


def ef_search_for(vectors: int) -> int:
    """The HNSW efSearch an index of this many vectors is searched with."""
    return HNSW_EF_SEARCH_LARGE if vectors >= HNSW_LARGE_FROM else HNSW_EF_SEARCH


def choose_factory(index_type: str, passages: int) -> str:
    """FAISS factory string for an --index-type and corpus size."""
    if index_type == "flat":
        return DEFAULT_FACTORY
    if index_type == "hnsw":
        return HNSW_FACTORY
    if index_type == "auto":
        return HNSW_FACTORY if passages >= AUTO_HNSW_FROM else DEFAULT_FACTORY
    raise ValueError(f"unknown index type {index_type!r}; use flat, hnsw or auto")


class VectorStore:
    """A FAISS inner-product index whose row numbers are the passage rows of the catalog."""

    def __init__(self, index: faiss.Index, factory: str, ef_search: int | None = None):
        self._index = index
        self.factory = factory
        self._ef_search = ef_search
        self._view: np.ndarray | None = None

    @property
    def ef_search(self) -> int:
        """HNSW only: candidates kept while walking the graph (recall against speed); by size unless set."""
        return self._ef_search or ef_search_for(len(self))

    @ef_search.setter
    def ef_search(self, value: int | None) -> None:
        self._ef_search = value

    @classmethod
    def create(cls, dimension: int, factory: str = DEFAULT_FACTORY) -> VectorStore:
        """An empty index of the given dimension, built from a FAISS factory string."""
        index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
        if factory.startswith("HNSW"):
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION  # type: ignore[attr-defined]  # faiss's stubs lag
        return cls(index, factory)

    @classmethod
    def load(cls, path: Path, factory: str, ef_search: int | None = None) -> VectorStore:
        """Read an index written by ``save`` (searched with the efSearch its manifest records, if given)."""
        return cls(faiss.read_index(str(path)), factory, ef_search)

    def describe(self) -> dict:
        """What the manifest records about the vector index."""
        if self.factory.startswith("HNSW"):
            return {"factory": self.factory, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": self.ef_search,
                    "exact": False}
        return {"factory": self.factory, "exact": True}

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; their rows continue from the current size."""
        self._view = None
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the k nearest vectors to each query (rows are -1 where fewer exist).

        ``allowed`` restricts the search to those rows inside FAISS, so a filtered search
        still finds k results whenever k allowed rows exist.
        """
        k = max(1, min(k, len(self)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        selector = None if allowed is None else faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if self.factory.startswith("HNSW"):
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))  # type: ignore[attr-defined]
            if selector is not None:
                params.sel = selector
            return self._index.search(queries, k, params=params)
        if selector is None:
            return self._index.search(queries, k)
        return self._index.search(queries, k, params=faiss.SearchParameters(sel=selector))  # type: ignore[call-arg]

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the given rows."""
        stored = self._stored()
        if stored is None:
            return self._index.reconstruct_batch(np.ascontiguousarray(rows, dtype=np.int64))
        return stored[rows]

    def every_vector(self) -> np.ndarray:
        """Every stored vector, by position, read-only: a view of FAISS's buffer where the storage is flat (as both
        factories' is), else a copy."""
        stored = self._stored()
        if stored is not None:
            return stored
        every = self._index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self.dimension), np.float32)
        every.flags.writeable = False
        return every

    def _stored(self) -> np.ndarray | None:
        """A read-only view of every stored vector (flat storage only), made once the index is complete.

        ``reconstruct_batch`` copies through FAISS's wrapper on every call; a view gives the same
        float32 values by plain indexing. ``add`` may move FAISS's buffer, so it drops the view.
        """
        if self._view is None:
            flat = (faiss.downcast_index(self._index.storage)  # type: ignore[attr-defined]  # faiss's stubs lag
                    if self.factory.startswith("HNSW") else self._index)
            if not isinstance(flat, faiss.IndexFlat) or not len(self):
                return None
            self._view = faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.dimension).reshape(len(self), self.dimension)
            self._view.flags.writeable = False
        return self._view

    def save(self, path: Path) -> None:
        """Write the index to one file."""
        faiss.write_index(self._index, str(path))

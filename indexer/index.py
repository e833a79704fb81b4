"""A published build opened for searching: manifest checked, vectors and catalog loaded once."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import lexicon as lexicons
from . import manifest as manifests
from .publishing import live_build
from .catalog import Catalog
from .errors import IndexIncompatible
from .lexical import LexicalIndex
from .models import Article, Passage
from .section_types import SECTION_TYPES
from .store import VectorStore


class SearchIndex:
    """The vector store and catalog of one build; read-only and shared by all requests."""

    def __init__(self, build_dir: Path, manifest: dict[str, Any], vectors: VectorStore, catalog: Catalog):
        self.build_dir = build_dir
        self.manifest = manifest
        self.vectors = vectors
        self._size = len(vectors)  # an opened build never changes; ranking asks this several times a query
        self.catalog = catalog
        self.lexical = LexicalIndex.load(build_dir / manifests.BM25_DIR)
        # A build never changes, so article headers (cited by every result) are read from SQLite once.
        self._headers = lru_cache(maxsize=4096)(catalog.article_header)
        self.names: dict[str, list[str]] = lexicons.load(build_dir / manifests.LEXICON)["names"]
        # Per-row arrays let ranking score and filter candidates without touching SQLite.
        rows = catalog.row_table()
        self.article_ids: list[str] = sorted({r[1] for r in rows})
        position = {a: i for i, a in enumerate(self.article_ids)}
        sections: dict[tuple[str, str], int] = {}
        type_index = {t: i for i, t in enumerate(SECTION_TYPES)}
        self.row_article = np.array([position[r[1]] for r in rows], dtype=np.int32)
        self.row_section = np.array([sections.setdefault((r[1], r[2]), len(sections)) for r in rows], dtype=np.int32)
        self.row_type = np.array([type_index.get(r[3], type_index["other"]) for r in rows], dtype=np.int8)
        self.article_position = position
        self._section_keys = list(sections)

    @classmethod
    def open(cls, index_dir: Path, model: dict[str, Any] | None = None, checksums: bool = True) -> "SearchIndex":
        """Open the live build of ``index_dir``, refusing one that does not match its manifest or the model."""
        build_dir = live_build(Path(index_dir))
        manifest = manifests.read(build_dir)
        manifests.check(build_dir, manifest, model=model, checksums=checksums)
        vectors = VectorStore.load(build_dir / manifests.VECTORS, manifest.get("faiss_factory", "Flat"),
                                   manifest.get("vector_index", {}).get("efSearch"))
        catalog = Catalog(build_dir / manifests.CATALOG)
        counts = catalog.counts()
        expected = manifest.get("counts", {})
        rebuild = "rebuild it with `python -m indexer build`"
        if len(vectors) != expected.get("passages") or counts["passages"] != expected.get("passages"):
            raise IndexIncompatible(f"index {build_dir}: manifest says {expected.get('passages')} passages, the vector "
                                    f"store holds {len(vectors)} and the catalog {counts['passages']}; {rebuild}")
        if counts["articles"] != expected.get("articles"):
            raise IndexIncompatible(f"index {build_dir}: manifest says {expected.get('articles')} articles, the catalog "
                                    f"holds {counts['articles']}; {rebuild}")
        if model is None and vectors.dimension != manifest.get("model", {}).get("dimension"):
            raise IndexIncompatible(f"index {build_dir}: vectors have dimension {vectors.dimension}, manifest says "
                                    f"{manifest.get('model', {}).get('dimension')}; {rebuild}")
        return cls(build_dir, manifest, vectors, catalog)

    @property
    def build_id(self) -> str:
        return str(self.manifest.get("build_id", self.build_dir.name))

    def __len__(self) -> int:
        return self._size

    def nearest(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosine scores of the k passages nearest to one query vector, best first."""
        scores, rows = self.vectors.search(query.reshape(1, -1), k, allowed)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def catalog_key(self, row: int) -> tuple[str, str]:
        """(article id, section id) of a row, without a database round trip."""
        return self._section_keys[int(self.row_section[row])]

    def rows_of_articles(self, article_ids: set[str]) -> np.ndarray:
        """Rows of every passage of the given articles."""
        wanted = [self.article_position[a] for a in article_ids if a in self.article_position]
        return np.flatnonzero(np.isin(self.row_article, wanted))

    def passage(self, passage_id: str) -> Passage | None:
        return self.catalog.passage(passage_id)

    def article(self, article_id: str) -> Article | None:
        return self.catalog.article(article_id)

    def article_header(self, article_id: str) -> Article | None:
        """An article without its sections (title, link, front matter), cached for the life of the build."""
        return self._headers(article_id)

    def close(self) -> None:
        self.catalog.close()

"""A published build opened for searching: manifest checked, vectors and catalog loaded once."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import manifest as manifests
from .builds import live_build
from .catalog import Catalog
from .errors import IndexIncompatible
from .models import Article, Passage
from .store import VectorStore


class SearchIndex:
    """The vector store and catalog of one build; read-only and shared by all requests."""

    def __init__(self, build_dir: Path, manifest: dict[str, Any], vectors: VectorStore, catalog: Catalog):
        self.build_dir = build_dir
        self.manifest = manifest
        self.vectors = vectors
        self.catalog = catalog

    @classmethod
    def open(cls, index_dir: Path, model: dict[str, Any] | None = None, checksums: bool = True) -> "SearchIndex":
        """Open the live build of ``index_dir``, refusing one that does not match its manifest or the model."""
        build_dir = live_build(Path(index_dir))
        manifest = manifests.read(build_dir)
        manifests.check(build_dir, manifest, model=model, checksums=checksums)
        vectors = VectorStore.load(build_dir / manifests.VECTORS, manifest.get("faiss_factory", "Flat"))
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
        return len(self.vectors)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[Passage, float]]:
        """The k passages nearest to one query vector, best first."""
        scores, rows = self.vectors.search(query.reshape(1, -1), k)
        found = self.catalog.passages(rows[0])
        return [(found[int(r)], float(s)) for s, r in zip(scores[0], rows[0]) if int(r) in found]

    def passage(self, passage_id: str) -> Passage | None:
        return self.catalog.passage(passage_id)

    def article(self, article_id: str) -> Article | None:
        return self.catalog.article(article_id)

    def close(self) -> None:
        self.catalog.close()

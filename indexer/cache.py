"""Embedding cache: vectors keyed by model fingerprint and passage text, reused by every build.

It lives beside the builds (``INDEX/cache/embeddings.sqlite``) and is committed after every
batch, so a build that is killed keeps what it computed and the next run resumes from it.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import diskspace
from .errors import IndexUnwritable, MedsearchError


class EmbeddingCache:
    """A persistent map from (model, text) to a float32 vector."""

    def __init__(self, path: Path, model_fingerprint: str, dimension: int):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc, "its files") from None
        self._model = model_fingerprint.encode()
        self._dimension = dimension

    def key(self, text: str) -> bytes:
        """Cache key of a text under this model."""
        return hashlib.sha256(self._model + b"\0" + text.encode("utf-8")).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``keys``."""
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self._dimension,):
                    found[key] = vector
        return found

    def fill(self, keys: Sequence[bytes], texts: Sequence[str],
             encode: Callable[[list[str]], np.ndarray]) -> tuple[dict[bytes, np.ndarray], list[int]]:
        """The vector of every key (``texts[i]`` is the text of ``keys[i]``): those the cache lacks are encoded and stored.

        Returns the vectors by key and the positions that were encoded.
        """
        found = self.get_many(keys)
        todo = [i for i, key in enumerate(keys) if key not in found]
        if todo:
            fresh = encode([texts[i] for i in todo])
            self.put_many([keys[i] for i in todo], fresh)
            found.update({keys[i]: fresh[n] for n, i in enumerate(todo)})
        return found, todo

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors and commit, so they survive a crash of the build that computed them."""
        try:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                 [(key, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                                  for key, v in zip(keys, vectors)])
            self._db.commit()
        except sqlite3.OperationalError as exc:  # read-only file or folder, disk full
            size = sum(self._dimension * 4 + len(key) for key in keys)
            count = f"{len(keys)} vector" + ("s" if len(keys) != 1 else "")
            raise self._unwritable(exc, f"{count} ({diskspace.human(size)})") from None

    def _unwritable(self, exc: Exception, storing: str) -> MedsearchError:
        if diskspace.is_full(exc, self.path.parent):  # a full disk is not a permissions problem
            return diskspace.disk_full(self.path, exc, f"the embedding cache needs room for {storing}, and more for "
                                       "the new build beside it", "free some space there or choose another --index / "
                                       f"MEDSEARCH_INDEX; {diskspace.UNTOUCHED}")
        reason = getattr(exc, "strerror", None) or str(exc)
        return IndexUnwritable(f"cannot write the embedding cache {self.path}: {reason}; give this user write access "
                               f"to {self.path.parent}")

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self._db.close()

"""Where a build computes the vectors it is missing: in this process (``local``) or on a Ray cluster (``ray``).

An engine only computes vectors; the build around it (chunking, the embedding cache, the
vector store, catalog, BM25, manifest and publishing) is the same whichever engine runs, so
an index built either way is the same index. The manifest records the engine, outside the
recipe that decides whether a build is up to date.

Two calls make an engine: ``prepare(texts, cache, report)`` sees every text of the passages
the build will embed before the build writes anything, and may fill the embedding cache
with their vectors ahead of it (the Ray engine does: one job of Ray actors over all of them);
``encode(texts)`` embeds the texts of one window that the cache still lacks (the local engine
does all its work there, one window at a time, on the build's embedding thread while the build
cuts the next window: ``indexer/windows.py``).

Modules: ``local`` (the embedder of this process), ``ray_engine`` (Ray actors; optional, from
``requirements-ray.txt``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import MedsearchError
from .local import LocalEngine

if TYPE_CHECKING:
    from ..cache import EmbeddingCache
    from ..embedding import Embedder

ENGINES = ("local", "ray")
RAY_INSTALL = "pip install -r requirements-ray.txt"

__all__ = ["ENGINES", "Engine", "EngineFailed", "LocalEngine", "RayNotInstalled", "check_engine", "open_engine"]


class RayNotInstalled(MedsearchError):
    """``--engine ray`` on a machine without Ray."""


class EngineFailed(MedsearchError):
    """The engine could not compute the vectors (a cluster that cannot be joined, a job that failed)."""


class Engine(Protocol):
    """What a build asks of an engine."""

    name: str

    def prepare(self, texts: Iterable[str], cache: EmbeddingCache, report) -> int:
        """Embed ahead of the build what ``texts`` need and the cache lacks; returns how many were embedded."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of texts the cache still lacks when the build reaches them, in order."""

    def close(self) -> None:
        """Release what the engine holds (a Ray session it started)."""


def check_engine(name: str, backend: str) -> None:
    """Refuse, before any model is loaded, an engine this machine or backend cannot run, saying what to do."""
    if name not in ENGINES:
        raise MedsearchError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
    if name != "ray":
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        raise RayNotInstalled(f"--engine ray needs Ray, which is not installed here: install it with "
                              f"`{RAY_INSTALL}` (or build with --engine local)") from None
    if backend == "torch":
        raise EngineFailed("the ray engine runs the ONNX backends (onnx, onnx-int8), whose export it ships to its "
                           "actors: use --backend onnx or onnx-int8, or build with --engine local")


def open_engine(name: str, embedder: Embedder, ray_address: str = "", ray_actors: int = 0,
                log: Callable[[str], None] = lambda line: None) -> Engine:
    """The engine a build setting names, ready to use; Ray is imported (and started, when needed) only for ``ray``."""
    check_engine(name, embedder.backend)
    if name == "local":
        return LocalEngine(embedder)
    from .ray_engine import RayEngine

    return RayEngine(embedder, address=ray_address, actors=ray_actors, log=log)

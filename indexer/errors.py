"""Core exceptions; each message says what went wrong and, where it can, what to run."""
from __future__ import annotations


class MedsearchError(Exception):
    """Base class of every foreseeable medsearch failure."""


class BadArticle(MedsearchError):
    """A source file or record that cannot be turned into an article."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotFound(MedsearchError):
    """No usable index at the given directory."""


class IndexIncompatible(MedsearchError):
    """An index that exists but does not match this code, model or its own checksums."""


class IndexUnwritable(MedsearchError):
    """An index or cache directory that this process cannot create or write."""


class DiskFull(MedsearchError):
    """A disk with no room left for what a build writes (the new build, the embedding cache, the model cache)."""


class BuildLocked(MedsearchError):
    """Another build holds the index lock."""


class BadQuery(MedsearchError):
    """A search request that cannot be answered as asked."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

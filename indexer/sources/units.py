"""Source units: the parts of the sources that are read on their own, each fingerprinted from its bytes.

A unit is a file (a Markdown page, a JSONL file, an SPL document), or one member of a DailyMed zip
(one label's zip): the smallest part whose bytes alone decide what it yields. Its ``digest`` is a
hash of those bytes, taken before it is parsed, so that a build can tell an unchanged unit from a
changed one without parsing it, and reuse what that unit yielded the last time it was read
(``indexer/source_cache.py``). A unit read from a stream (an openFDA JSON file, read a record at a
time) or one that could not be read has no digest: it is parsed every time.

A member of a zip takes from its zip's unpacking budget (``dailymed.py``): the bytes of the member
when it is read, and, when it is parsed, the bytes of what is inside it. A unit that is not parsed
is charged what its parse took the last time (`Unit.reuse`), so that the budget runs out where it
would have; a unit whose parse met the end of the budget is not ``cacheable``: what it yielded
depends on the units before it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import Skipped, not_text, printable


def digest(data: bytes) -> str:
    """The fingerprint of a unit's bytes."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


class Budget:
    """What is left to unpack from one zip, shared by its units."""

    def __init__(self, total: int, why: str):
        self.left = total
        self.why = why
        self.exhausted = False  # a read was refused for want of it: what follows is not read


class Unit:
    """One part of the sources read on its own: its place, the fingerprint of its bytes, and how to parse it."""

    def __init__(self, path: str, digest: str | None, parse: Callable[[], Iterable[Article | Skipped]],
                 budget: Budget | None = None):
        self.path = printable(path)
        self.digest = digest          # None: parsed every time (a streamed file, or a part that could not be read)
        self._parse = parse
        self._budget = budget
        self.unpacked = 0             # what its parse took from its zip's budget, once ``items`` is spent
        self.cacheable = digest is not None

    @classmethod
    def failed(cls, skipped: Skipped) -> Unit:
        """A part that could not be read: it yields only why."""
        return cls(skipped.path, None, lambda: [skipped])

    def items(self) -> Iterator[Article | Skipped]:
        """Parse it: its articles and skipped records, each safe to print; a parser's failure is a Skipped."""
        before = self._budget.left if self._budget is not None else 0
        exhausted = self._budget.exhausted if self._budget is not None else False
        try:
            for item in self._parse():
                yield escaped(item)
        except BadArticle as exc:
            yield escaped(Skipped(exc.path, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a parser bug on one part must not stop a build
            yield Skipped(self.path, f"could not be loaded ({type(exc).__name__}: {printable(str(exc))})")
        if self._budget is not None:
            self.unpacked = before - self._budget.left
            if self._budget.exhausted and not exhausted:
                self.cacheable = False

    def reuse(self, unpacked: int) -> bool:
        """Take what its parse took from its zip's budget without parsing it; False (nothing taken) when the budget
        cannot give that much, so that it must be parsed to say what it yields."""
        if self._budget is None:
            return True
        if unpacked > self._budget.left:
            return False
        self._budget.left -= unpacked
        return True


def escaped(item: Article | Skipped) -> Article | Skipped:
    """An item whose paths and messages are safe to print on one line; an article that is not all text is skipped."""
    if isinstance(item, Skipped):
        return Skipped(printable(item.path), printable(item.reason))
    problem = not_text(item)
    if problem:
        return Skipped(printable(item.source_path), f"article {item.id!r} {problem}")
    safe = printable(item.source_path)
    warnings = tuple(printable(w) for w in item.warnings)
    if safe != item.source_path or warnings != item.warnings:
        item = dataclasses.replace(item, source_path=safe, warnings=warnings)
    return item

"""What the scan parsed, kept for the write, so that a build parses each unit of its sources once.

A build reads its sources twice (``pipeline.py``): the scan fingerprints every article, then the write
chunks those to be written anew. A unit that the source cache does not know (``source_cache.py``:
every unit of a cold build) is parsed by the scan, and the write needs its articles again; parsing a
label's SPL costs many times what reading it back costs. So the scan pickles what each such unit
yielded into one temporary file beside the builds, and the write reads it back from there.

Memory stays bounded as the passes' is: the file holds the articles, memory only where each unit's
start is. The file has no name (the system removes it however the build ends). Kept are only units
with a digest whose parse did not meet the end of their zip's budget (what such a unit yields depends
on the units before it), as for the source cache. Where the file cannot be written (a full disk),
nothing more is kept, and the write parses those units again: this is a saving, never a condition.
"""
from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

from .models import Article
from .sources import Skipped


class ParsedUnits:
    """The items each parsed unit yielded, by its place among the units and the digest of its bytes."""

    def __init__(self, directory: Path):
        self._file = tempfile.TemporaryFile(dir=directory, prefix="parsed-units-")
        self._where: dict[int, tuple[str, int, int, int]] = {}  # place -> (digest, offset, size, unpacked)
        self._end = 0
        self._broken = False

    def put(self, place: int, digest: str, items: list[Article | Skipped], unpacked: int) -> None:
        """Keep what the unit at ``place`` (with bytes of ``digest``) yielded, and what its parse unpacked."""
        if self._broken:
            return
        data = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._file.seek(self._end)
            self._file.write(data)
            self._file.flush()  # a full disk is met here, not by a later read or by close
        except OSError:  # a full disk: the write parses the rest again
            self._broken = True
            return
        self._where[place] = (digest, self._end, len(data), unpacked)
        self._end += len(data)

    def get(self, place: int, digest: str | None) -> tuple[list[Article | Skipped], int] | None:
        """(items, bytes unpacked) of the unit at ``place`` if it was kept with these bytes, else None."""
        found = self._where.get(place)
        if found is None or found[0] != digest:
            return None
        _, offset, size, unpacked = found
        try:
            self._file.seek(offset)
            data = self._file.read(size)
        except OSError:  # the unit is parsed again
            return None
        return pickle.loads(data), unpacked

    def __len__(self) -> int:
        return len(self._where)

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:  # what a full disk left unwritten is not needed any more
            pass

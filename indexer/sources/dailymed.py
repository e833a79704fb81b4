"""DailyMed's distribution zips: the full release and the daily, weekly and monthly updates.

DailyMed publishes every label as a zip of its own (the SPL XML and the label's images), and its
release and update files as zips of those zips (``dm_spl_release_human_rx_part1.zip`` holds
``prescription/20240105_<set id>.zip``, each holding ``<document id>.xml`` and ``*.jpg``). A
``.zip`` source is read here one label at a time, without unpacking to disk: each inner zip is
opened in memory (it is small: one label and its pictures), its XML read through the SPL loader
(``spl.load_spl``), its images ignored. A single label's zip (XML at the top) is read the same way.

Bounded like every source: the outer zip counts against ``max_source_bytes``; all that is unpacked,
inner zips and XML together, against ``UNZIP_FACTOR`` times it (counted as it is read, since a
member's declared size can lie); one inner zip or XML document against ``MAX_LABEL_ZIP_BYTES``;
zips nested deeper than a zip of zips are not opened. A bad label is reported as
``outer.zip!inner.zip!doc.xml`` and the others still load.

To apply an update to a live build, build from the release and the update files together: where a
set id comes twice, the higher version is indexed and the one it replaced is listed in the report
(``pipeline._choose``), also against the live build.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import Skipped, one_line
from .jsonstream import size_text
from .spl import load_spl

UNZIP_FACTOR = 16
# One label's zip or XML: the largest SPL documents are a few MB; pictures are skipped unread.
MAX_LABEL_ZIP_BYTES = 64 * 1024 * 1024
_BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
           ValueError)


class _Budget:
    """What may still be unpacked from one outer zip; each read takes from it."""

    def __init__(self, total: int, why: str):
        self.left = total
        self.why = why

    def read(self, archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
        """A member's bytes, refused past ``limit`` or past what the outer zip may still unpack."""
        most = min(limit, self.left)
        if member.file_size > most:
            raise _Over(member.file_size, limit if limit <= self.left else None)
        with archive.open(member) as fh:
            data = fh.read(most + 1)
        if len(data) > most:  # the declared size lied
            raise _Over(len(data), limit if limit <= self.left else None)
        self.left -= len(data)
        return data


class _Over(Exception):
    def __init__(self, size: int, limit: int | None):
        self.size, self.limit = size, limit


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadArticle(where, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _labels_in(archive: zipfile.ZipFile, where: str, budget: _Budget, depth: int) -> Iterator[Article | Skipped]:
    """The labels of one zip: its SPL XML documents, and (at the top only) the labels of its inner zips."""
    found = False
    for member in archive.infolist():
        name = member.filename
        lower = name.lower()
        if member.is_dir() or not lower.endswith((".xml", ".zip")):
            continue  # images and anything else a label's zip carries
        at = f"{where}!{name}"
        if lower.endswith(".zip") and depth > 0:
            yield Skipped(at, "a zip inside a label's zip is not read (DailyMed's files are zips of zips at most)")
            continue
        found = True
        try:
            data = budget.read(archive, member, MAX_LABEL_ZIP_BYTES)
            if lower.endswith(".xml"):
                yield from load_spl(Path(at), _decode(data, at))
            else:
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    yield from _labels_in(inner, at, budget, depth + 1)
        except BadArticle as exc:
            yield Skipped(exc.path, exc.reason)
        except _Over as exc:
            if exc.limit is not None:
                yield Skipped(at, f"{size_text(exc.size)} unpacked, over the {size_text(exc.limit)} one label's "
                                  "zip or document may be")
                continue
            yield Skipped(at, f"{budget.why}; this member and the rest of the zip were not read")
            budget.left = 0
            return
        except _BROKEN as exc:  # a corrupt, encrypted or oddly compressed member; the others still load
            yield Skipped(at, f"unreadable zip member ({one_line(str(exc))[:200]})")
    if not found and depth == 0:
        raise BadArticle(where, "zip holds no SPL .xml document and no label zip (expected DailyMed's zip of "
                                "label zips, or one label's zip)")


def load_dailymed_zip(path: Path, raw: BinaryIO, max_bytes: int) -> Iterator[Article | Skipped]:
    """Labels of a DailyMed release or update zip (a zip of label zips), or of one label's zip."""
    why = (f"the zip unpacks to more than {size_text(UNZIP_FACTOR * max_bytes)} ({UNZIP_FACTOR} x "
           "max_source_bytes, MEDSEARCH_MAX_SOURCE_BYTES)")
    try:
        archive = zipfile.ZipFile(raw)
    except _BROKEN as exc:
        raise BadArticle(str(path), f"not a readable zip file ({one_line(str(exc))[:200]})") from None
    with archive:
        yield from _labels_in(archive, str(path), _Budget(UNZIP_FACTOR * max_bytes, why), 0)

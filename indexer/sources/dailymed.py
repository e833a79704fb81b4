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
from functools import partial
from pathlib import Path
from typing import BinaryIO

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import Skipped, one_line
from .jsonstream import size_text
from .spl import load_spl
from .units import Budget, Unit, digest

UNZIP_FACTOR = 16
# One label's zip or XML: the largest SPL documents are a few MB; pictures are skipped unread.
MAX_LABEL_ZIP_BYTES = 64 * 1024 * 1024
_BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
           ValueError)


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, budget: Budget) -> bytes:
    """A member's bytes, refused past ``limit`` or past what the outer zip may still unpack."""
    most = min(limit, budget.left)
    if member.file_size > most:
        raise _Over(member.file_size, limit if limit <= budget.left else None)
    with archive.open(member) as fh:
        data = fh.read(most + 1)
    if len(data) > most:  # the declared size lied
        raise _Over(len(data), limit if limit <= budget.left else None)
    budget.left -= len(data)
    return data


class _Over(Exception):
    def __init__(self, size: int, limit: int | None):
        self.size, self.limit = size, limit


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadArticle(where, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _too_big(at: str, exc: _Over, budget: Budget) -> Skipped:
    """Why a member over a bound was not read; past the zip's budget, nothing after it is read either."""
    if exc.limit is not None:
        return Skipped(at, f"{size_text(exc.size)} unpacked, over the {size_text(exc.limit)} one label's "
                           "zip or document may be")
    budget.left, budget.exhausted = 0, True
    return Skipped(at, f"{budget.why}; this member and the rest of the zip were not read")


def _members(archive: zipfile.ZipFile) -> Iterator[zipfile.ZipInfo]:
    """The members of a zip that may hold labels: SPL documents and (at the top) label zips; pictures left out."""
    for member in archive.infolist():
        if not member.is_dir() and member.filename.lower().endswith((".xml", ".zip")):
            yield member


def _label(at: str, data: bytes, budget: Budget) -> Iterator[Article | Skipped]:
    """The labels of one member of a release zip: an SPL document, or one label's zip and the documents in it."""
    if at.lower().endswith(".xml"):
        try:
            yield from load_spl(Path(at), _decode(data, at))
        except _BROKEN as exc:
            yield Skipped(at, f"unreadable zip member ({one_line(str(exc))[:200]})")
        return
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
    except _BROKEN as exc:
        yield Skipped(at, f"unreadable zip member ({one_line(str(exc))[:200]})")
        return
    with inner:
        for member in _members(inner):
            where = f"{at}!{member.filename}"
            if member.filename.lower().endswith(".zip"):
                yield Skipped(where, "a zip inside a label's zip is not read (DailyMed's files are zips of zips at most)")
                continue
            try:
                yield from load_spl(Path(where), _decode(_read(inner, member, MAX_LABEL_ZIP_BYTES, budget), where))
            except BadArticle as exc:
                yield Skipped(exc.path, exc.reason)
            except _Over as exc:
                yield _too_big(where, exc, budget)
                if budget.exhausted:
                    return
            except _BROKEN as exc:  # a corrupt, encrypted or oddly compressed member; the others still load
                yield Skipped(where, f"unreadable zip member ({one_line(str(exc))[:200]})")


def dailymed_units(path: Path, raw: BinaryIO, max_bytes: int) -> Iterator[Unit]:
    """The units of a DailyMed release or update zip (a zip of label zips), or of one label's zip: one a member,
    each read (and fingerprinted) before it is parsed."""
    budget = Budget(UNZIP_FACTOR * max_bytes, f"the zip unpacks to more than {size_text(UNZIP_FACTOR * max_bytes)} "
                                              f"({UNZIP_FACTOR} x max_source_bytes, MEDSEARCH_MAX_SOURCE_BYTES)")
    try:
        archive = zipfile.ZipFile(raw)
    except _BROKEN as exc:
        raise BadArticle(str(path), f"not a readable zip file ({one_line(str(exc))[:200]})") from None
    found = False
    with archive:
        for member in _members(archive):
            found = True
            at = f"{path}!{member.filename}"
            try:
                data = _read(archive, member, MAX_LABEL_ZIP_BYTES, budget)
            except _Over as exc:
                yield Unit.failed(_too_big(at, exc, budget))
                if budget.exhausted:
                    return
                continue
            except _BROKEN as exc:
                yield Unit.failed(Skipped(at, f"unreadable zip member ({one_line(str(exc))[:200]})"))
                continue
            yield Unit(at, digest(data), partial(_label, at, data, budget), budget)
    if not found:
        raise BadArticle(str(path), "zip holds no SPL .xml document and no label zip (expected DailyMed's zip of "
                                    "label zips, or one label's zip)")


def load_dailymed_zip(path: Path, raw: BinaryIO, max_bytes: int) -> Iterator[Article | Skipped]:
    """Labels of a DailyMed release or update zip (a zip of label zips), or of one label's zip."""
    for unit in dailymed_units(path, raw, max_bytes):
        yield from unit.items()

"""The new build's catalog, able to take what did not change from the live build's catalog as it stands.

A rebuild of a DailyMed release changes a few labels in a hundred: the others are neither read from
their sources (``source_cache.py`` says what their unchanged zips hold) nor rebuilt passage by
passage. Their article and section rows are copied from the live build's catalog, attached read-only
to the new one, with the source path they are read from now; their passages come back as plain rows
(id, section, position, text id, heading) for the build to place on its texts (``pipeline._Pending``),
whose vectors it takes from the live build's store.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from .catalog import CatalogWriter
from .models import Article


class LivePassage(NamedTuple):
    """One passage of the live build, as a new build carries it."""

    id: str
    article_id: str
    section_id: str
    ordinal: int
    text_id: int         # its text in the live build (the row of its vector there)
    own: str | None      # its own text where it differs from its text's as stored, else None
    heading: str
    title: str


class BuildCatalog(CatalogWriter):
    """The catalog of a build being written, with the live build's catalog (if any) attached read-only."""

    def __init__(self, path: Path, live: Path | None = None):
        super().__init__(path)
        self.copied = 0
        if live is not None:
            self._db.execute("ATTACH DATABASE ? AS live", (Path(live).resolve().as_uri() + "?mode=ro&immutable=1",))

    def copy_article(self, article_id: str, source_path: str) -> Article | None:
        """Copy an article and its sections as the live build holds them, with the path it is read from now;
        returns its header (title, link, front matter), or None when the live build lacks it."""
        head = self._db.execute("SELECT title, url, meta FROM live.articles WHERE id = ?", (article_id,)).fetchone()
        if head is None:
            return None
        self._db.execute("INSERT INTO main.articles SELECT id, title, url, meta, fingerprint, ? FROM live.articles "
                         "WHERE id = ?", (source_path, article_id))
        self._db.execute("INSERT INTO main.sections SELECT * FROM live.sections WHERE article_id = ?", (article_id,))
        self.copied += 1
        return Article(id=article_id, title=head[0], url=head[1], sections=(), source_path=source_path,
                       meta=json.loads(head[2]))

    def live_passages(self, article_id: str, title: str) -> list[LivePassage]:
        """The passages of an article in the live build, in row order."""
        found = self._db.execute(
            "SELECT p.id, p.section_id, p.ordinal, p.text_id, p.text, s.heading FROM live.passages p "
            "JOIN live.sections s ON s.article_id = p.article_id AND s.id = p.section_id "
            "WHERE p.article_id = ? ORDER BY p.row", (article_id,)).fetchall()
        return [LivePassage(r[0], article_id, r[1], r[2], r[3], r[4], r[5], title) for r in found]

    def live_texts(self, text_ids: Iterable[int]) -> dict[int, str]:
        """Texts of the live build by text id."""
        ids = list(text_ids)
        found: dict[int, str] = {}
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            found.update(self._db.execute(f"SELECT id, text FROM live.texts WHERE id IN ({','.join('?' * len(chunk))})",
                                          chunk).fetchall())
        return found

"""The passage store: articles, sections and passages in SQLite, keyed by FAISS row."""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .errors import IndexNotFound
from .history import LabelVersion, from_record, label_version
from .models import Article, Passage, Section, make_passages
from .section_types import type_of
from .tables import ArticleFacts

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, url TEXT NOT NULL, meta TEXT NOT NULL,
    fingerprint TEXT NOT NULL, source_path TEXT NOT NULL
);
CREATE TABLE sections (
    article_id TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL,
    heading TEXT NOT NULL, text TEXT NOT NULL, section_type TEXT NOT NULL, PRIMARY KEY (article_id, id)
);
CREATE TABLE texts (id INTEGER PRIMARY KEY, first_row INTEGER NOT NULL, text TEXT NOT NULL);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
    section_id TEXT NOT NULL, ordinal INTEGER NOT NULL, text_id INTEGER NOT NULL, text TEXT
);
CREATE INDEX passages_by_article ON passages (article_id);
CREATE TABLE history (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, effective TEXT NOT NULL, source_path TEXT NOT NULL,
    title TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (article_id, version)
);
"""
# The parts of an article's front matter that ``article_card`` leaves out.
_BULKY = "'$.tables', '$.patient_leaflets', '$.label_sections'"
# ``texts``: each distinct text once (``indexer/texts.py``), numbered as the vectors and BM25 documents, with the
# row of its first passage; ``passages.text`` is NULL where the row's own text is its text's as stored (a copy
# whose case or spacing differs keeps its own, so each row still shows what its label says).
# ``history``: earlier versions of drug labels (``indexer/history.py``), never searched; ``record`` is JSON.


# One passage as a build records it: (passage id, article id, section id, ordinal, text id, its own text where it
# differs from its text's as stored, the text itself when it is a new one).
Row = tuple[str, str, str, int, int, "str | None", str]


class CatalogWriter:
    """Writes a new catalog file inside a build directory that is not yet published."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(path)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self.rows = 0
        self.texts = 0
        self.history = 0  # history versions written

    def add_article(self, article: Article, fingerprint: str) -> None:
        """Record an article and its sections."""
        self._db.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?)",
                         (article.id, article.title, article.url, json.dumps(article.meta, default=str),
                          fingerprint, article.source_path))
        self._db.executemany("INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?)",
                             [(article.id, s.id, i, s.heading, s.text, type_of(s))
                              for i, s in enumerate(article.sections)])

    def add_rows(self, rows: Sequence[Row]) -> None:
        """Record passages in row order, each with its text id and its own text where it differs from its text's:
        a text id one past the last recorded is a new text, stored with the row's last field (text ids follow the
        order of the vectors and BM25 documents)."""
        texts, passages = [], []
        for i, (passage_id, article_id, section_id, ordinal, text_id, own, text) in enumerate(rows):
            if text_id == self.texts:
                texts.append((text_id, self.rows + i, text))
                self.texts += 1
            elif not 0 <= text_id < self.texts:
                raise ValueError(f"text id {text_id} out of order (next is {self.texts})")
            passages.append((self.rows + i, passage_id, article_id, section_id, ordinal, text_id, own))
        self._db.executemany("INSERT INTO main.texts VALUES (?, ?, ?)", texts)
        self._db.executemany("INSERT INTO main.passages VALUES (?, ?, ?, ?, ?, ?, ?)", passages)
        self.rows += len(rows)

    def add_history(self, version: LabelVersion) -> None:
        """Record an earlier version of a label (never searched)."""
        self._db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)",
                         (version.set_id, version.version, version.effective, version.source_path, version.title,
                          version.record()))
        self.history += 1

    def copy_history(self, row: Sequence) -> None:
        """Record a history row as another catalog holds it (``Catalog.history_row``)."""
        self._db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", tuple(row))
        self.history += 1

    def close(self) -> None:
        """Commit and close; the file is complete after this."""
        self._db.commit()
        self._db.close()


class Catalog:
    """Read-only access to a published catalog, safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self._uri = f"file:{path}?mode=ro&immutable=1"  # a published build never changes
        self._local = threading.local()
        _ = self._db  # open once now so that a broken file fails at load time, not at first query

    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def _connect(self) -> sqlite3.Connection:
        # Each thread opens the file anew: once the build is deleted or moved, a new thread cannot, while
        # threads that opened it before still read it. Said as a missing index, never an internal error.
        try:
            return sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise IndexNotFound(f"the catalog {self.path} cannot be opened ({exc}): its build was deleted or "
                                "moved; publish a build with `python -m indexer build`") from None

    def probe(self) -> None:
        """Open the file as a new reader would and read from it; IndexNotFound saying why if that fails."""
        db = self._connect()
        try:
            db.execute("SELECT row FROM passages LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise IndexNotFound(f"the catalog {self.path} cannot be read ({exc}); publish a build with "
                                "`python -m indexer build`") from None
        finally:
            db.close()

    def counts(self) -> dict[str, int]:
        """Number of articles, sections, passages and distinct texts."""
        return {table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("articles", "sections", "passages", "texts")}

    def _article_header(self, article_id: str) -> sqlite3.Row | None:
        return self._db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()

    def passages(self, rows: Iterable[int]) -> dict[int, Passage]:
        """Passages by FAISS row, with their article title, heading and links."""
        rows = [int(r) for r in rows if r >= 0]
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        cursor = self._db.cursor()
        cursor.row_factory = None  # plain tuples, read by position: every search reads ten of these
        found = cursor.execute(
            f"""SELECT p.row, p.id, p.article_id, p.section_id, p.ordinal, COALESCE(p.text, t.text),
                       a.title, a.url, s.heading, s.section_type
                FROM passages p JOIN texts t ON t.id = p.text_id JOIN articles a ON a.id = p.article_id
                JOIN sections s ON s.article_id = p.article_id AND s.id = p.section_id
                WHERE p.row IN ({marks})""", rows).fetchall()
        return dict(zip([r[0] for r in found], make_passages([r[1:] for r in found])))

    def passage_texts(self, rows: Iterable[int]) -> dict[int, tuple[str, int, str]]:
        """(passage id, ordinal, text) by FAISS row, from the passages table alone."""
        rows = [int(r) for r in rows if r >= 0]
        if not rows:
            return {}
        cursor = self._db.cursor()
        cursor.row_factory = None
        found = cursor.execute(f"SELECT p.row, p.id, p.ordinal, COALESCE(p.text, t.text) FROM passages p "
                               f"JOIN texts t ON t.id = p.text_id WHERE p.row IN ({','.join('?' * len(rows))})",
                               rows).fetchall()
        return {r[0]: r[1:] for r in found}

    def passages_of_article(self, article_id: str) -> tuple[list[int], list[Passage]]:
        """Rows and passages of one article, in row order (for carrying them into a new build)."""
        rows = [r[0] for r in self._db.execute("SELECT row FROM passages WHERE article_id = ? ORDER BY row",
                                                (article_id,))]
        found = self.passages(rows)
        return rows, [found[r] for r in rows]

    def passages_to_carry(self, article_id: str) -> list[tuple[Passage, int]]:
        """(passage, text id) of each passage of an article, in row order (for carrying them into a new build)."""
        found = self._db.execute("SELECT row, text_id FROM passages WHERE article_id = ? ORDER BY row",
                                 (article_id,)).fetchall()
        passages = self.passages([r[0] for r in found])
        return [(passages[row], text_id) for row, text_id in found]

    def texts(self) -> Iterator[tuple[int, str]]:
        """(text id, text) of every distinct text, in id order."""
        yield from self._db.execute("SELECT id, text FROM texts ORDER BY id")

    def row_texts(self) -> list[int]:
        """The text id of every passage, in row order."""
        return [r[0] for r in self._db.execute("SELECT text_id FROM passages ORDER BY row")]

    def passage(self, passage_id: str) -> Passage | None:
        """One passage by its id."""
        row = self._db.execute("SELECT row FROM passages WHERE id = ?", (passage_id,)).fetchone()
        return self.passages([row[0]]).get(row[0]) if row else None

    def titles(self) -> dict[str, str]:
        """Every article's title by id, in one read."""
        return dict(self._db.execute("SELECT id, title FROM articles").fetchall())

    def article_header(self, article_id: str) -> Article | None:
        """An article's title, link and front matter without its sections (for citations), or None."""
        head = self._article_header(article_id)
        if head is None:
            return None
        return Article(id=head["id"], title=head["title"], url=head["url"], sections=(),
                       source_path=head["source_path"], meta=json.loads(head["meta"]))

    def article_card(self, article_id: str) -> Article | None:
        """An article's header with its front matter less the parts as long as a label itself (its tables, patient
        leaflets and section map, which only its own page reads): what a list of a text's copies cites."""
        head = self._db.execute(f"SELECT id, title, url, source_path, json_remove(meta, {_BULKY}) FROM articles "
                                "WHERE id = ?", (article_id,)).fetchone()
        if head is None:
            return None
        return Article(id=head[0], title=head[1], url=head[2], sections=(), source_path=head[3],
                       meta=json.loads(head[4]))

    def article(self, article_id: str) -> Article | None:
        """A whole article with its sections, or None."""
        header = self.article_header(article_id)
        if header is None:
            return None
        sections = self._db.execute(
            "SELECT id, heading, text, section_type FROM sections WHERE article_id = ? ORDER BY position",
            (article_id,)).fetchall()
        return replace(header, sections=tuple(Section(s["id"], s["heading"], s["text"], s["section_type"])
                                              for s in sections))

    def row_table(self) -> list[tuple[int, str, str, str]]:
        """(row, article id, section id, section type) of every passage, in row order."""
        return self._db.execute(
            """SELECT p.row, p.article_id, p.section_id, s.section_type FROM passages p
               JOIN sections s ON s.article_id = p.article_id AND s.id = p.section_id ORDER BY p.row""").fetchall()

    def sections_in_row_order(self) -> list[tuple[str, str]]:
        """(article id, section id) of every section with passages, in the order of its first passage."""
        return self._db.execute("SELECT article_id, section_id FROM passages GROUP BY article_id, section_id "
                                "ORDER BY MIN(row)").fetchall()

    def section_headings(self) -> list[tuple[str, str, str]]:
        """(article id, section id, heading) of every section."""
        return self._db.execute("SELECT article_id, id, heading FROM sections").fetchall()

    def article_facts(self) -> list[ArticleFacts]:
        """What every article's front matter says of its kind, medicine, date and origin, in one read (not
        decoding each article's metadata: ``tables.py``)."""
        rows = self._db.execute(
            "SELECT id, title, json_extract(meta, '$.kind'), json_extract(meta, '$.drug'), "
            "json_extract(meta, '$.effective_time'), json_type(meta, '$.repackaged') FROM articles")

        def lower(value: object) -> str:
            return value.lower() if isinstance(value, str) else ""

        return [ArticleFacts(article_id, title, lower(kind), lower(drug), effective if isinstance(effective, str) else "",
                             repackaged == "true")
                for article_id, title, kind, drug, effective, repackaged in rows]

    def label_section_fields(self) -> list[tuple[str, str, str]]:
        """(article id, section id, openFDA field) of every section of every drug label (``meta.label_sections``)."""
        rows = self._db.execute("SELECT a.id, s.key, json_extract(s.value, '$.field') FROM articles a, "
                                "json_each(a.meta, '$.label_sections') s WHERE json_extract(a.meta, '$.kind') = 'label'")
        return [(a, section, field) for a, section, field in rows if isinstance(field, str)]

    # -- drug-label versions ----------------------------------------------------------------
    def label_versions(self, article_id: str) -> list[LabelVersion]:
        """Every version of a drug label the build holds, newest first, without their sections: the indexed
        one (``current``), then the earlier ones of its history. Empty for an id that is no versioned label."""
        head = self.article_header(article_id)
        current = label_version(head, current=True) if head is not None else None
        if current is None:
            return []
        rows = self._db.execute("SELECT version, effective, source_path, title FROM history WHERE article_id = ? "
                                "ORDER BY version DESC", (article_id,)).fetchall()
        return [current] + [from_record(article_id, r[0], r[1], r[2], r[3], None) for r in rows]

    def label_version(self, article_id: str, version: int | None = None) -> LabelVersion | None:
        """One version of a drug label with its sections: the indexed one (``version`` None or its number), else
        an earlier one from the history; None when the build holds no such version."""
        found = self.article(article_id)
        current = label_version(found, current=True) if found is not None else None
        if current is None or version is None or version == current.version:
            return current
        row = self._db.execute("SELECT version, effective, source_path, title, record FROM history "
                               "WHERE article_id = ? AND version = ?", (article_id, version)).fetchone()
        return from_record(article_id, *row) if row is not None else None

    def label_current_versions(self) -> dict[str, int]:
        """The indexed version of every drug label, by set id (labels without a whole-number version left out)."""
        rows = self._db.execute("SELECT id, json_extract(meta, '$.version') FROM articles "
                                "WHERE json_extract(meta, '$.kind') = 'label'")
        return {a: v for a, v in rows if isinstance(v, int) and not isinstance(v, bool)}

    def history_versions(self) -> dict[str, list[int]]:
        """The versions each set id has in the history, newest first."""
        found: dict[str, list[int]] = {}
        for article_id, version in self._db.execute("SELECT article_id, version FROM history "
                                                    "ORDER BY article_id, version DESC"):
            found.setdefault(article_id, []).append(version)
        return found

    def history_row(self, article_id: str, version: int) -> tuple | None:
        """One history row as stored, for carrying it into a new build."""
        row = self._db.execute("SELECT * FROM history WHERE article_id = ? AND version = ?",
                               (article_id, version)).fetchone()
        return tuple(row) if row is not None else None

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


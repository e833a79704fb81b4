"""What each source unit yielded when it was last parsed, keyed by its place and the fingerprint of its bytes.

A DailyMed release holds tens of thousands of label zips, and reading one (unzipping, parsing its
SPL, assembling its sections) costs far more than hashing its bytes. A build looks each unit
(``sources/units.py``) up here by its place and digest: where both match, it learns the unit's
articles (id, version, fingerprint, section count, where they came from, warnings) and skipped
records without parsing it. Whether an article's passages and vectors are then carried over is
still decided by its fingerprint against the live build, exactly as for a parsed one.

The map lives beside the builds (``INDEX/cache/sources.sqlite``), like the embedding cache: it holds
facts about bytes, not a build, so a build that publishes nothing (nothing changed) or fails still
leaves what it learnt. One row per place: a unit read again with other bytes replaces its row.
Entries are valid only for the code that made them: ``reader`` fingerprints the modules that turn
bytes into articles, so a change to any of them reads every unit again.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import diskspace
from .errors import IndexUnwritable, MedsearchError
from .models import Article
from .sources import Skipped

FILE = "sources.sqlite"
_HERE = Path(__file__).resolve().parent
# The code that decides what a unit yields: the loaders, and what they and the article fingerprint use.
_READER_FILES = ("blocks.py", "errors.py", "history.py", "manifest.py", "models.py", "urls.py")


def reader() -> str:
    """Fingerprint of the code that turns a unit's bytes into articles and their fingerprints."""
    digest = hashlib.sha256()
    files = sorted((_HERE / "sources").glob("*.py")) + sorted((_HERE / "data").glob("*"))
    for path in files + [_HERE / name for name in _READER_FILES]:
        digest.update(f"{path.relative_to(_HERE)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Seen:
    """What a build needs of an article without its text: which it is, its fingerprint, and where it came from."""

    id: str
    fingerprint: str
    version: int | None      # ``meta["version"]`` when it is a whole number
    label: bool              # a drug label (``meta["kind"] == "label"``)
    sections: int
    path: str                # its source path, as the build records it
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, article: Article, fingerprint: str) -> Seen:
        version = (article.meta or {}).get("version")
        return cls(article.id, fingerprint, version if isinstance(version, int) and not isinstance(version, bool)
                   else None, (article.meta or {}).get("kind") == "label", len(article.sections),
                   article.source_path, tuple(article.warnings))


@dataclass
class Yielded:
    """What one unit yielded, in order, and what its parse took from its zip's budget."""

    items: list[Seen | Skipped] = field(default_factory=list)
    unpacked: int = 0

    def to_json(self) -> str:
        return json.dumps({"unpacked": self.unpacked, "items": [
            {"skipped": [i.path, i.reason]} if isinstance(i, Skipped) else
            [i.id, i.fingerprint, i.version, i.label, i.sections, i.path, list(i.warnings)] for i in self.items]})

    @classmethod
    def from_json(cls, text: str) -> Yielded:
        data = json.loads(text)
        items: list[Seen | Skipped] = [Skipped(*i["skipped"]) if isinstance(i, dict) else
                                       Seen(i[0], i[1], i[2], i[3], i[4], i[5], tuple(i[6])) for i in data["items"]]
        return cls(items, int(data["unpacked"]))


class SourceCache:
    """A persistent map from (unit place, digest of its bytes, reader) to what the unit yielded."""

    def __init__(self, path: Path):
        self.path = path
        self._reader = reader()
        self._pending = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk full: not ours to delete
                    raise
                # Not a database (damaged, or something else in its place): a cache, so start it anew.
                for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    stale.unlink(missing_ok=True)
                self._db = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc) from None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS units (path TEXT PRIMARY KEY, digest TEXT NOT NULL, "
                       "reader TEXT NOT NULL, yielded TEXT NOT NULL)")
        except BaseException:
            db.close()
            raise
        return db

    def get(self, path: str, digest: str) -> Yielded | None:
        """What the unit at ``path`` yielded when its bytes had ``digest``, under this code; None if unknown."""
        try:
            row = self._db.execute("SELECT yielded FROM units WHERE path = ? AND digest = ? AND reader = ?",
                                   (path, digest, self._reader)).fetchone()
            return Yielded.from_json(row[0]) if row is not None else None
        except (sqlite3.Error, ValueError, KeyError, IndexError, TypeError):  # a damaged row: read the unit again
            return None

    def put(self, path: str, digest: str, yielded: Yielded) -> None:
        """Record what a unit yielded (committed every few hundred units, and by ``close``)."""
        try:
            self._db.execute("INSERT OR REPLACE INTO units VALUES (?, ?, ?, ?)",
                             (path, digest, self._reader, yielded.to_json()))
            self._pending += 1
            if self._pending >= 500:
                self.commit()
        except sqlite3.Error as exc:
            raise self._unwritable(exc) from None

    def commit(self) -> None:
        try:
            self._db.commit()
            self._pending = 0
        except sqlite3.Error as exc:
            raise self._unwritable(exc) from None

    def _unwritable(self, exc: Exception) -> MedsearchError:
        if diskspace.is_full(exc, self.path.parent):
            return diskspace.disk_full(self.path, exc, "the source cache needs room for what the sources hold",
                                       "free some space there or choose another --index / MEDSEARCH_INDEX; "
                                       f"{diskspace.UNTOUCHED}")
        reason = getattr(exc, "strerror", None) or str(exc)
        return IndexUnwritable(f"cannot write the source cache {self.path}: {reason}; give this user write access "
                               f"to {self.path.parent}")

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()

"""A rebuild reads only the label zips that changed (issue #29): an unchanged zip is known by the hash of its bytes
and its articles are copied from the live build without parsing it; a changed one is read again; a removed one is
dropped; and the build holds exactly what a build that read everything holds. The zips are made from the SPL
fixtures as in ``test_dailymed.py``; ``load_spl`` is watched (still called through) to count what was parsed."""
from __future__ import annotations

import io
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest

import indexer.sources.dailymed as dailymed
from indexer.parsed_units import ParsedUnits
from indexer.pipeline import build_index
from indexer.source_cache import SourceCache, Yielded
from indexer.sources import Skipped, load_file
from indexer.store import VectorStore

from .test_dailymed import LIPITOR, SPL, release, with_version

COUGH = "00f66f25-3469-4c16-9baf-fba21e9628bd"


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The SPL documents parsed, in order (the real parser runs)."""
    seen: list[str] = []
    real = dailymed.load_spl

    def watched(path, text):
        seen.append(str(path).rsplit("!", 1)[-1])
        return real(path, text)

    monkeypatch.setattr(dailymed, "load_spl", watched)
    return seen


def label_zip(xml: bytes, name: str = "label.xml") -> bytes:
    """One label as DailyMed zips it, byte for byte the same each time it is made (a zip stamps its members with
    the time they were written: DailyMed's files are made once and only read after)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in ((name, xml), ("image-0.jpg", b"\xff\xd8\xff" + bytes(200))):
            archive.writestr(zipfile.ZipInfo(member, date_time=(2024, 1, 5, 0, 0, 0)), data)
    return buffer.getvalue()


def labels(**changed: bytes) -> dict[str, bytes]:
    """The three fixture labels as a release's label zips, with ``changed`` XML in place of a fixture's."""
    return {f"20240105_{xml.stem}.zip": label_zip(changed.get(xml.stem.replace("-", "_"), xml.read_bytes()),
                                                 f"{xml.stem}.xml")
            for xml in sorted(SPL.glob("*.xml"))}


def build(source: Path, index: Path, embedder, force: bool = False):
    return build_index([source], index, embedder, log=lambda line: None, force=force)


def tables(build_dir: Path) -> dict[str, list]:
    """Everything the catalog holds, table by table, and the vectors in row order of the texts."""
    db = sqlite3.connect(build_dir / "passages.sqlite")
    try:
        found: dict[str, list] = {name: db.execute(f"SELECT * FROM {name} ORDER BY 1, 2").fetchall()
                                  for name in ("articles", "sections", "texts", "passages", "history")}
    finally:
        db.close()
    store = VectorStore.load(build_dir / "vectors.faiss", "")
    found["vectors"] = store.vectors(np.arange(len(store))).tolist()
    return found


def test_an_unchanged_release_is_not_parsed_again(tmp_path, embedder, parsed):
    source = tmp_path / "src"
    source.mkdir()
    release(source / "dm_spl_release_human_rx_part1.zip", labels())
    first = build(source, tmp_path / "index", embedder)
    assert first.published and first.units_parsed == 3
    # A cold build parses each label once: the write reads back what the scan parsed (``parsed_units.py``).
    assert sorted(parsed) == ["cough.xml", "lipitor-orig.xml", "no-title.xml"]
    assert first.units_parsed_to_write == 0
    parsed.clear()
    again = build(source, tmp_path / "index", embedder)
    assert again.up_to_date and again.build_id == first.build_id
    assert parsed == []  # no label's XML was read: their zips' bytes said they had not changed
    assert (again.units, again.units_reused, again.units_parsed) == (3, 3, 0)


def test_a_changed_label_zip_is_read_again_and_the_others_are_copied_unread(tmp_path, embedder, parsed):
    source = tmp_path / "src"
    source.mkdir()
    lipitor = (SPL / "lipitor-orig.xml").read_bytes()
    release(source / "dm_spl_release_human_rx_part1.zip", labels())
    build(source, tmp_path / "index", embedder)
    parsed.clear()
    changed = lipitor.replace(b"LIPITOR can be started simultaneously", b"LIPITOR may be started together", 1)
    assert changed != lipitor
    release(source / "dm_spl_release_human_rx_part1.zip", labels(lipitor_orig=changed))
    second = build(source, tmp_path / "index", embedder)
    assert second.published and (second.changed, second.unchanged) == (1, 2)
    # Lipitor's zip was parsed once, to see what it holds, and written from that; the other two never parsed.
    assert parsed == ["lipitor-orig.xml"] and second.units_parsed_to_write == 0
    assert (second.units_reused, second.units_parsed, second.articles_copied) == (2, 1, 2)
    # What the build holds is what a build that read every label holds.
    forced = build(source, tmp_path / "forced", embedder, force=True)
    assert forced.units_parsed == 3 and forced.articles_copied == 0
    assert tables(tmp_path / "index" / "current") == tables(tmp_path / "forced" / "current")


def test_a_removed_label_zip_is_dropped_and_a_new_version_replaces_the_live_one(tmp_path, embedder, parsed):
    source = tmp_path / "src"
    source.mkdir()
    release(source / "dm_spl_release_human_rx_part1.zip", labels())
    build(source, tmp_path / "index", embedder)
    every = labels()
    del every["20240105_cough.zip"]
    release(source / "dm_spl_release_human_rx_part1.zip", every)
    parsed.clear()
    second = build(source, tmp_path / "index", embedder)
    assert second.published and (second.removed, second.articles, second.articles_copied) == (1, 2, 2)
    assert parsed == []
    db = sqlite3.connect(tmp_path / "index" / "current" / "passages.sqlite")
    try:
        assert db.execute("SELECT COUNT(*) FROM passages WHERE article_id = ?", (COUGH,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM articles WHERE id = ?", (COUGH,)).fetchone()[0] == 0
    finally:
        db.close()
    # An update file with a newer Lipitor: the update's zip is read, and the release's copy, kept as history.
    lipitor = (SPL / "lipitor-orig.xml").read_bytes()
    release(source / "dm_spl_daily_update_01062024.zip", {"20240106_lipitor.zip": label_zip(with_version(lipitor, 99))})
    parsed.clear()
    third = build(source, tmp_path / "index", embedder)
    assert third.published and third.changed == 1 and third.history == 1
    assert sorted(parsed) == ["label.xml", "lipitor-orig.xml"]
    db = sqlite3.connect(tmp_path / "index" / "current" / "passages.sqlite")
    try:
        assert db.execute("SELECT json_extract(meta, '$.version') FROM articles WHERE id = ?",
                          (LIPITOR,)).fetchone()[0] == 99
    finally:
        db.close()


def test_a_broken_label_in_an_unchanged_zip_is_still_reported(tmp_path, embedder, parsed):
    source = tmp_path / "src"
    source.mkdir()
    every = labels()
    every["20240105_badxml.zip"] = label_zip(b"<document>not SPL</document>", "bad.xml")
    release(source / "dm_spl_release_human_rx_part1.zip", every)
    first = build(source, tmp_path / "index", embedder)
    parsed.clear()
    again = build(source, tmp_path / "index", embedder)
    assert again.up_to_date and parsed == []
    assert [(s.path, s.reason) for s in again.skipped] == [(s.path, s.reason) for s in first.skipped]
    assert len(again.skipped) == 1 and again.exit_code == 3 and "not an SPL document" in again.skipped[0].reason


def test_a_damaged_source_cache_is_started_anew(tmp_path):
    path = tmp_path / "sources.sqlite"
    path.write_bytes(b"not a database, " * 200)
    cache = SourceCache(path)
    try:
        assert cache.get("a.zip!x.zip", "00") is None
        broken = Yielded([Skipped("a.zip!x.zip!x.xml", "not an SPL document")], 7)
        cache.put("a.zip!x.zip", "00", broken)
        assert cache.get("a.zip!x.zip", "00") == broken
    finally:
        cache.close()


def test_what_the_scan_parsed_is_read_back_as_it_was_parsed(tmp_path):
    """The write reads back the scan's parse of a unit (``parsed_units.py``) only for the same bytes and place."""
    items = list(load_file(SPL / "lipitor-orig.xml")) + [Skipped("a.zip!bad.xml", "not an SPL document")]
    kept = ParsedUnits(tmp_path)
    try:
        kept.put(0, "d0", items, 1234)
        kept.put(1, "d1", items[:1], 0)
        again, unpacked = kept.get(0, "d0")
        assert again == items and unpacked == 1234 and again[0].meta == items[0].meta  # meta too (not compared by ==)
        assert kept.get(1, "d1") == (items[:1], 0)
        assert kept.get(0, "other bytes") is None and kept.get(2, "d0") is None
        assert list(tmp_path.iterdir()) == []  # the file has no name: nothing to clean up
    finally:
        kept.close()

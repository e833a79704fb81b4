"""DailyMed's distribution zips (issue #29): zips of label zips read a label at a time, pictures ignored,
bounded, a bad label reported with its place in the zip, and an update's newer version replacing the live one.
The zips are made here from the SPL fixtures (cut from ``../shared``'s SPL documents)."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from indexer.catalog import Catalog
from indexer.pipeline import build_index
from indexer.sources import Skipped, load_file

from .conftest import FIXTURES

SPL = FIXTURES / "labels" / "good" / "spl"
LIPITOR = "c6e131fe-e7df-4876-83f7-9156fc4e8228"


def label_zip(xml: bytes, name: str = "label.xml", pictures: int = 2) -> bytes:
    """One label as DailyMed zips it: the SPL document and its pictures."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, xml)
        for n in range(pictures):
            archive.writestr(f"image-{n}.jpg", b"\xff\xd8\xff" + bytes(200))
    return buffer.getvalue()


def release(path: Path, labels: dict[str, bytes]) -> Path:
    """A release or update file: a zip of label zips under a folder, as DailyMed publishes them."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in labels.items():
            archive.writestr(f"prescription/{name}", data)
    return path


def fixtures() -> dict[str, bytes]:
    return {f"20240105_{xml.stem}.zip": label_zip(xml.read_bytes(), f"{xml.stem}.xml") for xml in sorted(SPL.glob("*.xml"))}


def with_version(xml: bytes, version: int) -> bytes:
    return re.sub(rb'<versionNumber value="\d+"/>', f'<versionNumber value="{version}"/>'.encode(), xml, count=1)


def test_a_release_zip_of_label_zips_loads_every_label_and_ignores_pictures(tmp_path):
    path = release(tmp_path / "dm_spl_release_human_rx_part1.zip", fixtures())
    items = list(load_file(path))
    assert all(not isinstance(i, Skipped) for i in items), items
    assert {i.id for i in items} == {LIPITOR, "00f66f25-3469-4c16-9baf-fba21e9628bd",
                                     "0027b8a3-73bf-4005-a7e3-b035f451a861"}
    assert all(i.meta["kind"] == "label" for i in items)


def test_a_bad_label_is_reported_with_its_place_and_the_others_load(tmp_path):
    labels = fixtures()
    labels["20240105_broken.zip"] = b"this is not a zip"
    labels["20240105_badxml.zip"] = label_zip(b"<document>not SPL</document>", "bad.xml")
    labels["20240105_nested.zip"] = label_zip(b"", "deeper.zip")
    items = list(load_file(release(tmp_path / "update.zip", labels)))
    skipped = {i.path.split("!", 1)[1]: i.reason for i in items if isinstance(i, Skipped)}
    assert set(skipped) == {"prescription/20240105_broken.zip", "prescription/20240105_badxml.zip!bad.xml",
                            "prescription/20240105_nested.zip!deeper.zip"}
    assert "unreadable zip member" in skipped["prescription/20240105_broken.zip"]
    assert "not an SPL document" in skipped["prescription/20240105_badxml.zip!bad.xml"]
    assert "not read" in skipped["prescription/20240105_nested.zip!deeper.zip"]
    assert sum(not isinstance(i, Skipped) for i in items) == 3


def test_a_zip_that_unpacks_past_its_bound_is_stopped_without_unpacking_it(tmp_path):
    # 4 MB of spaces compress to a few kB: a zip bomb in miniature, against a 64 kB file limit (1 MB unpacked).
    bomb = label_zip(b"<document>" + b" " * (4 * 1024 * 1024) + b"</document>", "bomb.xml")
    path = release(tmp_path / "bomb.zip", {"a.zip": label_zip((SPL / "cough.xml").read_bytes()), "b.zip": bomb})
    items = list(load_file(path, max_bytes=64 * 1024))
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [s.path.rsplit("!", 1)[-1] for s in skipped] == ["bomb.xml"] and "unpacks to more than" in skipped[0].reason
    assert sum(not isinstance(i, Skipped) for i in items) == 1


def test_a_zip_without_labels_is_refused_with_what_was_expected(tmp_path):
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("holiday.jpg", b"\xff\xd8")
    items = list(load_file(path))
    assert len(items) == 1 and isinstance(items[0], Skipped) and "no SPL .xml document" in items[0].reason


def test_an_update_file_replaces_the_live_label_by_its_newer_version(tmp_path, embedder):
    lipitor = (SPL / "lipitor-orig.xml").read_bytes()
    source = tmp_path / "src"
    source.mkdir()
    release(source / "dm_spl_release_human_rx_part1.zip", {"20240105_lipitor.zip": label_zip(lipitor)})
    index = tmp_path / "index"
    first = build_index([source], index, embedder, log=lambda line: None)
    assert first.published and first.articles == 1
    release(source / "dm_spl_daily_update_01062024.zip", {"20240106_lipitor.zip": label_zip(with_version(lipitor, 99))})
    second = build_index([source], index, embedder, log=lambda line: None)
    assert second.published and second.articles == 1
    # Version 11 is replaced twice: the release file's copy and the live build's.
    assert {(r["version"], r["by_version"]) for r in second.replaced} == {(11, 99)}
    where = sorted("live" if r["path"].startswith("live build ") else r["path"].split("/src/", 1)[1]
                   for r in second.replaced)
    assert where == ["dm_spl_release_human_rx_part1.zip!prescription/20240105_lipitor.zip!label.xml", "live"]
    assert all(r["by_path"].endswith("dm_spl_daily_update_01062024.zip!prescription/20240106_lipitor.zip!label.xml")
               for r in second.replaced)
    catalog = Catalog(index / "current" / "passages.sqlite")
    try:
        assert catalog.article(LIPITOR).meta["version"] == 99
    finally:
        catalog.close()


def test_the_command_line_builds_a_release_zip_and_reports_a_bad_member(tmp_path):
    labels = fixtures()
    labels["20240105_broken.zip"] = b"broken"
    src = tmp_path / "src"
    src.mkdir()
    release(src / "dm_spl_release_human_rx_part1.zip", labels)
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "indexer", "build", str(src), "--index", str(tmp_path / "index"),
                           "--report", str(report)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(report.read_text())
    assert summary["articles"] >= 3
    assert [s["path"].rsplit("!", 1)[-1] for s in summary["skipped"]] == ["prescription/20240105_broken.zip"]

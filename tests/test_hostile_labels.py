"""Hostile drug-label files (issue 26): every openFDA label file is bounded in depth, label size, unpacked size and
bytes read; each label is type-checked on its own; a bad version never wins; a hostile build stays in bounded memory.

The hostile files are made here, from the Coumadin fixture label, at the sizes that broke the build before.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psutil
import pytest

from indexer.catalog import Catalog
from indexer.models import Article
from indexer.pipeline import build_index
from indexer.sources import Skipped, load_file
from indexer.sources.openfda import MAX_LABEL_BYTES, MAX_LABEL_DEPTH

from .conftest import FIXTURES, ROOT

GOOD = FIXTURES / "labels" / "good"
DEEP = "[" * 100_000 + "]" * 100_000  # the 200 KB file, once read in memory the square of its depth
WRONG_TYPES = [  # (change to a label, what its Skipped says)
    ({"openfda": "warfarin"}, "openfda is a string, not an object"),
    ({"openfda": ["warfarin"]}, "openfda is a list, not an object"),
    ({"openfda": {"brand_name": 7}}, "openfda.brand_name is a number, not a list of strings"),
    ({"openfda": {"route": 3}}, "openfda.route is a number, not a list of strings"),
    ({"openfda": {"generic_name": "warfarin"}}, "openfda.generic_name is a string, not a list of strings"),
    ({"openfda": {"brand_name": ["A", 2]}}, "openfda.brand_name is a list holding a number, not a list of strings"),
    ({"boxed_warning": 5}, "boxed_warning is a number, not a list of strings"),
    ({"version": {"n": 1}}, "version \"{'n': 1}\" is not a whole number"),
    ({"set_id": 12}, "set_id is a number, not a string"),
]


def _label(set_id: str, changes: dict | None = None, **fields: object) -> dict:
    """The Coumadin label under ``set_id``, with some fields replaced (``changes`` may replace the set id too)."""
    label = copy.deepcopy(json.loads((GOOD / "coumadin.json").read_text(encoding="utf-8"))["results"][0])
    label["set_id"] = set_id
    label.update(fields, **(changes or {}))
    return label


def _response(*labels: object) -> str:
    return json.dumps({"meta": {"results": {"total": len(labels)}}, "results": list(labels)})


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def _kinds(items: list) -> list[str]:
    return [type(item).__name__ for item in items]


def test_a_label_nested_too_deep_is_skipped_by_its_number_and_the_labels_around_it_load(tmp_path):
    bare = tmp_path / "deep.json"
    bare.write_text(DEEP)
    (item,) = load_file(bare)
    assert isinstance(item, Skipped) and item.path == f"{bare}#1"
    assert item.reason == f"label 1 is nested more than {MAX_LABEL_DEPTH} levels deep (a label has 3)"
    between = tmp_path / "between.json"
    between.write_text(_response(_label("before"), json.loads("[" * 500 + "]" * 500),
                                 _label("deep-field", openfda={"brand_name": json.loads("[" * 20 + "]" * 20)}),
                                 _label("after"))[:-2] + ", " + DEEP + "]}")
    items = list(load_file(between))
    assert _kinds(items) == ["Article", "Skipped", "Skipped", "Article", "Skipped"]
    assert [a.id for a in items if isinstance(a, Article)] == ["before", "after"]
    assert [s.path.rsplit("#", 1)[1] for s in items if isinstance(s, Skipped)] == ["2", "3", "5"]
    assert all("nested more than 8 levels deep" in s.reason for s in items if isinstance(s, Skipped))


def test_a_label_with_a_huge_field_stops_its_zip_member_and_the_other_members_load(tmp_path):
    huge = _label("huge", boxed_warning=["W" * (MAX_LABEL_BYTES + (1 << 20))])
    path = _zip(tmp_path / "labels.json.zip", {
        "drug-label-0001-of-0002.json": _response(_label("first"), huge, _label("lost")),
        "drug-label-0002-of-0002.json": _response(_label("second")),
    })
    assert path.stat().st_size < 100_000
    items = list(load_file(path))
    assert _kinds(items) == ["Article", "Skipped", "Article"]
    assert [a.id for a in items if isinstance(a, Article)] == ["first", "second"]
    skipped = items[1]
    assert skipped.path == f"{path}!drug-label-0001-of-0002.json#2"
    assert skipped.reason == ("label 2 is larger than 8.0 MiB, the most one label may be; it and the rest of the file "
                              "were not read (1 label(s) before it)")


def test_a_zip_that_unpacks_past_its_budget_is_refused_before_unpacking(tmp_path):
    path = _zip(tmp_path / "bomb.json.zip", {"a.json": _response(_label("a", boxed_warning=[" " * 400_000]))})
    (item,) = load_file(path, max_bytes=20_000)
    assert isinstance(item, Skipped) and item.path == str(path)
    assert item.reason.startswith("the zip unpacks to more than 320000 bytes (16 x max_source_bytes")
    assert "its members declare" in item.reason and "MEDSEARCH_MAX_SOURCE_BYTES" in item.reason


@pytest.mark.parametrize("in_zip", [False, True], ids=["json", "json.zip"])
def test_each_wrong_typed_label_is_skipped_by_number_and_every_good_label_loads(tmp_path, in_zip):
    labels: list[dict] = []
    for n, (change, _) in enumerate(WRONG_TYPES):
        labels += [_label(f"bad-{n}", change), _label(f"good-{n}")]
    text = _response(*labels)
    if in_zip:
        path = _zip(tmp_path / "labels.json.zip", {"part-1.json": text})
        where = f"{path}!part-1.json"
    else:
        path = tmp_path / "labels.json"
        path.write_text(text)
        where = str(path)
    items = list(load_file(path))
    assert [a.id for a in items if isinstance(a, Article)] == [f"good-{n}" for n in range(len(WRONG_TYPES))]
    assert all(a.title == "COUMADIN (warfarin sodium) tablet, Cardinal Health" for a in items if isinstance(a, Article))
    skipped = [s for s in items if isinstance(s, Skipped)]
    assert [s.path for s in skipped] == [f"{where}#{2 * n + 1}" for n in range(len(WRONG_TYPES))]
    for n, (item, (_, reason)) in enumerate(zip(skipped, WRONG_TYPES, strict=True)):
        assert item.reason.startswith(f"label {2 * n + 1}") and item.reason.endswith(reason), item.reason


def test_a_bad_version_never_beats_a_good_one(tmp_path, embedder):
    src = tmp_path / "src"
    src.mkdir()
    (src / "0-first.json").write_text(_response(_label("versioned", version="abc")))  # read first
    (src / "1-second.json").write_text(_response(_label("versioned", version="17")))
    report = build_index([src], tmp_path / "index", embedder, log=lambda line: None)
    assert report.published and report.exit_code == 3 and report.articles == 1
    assert [(s.path, s.reason) for s in report.skipped] == [
        (f"{src / '0-first.json'}#1", "label 1 (set id versioned): version 'abc' is not a whole number")]
    catalog = Catalog(tmp_path / "index" / "current" / "passages.sqlite")
    try:
        assert catalog.article("versioned").meta["version"] == 17
    finally:
        catalog.close()
    spl = tmp_path / "label.xml"
    spl.write_text((GOOD / "spl" / "lipitor-orig.xml").read_text(encoding="utf-8").replace(
        '<versionNumber value="11"/>', '<versionNumber value="abc"/>'), encoding="utf-8")
    (item,) = load_file(spl)
    assert isinstance(item, Skipped) and item.reason.endswith("versionNumber 'abc' is not a whole number")


def test_the_size_limit_bounds_json_and_json_zip_files(tmp_path):
    text = _response(*(_label(f"label-{n}") for n in range(4)))
    json_file = tmp_path / "labels.json"
    json_file.write_text(text)
    zip_file = _zip(tmp_path / "labels.json.zip", {"a.json": text})
    for path in (json_file, zip_file):
        size = path.stat().st_size
        (item,) = load_file(path, max_bytes=size - 1)
        assert isinstance(item, Skipped) and item.reason.startswith(f"too large: {size} bytes, over the limit"), item
        assert "MEDSEARCH_MAX_SOURCE_BYTES" in item.reason
        assert _kinds(list(load_file(path, max_bytes=size))) == ["Article"] * 4


# --------------------------------------------------------------------------- the build, in bounded memory


def _build(sources: Path, index: Path, env: dict[str, str], kill_above: int) -> tuple[int, str, int, dict]:
    """``indexer build`` in its own process: exit status, output, peak RSS (bytes) and report.

    A watchdog kills the build past ``kill_above`` bytes, so that a build without bounds fails this
    test instead of taking the machine down.
    """
    report = index.parent / f"{index.name}-report.json"
    proc = subprocess.Popen([sys.executable, "-m", "indexer", "build", str(sources), "--index", str(index),
                             "--report", str(report)], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def watch() -> None:
        process = psutil.Process(proc.pid)
        while proc.returncode is None:
            try:
                if process.memory_info().rss > kill_above:
                    proc.kill()
                    return
            except psutil.Error:
                return
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    found = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, output, usage.ru_maxrss * 1024, found


def test_a_build_with_hostile_labels_exits_3_in_bounded_memory_and_a_failed_one_leaves_the_live_index(tmp_path):
    env = {"MEDSEARCH_MAX_SOURCE_BYTES": str(2 << 20), "PYTHONUNBUFFERED": "1"}
    clean, hostile = tmp_path / "clean", tmp_path / "hostile"
    clean.mkdir()
    (clean / "coumadin.json").write_text((GOOD / "coumadin.json").read_text(encoding="utf-8"))
    code, output, clean_peak, _ = _build(clean, tmp_path / "clean-index", env, kill_above=4 << 30)
    assert code == 0, output

    hostile.mkdir()
    (hostile / "coumadin.json").write_text((GOOD / "coumadin.json").read_text(encoding="utf-8"))
    (hostile / "deep.json").write_text(DEEP)
    _zip(hostile / "huge.json.zip", {"a.json": _response(_label("huge", boxed_warning=["W " * 10_000_000]))})
    (hostile / "types.json").write_text(_response(_label("bad", openfda="x"), _label("good")))
    (hostile / "v0.json").write_text(_response(_label("versioned", version="abc")))
    (hostile / "v1.json").write_text(_response(_label("versioned", version="4")))
    (hostile / "big.json").write_text(_response(*(_label(f"big-{n}") for n in range(80))))  # ~2.1 MiB
    index = tmp_path / "index"
    code, output, peak, report = _build(hostile, index, env, kill_above=clean_peak + (1536 << 20))
    assert code == 3, output
    assert "Traceback" not in output
    assert peak - clean_peak <= 500 << 20, (peak >> 20, clean_peak >> 20)
    skipped = {item["path"].removeprefix(f"{hostile}/"): item["reason"] for item in report["skipped"]}
    assert set(skipped) == {"deep.json#1", "huge.json.zip!a.json#1", "types.json#1", "v0.json#1", "big.json"}
    assert "nested more than 8 levels" in skipped["deep.json#1"]
    assert "larger than 8.0 MiB" in skipped["huge.json.zip!a.json#1"]
    assert skipped["big.json"].startswith("too large")
    assert set(json.loads((index / "current" / "manifest.json").read_text())["articles"]) == {
        "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c", "good", "versioned"}

    live = (index / "current").resolve()
    manifest = (live / "manifest.json").read_bytes()
    only_hostile = tmp_path / "only-hostile"
    only_hostile.mkdir()
    (only_hostile / "deep.json").write_text(DEEP)
    code, output, _, _ = _build(only_hostile, index, env, kill_above=clean_peak + (1536 << 20))
    assert code == 1 and "Traceback" not in output, output
    assert (index / "current").resolve() == live and (live / "manifest.json").read_bytes() == manifest

"""bench/dailymed_like.py: a small DailyMed-like corpus from the fixture labels, read by the real DailyMed loader."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from indexer.sources import Skipped
from indexer.sources.dailymed import load_dailymed_zip

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "fixtures" / "labels" / "good"
SOURCES = [LABELS / "spl", LABELS / "statins.json", LABELS / "coumadin.json"]
N, SEED = 10, 3


def _module():
    spec = importlib.util.spec_from_file_location("dailymed_like", ROOT / "bench" / "dailymed_like.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path, dict]:
    """The same corpus generated twice, in two folders; the first with its figures."""
    module = _module()
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    figures = module.generate(SOURCES, N, SEED, first)
    module.generate(SOURCES, N, SEED, second, stats=False)
    return first, second, figures


def _zips(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.zip"))


def _read(paths: list[Path]) -> dict:
    articles = {}
    for path in paths:
        with open(path, "rb") as fh:
            for item in load_dailymed_zip(path, fh, 64 * 1024 * 1024):
                assert not isinstance(item, Skipped), item
                articles[item.id] = item
    return articles


def _rows(path: Path) -> dict[str, dict]:
    return {row["set_id"]: row for row in map(json.loads, path.read_text().splitlines())}


def test_same_arguments_give_byte_identical_zips(corpus):
    first, second, _ = corpus
    names = [p.relative_to(first) for p in _zips(first)]
    assert names == [p.relative_to(second) for p in _zips(second)]
    assert any(str(n).startswith("release/dm_spl_release_human_") for n in names)
    assert any(str(n).startswith("update/dm_spl_weekly_update_") for n in names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_the_dailymed_loader_reads_every_label_from_the_zip_of_zips(corpus):
    first, _, figures = corpus
    rows = _rows(first / "labels.jsonl")
    articles = _read(_zips(first / "release"))
    assert len(rows) == N and set(articles) == set(rows)
    for set_id, article in articles.items():
        assert article.meta["version"] == rows[set_id]["version"]
        assert article.meta["labeler"] == rows[set_id]["labeler"]
    assert figures["labels_read"] == N and figures["skipped_by_loader"] == []
    assert sum(figures["mechanisms"].values()) == N
    assert figures["passages_before_dedup"] > figures["passages_after_dedup"] > 0


def test_a_repackaged_copy_has_the_same_section_texts_under_another_set_id_and_labeler(corpus):
    first, _, _ = corpus
    rows = _rows(first / "labels.jsonl")
    articles = _read(_zips(first / "release"))
    copies = [row for row in rows.values() if row["mechanism"] == "repackaged"
              and not rows[row["source_set_id"]]["later_version_edits"]]  # its source not revised since
    assert copies
    for row in copies:
        copy, source = articles[row["set_id"]], articles[row["source_set_id"]]
        assert copy.id != source.id
        assert [(s.heading, s.text) for s in copy.sections] == [(s.heading, s.text) for s in source.sections]
        assert copy.meta["labeler"] != source.meta["labeler"] and "[synthetic]" in copy.meta["labeler"]
        assert copy.meta["labeler"] in copy.title and copy.meta["repackaged"] is True


def test_a_generic_copy_names_the_generic_and_edits_a_few_sections(corpus):
    first, _, _ = corpus
    rows = _rows(first / "labels.jsonl")
    articles = _read(_zips(first / "release"))
    generics = [row for row in rows.values() if row["mechanism"] == "generic"]
    assert generics
    for row in generics:
        copy, source = articles[row["set_id"]], articles[row["source_set_id"]]
        brand = source.meta["brand_names"][0]
        assert copy.id != source.id and "[synthetic]" in copy.meta["labeler"]
        if brand.casefold() not in source.meta["generic_names"][0].casefold():
            assert brand.casefold() not in " ".join(s.text for s in copy.sections).casefold()
        assert [s.text for s in copy.sections] != [s.text for s in source.sections]


def test_a_later_version_keeps_its_set_id_with_a_higher_version(corpus):
    first, _, _ = corpus
    release = _read(_zips(first / "release"))
    update = _read(_zips(first / "update"))
    assert len(update) == 1  # 1% of 10 labels, at least one
    for set_id, new in update.items():
        old = release[set_id]
        assert new.meta["version"] > old.meta["version"]
        assert new.meta["effective_time"] > old.meta["effective_time"]
        assert new.meta["spl_id"] != old.meta["spl_id"]
        assert [s.text for s in new.sections] != [s.text for s in old.sections]

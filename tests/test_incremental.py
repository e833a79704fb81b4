"""Incremental builds: only new or changed articles are embedded; deletions disappear everywhere."""
import json
import shutil

import pytest

from indexer.errors import IndexIncompatible
from indexer.index import SearchIndex
from indexer.pipeline import build_index
from search_app.core.ranking import Searcher

from .conftest import CORPUS, rewrite_manifest

QUIET = {"log": lambda line: None}


@pytest.fixture()
def source(tmp_path):
    target = tmp_path / "src"
    shutil.copytree(CORPUS, target)
    return target


def _search(index_dir, embedder, q, mode="hybrid"):
    return Searcher(SearchIndex.open(index_dir), embedder).search(q, 5, mode=mode).hits


def test_add_change_delete(tmp_path, source, embedder):
    index_dir = tmp_path / "ix"
    first = build_index([source], index_dir, embedder, **QUIET)
    assert first.embedded == first.passages and first.carried == 0

    # Add one article, change one, delete one.
    (source / "naproxen.md").write_text((source / "ibuprofen.md").read_text()
                                        .replace("id: ibuprofen", "id: naproxen").replace("Ibuprofen", "Naproxen")
                                        .replace("ibuprofen", "naproxen").replace("[Advil, Nurofen]", "[Aleve]"))
    lisinopril = source / "lisinopril.md"
    lisinopril.write_text(lisinopril.read_text().replace("A dry, tickly cough", "A persistent barking cough"))
    (source / "more.jsonl").write_text((source / "more.jsonl").read_text().splitlines()[0] + "\n")  # drop warfarin

    second = build_index([source], index_dir, embedder, **QUIET)
    assert (second.added, second.changed, second.removed) == (1, 1, 1)  # naproxen, lisinopril, warfarin
    index = SearchIndex.open(index_dir)
    naproxen_passages = len(index.rows_of(["naproxen"]))
    lisinopril_passages = len(index.rows_of(["lisinopril"]))
    # Only the new article and the changed lisinopril section need the model; the rest is carried or cached.
    assert second.carried == second.passages - naproxen_passages - lisinopril_passages
    assert second.embedded <= naproxen_passages + 1
    # naproxen.md copies some of ibuprofen's text word for word: those passages share its stored text.
    assert second.embedded + second.from_cache + second.carried + second.shared == second.passages

    assert index.article("ext-002") is None and index.article("naproxen") is not None
    for mode in ("dense", "lexical", "hybrid"):
        hits = _search(index_dir, embedder, "warfarin INR leafy green vegetables", mode)
        assert all(h.passage.article_id != "ext-002" for h in hits), mode
    barking = _search(index_dir, embedder, "barking cough", "lexical")
    assert barking[0].passage.article_id == "lisinopril"
    assert _search(index_dir, embedder, "Aleve upset stomach")[0].passage.article_id == "naproxen"


def test_nothing_changed_embeds_nothing(tmp_path, source, embedder):
    build_index([source], tmp_path / "ix", embedder, **QUIET)
    again = build_index([source], tmp_path / "ix", embedder, **QUIET)
    assert again.up_to_date and again.embedded == 0 and not again.published


def test_forced_rebuild_reuses_the_cache_and_keeps_ids(tmp_path, source, embedder):
    first = build_index([source], tmp_path / "ix", embedder, **QUIET)
    ids = {p.id for p in SearchIndex.open(tmp_path / "ix").passages(range(first.passages)).values()}
    forced = build_index([source], tmp_path / "ix", embedder, force=True, **QUIET)
    assert forced.published and forced.embedded == 0 and forced.from_cache == forced.passages
    assert ids == {p.id for p in SearchIndex.open(tmp_path / "ix").passages(range(forced.passages)).values()}


def test_an_index_from_another_backend_is_refused(tmp_path, source, embedder):
    build_index([source], tmp_path / "ix", embedder, **QUIET)
    path = tmp_path / "ix" / "current" / "manifest.json"
    manifest = json.loads(path.read_text())
    other = "torch" if embedder.backend != "torch" else "onnx-int8"
    manifest["recipe"]["model"]["backend"] = other
    rewrite_manifest(path, manifest)
    with pytest.raises(IndexIncompatible, match=rf"\({other}\).*\({embedder.backend}\)"):
        SearchIndex.open(tmp_path / "ix", model=embedder.describe())

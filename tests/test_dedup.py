"""Duplicates embedded, stored and shown once (issue 29): a label and a repackager's word-for-word copy of it."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from lxml import html

from indexer import texts
from indexer.cli import main as indexer_cli
from indexer.errors import IndexIncompatible
from indexer.index import SearchIndex
from indexer.lexical import LexicalIndex
from indexer.manifest import BM25_DIR, VECTORS
from indexer.pipeline import build_index
from indexer.store import VectorStore

from .conftest import FIXTURES, rewrite_manifest

QUIET = {"log": lambda line: None, "progress": False}
COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"
COPY = "00000000-0000-0000-0000-0000000000c0"
QUERY = "warfarin bleeding risk"
CHANGED = "Keep out of reach of children; this sentence is only in the copy."


def write_labels(folder: Path, copy_effective: str | None = "20190101") -> None:
    """The Coumadin fixture and, unless ``copy_effective`` is None, a repackager's copy of it under another set
    id and labeler, effective then, whose overdosage section alone says something else."""
    folder.mkdir(parents=True, exist_ok=True)
    original = FIXTURES / "labels" / "good" / "coumadin.json"
    shutil.copy(original, folder / "coumadin.json")
    if copy_effective is None:
        return
    label = copy.deepcopy(json.loads(original.read_text()))
    result = label["results"][0]
    result.update(set_id=COPY, id="10000000-0000-0000-0000-0000000000c0", effective_time=copy_effective)
    result["openfda"]["manufacturer_name"] = ["Repack Co"]
    result["overdosage"] = [result["overdosage"][0] + " " + CHANGED]
    (folder / "copy.json").write_text(json.dumps(label))


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    root = tmp_path_factory.mktemp("dedup")
    write_labels(root / "src")
    report = build_index([root / "src"], root / "index", embedder, **QUIET)
    assert report.published and report.articles == 2, report.skipped
    return root / "index"


@pytest.fixture(scope="module")
def client(built):
    from search_app import create_app

    return create_app({"index": str(built), "TESTING": True}).test_client()


def search(client, **params) -> dict:
    response = client.get("/api/v1/search", query_string={"k": 30, "q": QUERY, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def normalised(result: dict) -> str:
    return texts.normalise(result["heading"] + "\n" + result["text"])


def test_texts_are_the_same_once_normalised_within_one_medicine():
    drug = texts.subject({"drug": "Warfarin Sodium"})
    assert drug == "warfarin sodium" and texts.subject({}) == texts.subject({"drug": None}) == ""
    assert texts.key(drug, "5 WARNINGS", "Bleeding  risk.\n") == texts.key(drug, "5 warnings", "bleeding risk.")
    assert texts.key(drug, "Ｗarnings", "ﬁne") == texts.key(drug, "warnings", "fine")  # NFKC
    assert texts.key(drug, "Contraindications", "None.") != texts.key(drug, "Drug interactions", "None.")
    assert texts.key(drug, "Contraindications", "None.") != texts.key("trastuzumab", "Contraindications", "None.")


def test_a_copy_shares_one_vector_and_one_bm25_document_per_text(built):
    index = SearchIndex.open(built)
    build = index.build_dir
    original, copied = index.rows_of([COUMADIN]), index.rows_of([COPY])
    assert len(original) == len(copied) > 1
    # Every passage of the copy but its changed overdosage points at the original's text ...
    shared = index.table.text[copied] == index.table.text[original]
    assert shared.sum() == len(copied) - 1
    changed = index.passages([int(copied[~shared][0])])[int(copied[~shared][0])]
    assert CHANGED in changed.text and changed.article_id == COPY
    # ... and the store and BM25 hold one vector and one document per distinct text, not per passage.
    assert index.text_count == len(original) + 1 == index.manifest.counts.texts
    assert len(index) == 2 * len(original) == index.manifest.counts.passages
    assert len(VectorStore.load(build / VECTORS, "")) == index.text_count
    assert len(LexicalIndex.load(build / BM25_DIR)) == index.text_count
    # Each row keeps its own identity: its article, section, title and link.
    first = index.passages([int(copied[0]), int(original[0])])
    assert first[int(copied[0])].article_id == COPY and first[int(original[0])].article_id == COUMADIN
    assert first[int(copied[0])].text == first[int(original[0])].text
    assert "Repack Co" in first[int(copied[0])].title and COPY in first[int(copied[0])].url


@pytest.mark.parametrize("fold", ["off", "on"])
def test_a_search_shows_each_text_once_from_the_newest_label(client, fold):
    results = search(client, fold=fold)["results"]
    assert len(results) > 3
    assert len({normalised(r) for r in results}) == len(results)
    # The original is newer than the copy: its passages are shown, the copy listed with them.
    shared = [r for r in results if r["field"] != "overdosage"]  # the section the copy changed
    assert shared and {r["article_id"] for r in shared} == {COUMADIN}
    for r in shared:
        assert r["also_in_count"] == 1
        assert [c["article_id"] for c in r["also_in"]] == [COPY]
        listed = r["also_in"][0]
        assert listed["labeler"] == "Repack Co" and listed["set_id"] == COPY and listed["version"] == 16
        assert listed["effective_date"] == "2019-01-01" and COPY in listed["url"]
        assert listed["permalink"] == f"/articles/{COPY}" and "COUMADIN" in listed["title"]


def test_a_text_only_one_label_has_lists_no_other(client):
    results = search(client, q="overdosage keep out of reach of children", fold="off")["results"]
    own = [r for r in results if CHANGED in r["text"]]
    assert own and own[0]["article_id"] == COPY and own[0]["also_in"] == [] and own[0]["also_in_count"] == 0


def test_the_card_says_also_in_one_other_label_and_links_to_it(client):
    page = client.get("/search", query_string={"q": QUERY, "fold": "off"}).get_data(as_text=True)
    doc = html.fromstring(page)
    disclosures = doc.cssselect("details.also-in")
    assert disclosures
    summary = " ".join(disclosures[0].cssselect("summary")[0].text_content().split())
    assert summary.startswith("Also in 1 other label:")
    links = [a.get("href") for a in disclosures[0].cssselect("li a")]
    assert f"/articles/{COPY}" in links and any(COPY in link and link.startswith("https://") for link in links)
    assert "Repack Co" in disclosures[0].text_content()


def test_removing_the_copy_and_bringing_it_back_newer_rebuilds_incrementally(tmp_path, embedder):
    write_labels(tmp_path / "src")
    first = build_index([tmp_path / "src"], tmp_path / "index", embedder, **QUIET)
    assert first.texts == first.passages // 2 + 1 and first.shared == first.passages // 2 - 1
    # The copy removed: the original's passages are carried over with their vectors, each its own text again
    # (the copy, copy.json, came first: its passages were the ones embedded).
    (tmp_path / "src" / "copy.json").unlink()
    second = build_index([tmp_path / "src"], tmp_path / "index", embedder, **QUIET)
    assert (second.removed, second.unchanged, second.embedded) == (1, 1, 0)
    assert second.carried == second.passages == second.texts == first.passages // 2
    index = SearchIndex.open(tmp_path / "index")
    assert index.text_count == len(index) and not len(index.rows_of([COPY]))
    # The copy back, newer than the original: its copy of each shared text is the one a search shows.
    write_labels(tmp_path / "src", copy_effective="20240101")
    third = build_index([tmp_path / "src"], tmp_path / "index", embedder, **QUIET)
    assert third.carried == second.passages and third.texts == first.texts and third.embedded == 0
    from search_app import create_app

    results = search(create_app({"index": str(tmp_path / "index"), "TESTING": True}).test_client(),
                     fold="off")["results"]
    assert {r["article_id"] for r in results if r["field"] != "overdosage"} == {COPY}
    assert all(r["also_in_count"] == 1 and r["also_in"][0]["article_id"] == COUMADIN
               for r in results if r["field"] != "overdosage")
    assert SearchIndex.open(tmp_path / "index").text_count == first.texts


def test_an_index_of_the_previous_format_is_refused_saying_rebuild(built, tmp_path):
    old = tmp_path / "index"
    shutil.copytree(built, old, symlinks=True)
    path = old / "current" / "manifest.json"
    rewrite_manifest(path, {**json.loads(path.read_text()), "format_version": 7})
    said = r"format version 7, this code reads 8 \(since then: passages of the same text stored once[^)]*\); rebuild"
    with pytest.raises(IndexIncompatible, match=said):
        SearchIndex.open(old)
    result = CliRunner().invoke(indexer_cli, ["verify", "--index", str(old)])
    assert result.exit_code == 1 and result.output.startswith("error: ") and "Traceback" not in result.output
    assert "rebuild it with `python -m indexer build`" in result.output


def test_a_manifest_miscounting_the_texts_is_refused(built, tmp_path):
    old = tmp_path / "index"
    shutil.copytree(built, old, symlinks=True)
    path = old / "current" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["counts"]["texts"] -= 1
    rewrite_manifest(path, manifest)
    with pytest.raises(IndexIncompatible, match=r"distinct texts, the vector store holds"):
        SearchIndex.open(old, checksums=False)


OTHER = "00000000-0000-0000-0000-0000000000d0"


@pytest.fixture(scope="module")
def two_medicines(tmp_path_factory, embedder) -> Path:
    """The Coumadin fixture and another medicine's label printing its boxed warning and overdosage word for word
    (class labeling, as the NSAIDs' labels print one cardiovascular warning)."""
    root = tmp_path_factory.mktemp("class-labeling")
    write_labels(root / "src", copy_effective=None)
    label = json.loads((FIXTURES / "labels" / "good" / "coumadin.json").read_text())
    result = label["results"][0]
    other = {key: result[key] for key in ("boxed_warning", "overdosage", "version")}
    other.update(set_id=OTHER, id="10000000-0000-0000-0000-0000000000d0", effective_time="20220101")
    other["openfda"] = {"brand_name": ["EXAMPLIN"], "generic_name": ["EXAMPLEFARIN SODIUM"],
                        "manufacturer_name": ["Other Pharma"], "spl_set_id": [OTHER]}
    (root / "src" / "other.json").write_text(json.dumps({"results": [other]}))
    report = build_index([root / "src"], root / "index", embedder, **QUIET)
    assert report.published and report.articles == 2, report.skipped
    return root / "index"


def test_another_medicines_copy_has_a_vector_read_under_its_own_title(two_medicines, embedder):
    index = SearchIndex.open(two_medicines)
    other = index.rows_of([OTHER])
    original = {(p.heading, p.text): row for row, p in index.passages(index.rows_of([COUMADIN]).tolist()).items()}
    passages = index.passages(other.tolist())
    # The passages the other label cuts as Coumadin's does (a longer title leaves less room for a passage's text).
    pairs = [(row, original[(p.heading, p.text)]) for row, p in passages.items() if (p.heading, p.text) in original]
    assert len(pairs) > 1
    mine, theirs = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    # Each medicine has its own text (a vector and a BM25 document) for the words they share ...
    assert not set(index.table.text[mine].tolist()) & set(index.table.text[theirs].tolist())
    assert index.text_count == len(index)
    # ... embedded under its own title, so that a query naming it reads its name in the passage.
    wanted = embedder.encode([passages[int(row)].embed_text for row in mine])
    assert "EXAMPLIN" in passages[int(mine[0])].embed_text
    own = np.einsum("ij,ij->i", index.vectors(mine), wanted)
    borrowed = np.einsum("ij,ij->i", index.vectors(theirs), wanted)
    assert (own > borrowed).all() and own.min() > 0.99, (own, borrowed)
    # A page still shows the words once: they are alike.
    assert (index.table.alike[index.table.text[mine]] == index.table.alike[index.table.text[theirs]]).all()
    assert [sorted(c.tolist()) for c in index.copies([int(mine[0])])] == [sorted([int(mine[0]), int(theirs[0])])]


@pytest.mark.parametrize("fold", ["off", "on"])
def test_words_two_medicines_print_are_shown_once_with_the_other_listed(two_medicines, fold):
    from search_app import create_app

    client = create_app({"index": str(two_medicines), "TESTING": True}).test_client()
    results = search(client, q="examplin bleeding risk", fold=fold)["results"]
    said = {(texts.normalise(r["heading"]), texts.normalise(r["text"])) for r in results}
    assert len(results) > 1 and len(said) == len(results)
    assert results[0]["article_id"] == OTHER  # the medicine named, its own copy shown
    # Where Coumadin's label prints the same heading and text, the other medicine's copy is shown, Coumadin listed.
    listed = [r for r in results if r["article_id"] == OTHER and r["also_in_count"]]
    assert len(listed) > 1 and all(r["also_in"][0]["article_id"] == COUMADIN for r in listed)

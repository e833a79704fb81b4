"""Building, publishing and refusing indexes: exit codes, atomic publish, kill safety, manifest checks."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import publishing
from indexer.cli import main
from indexer.errors import BuildLocked, IndexIncompatible, IndexNotFound
from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.store import VectorStore, ef_search_for

from .conftest import CORPUS, ROOT, rewrite_manifest

QUIET = {"log": lambda line: None}


def _copy_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "src"
    shutil.copytree(CORPUS, target)
    return target


def _broken_files(folder: Path) -> None:
    (folder / "binary.md").write_bytes(b"\x00\x01\x02PNG\x00")
    (folder / "latin1.txt").write_bytes("Caf\xe9 \xff\xfe r\xe9sum\xe9".encode("latin-1") + b"\x81\x8d\x90")
    (folder / "empty.html").write_text("   \n")
    (folder / "broken.jsonl").write_text('{"id": "ok-1", "title": "Fine", "url": "", "sections": '
                                         '[{"id": "s1", "heading": "", "text": "Aspirin thins the blood."}]}\n'
                                         '{"id": "bad", "title": \n')


def test_cli_build_reports_and_exits_0(tmp_path):
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["build", str(CORPUS), "--index", str(tmp_path / "ix"),
                                       "--report", str(report_file)])
    assert result.exit_code == 0, result.output
    assert "published build" in result.output and "0 skipped files" in result.output
    report = json.loads(report_file.read_text())
    assert report["articles"] == 7 and report["passages"] >= report["sections"] > 10
    assert (tmp_path / "ix" / "current" / "manifest.json").is_file()


def test_bad_files_are_reported_and_skipped_exit_3(tmp_path):
    source = _copy_corpus(tmp_path)
    _broken_files(source)
    result = CliRunner().invoke(main, ["build", str(source), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 3, result.output
    for name in ("binary.md", "latin1.txt", "empty.html", "broken.jsonl:2"):
        assert f"skipped {source / name}" in result.output
    index = SearchIndex.open(tmp_path / "ix")
    assert index.article("ok-1") is not None and index.article("amitriptyline") is not None


def test_nothing_loadable_publishes_nothing_exit_1(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "empty.md").write_text("")
    result = CliRunner().invoke(main, ["build", str(source), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 1
    assert "nothing published" in result.output
    with pytest.raises(IndexNotFound, match="python -m indexer build"):
        SearchIndex.open(tmp_path / "ix")


def test_missing_source_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["build", str(tmp_path / "nope"), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 1 and "nope" in result.output and "Traceback" not in result.output


def test_unchanged_sources_do_nothing_and_changes_publish_a_new_build(tmp_path, embedder):
    source = _copy_corpus(tmp_path)
    first = build_index([source], tmp_path / "ix", embedder, **QUIET)
    again = build_index([source], tmp_path / "ix", embedder, **QUIET)
    assert again.up_to_date and again.build_id == first.build_id and again.exit_code == 0
    ids_before = _passage_ids(tmp_path / "ix")
    (source / "lisinopril.md").write_text((source / "lisinopril.md").read_text().replace("dry, tickly", "dry"))
    changed = build_index([source], tmp_path / "ix", embedder, keep_builds=1, **QUIET)
    assert changed.published and changed.build_id != first.build_id
    assert SearchIndex.open(tmp_path / "ix").build_id == changed.build_id
    assert _passage_ids(tmp_path / "ix") == ids_before  # same sections, same passage ids
    assert [p.name for p in (tmp_path / "ix" / "builds").iterdir()] == [changed.build_id]  # pruned to 1


def _passage_ids(index_dir: Path) -> set[str]:
    index = SearchIndex.open(index_dir)
    return {p.id for p in index.passages(range(len(index))).values()}


def test_failed_build_leaves_the_live_index_serving(tmp_path, embedder):
    from search_app import create_app

    source = _copy_corpus(tmp_path)
    build_index([source], tmp_path / "ix", embedder, **QUIET)
    client = create_app({"index": str(tmp_path / "ix")}).test_client()
    live = client.get("/healthz").get_json()["build_id"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.md").write_bytes(b"\x00")
    assert build_index([broken], tmp_path / "ix", embedder, **QUIET).exit_code == 1
    assert client.get("/healthz").get_json()["build_id"] == live
    assert SearchIndex.open(tmp_path / "ix").build_id == live
    assert client.get("/api/search?q=cramps").status_code == 200


def test_killed_build_leaves_the_old_index_and_the_next_build_completes(tmp_path, embedder):
    small = _copy_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    live = build_index([small], index_dir, embedder, **QUIET).build_id
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    big = [str(ROOT / "corpus")]
    proc = subprocess.Popen([sys.executable, "-m", "indexer", "build", *big, "--index", str(index_dir),
                             "--embed-window", "64"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # wait until a first window of vectors is done, then kill without warning
        if line.startswith("indexed") and "64 embedded" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert list((index_dir / "builds").glob(".staging-*"))  # it died half-way through writing
    assert SearchIndex.open(index_dir).build_id == live
    # The dead process's lock is released by the OS, so the same command runs again, tidies up
    # and resumes from the vectors the killed run had computed.
    result = CliRunner().invoke(main, ["build", *big, "--index", str(index_dir), "--report",
                                       str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passages_from_cache"] >= 64
    assert report["passages_embedded"] + report["passages_from_cache"] + report["passages_carried_over"] == report["passages"]
    assert SearchIndex.open(index_dir).article("warfarin") is not None
    assert not list((index_dir / "builds").glob(".staging-*"))


def test_a_second_build_is_refused_while_one_runs_and_a_stale_lock_is_ignored(tmp_path, embedder):
    index_dir = tmp_path / "ix"
    held = publishing.lock(index_dir)
    try:
        with pytest.raises(BuildLocked, match="another build is running"):
            build_index([CORPUS], index_dir, embedder, **QUIET)
    finally:
        held.release()
    (index_dir / "build.lock").write_text("left behind by a crashed build")
    assert build_index([CORPUS], index_dir, embedder, **QUIET).published


@pytest.fixture()
def private_index(tmp_path, index_dir) -> Path:
    """A copy of the session index that a test may damage."""
    copy = tmp_path / "ix"
    shutil.copytree(index_dir, copy, symlinks=True)
    return copy


def _manifest(index_dir: Path) -> tuple[Path, dict]:
    path = index_dir / "current" / "manifest.json"
    return path, json.loads(path.read_text())


def test_corrupted_file_is_refused_with_what_to_run(private_index):
    vectors = private_index / "current" / "vectors.faiss"
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexIncompatible, match=r"vectors.faiss does not match its checksum.*python -m indexer build"):
        SearchIndex.open(private_index)
    result = CliRunner().invoke(main, ["verify", "--index", str(private_index)])
    assert result.exit_code == 1 and "checksum" in result.output


def test_a_build_without_its_heading_vectors_is_refused(private_index):
    """A build of format 3 had no headings.npz; one that lost it is refused, saying what to run."""
    (private_index / "current" / "headings.npz").unlink()
    with pytest.raises(IndexIncompatible, match=r"is missing headings.npz; rebuild it"):
        SearchIndex.open(private_index)


@pytest.mark.parametrize("field, value, message", [
    ("format_version", 99, "format version 99"),
    ("counts", {"articles": 7, "sections": 1, "passages": 3, "texts": 3}, "manifest says 3 passages"),
    ("recipe.model", {"name": "other", "dimension": 768, "fingerprint": "x", "backend": "torch"}, "768-dimensional"),
    ("counts", {"articles": "7", "sections": 1, "passages": 3}, "field 'counts.articles' must be a int, it is a str"),
    ("build_id", 42, "field 'build_id' must be a str"),
    ("recipe", None, "field 'recipe' must be a dict, it is a NoneType"),
])
def test_mismatched_manifest_is_refused(private_index, embedder, field, value, message):
    path, manifest = _manifest(private_index)
    *parents, name = field.split(".")
    target = manifest
    for parent in parents:
        target = target[parent]
    target[name] = value
    rewrite_manifest(path, manifest)
    with pytest.raises(IndexIncompatible, match=message):
        SearchIndex.open(private_index, model=embedder.describe())
    result = subprocess.run([sys.executable, "-m", "indexer", "verify", "--index", str(private_index)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_a_manifest_edited_after_its_build_is_refused(private_index):
    path, manifest = _manifest(private_index)
    manifest["build_id"] = "forged"  # checksums of the data files still hold: only the digest can tell
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexIncompatible, match="does not match its digest in manifest.sha256"):
        SearchIndex.open(private_index)
    (path.parent / "manifest.sha256").unlink()
    with pytest.raises(IndexIncompatible, match="no readable manifest.sha256"):
        SearchIndex.open(private_index)


def test_index_built_with_another_model_is_refused(private_index, embedder):
    path, manifest = _manifest(private_index)
    manifest["recipe"]["model"]["fingerprint"] = "0" * 64
    rewrite_manifest(path, manifest)
    with pytest.raises(IndexIncompatible, match="was built with model"):
        SearchIndex.open(private_index, model=embedder.describe())


def test_verify_passes_on_a_good_index(index_dir):
    result = CliRunner().invoke(main, ["verify", "--index", str(index_dir)])
    assert result.exit_code == 0 and result.output.startswith("ok: build")


def test_hnsw_index_type_is_recorded_and_serves_the_same_top_results(tmp_path, index_dir, embedder):
    from search_app.core.ranking import Searcher

    report = build_index([CORPUS], tmp_path / "hnsw", embedder, index_type="hnsw", **QUIET)
    manifest = json.loads((tmp_path / "hnsw" / "current" / "manifest.json").read_text())
    assert manifest["vector_index"]["factory"] == "HNSW32,Flat" and manifest["vector_index"]["exact"] is False
    assert isinstance(manifest["vector_index"]["efSearch"], int) and manifest["vector_index"]["efSearch"] >= 10
    assert report.from_cache + report.embedded == report.passages
    approximate = Searcher(SearchIndex.open(tmp_path / "hnsw"), embedder)
    exact = Searcher(SearchIndex.open(index_dir), embedder)
    for q in ("can amitriptyline cause cramps", "where do I keep insulin pens", "lisinopril cough"):
        top = [[h.passage.id for h in s.search(q, 3, mode="dense").hits] for s in (approximate, exact)]
        assert top[0] == top[1], q


def _recall_at_10(store: VectorStore, queries: np.ndarray, exact: np.ndarray) -> float:
    found = store.search(queries, 10)[1]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]))


def test_hnsw_recall_against_exact_search_follows_the_recorded_ef_search(tmp_path):
    """An HNSW store finds what exact search finds, and is searched with the efSearch its manifest records."""
    rng = np.random.default_rng(0)
    # Random directions in 64 dimensions: hard enough that a narrow graph walk visibly misses neighbours.
    vectors, queries = (rng.normal(size=(n, 64)).astype(np.float32) for n in (3000, 100))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    flat = VectorStore.create(64)
    flat.add(vectors)
    exact = flat.search(queries, 10)[1]
    hnsw = VectorStore.create(64, "HNSW32,Flat")
    hnsw.add(vectors)
    assert _recall_at_10(hnsw, queries, exact) >= 0.97
    hnsw.save(tmp_path / "v.faiss")
    # What the manifest records (describe) is what a reopened build is searched with (SearchIndex.open passes it).
    recorded = hnsw.describe()["efSearch"]
    reopened = VectorStore.load(tmp_path / "v.faiss", "HNSW32,Flat", ef_search=recorded)
    assert np.array_equal(reopened.search(queries, 10)[1], hnsw.search(queries, 10)[1])
    narrow = VectorStore.load(tmp_path / "v.faiss", "HNSW32,Flat", ef_search=10)
    assert narrow.describe()["efSearch"] == 10
    assert _recall_at_10(narrow, queries, exact) < _recall_at_10(reopened, queries, exact) - 0.1
    # A bigger index is never searched more narrowly than a smaller one.
    sizes = [1_000, 100_000, 300_000, 1_000_000, 10_000_000]
    assert [ef_search_for(n) for n in sizes] == sorted(ef_search_for(n) for n in sizes)

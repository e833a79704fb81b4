"""ONNX Runtime backends: the same vectors as torch (within int8 error), the index refuses a mixed backend."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.cli import main
from indexer.embedding import DEFAULT_BACKEND, Embedder, UnknownBackend, UnsupportedModel, load_embedder
from indexer.embedding.onnx_export import export_fingerprint
from indexer.errors import IndexIncompatible
from indexer.index import SearchIndex
from indexer.pipeline import build_index
from search_app.core.ranking import Searcher

from .conftest import CORPUS, rewrite_manifest

TEXTS = ["What are the side effects of ibuprofen?", "cough",
         "Lisinopril: side effects. A dry, tickly cough is common and may need a different medicine.",
         "Store insulin pens in the fridge before first use; keep the pen in use at room temperature. " * 6,
         "Can I drink alcohol while taking amitriptyline?"]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def torch_embedder():
    return load_embedder(backend="torch")


@pytest.fixture(scope="session")
def onnx_embedder(model_cache):
    return Embedder(backend="onnx", model_cache=model_cache)


@pytest.fixture(scope="session")
def int8_embedder(model_cache):
    return Embedder(backend="onnx-int8", model_cache=model_cache)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_onnx_vectors_match_torch(torch_embedder, onnx_embedder, int8_embedder):
    reference = torch_embedder.encode(TEXTS)
    fp32, int8 = onnx_embedder.encode(TEXTS), int8_embedder.encode(TEXTS)
    assert fp32.dtype == int8.dtype == np.float32 and fp32.shape == int8.shape == reference.shape
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert _cosines(reference, fp32).min() >= 1 - 1e-4
    assert _cosines(reference, int8).mean() >= 0.98
    assert onnx_embedder.dimension == torch_embedder.dimension and onnx_embedder.max_seq_length == torch_embedder.max_seq_length
    assert onnx_embedder.count_tokens(TEXTS) == int8_embedder.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)


def test_order_is_kept_whatever_the_lengths(torch_embedder, onnx_embedder, int8_embedder):
    texts = [TEXTS[i] for i in (3, 1, 4, 0, 2)]  # long, one word, short, short, medium
    alone = np.concatenate([torch_embedder.encode_query(t) for t in texts])
    for model in (onnx_embedder, int8_embedder):
        # Each row is nearest to its own text embedded alone: the rows came back in their places.
        assert list(np.argmax(model.encode(texts) @ alone.T, axis=1)) == [0, 1, 2, 3, 4]
    assert _cosines(onnx_embedder.encode(texts), alone).min() >= 1 - 1e-4


# Long enough to widen a batch's activation range (and its padding) far past the short texts' own.
LONG = ("Warfarin: interactions. Many antibiotics, antifungals and painkillers change how warfarin works, and "
        "leafy green vegetables are rich in vitamin K, which lowers the INR; keep the diet steady. ") * 8


def test_a_text_has_one_vector_whatever_it_is_embedded_with(embedder, onnx_embedder):
    """Alone, beside a long text, in another order: the default backend and fp32 give a text one vector."""
    assert embedder.backend == DEFAULT_BACKEND
    for model in (embedder, onnx_embedder):
        alone = np.concatenate([model.encode([text]) for text in TEXTS])
        beside_long = model.encode([LONG, *TEXTS])[1:]
        reversed_ = model.encode(TEXTS[::-1])[::-1]
        for batched in (beside_long, reversed_):
            assert _cosines(alone, batched).min() >= 0.9999, (model.backend, _cosines(alone, batched))


def _cached_vectors(index_dir) -> dict[bytes, np.ndarray]:
    """Every vector of a build's embedding cache, by key (fingerprint and text)."""
    with closing(sqlite3.connect(index_dir / "cache" / "embeddings.sqlite")) as db:
        return {key: np.frombuffer(blob, dtype=np.float32) for key, blob in db.execute("SELECT key, vector FROM vectors")}


def test_a_ray_build_embeds_every_text_as_a_local_build_does(tmp_path):
    """The default backend on the Ray engine (one actor, its texts over two threads) and locally: one vector a text."""
    pytest.importorskip("ray", reason="Ray is not installed (install it with `pip install -r requirements-ray.txt`)")
    two_cpus = sorted(os.sched_getaffinity(0))[:2]
    for engine in ("local", "ray"):
        done = subprocess.run([sys.executable, "-m", "indexer", "build", str(CORPUS), "--index", str(tmp_path / engine),
                               "--engine", engine, "--ray-actors", "1"], capture_output=True, text=True, timeout=300,
                              preexec_fn=lambda: os.sched_setaffinity(0, two_cpus))
        assert done.returncode == 0, done.stderr
    local, ray = _cached_vectors(tmp_path / "local"), _cached_vectors(tmp_path / "ray")
    assert local.keys() == ray.keys() and len(local) > 20
    keys = sorted(local)
    cosines = _cosines(np.stack([local[k] for k in keys]), np.stack([ray[k] for k in keys]))
    assert cosines.min() >= 0.9999, cosines.min()


def test_empty_input(int8_embedder):
    assert int8_embedder.encode([]).shape == (0, int8_embedder.dimension)
    assert int8_embedder.count_tokens([]) == []
    assert int8_embedder.encode([""]).shape == (1, int8_embedder.dimension)


def test_fingerprints_keep_backends_apart(torch_embedder, onnx_embedder, int8_embedder):
    fingerprints = {torch_embedder.fingerprint, onnx_embedder.fingerprint, int8_embedder.fingerprint}
    assert len(fingerprints) == 3
    assert [e.describe()["backend"] for e in (torch_embedder, onnx_embedder, int8_embedder)] == ["torch", "onnx", "onnx-int8"]


def test_an_index_of_vectors_run_otherwise_is_refused_and_rebuilt_anew(tmp_path, embedder):
    """An index whose int8 vectors were embedded in batches (before each text ran alone) is not served with
    today's vectors, and the message says what to run; a rebuild embeds every passage again."""
    index_dir = tmp_path / "ix"
    first = build_index([CORPUS], index_dir, embedder, log=lambda line: None)
    # What a build of the batched int8 recorded: the fingerprint of its export alone.
    batched = export_fingerprint(embedder._model_fingerprint, embedder.backend)
    assert batched != embedder.fingerprint
    path = index_dir / "current" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["recipe"]["model"]["fingerprint"] = batched
    rewrite_manifest(path, manifest)
    shutil.rmtree(index_dir / "cache")  # its vectors were keyed by the new fingerprint
    message = r"another version of medsearch .* rebuild it: `python -m indexer build SOURCE\.\.\. --index "
    with pytest.raises(IndexIncompatible, match=message):
        SearchIndex.open(index_dir, model=embedder.describe())
    from search_app import create_app

    with pytest.raises(IndexIncompatible, match=message):
        create_app({"index": str(index_dir)})
    again = build_index([CORPUS], index_dir, embedder, log=lambda line: None)
    assert again.published and again.carried == 0 and again.embedded == first.embedded
    assert len(SearchIndex.open(index_dir, model=embedder.describe())) == first.passages


def test_build_with_int8_then_serve_it(tmp_path, model_cache, torch_embedder, int8_embedder, monkeypatch):
    index_dir = tmp_path / "ix"
    # A torch build first: its cached vectors must not be taken for int8 ones.
    build_index([CORPUS], index_dir, torch_embedder, log=lambda line: None)
    monkeypatch.setenv("MEDSEARCH_MODEL_CACHE", str(model_cache))
    result = CliRunner().invoke(main, ["build", str(CORPUS), "--index", str(index_dir), "--backend", "onnx-int8",
                                       "--report", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passages_embedded"] == report["passages"] and report["passages_from_cache"] == 0
    manifest = json.loads((index_dir / "current" / "manifest.json").read_text())
    assert manifest["recipe"]["model"]["backend"] == "onnx-int8"

    searcher = Searcher(SearchIndex.open(index_dir, model=int8_embedder.describe()), int8_embedder)
    assert searcher.search("lisinopril cough", 3, mode="dense").hits[0].passage.article_id == "lisinopril"
    with pytest.raises(IndexIncompatible, match=r"\(onnx-int8\), not the configured .* \(torch\).*"
                                                r"MEDSEARCH_BACKEND=onnx-int8"):
        SearchIndex.open(index_dir, model=torch_embedder.describe())
    from search_app import create_app

    with pytest.raises(IndexIncompatible, match="MEDSEARCH_BACKEND=onnx-int8"):
        create_app({"index": str(index_dir), "backend": "torch"})
    served = create_app({"index": str(index_dir), "backend": "onnx-int8"}).test_client()
    body = served.get("/api/search?q=lisinopril+cough&k=3&mode=dense").get_json()
    assert body["results"][0]["article_id"] == "lisinopril"


def test_unknown_backend_is_refused(tmp_path, monkeypatch):
    with pytest.raises(UnknownBackend, match="one of torch, onnx, onnx-int8"):
        Embedder(backend="tensorrt")
    result = CliRunner().invoke(main, ["build", str(CORPUS), "--index", str(tmp_path / "ix"), "--backend", "fast"])
    assert result.exit_code == 2 and "--backend=fast: backend must be one of torch, onnx, onnx-int8" in result.output
    monkeypatch.setenv("MEDSEARCH_BACKEND", "fast")
    result = CliRunner().invoke(main, ["build", str(CORPUS), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 2 and "MEDSEARCH_BACKEND=fast: backend must be one of" in result.output


def test_the_export_is_made_once_and_reused(model_cache, int8_embedder, onnx_embedder):
    files = [int8_embedder.export_dir / "model.onnx", onnx_embedder.export_dir / "model.onnx"]
    before = [os.stat(f).st_mtime_ns for f in files]
    again = Embedder(backend="onnx-int8", model_cache=model_cache)
    assert again.export_dir == int8_embedder.export_dir
    assert [os.stat(f).st_mtime_ns for f in files] == before
    assert np.array_equal(again.encode(TEXTS), int8_embedder.encode(TEXTS))


def test_a_corrupt_or_partial_export_is_made_again(tmp_path, model_cache, int8_embedder):
    cache = tmp_path / "cache"
    shutil.copytree(model_cache, cache)
    int8_dir = cache / "onnx" / int8_embedder.export_dir.name
    model_file = int8_dir / "model.onnx"
    model_file.write_bytes(model_file.read_bytes()[:1000])  # as if the disk lost the rest
    (int8_dir / ".model.onnx.x1.tmp").write_bytes(b"left by an export that was killed")
    fp32_file = next(p for p in (cache / "onnx").glob("*/model.onnx") if p.parent != int8_dir)
    fp32_mtime = fp32_file.stat().st_mtime_ns

    rebuilt = Embedder(backend="onnx-int8", model_cache=cache)
    assert model_file.stat().st_size == (int8_embedder.export_dir / "model.onnx").stat().st_size
    assert not list(int8_dir.glob(".*.tmp"))
    assert fp32_file.stat().st_mtime_ns == fp32_mtime  # the fp32 export was sound: only int8 was redone
    assert _cosines(rebuilt.encode(TEXTS), int8_embedder.encode(TEXTS)).min() >= 1 - 1e-6

    (int8_dir / "export.json").unlink()  # an export killed before its description was written
    assert Embedder(backend="onnx-int8", model_cache=cache).encode(TEXTS).shape == (len(TEXTS), 384)
    assert json.loads((int8_dir / "export.json").read_text())["backend"] == "onnx-int8"


def test_a_model_without_mean_pooling_is_refused(tmp_path, torch_embedder):
    model = tmp_path / "cls-model"
    shutil.copytree(torch_embedder.path, model, copy_function=os.symlink, ignore=shutil.ignore_patterns("1_Pooling"))
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 384,
                                                                 "pooling_mode_cls_token": True,
                                                                 "pooling_mode_mean_tokens": False}))
    with pytest.raises(UnsupportedModel, match=r"pooling \['cls_token'\].*--backend torch"):
        Embedder(str(model), backend="onnx", model_cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # refused before anything was exported

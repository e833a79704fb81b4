"""Shared fixtures: the real model, a real index built from small fixture articles, the real app."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from indexer.embedding import load_embedder
from indexer.pipeline import build_index

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = FIXTURES / "corpus"
SHARED = ROOT.parent / "shared" / "data"


def rewrite_manifest(path: Path, manifest: dict) -> None:
    """Write a build's manifest and its digest, as a build of other contents would have."""
    path.write_text(json.dumps(manifest))
    (path.parent / "manifest.sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "\n")


def needs_shared(path: Path) -> Path:
    """Skip the calling test, saying why, when ../shared is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is not beside this checkout)")
    return path


@pytest.fixture(scope="session")
def embedder():
    return load_embedder()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, embedder) -> Path:
    """A published index of the fixture corpus; tests must not modify it."""
    path = tmp_path_factory.mktemp("index")
    report = build_index([CORPUS], path, embedder, log=lambda line: None)
    assert report.published and not report.skipped, report.skipped
    return path


@pytest.fixture(scope="session")
def app(index_dir):
    from search_app import create_app

    return create_app({"index": str(index_dir), "TESTING": True})


@pytest.fixture()
def client(app):
    return app.test_client()

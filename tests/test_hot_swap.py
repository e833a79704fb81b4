"""Hot index swap: the index is rebuilt again and again under a running server, which never fails or mixes builds.

Two corpora alternate: the fixture articles plus a marker article that reads "alpha" in one
and "beta" in the other (with its own article id). Every answer must name one build in its
header and body, and every marker passage in it must be the one that build was made from.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from indexer import publishing
from indexer.pipeline import build_index

from .conftest import CORPUS
from .serving import serving

MARKER = """---
title: Swap marker {word}
id: swap-{word}
kind: topic
updated: 2026-11-25
---

The {word} marker sentence says which corpus this build was made from.

## About the {word} marker
This marker section belongs to the {word} build and to no other.
"""
BUILDS = 6          # rebuilds while the clients run
CLIENTS = 3         # threads sending requests back to back
LAST_BUILD_WAIT_S = 120  # bound on the wait for the last build to be served (generous: the machine may be loaded)


def corpus(root: Path, word: str) -> Path:
    folder = root / word
    shutil.copytree(CORPUS, folder)
    (folder / f"swap-{word}.md").write_text(MARKER.format(word=word), encoding="utf-8")
    return folder


@pytest.fixture()
def swap_index(tmp_path, embedder):
    """An index of the alpha corpus, the two corpora, and the variant behind every build id."""
    sources = {word: corpus(tmp_path, word) for word in ("alpha", "beta")}
    index_dir = tmp_path / "index"
    report = build_index([sources["alpha"]], index_dir, embedder, log=lambda line: None)
    return index_dir, sources, {report.build_id: "alpha"}


def test_rebuilds_under_load_give_no_error_and_no_mixed_answer(swap_index, embedder):
    from search_app import create_app

    index_dir, sources, variant_of = swap_index
    app = create_app({"index": str(index_dir), "reload_interval_ms": 50})
    answers: list[tuple[str, str, list[str], list[str]]] = []  # (header build, body build, article ids, texts)
    seen_by: dict[int, list[str]] = {}  # each client's builds, in the order its requests were sent
    errors: list[str] = []
    done = threading.Event()

    def client(base: str) -> None:
        mine = seen_by.setdefault(threading.get_ident(), [])
        while not done.is_set():
            url = f"{base}/api/v1/search?q=which+marker+sentence+build&k=4&mode=lexical"
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    body = json.load(response)
                    answers.append((response.headers["X-Medsearch-Build"], body["build_id"],
                                    [r["article_id"] for r in body["results"]], [r["text"] for r in body["results"]]))
                    mine.append(body["build_id"])
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(repr(exc))

    with serving(app) as base:
        threads = [threading.Thread(target=client, args=(base,)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            for n in range(BUILDS):
                word = ("beta", "alpha")[n % 2]
                report = build_index([sources[word]], index_dir, embedder, force=True, log=lambda line: None)
                assert report.published
                variant_of[report.build_id] = word
                time.sleep(0.3)  # give the clients a chance to see this build before the next replaces it
            # However slow the machine, the last published build must be served within a generous bound.
            last = report.build_id
            deadline = time.monotonic() + LAST_BUILD_WAIT_S
            while time.monotonic() < deadline and not any(a[0] == last for a in answers[-CLIENTS * 4:]):
                time.sleep(0.05)
        finally:
            done.set()
            for thread in threads:
                thread.join(timeout=60)

    assert not errors, errors[:5]
    assert any(header == last for header, *_ in answers), f"build {last} not served within {LAST_BUILD_WAIT_S} s"
    mixed = []
    for header, body_build, article_ids, texts in answers:
        word = variant_of.get(header)  # None: a build that was never published (or a missing header)
        other = "beta" if word == "alpha" else "alpha"
        markers = [a for a in article_ids if a.startswith("swap-")]
        if (header != body_build or word is None or markers != [f"swap-{word}"] * len(markers) or not markers
                or any(other in text for text in texts)):
            mixed.append((header, body_build, article_ids))
    assert not mixed, mixed[:5]
    # Builds are served in the order they were published: once a client got a newer build, never an older one.
    order = list(variant_of)
    for builds in seen_by.values():
        positions = [order.index(build) for build in builds]
        assert positions == sorted(positions), "an older build answered after a newer one had"


def test_a_broken_new_build_is_refused_and_the_live_one_kept(swap_index, caplog):
    from search_app import create_app

    index_dir, _, variant_of = swap_index
    app = create_app({"index": str(index_dir), "reload_interval_ms": 1})
    client = app.test_client()
    live = client.get("/healthz").get_json()["build_id"]
    # A "published" build whose vectors do not match its manifest's checksum.
    broken_id = publishing.new_build_id()
    broken = index_dir / "builds" / broken_id
    shutil.copytree(index_dir / "builds" / live, broken)
    with open(broken / "vectors.faiss", "r+b") as fh:
        fh.seek(-4, os.SEEK_END)
        fh.write(b"\xff\xff\xff\xff")
    os.symlink(Path("builds") / broken_id, index_dir / ".current.tmp")
    os.replace(index_dir / ".current.tmp", index_dir / "current")
    holder = app.extensions["medsearch_live"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "could not open" not in caplog.text:
        response = client.get("/api/v1/search?q=marker")
        assert response.status_code == 200 and response.headers["X-Medsearch-Build"] == live
        time.sleep(0.05)
    assert "could not open the newly published build" in caplog.text
    assert client.get("/api/v1/search?q=marker").headers["X-Medsearch-Build"] == live
    assert holder.swaps == 0


def test_a_fresh_worker_refreshes_to_the_published_build_before_serving(swap_index, embedder):
    from search_app import create_app

    index_dir, sources, _ = swap_index
    app = create_app({"index": str(index_dir), "reload_interval_ms": 0})  # no checks: only refresh() swaps
    first = app.test_client().get("/healthz").get_json()["build_id"]
    newer = build_index([sources["beta"]], index_dir, embedder, force=True, log=lambda line: None).build_id
    assert app.test_client().get("/healthz").get_json()["build_id"] == first
    assert app.extensions["medsearch_live"].refresh() is True
    assert app.test_client().get("/healthz").get_json()["build_id"] == newer
    assert app.test_client().get("/api/v1/articles/swap-beta").status_code == 200

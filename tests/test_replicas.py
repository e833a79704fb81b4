"""Serving one index from many replicas: a synced copy is served like the original, a half-synced build is refused.

A replica's index directory is a copy of the builder's (rsync, object storage, a shared volume):
whole build directories first, ``current`` last. A replica whose ``current`` is moved to a
build that is not all there (files missing, a file cut short) must keep serving the build it has
and log why, as it does for a corrupted build; its health check keeps answering.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from indexer import manifest as manifests
from indexer import publishing
from indexer.pipeline import build_index

from .conftest import CORPUS

QUIET = {"log": lambda line: None}


def _sync_build(source: Path, replica: Path, build_id: str, files: list[str] | None = None,
                cut: str | None = None) -> None:
    """Copy one build into the replica (only ``files`` when given, ``cut`` truncated to half), then swap ``current``."""
    src, dst = source / publishing.BUILDS / build_id, replica / publishing.BUILDS / build_id
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        name = str(path.relative_to(src))
        if files is not None and name not in files:
            continue
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        (dst / name).write_bytes(data[:len(data) // 2] if name == cut else data)
    os.symlink(Path(publishing.BUILDS) / build_id, replica / ".current.sync")
    os.replace(replica / ".current.sync", replica / publishing.CURRENT)  # `current` last, atomically


def _served(client) -> str:
    """The build a search is answered from, which the health check names too (asked just after it)."""
    response = client.get("/api/v1/search?q=ibuprofen")
    assert response.status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    if health.get_json()["build_id"] != response.headers["X-Medsearch-Build"]:
        # The replica swapped between the two requests (it checks `current` before each): then the next
        # search is answered from the build the health check named.
        response = client.get("/api/v1/search?q=ibuprofen")
        assert response.status_code == 200
        assert health.get_json()["build_id"] == response.headers["X-Medsearch-Build"]
    return response.headers["X-Medsearch-Build"]


def _wait_for(predicate, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_replica_serves_its_synced_copy_and_refuses_half_synced_builds(tmp_path, embedder, caplog):
    from search_app import create_app

    builder, replica = tmp_path / "builder", tmp_path / "replica"
    first = build_index([CORPUS], builder, embedder, **QUIET).build_id
    _sync_build(builder, replica, first)
    client = create_app({"index": str(replica), "reload_interval_ms": 1}).test_client()
    assert _served(client) == first

    caplog.set_level(logging.ERROR, logger="medsearch.live")
    # A sync that moved `current` before the new build's data files arrived: the vectors are missing.
    second = build_index([CORPUS], builder, embedder, force=True, **QUIET).build_id
    _sync_build(builder, replica, second, files=[manifests.MANIFEST, manifests.MANIFEST_DIGEST, manifests.CATALOG])
    assert _wait_for(lambda: _served(client) == first and second in caplog.text)
    assert "could not open the newly published build" in caplog.text and "is missing" in caplog.text
    # One whose catalog was cut short mid-copy: its checksum does not match the manifest.
    caplog.clear()
    third = build_index([CORPUS], builder, embedder, force=True, **QUIET).build_id
    _sync_build(builder, replica, third, cut=manifests.CATALOG)
    assert _wait_for(lambda: _served(client) == first and third in caplog.text)
    assert f"{manifests.CATALOG} does not match its checksum" in caplog.text
    for _ in range(20):  # and it stays on the build it has
        assert _served(client) == first

    # Synced properly (the whole build, then `current`), the next build is swapped in.
    fourth = build_index([CORPUS], builder, embedder, force=True, **QUIET).build_id
    shutil.rmtree(replica / publishing.BUILDS / fourth, ignore_errors=True)
    _sync_build(builder, replica, fourth)
    assert _wait_for(lambda: _served(client) == fourth)

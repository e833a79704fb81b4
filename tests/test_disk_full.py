"""A disk that fills up during a build: one ``error:`` line naming where and how much room is needed, the report
written (to stderr when its own disk is full), the live build untouched, no staging directory left behind.

The disk is filled for real writes: the native guard (tests/guard.c) makes every write under a folder fail
with ENOSPC from the first write to a given file on, whichever library writes it (SQLite, FAISS, Python).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.index import SearchIndex
from indexer.publishing import BUILDS, CURRENT, STAGING_PREFIX

from .conftest import CORPUS, ROOT
from .guard import build_guard, clean_environment

NEW_ARTICLE = """---
title: Storing tablets
id: storing-tablets
---

Keep tablets in their box, away from heat and damp, and out of the reach of children.
"""


@pytest.fixture(scope="module")
def guard_library(tmp_path_factory) -> Path:
    """The native guard, compiled for this module."""
    return build_guard(tmp_path_factory)


def build_on_a_full_disk(guard: Path, index: Path, disk: Path, full_at: str, report: Path,
                         sources: Path = CORPUS) -> subprocess.CompletedProcess:
    """``python -m indexer build`` whose writes under ``disk`` fail with ENOSPC from the first write to ``full_at``."""
    env = clean_environment(LD_PRELOAD=str(guard), GUARD_FULL_DIR=str(disk), GUARD_FULL_AT=full_at)
    return subprocess.run([sys.executable, "-m", "indexer", "build", str(sources), "--index", str(index), "--force",
                           "--report", str(report)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture()
def live_index(tmp_path, index_dir) -> tuple[Path, str]:
    """A copy of the session's index (its own to fill) and the build it serves."""
    index = Path(shutil.copytree(index_dir, tmp_path / "index", symlinks=True)).resolve()
    return index, (index / CURRENT).resolve().name


def assert_untouched(index: Path, live: str) -> None:
    assert (index / CURRENT).resolve().name == live
    assert SearchIndex.open(index).build_id == live  # checksums and counts still verified
    assert not [p.name for p in (index / BUILDS).iterdir() if p.name.startswith(STAGING_PREFIX)]


@pytest.mark.parametrize("full_at", ["passages.sqlite", "vectors.faiss", "lexicon.json"])
def test_a_full_index_disk_is_one_line_with_the_room_needed_and_a_report(tmp_path, live_index, guard_library,
                                                                          full_at):
    index, live = live_index
    report = tmp_path / "report.json"  # on another disk
    result = build_on_a_full_disk(guard_library, index, index, full_at, report)
    assert result.returncode == 1
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: no space left on the disk of {index} (")
    assert "the new build needs about" in errors[0] and f"the size of the live build {live}" in errors[0]
    assert errors[0].endswith("nothing was published and the live index is untouched")
    if full_at == "vectors.faiss":  # the file FAISS was writing is named
        assert "vectors.faiss: No space left on device" in errors[0]
    written = json.loads(report.read_text())
    assert written["published"] is False and written["exit_code"] == 1
    assert written["error"] == errors[0].removeprefix("error: ")
    assert_untouched(index, live)


def test_a_full_cache_disk_is_said_as_such_and_the_report_goes_to_stderr(tmp_path, live_index, guard_library):
    index, live = live_index
    sources = Path(shutil.copytree(CORPUS, tmp_path / "sources"))
    (sources / "storing-tablets.md").write_text(NEW_ARTICLE, encoding="utf-8")  # a passage the cache has not seen
    cache = index / "cache"
    report = cache / "report.json"  # on the full disk too: it cannot be written there
    result = build_on_a_full_disk(guard_library, index, cache, "embeddings.sqlite-wal", report, sources)
    assert result.returncode == 1
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: no space left on the disk of {cache / 'embeddings.sqlite'}")
    assert "the embedding cache needs room for 1 vector" in errors[0] and "write access" not in errors[0]
    lines = result.stderr.splitlines()
    warned = next(i for i, line in enumerate(lines) if line.startswith("warning: the report could not be written"))
    assert str(report) in lines[warned] and "No space left on device" in lines[warned]
    shown = json.loads(lines[warned + 1])
    assert shown["published"] is False and shown["error"] == errors[0].removeprefix("error: ")
    assert not report.exists()  # no half-written report left
    assert_untouched(index, live)

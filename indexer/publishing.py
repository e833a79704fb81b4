"""The index directory: builds written beside the live one and published by an atomic pointer swap.

Layout::

    INDEX/current -> builds/<build id>     symlink, replaced atomically on publish
    INDEX/builds/<build id>/                one complete build (manifest.json and data files)
    INDEX/builds/.staging-<build id>/       a build being written; never read by the app
    INDEX/build.lock                        held while a build runs
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from . import diskspace
from .errors import BuildLocked, IndexNotFound, IndexUnwritable, MedsearchError
from .manifest import MANIFEST

CURRENT = "current"
BUILDS = "builds"
STAGING_PREFIX = ".staging-"


def new_build_id() -> str:
    """Sortable, unique build id: UTC time to the microsecond plus a random suffix."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}Z-{uuid.uuid4().hex[:6]}"


def live_build(index_dir: Path) -> Path:
    """The published build directory that serving reads, or IndexNotFound saying what to run."""
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():  # a build directory given directly
        return index_dir
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise IndexNotFound(f"no index at {index_dir}: build one with "
                            f"`python -m indexer build corpus --index {index_dir}`")
    target, builds = pointer.resolve(), (index_dir / BUILDS).resolve()
    # An index serves only its own builds: `current` pointing at another index's build, a staging
    # directory or anything else is refused rather than followed.
    if target.parent != builds or target.name.startswith("."):
        raise IndexNotFound(f"{pointer} points at {target}, which is not a build of this index (a folder in "
                            f"{builds}); rebuild with `python -m indexer build SOURCES --index {index_dir}`")
    return target


def live_build_or_none(index_dir: Path) -> Path | None:
    """Like live_build, but None when nothing is published yet."""
    try:
        return live_build(index_dir)
    except IndexNotFound:
        return None


def staging_dir(index_dir: Path, build_id: str) -> Path:
    """A fresh directory for a build in progress."""
    path = Path(index_dir) / BUILDS / f"{STAGING_PREFIX}{build_id}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise unwritable(path.parent, exc, index_dir) from None
    return path


def unwritable(path: Path, exc: OSError, index_dir: Path | None = None) -> MedsearchError:
    """The one-line error for a directory of the index that cannot be written (or whose disk is full)."""
    if diskspace.is_full(exc):
        index_dir = Path(index_dir or path)
        return diskspace.build_disk_full(index_dir, exc, 0, live_build_or_none(index_dir))
    return IndexUnwritable(f"cannot write to {path}: {exc.strerror or exc}; give this user write access to it or "
                           "choose another directory with --index / MEDSEARCH_INDEX")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(index_dir: Path, staging: Path, build_id: str) -> Path:
    """Move a finished staging build into place and point `current` at it in one atomic rename."""
    index_dir = Path(index_dir)
    for path in staging.rglob("*"):  # the data reaches the disk before anything points at it
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    final = index_dir / BUILDS / build_id
    tmp_link = index_dir / f".{CURRENT}.{build_id}"
    os.rename(staging, final)
    try:
        _fsync_dir(final.parent)
        os.symlink(Path(BUILDS) / build_id, tmp_link)
        os.replace(tmp_link, index_dir / CURRENT)  # readers see the old build or the new, never neither
    except BaseException:  # not published (a full disk has no room for the link): back to staging, for the caller
        tmp_link.unlink(missing_ok=True)
        os.rename(final, staging)
        raise
    _fsync_dir(index_dir)
    return final


@dataclass
class Pruned:
    """What a prune did: builds removed, and builds it could not remove with the reason."""

    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def prune(index_dir: Path, keep: int) -> Pruned:
    """Delete all but the newest ``keep`` published builds (never the live one); report any it could not delete."""
    builds_dir = Path(index_dir) / BUILDS
    live = live_build_or_none(index_dir)
    result = Pruned()
    try:
        published = sorted((p for p in builds_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                           key=lambda p: p.name, reverse=True)
    except OSError as exc:
        result.failed[str(builds_dir)] = exc.strerror or str(exc)
        return result
    for old in published[max(keep, 1):]:
        if live is not None and old.resolve() == live:
            continue
        errors: list[str] = []

        def note(_fn: object, path: str, info: tuple, errors: list[str] = errors) -> None:
            errors.append(f"{path}: {info[1].strerror or info[1]}")

        shutil.rmtree(old, onerror=note)
        if errors:
            result.failed[old.name] = errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        else:
            result.removed.append(old.name)
    return result


def discard_staging(index_dir: Path) -> None:
    """Remove staging directories left by builds that died (only call while holding the lock)."""
    builds_dir = Path(index_dir) / BUILDS
    if builds_dir.is_dir():
        for path in builds_dir.iterdir():
            if path.name.startswith(STAGING_PREFIX):
                shutil.rmtree(path, ignore_errors=True)


def lock(index_dir: Path) -> FileLock:
    """The build lock of an index directory, acquired; the OS releases it if the process dies."""
    index_dir = Path(index_dir)
    file_lock = FileLock(index_dir / "build.lock")
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        file_lock.acquire(timeout=0)
    except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
        raise BuildLocked(f"another build is running on {index_dir} (it holds {index_dir / 'build.lock'}); "
                          "wait for it to finish") from None
    except OSError as exc:
        raise unwritable(index_dir, exc) from None
    return file_lock

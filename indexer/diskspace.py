"""A full disk said as such: which failed writes mean one, and the one line that names the path and the room needed.

A disk fills up in whichever library is writing when it does: Python raises OSError (ENOSPC, or
EDQUOT over a quota), SQLite "database or disk is full" (SQLITE_FULL), FAISS a RuntimeError
holding the C library's message. Each is a full disk, never a permissions problem, and the
message says where and about how much room the write needed.
"""
from __future__ import annotations

import errno
import os
import re
import sqlite3
import tempfile
from pathlib import Path

from .errors import DiskFull

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_MESSAGES = tuple(os.strerror(code) for code in NO_SPACE)
UNTOUCHED = "nothing was published and the live index is untouched"


def is_full(exc: BaseException, directory: Path | None = None) -> bool:
    """Whether a write failed for want of space on its disk (``directory``: where it wrote, to ask when unsure)."""
    if isinstance(exc, OSError):
        return exc.errno in NO_SPACE
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL:
            return True
        # SQLite says "disk I/O error" when a full disk stops its log or shared-memory file from growing (the
        # errno is lost on the way): then a small write beside it tells.
        return code is not None and code & 0xFF == sqlite3.SQLITE_IOERR and directory is not None \
            and no_room_in(directory)
    if isinstance(exc, RuntimeError):  # FAISS: its C++ error carries strerror(errno) in its text
        return any(message in str(exc) for message in _MESSAGES)
    return False


def no_room_in(directory: Path, size: int = 1 << 16) -> bool:
    """Whether ``size`` bytes written to a new file in ``directory`` fail for want of space (the file goes at once)."""
    try:
        with tempfile.TemporaryFile(dir=directory) as probe:
            probe.write(bytes(size))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return exc.errno in NO_SPACE
    return False


def size_of(path: Path) -> int:
    """Bytes of the files under ``path`` (or of the file itself); 0 for what is not there."""
    path = Path(path)
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    except OSError:  # removed meanwhile: count what could be counted as nothing
        return 0


def human(size: int) -> str:
    """A size for people: 512 bytes, 4.1 kB, 37.2 MB, 1.3 GB."""
    if size < 1000:
        return f"{size} bytes"
    scaled = float(size)
    for unit in ("kB", "MB", "GB"):
        scaled /= 1000
        if scaled < 1000:
            return f"{scaled:.1f} {unit}"
    return f"{scaled / 1000:.1f} TB"


def reason(exc: BaseException) -> str:
    """What the failed write said, in a few words (``No space left on device``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = str(exc).strip().splitlines()
    return next((message for message in _MESSAGES if message in str(exc)), lines[-1] if lines else type(exc).__name__)


def disk_full(where: Path | str, exc: BaseException, needed: str, advice: str) -> DiskFull:
    """The one-line error of a full disk: ``where`` (the folder or file written), the room ``needed``, what to do."""
    writing = _file_of(exc)
    detail = f"writing {writing}: {reason(exc)}" if writing and str(writing) != str(where) else reason(exc)
    return DiskFull(f"no space left on the disk of {where} ({detail}): {needed}; {advice}")


def _file_of(exc: BaseException) -> str | None:
    """The file a failed write named, if it named one (OSError's filename, FAISS's message)."""
    if isinstance(exc, OSError) and exc.filename:
        return str(exc.filename)
    found = re.search(r"write error in (\S+?):", str(exc))  # FAISS: "write error in PATH: 0 != 36864 (...)"
    return found.group(1) if found else None


def build_disk_full(index_dir: Path, exc: BaseException, written: int, live: Path | None) -> DiskFull:
    """The error of a build whose disk filled while it wrote the new build (``written`` bytes of it by then)."""
    live_size = size_of(live) if live is not None else 0
    if live is not None and live_size >= written:  # a new build of the same sources is about the live one's size
        needed = f"the new build needs about {human(live_size)} there (the size of the live build {live.name})"
    elif written:
        needed = f"the new build needs more than the {human(written)} it had written when the disk filled"
    else:  # a first build that could not start: its size is not known before it runs
        needed = "a new build needs room there for its files, more than the size of its sources"
    return disk_full(index_dir, exc, needed, f"free that much or choose another --index / MEDSEARCH_INDEX; {UNTOUCHED}")


"""Finding source files, reading them safely, decoding them, and handing each to the loader its suffix names.

Source folders are not trusted. Only regular files are read: a FIFO, device or socket is
reported and never opened (a FIFO would block the build). A file found in a folder is read only
if it resolves inside that folder, so a symlink to ``/etc/passwd`` is reported, while a symlink
to another file of the same tree is read. Every file is bounded by ``max_source_bytes`` and read
with that bound, so a file that grows (or lies about its size) is never read past it. Paths in
every `Skipped` and ``Article.source_path`` are escaped (`printable`): a file name that is not
UTF-8 or holds a newline cannot break a report or forge a line of it.
"""
from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import BinaryIO

from indexer.errors import BadArticle
from indexer.models import Article
from indexer.settings import default as setting_default

from .assemble import Loader, Skipped, StreamLoader, printable
from .dailymed import dailymed_units, load_dailymed_zip
from .html import load_html
from .jsonl import load_jsonl
from .jsonstream import size_text
from .markdown import load_markdown
from .openfda import load_openfda, load_openfda_zip
from .spl import load_spl
from .text import load_text
from .units import Unit, digest

# Suffix -> loader. A new format joins with one line here (and its module beside this one).
LOADERS: dict[str, Loader | StreamLoader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".jsonl": load_jsonl,
    ".json": StreamLoader(load_openfda),
    ".json.zip": StreamLoader(load_openfda_zip),
    ".xml": load_spl,
    ".zip": StreamLoader(load_dailymed_zip, units=dailymed_units),  # DailyMed's release and update zips (zips of label zips)
}

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _decode(path: Path, data: bytes) -> str:
    """Text of a file, or BadArticle saying why it is not text we can trust."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise BadArticle(str(path), "not valid UTF-16 text despite its byte-order mark") from None
    if b"\x00" in data:
        raise BadArticle(str(path), "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        error = exc
    if path.suffix.lower() in (".html", ".htm"):
        # A page may declare its own charset; using it is reading, not guessing.
        match = _META_CHARSET.search(data[:4096])
        if match:
            charset = match.group(1).decode("ascii")
            try:
                return data.decode(codecs.lookup(charset).name)
            except (LookupError, UnicodeDecodeError):
                reason = f"not UTF-8 and not valid {charset} (its declared charset)"
                raise BadArticle(str(path), reason) from None
    raise BadArticle(
        str(path),
        f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); re-save it as UTF-8",
    )


def suffix_of(name: str) -> str:
    """The file type a name ends with: the longest known suffix (".json.zip" before ".zip"), else its last."""
    lower = name.lower()
    return max((s for s in LOADERS if lower.endswith(s)), key=len, default=os.path.splitext(lower)[1])


MAX_SOURCE_BYTES: int = setting_default("max_source_bytes")

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _not_regular(mode: int) -> str:
    """What a file that is not a regular file is ("a FIFO (named pipe)"), for its report."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _too_large(size: int, limit: int) -> str:
    return (f"too large: {size_text(size)}, over the limit of {size_text(limit)} per file "
            "(setting max_source_bytes, MEDSEARCH_MAX_SOURCE_BYTES)")


def _checked(path: Path, root: Path | None, limit: int) -> tuple[str, os.stat_result]:
    """The real path of a file that may be read, and its status; BadArticle saying why not.

    Only ``stat`` is called here: nothing is opened before the file is known to be a regular file
    inside ``root`` (the folder it was found in; None for a file named on its own).
    """
    where = str(path)
    try:
        real = os.path.realpath(path)
        if root is not None:
            top = os.path.realpath(root)
            if os.path.commonpath([real, top]) != top:
                link = "a symbolic link" if os.path.islink(path) else "a path through a symbolic link"
                raise BadArticle(where, f"cannot read file: {link} to {real}, outside the folder {top} being indexed")
        st = os.stat(real)
    except FileNotFoundError:
        raise BadArticle(where, "cannot read file: a symbolic link to nothing (its target does not exist)") from None
    except OSError as exc:
        raise BadArticle(where, f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadArticle(where, f"cannot read file: {_not_regular(st.st_mode)}, not a regular file (never opened)")
    if st.st_size > limit:
        raise BadArticle(where, _too_large(st.st_size, limit))
    return real, st


def _open(path: Path, real: str, checked: os.stat_result) -> BinaryIO:
    """A checked file opened without following a symlink; BadArticle if it is no longer the file checked."""
    where = str(path)
    try:
        # O_NOFOLLOW: a symlink put in the file's place since the check is refused. O_NONBLOCK: so is
        # a FIFO, which would otherwise block this open until a writer came.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise BadArticle(where, f"cannot read file: {exc.strerror or exc}") from None
    fh = os.fdopen(fd, "rb")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (checked.st_dev, checked.st_ino):
        fh.close()
        raise BadArticle(where, "cannot read file: it was replaced while it was being read")
    return fh


def _read(path: Path, real: str, checked: os.stat_result, limit: int) -> bytes:
    """The bytes of a checked file, opened without following a symlink and read to at most ``limit``."""
    where = str(path)
    with _open(path, real, checked) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise BadArticle(where, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise BadArticle(where, _too_large(len(data), limit) + "; it grew while it was being read")
    return data


def load_file(path: Path, root: Path | None = None,
              max_bytes: int = MAX_SOURCE_BYTES) -> Iterator[Article | Skipped]:
    """Articles from one file; every failure comes out as a Skipped, never an exception.

    ``root`` is the folder the file was found in: the file must resolve inside it. A file named on
    its own (``root`` None) may be a symlink to anywhere, but must still be a regular file.
    """
    for unit in file_units(Path(path), root, max_bytes):
        yield from unit.items()


def file_units(path: Path, root: Path | None = None, max_bytes: int = MAX_SOURCE_BYTES) -> Iterator[Unit]:
    """The units of one file (``units.py``): the file itself, or each label's zip of a DailyMed zip; each read,
    and fingerprinted, before the consumer asks for its articles. Failures come out as units that yield a Skipped."""
    loader = LOADERS.get(suffix_of(path.name))
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        yield Unit.failed(Skipped(str(path), f"unsupported file type {path.suffix or '(none)'!r}; known: {known}"))
        return
    try:
        real, checked = _checked(path, root, max_bytes)
    except BadArticle as exc:
        yield Unit.failed(Skipped(exc.path, exc.reason))
        return
    if isinstance(loader, StreamLoader):  # reads the opened file itself, a record at a time, within max_bytes
        try:
            with _open(path, real, checked) as fh:
                if loader.units is None:  # parsed as it is read: no fingerprint without parsing it
                    yield Unit(str(path), None, partial(loader.load, path, fh, max_bytes))
                else:
                    yield from loader.units(path, fh, max_bytes)
        except BadArticle as exc:
            yield Unit.failed(Skipped(exc.path, exc.reason))
        except Exception as exc:  # noqa: BLE001 - as below
            yield Unit.failed(Skipped(str(path), f"could not be loaded ({type(exc).__name__}: {exc})"))
        return
    try:
        data = _read(path, real, checked, max_bytes)
    except BadArticle as exc:
        yield Unit.failed(Skipped(exc.path, exc.reason))
        return
    yield Unit(str(path), digest(data), partial(_parse, loader, path, data))


def _parse(loader: Loader, path: Path, data: bytes) -> Iterable[Article | Skipped]:
    """A file's articles from its bytes, through the loader its suffix names."""
    text = _decode(path, data)
    if not text.strip():
        raise BadArticle(str(path), "empty file")
    return loader(path, text)


def _is_ignored(name: str) -> bool:
    """Hidden files and folders, and READMEs, inside a folder are not articles."""
    if name.startswith("."):
        return True
    stem, suffix = os.path.splitext(name)
    return stem.casefold() == "readme" and suffix.lower() in (".md", ".markdown", ".txt")


def discover(sources: Sequence[str | Path]) -> list[Path]:
    """Files to load: named files as given; folders walked sorted, known types, no hidden or README."""
    return [path for path, _ in _discover(sources)]


def _discover(sources: Sequence[str | Path]) -> list[tuple[Path, Path | None]]:
    """Each file to load with the folder it was found in (None for a file named on its own)."""
    # A lone path is an easy mistake; a generator would be spent by the existence check.
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    missing = [printable(str(s)) for s in sources if not os.path.lexists(s)]
    if missing:
        raise FileNotFoundError(
            "source not found: " + ", ".join(missing)
            + " (give files or folders of .md, .html, .txt or .jsonl articles, or of drug labels:"
            " openFDA .json / .json.zip, SPL .xml, DailyMed .zip)"
        )
    found: list[tuple[Path, Path | None]] = []
    seen: set[Path] = set()

    def add(p: Path, root: Path | None) -> None:
        key = Path(os.path.realpath(p))  # realpath, unlike Path.resolve, never raises on a symlink loop
        if key not in seen:  # a file named and also inside a named folder loads once
            seen.add(key)
            found.append((p, root))

    for source in sources:
        source = Path(source)
        if not source.is_dir():
            add(source, None)  # named explicitly: always included; load_file reports unknown types
            continue
        # Symlinked folders are listed in `dirs` but never walked into (os.walk's default).
        for folder, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not _is_ignored(name) and suffix_of(name) in LOADERS:
                    add(Path(folder) / name, source)
    return found


def iter_articles(sources: Sequence[str | Path], max_bytes: int = MAX_SOURCE_BYTES) -> Iterator[Article | Skipped]:
    """Stream articles from every discovered file, one Skipped per unreadable file or record.

    ``max_bytes`` bounds each file (setting ``max_source_bytes``); a larger one is a Skipped.
    """
    # Duplicate article ids across files are the builder's call (indexer/pipeline.py reports them).
    for unit in iter_units(sources, max_bytes):
        yield from unit.items()


def iter_units(sources: Sequence[str | Path], max_bytes: int = MAX_SOURCE_BYTES) -> Iterator[Unit]:
    """Every unit of every discovered file, in the order their articles stream (``units.py``)."""
    for path, root in _discover(sources):
        yield from file_units(path, root, max_bytes)

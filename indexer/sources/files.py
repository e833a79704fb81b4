"""Finding source files, decoding them, and handing each to the loader its suffix names."""
from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import Loader, Skipped
from .html import load_html
from .jsonl import load_jsonl
from .markdown import load_markdown
from .openfda import load_openfda, load_openfda_zip
from .spl import load_spl
from .text import load_text

# Suffix -> loader. A new format joins with one line here (and its module beside this one).
LOADERS: dict[str, Loader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".jsonl": load_jsonl,
    ".json": load_openfda,
    ".json.zip": load_openfda_zip,
    ".xml": load_spl,
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


def load_file(path: Path) -> Iterator[Article | Skipped]:
    """Articles from one file; every failure comes out as a Skipped, never an exception."""
    path = Path(path)
    loader = LOADERS.get(suffix_of(path.name))
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        yield Skipped(str(path), f"unsupported file type {path.suffix or '(none)'!r}; known: {known}")
        return
    if getattr(loader, "streams", False):  # reads the file itself, piece by piece (large bulk files)
        try:
            yield from loader(path, "")
        except BadArticle as exc:
            yield Skipped(exc.path, exc.reason)
        except Exception as exc:  # noqa: BLE001 - as below
            yield Skipped(str(path), f"could not be loaded ({type(exc).__name__}: {exc})")
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Skipped(str(path), f"cannot read file: {exc.strerror or exc}")
        return
    try:
        text = _decode(path, data)
        if not text.strip():
            raise BadArticle(str(path), "empty file")
        yield from loader(path, text)
    except BadArticle as exc:
        yield Skipped(exc.path, exc.reason)
    except Exception as exc:  # noqa: BLE001 - a parser bug on one file must not stop a build
        yield Skipped(str(path), f"could not be loaded ({type(exc).__name__}: {exc})")


def _is_ignored(name: str) -> bool:
    """Hidden files and folders, and READMEs, inside a folder are not articles."""
    if name.startswith("."):
        return True
    stem, suffix = os.path.splitext(name)
    return stem.casefold() == "readme" and suffix.lower() in (".md", ".markdown", ".txt")


def discover(sources: Sequence[str | Path]) -> list[Path]:
    """Files to load: named files as given; folders walked sorted, known types, no hidden or README."""
    # A lone path is an easy mistake; a generator would be spent by the existence check.
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    missing = [str(s) for s in sources if not Path(s).exists()]
    if missing:
        raise FileNotFoundError(
            "source not found: " + ", ".join(missing)
            + " (give files or folders of .md, .html, .txt or .jsonl articles, or of drug labels:"
            " openFDA .json / .json.zip, SPL .xml)"
        )
    found: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:  # a file named and also inside a named folder loads once
            seen.add(key)
            found.append(p)

    for source in sources:
        source = Path(source)
        if not source.is_dir():
            add(source)  # named explicitly: always included; load_file reports unknown types
            continue
        for folder, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not _is_ignored(name) and suffix_of(name) in LOADERS:
                    add(Path(folder) / name)
    return found


def iter_articles(sources: Sequence[str | Path]) -> Iterator[Article | Skipped]:
    """Stream articles from every discovered file, one Skipped per unreadable file or record."""
    # Duplicate article ids across files are the builder's call (indexer/pipeline.py reports them).
    for path in discover(sources):
        yield from load_file(path)

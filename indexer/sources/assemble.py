"""What every loader shares: text clean-up, section assembly, links, and the `Skipped` record.

Loaders turn a file's markup into `Block`s in reading order; `assemble` splits them into
sections with stable ids and sets aside disclaimers and references.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from indexer.errors import BadArticle
from indexer.models import Article, Section
from indexer.urls import describe_unsafe, safe_http_url

if TYPE_CHECKING:
    from .units import Unit


@dataclass(frozen=True)
class Skipped:
    """A file or JSONL record that was not loaded, and why."""

    path: str  # file path, plus ":LINE" for a JSONL line
    reason: str


# A loader turns one decoded file into articles (and Skipped records, for JSONL lines).
Loader = Callable[[Path, str], Iterable["Article | Skipped"]]


@dataclass(frozen=True)
class StreamLoader:
    """A loader that reads the opened file itself, a record at a time, reading at most ``max_bytes`` of it.

    For files too large to decode whole (openFDA bulk labels): ``load(path, binary_file, max_bytes)``.
    """

    load: Callable[[Path, BinaryIO, int], Iterable[Article | Skipped]]
    # A format whose parts can be read, and fingerprinted, before they are parsed (DailyMed's zip of label zips)
    # also gives them: ``units(path, binary_file, max_bytes)`` yields ``units.Unit``s.
    units: Callable[[Path, BinaryIO, int], Iterable[Unit]] | None = None


NO_TEXT = "no article text found"


# Characters that look like spaces (or nothing) but would defeat tokenisers and exact matches.
_SPACE_LIKE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r" {2,}")


def clean(text: str) -> str:
    """Normalise whitespace: single spaces inside lines, no blank-line runs, no edges."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", _SPACE_LIKE.sub(" ", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def one_line(text: str) -> str:
    """Collapse all whitespace, newlines included (titles, headings, table cells)."""
    return " ".join(clean(text).split())


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by hyphens ("" if none); used for ids and anchors."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"['’]", "", text.lower())  # "doctor's" -> "doctors", not "doctor-s"
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(slug) > 80:  # long question-headings make unwieldy anchors; cut at a word
        slug = slug[:80].rsplit("-", 1)[0]
    return slug


def _unique(base: str, used: set[str]) -> str:
    """`base`, or `base-2`, `base-3`... whichever is first unused; records it as used."""
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    used.add(candidate)
    return candidate


# Characters that must not reach one line of a log or report as they are: control characters
# (a newline in a file name would forge a line), line separators, bidi overrides, and the lone
# surrogates that stand for the bytes of a file name that is not UTF-8.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group(0))
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return ascii(match.group(0))[1:-1]


def printable(text: str) -> str:
    """``text`` safe on one line of output: unprintable characters escaped as ``ascii()`` writes them."""
    return _UNPRINTABLE.sub(_escape, text)


def humanise_stem(path: Path) -> str:
    """A readable title from a file name, for files that carry none."""
    # Undecodable bytes become U+FFFD and control characters spaces: a title is text, not bytes.
    stem = path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    stem = one_line(re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", stem))
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


def checked_url(value: object, what: str, warnings: list[str]) -> str:
    """``value`` if it is an http(s) URL; else ``""``, with a warning naming ``what`` when it was not empty."""
    url = safe_http_url(value)
    if not url and value not in (None, ""):
        warnings.append(f"{what} {describe_unsafe(value)} dropped: only http and https links are kept")
    return url


def checked_references(value: object, warnings: list[str]) -> list:
    """References a source gives (front matter, JSONL): a list of ``{"title", "url"}`` objects or strings.

    Raises ValueError when it is not that shape; a link that is not http(s) is dropped with a
    warning and its reference keeps its title.
    """
    if not isinstance(value, list):
        raise ValueError("references must be a list of {title, url} objects")
    refs: list = []
    for n, item in enumerate(value, start=1):
        if isinstance(item, dict) and all(isinstance(item.get(k, ""), str) for k in ("title", "url")):
            if item.get("url") and not safe_http_url(item["url"]):
                item = {**item, "url": checked_url(item["url"], f"reference {n} url", warnings)}
        elif not isinstance(item, str):  # a bare string is a citation without a link
            raise ValueError(f"reference {n} is not an object with text title and url")
        refs.append(item)
    return refs


_DISCLAIMER_HEADING = re.compile(r"^(medical |important |legal )?disclaimers?$", re.I)
_REFERENCES_HEADING = re.compile(
    r"^(references?|sources?|citations?|bibliography|works cited|sources and references)$", re.I
)
# Boilerplate paragraphs that sites drop into article bodies; they match every query about
# medicines equally, so they are kept as the disclaimer rather than indexed.
_DISCLAIMER_PARAGRAPH = re.compile(
    r"(for (general )?(educational|informational|information) purposes only"
    r"|not (be )?(a )?substitute for (professional )?medical advice"
    r"|should not (be used to )?replace (professional )?medical advice"
    r"|not intended as medical advice)",
    re.I,
)
_URL = re.compile(r"https?://\S+")
LIST_MARK = re.compile(r"^(?:[-*+•·▪◦‣–—]|\(?\d{1,3}[.)])\s+")


@dataclass
class Block:
    """One unit of body text in reading order: a heading or a paragraph / list item."""

    kind: str  # "heading" or "text"
    text: str
    level: int = 0  # heading level, 1-6
    anchor: str = ""  # publisher's id for a heading, if any
    is_list: bool = False  # list items are joined by one newline, paragraphs by a blank line


@dataclass
class _Group:
    heading: str | None
    anchor: str
    blocks: list[Block] = field(default_factory=list)


def _join(blocks: Sequence[Block]) -> str:
    """Section text from its blocks: list items on their own lines, paragraphs apart."""
    out = ""
    prev: Block | None = None
    for block in blocks:
        text = clean(block.text)
        if not text:
            continue
        if prev is not None:
            out += "\n" if (block.is_list and prev.is_list) else "\n\n"
        out += text
        prev = block
    return out


def _references(blocks: Sequence[Block]) -> list[dict[str, str]]:
    """Citations of a References section; bare numbers ("1. 1") say nothing and are dropped."""
    refs = []
    for block in blocks:
        for line in clean(block.text).split("\n"):
            line = LIST_MARK.sub("", line).strip()
            if len(line) < 4 or re.fullmatch(r"[\d\W]+", line):
                continue
            url = _URL.search(line)
            refs.append({"title": line, "url": safe_http_url(url.group(0).rstrip(").,;")) if url else ""})
    return refs


def assemble(
    blocks: Sequence[Block], *, drop_boilerplate: bool
) -> tuple[list[Section], dict]:
    """Split blocks into sections at level 1-3 headings; returns sections and extra meta."""
    groups = [_Group(None, "")]
    for block in blocks:
        if block.kind == "heading" and block.level <= 3:
            groups.append(_Group(block.text, block.anchor))
        elif block.kind == "heading":  # h4-h6: too fine to be a section; keep its words
            groups[-1].blocks.append(Block("text", block.text))
        else:
            groups[-1].blocks.append(block)

    sections: list[Section] = []
    disclaimer: list[str] = []
    references: list[dict[str, str]] = []
    used: set[str] = set()
    for group in groups:
        heading = one_line(group.heading) if group.heading is not None else None
        if heading and _DISCLAIMER_HEADING.match(heading):
            disclaimer.append(_join(group.blocks))
            continue
        if heading and _REFERENCES_HEADING.match(heading):
            references.extend(_references(group.blocks))
            continue
        kept = group.blocks
        if drop_boilerplate:
            kept = []
            for block in group.blocks:
                if len(block.text) < 500 and _DISCLAIMER_PARAGRAPH.search(block.text):
                    disclaimer.append(clean(block.text))
                else:
                    kept.append(block)
        text = _join(kept)
        if not text:  # a grouping heading, or a heading whose text was all boilerplate
            continue
        if heading is None:
            heading, base = "Overview", "overview"
        else:
            base = group.anchor or slugify(heading) or "section"
        sections.append(Section(id=_unique(base, used), heading=heading, text=text))

    meta: dict = {}
    disclaimer_text = "\n\n".join(d for d in disclaimer if d)
    if disclaimer_text:
        meta["disclaimer"] = disclaimer_text
    if references:
        meta["references"] = references
    return sections, meta


def not_text(article: Article) -> str:
    """Why an article cannot be stored as UTF-8 text (a lone surrogate, from a JSON or YAML escape), or ""."""
    try:
        json.dumps([article.id, article.title, article.url, [list(vars(s).values()) for s in article.sections], article.meta],
                   ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds {ascii(exc.object[exc.start])}, half of a surrogate pair, which is not text"
    return ""


def make_article(path: Path, id_: str, title: str, url: str, sections: list[Section], meta: dict,
                 warnings: Sequence[str] = ()) -> Article:
    """An Article, refusing one with no text: it could never be found by a search."""
    if not sections:
        raise BadArticle(str(path), NO_TEXT)
    return Article(
        id=id_, title=title, url=url, sections=tuple(sections), source_path=str(path), meta=meta,
        warnings=tuple(warnings),
    )


# Whole lines that are site furniture, not article text (matched case-insensitively).
CHROME_LINE = re.compile(
    r"^(skip to (main )?(content|navigation)|\d+\s*(-\s*)?min(ute)?s?\s+read|in this article"
    r"|table of contents|contents|on this page|jump to( section)?|share( this( article| page)?)?"
    r"|advertisement|advert|ad|sponsored( content)?|print|email|back to top|menu|search"
    r"|facebook|twitter|pinterest|linkedin|whatsapp|x|copy link|sign in|log in|subscribe)$",
    re.I,
)


def is_chrome_line(line: str) -> bool:
    """A line of site furniture (share bars, "skip to content", ...) rather than article text."""
    return bool(CHROME_LINE.match(line.strip()))

"""Finding article files and turning each into `Article`s with clean, stably-identified sections.

Four input formats, one loader each (see `LOADERS`):

- ``.md`` / ``.markdown``: our own corpus format (YAML front matter + Markdown body).
- ``.html`` / ``.htm``: a page saved from the web; only the article body is kept.
- ``.txt``: a page a browser saved as plain text (headings as bare lines, site chrome mixed in).
- ``.jsonl``: the shared article format, one article per line, ids kept exactly as given.

A file or record that cannot be used becomes a `Skipped` (path + human-readable reason) in
the stream instead of an exception, so one bad file never stops a build of thousands.

Decisions worth knowing:

- Encodings: UTF-8 (with or without BOM) and UTF-16 with a BOM are read. HTML that is not
  UTF-8 is decoded with the charset its ``<meta>`` declares. Anything else is skipped with
  a reason rather than guessed at (e.g. as cp1252): mojibake silently indexed is worse than
  a reported file that names the fix.
- Section ids are derived from the content only (publisher anchor, else heading slug,
  ``-2``/``-3`` for repeats, ``overview`` for intro text), so they survive rebuilds.
- A heading with no text of its own (a grouping heading, or a table-of-contents line) is
  not a section. "Disclaimer" sections go to ``meta["disclaimer"]`` and "References"
  sections to ``meta["references"]`` (``[{"title", "url"}]``, bare citation numbers
  dropped): neither is article text a reader searches for.
"""
from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import yaml
from frontmatter.default_handlers import YAMLHandler
from lxml import etree
from markdown_it import MarkdownIt

from indexer.errors import BadArticle
from indexer.models import Article, Section


@dataclass(frozen=True)
class Skipped:
    """A file or JSONL record that was not loaded, and why."""

    path: str  # file path, plus ":LINE" for a JSONL line
    reason: str


# A loader turns one decoded file into articles (and Skipped records, for JSONL lines).
Loader = Callable[[Path, str], Iterable["Article | Skipped"]]

NO_TEXT = "no article text found"

# --------------------------------------------------------------------------- text helpers

# Characters that look like spaces (or nothing) but would defeat tokenisers and exact matches.
_SPACE_LIKE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r" {2,}")


def _clean(text: str) -> str:
    """Normalise whitespace: single spaces inside lines, no blank-line runs, no edges."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", _SPACE_LIKE.sub(" ", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _one_line(text: str) -> str:
    """Collapse all whitespace, newlines included (titles, headings, table cells)."""
    return " ".join(_clean(text).split())


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


def _humanise_stem(path: Path) -> str:
    """A readable title from a file name, for files that carry none."""
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.stem


# --------------------------------------------------------------------------- assembling sections

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
_LIST_MARK = re.compile(r"^(?:[-*+•·▪◦‣–—]|\(?\d{1,3}[.)])\s+")


@dataclass
class _Block:
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
    blocks: list[_Block] = field(default_factory=list)


def _join(blocks: Sequence[_Block]) -> str:
    """Section text from its blocks: list items on their own lines, paragraphs apart."""
    out = ""
    prev: _Block | None = None
    for block in blocks:
        text = _clean(block.text)
        if not text:
            continue
        if prev is not None:
            out += "\n" if (block.is_list and prev.is_list) else "\n\n"
        out += text
        prev = block
    return out


def _references(blocks: Sequence[_Block]) -> list[dict[str, str]]:
    """Citations of a References section; bare numbers ("1. 1") say nothing and are dropped."""
    refs = []
    for block in blocks:
        for line in _clean(block.text).split("\n"):
            line = _LIST_MARK.sub("", line).strip()
            if len(line) < 4 or re.fullmatch(r"[\d\W]+", line):
                continue
            url = _URL.search(line)
            refs.append({"title": line, "url": url.group(0).rstrip(").,;") if url else ""})
    return refs


def _assemble(
    blocks: Sequence[_Block], *, drop_boilerplate: bool
) -> tuple[list[Section], dict]:
    """Split blocks into sections at level 1-3 headings; returns sections and extra meta."""
    groups = [_Group(None, "")]
    for block in blocks:
        if block.kind == "heading" and block.level <= 3:
            groups.append(_Group(block.text, block.anchor))
        elif block.kind == "heading":  # h4-h6: too fine to be a section; keep its words
            groups[-1].blocks.append(_Block("text", block.text))
        else:
            groups[-1].blocks.append(block)

    sections: list[Section] = []
    disclaimer: list[str] = []
    references: list[dict[str, str]] = []
    used: set[str] = set()
    for group in groups:
        heading = _one_line(group.heading) if group.heading is not None else None
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
                    disclaimer.append(_clean(block.text))
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


def _article(path: Path, id_: str, title: str, url: str, sections: list[Section], meta: dict) -> Article:
    """An Article, refusing one with no text: it could never be found by a search."""
    if not sections:
        raise BadArticle(str(path), NO_TEXT)
    return Article(
        id=id_, title=title, url=url, sections=tuple(sections), source_path=str(path), meta=meta
    )


# --------------------------------------------------------------------------- Markdown

_MD = MarkdownIt("commonmark").enable("table")


def _inline_text(token) -> str:
    """Plain text of a markdown-it inline token: emphasis and link syntax dropped, text kept."""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # the alt text
    return "".join(parts)


def _html_fragment_text(html: str) -> str:
    """Visible text of a raw HTML block inside Markdown (comments give nothing)."""
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for bad in fragment.xpath(".//script|.//style|.//comment()"):
        bad.drop_tree()
    return fragment.text_content()


def _markdown_blocks(body: str) -> list[_Block]:
    """Headings, paragraphs, list items, tables and code of a Markdown body, in order."""
    tokens = _MD.parse(body)
    blocks: list[_Block] = []
    list_depth = 0
    item_prefix: list[str] = []  # "3. " for ordered items: the number carries meaning
    row: list[str] | None = None
    table_rows: list[str] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            blocks.append(_Block("heading", _inline_text(tokens[i + 1]), level=int(tok.tag[1])))
            i += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif kind == "list_item_open":
            item_prefix.append(f"{tok.info}. " if tok.info else "")
        elif kind == "list_item_close":
            item_prefix.pop()
        elif kind == "table_open":
            table_rows = []
        elif kind == "table_close":
            blocks.append(_Block("text", "\n".join(table_rows or [])))
            table_rows = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if row and any(row) and table_rows is not None:
                table_rows.append(" | ".join(row))
            row = None
        elif kind == "inline" and row is not None:
            row.append(_one_line(_inline_text(tok)))
        elif kind == "inline":
            text = _inline_text(tok)
            if list_depth and item_prefix:
                text = item_prefix[-1] + text
                item_prefix[-1] = ""  # a second paragraph of the same item has no number
            blocks.append(_Block("text", text, is_list=bool(list_depth)))
        elif kind in ("fence", "code_block"):
            blocks.append(_Block("text", tok.content, is_list=bool(list_depth)))
        elif kind == "html_block":
            blocks.append(_Block("text", _html_fragment_text(tok.content)))
        i += 1
    return blocks


def _json_safe(value):
    """YAML values made JSON-serialisable: dates become ISO strings, keys strings."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    return value


def _split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    """YAML front matter (empty if none) and the Markdown body after it."""
    stripped = text.lstrip("\n")
    handler = YAMLHandler()
    if not handler.detect(stripped):
        return {}, text
    try:
        fm, body = handler.split(stripped)
    except ValueError:  # an opening "---" with no closing one: all body, like python-frontmatter
        return {}, text
    try:
        data = yaml.safe_load(fm)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1 + len(text) - len(stripped)})"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadArticle(str(path), f"invalid YAML front matter{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadArticle(str(path), "YAML front matter is not a mapping of field: value")
    return data, body


def load_markdown(path: Path, text: str) -> Iterator[Article]:
    """One article from a Markdown file with YAML front matter (corpus/README.md)."""
    fm, body = _split_front_matter(path, text)
    blocks = _markdown_blocks(body)
    title = _one_line(str(fm["title"])) if fm.get("title") else ""
    # A leading "# Title" names the article; it is never a section of it.
    if blocks and blocks[0].kind == "heading" and blocks[0].level == 1:
        h1 = blocks.pop(0)
        title = title or _one_line(h1.text)
    sections, extra = _assemble(blocks, drop_boilerplate=False)
    meta = _json_safe({k: v for k, v in fm.items() if k not in ("title", "id", "url")})
    for key, value in extra.items():
        meta.setdefault(key, value)  # front-matter references win over a body list
    id_ = str(fm["id"]).strip() if fm.get("id") else slugify(path.stem) or "article"
    url = str(fm["url"]).strip() if fm.get("url") else ""
    yield _article(path, id_, title or _humanise_stem(path), url, sections, meta)


# --------------------------------------------------------------------------- HTML

_CHROME_TAGS = (
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "iframe", "svg", "canvas", "button", "input", "select", "textarea", "dialog", "object",
    "embed",
)
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog",
                 "alertdialog", "menu", "menubar"}
# Matched against whole class/id tokens and against their "-"/"_" separated parts.
_CHROME_TOKENS = {"sr-only", "screen-reader-text", "visually-hidden", "visuallyhidden",
                  "skip-link", "skiplink", "table-of-contents"}
_CHROME_PARTS = {
    "ad", "ads", "adslot", "advert", "adverts", "advertisement", "advertising", "sponsor",
    "sponsored", "cookie", "cookies", "consent", "gdpr", "newsletter", "subscribe", "share",
    "sharing", "social", "promo", "breadcrumb", "breadcrumbs", "sidebar", "popup", "modal",
    "related", "comments", "toc",
}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "ul", "ol", "li", "dl", "dt", "dd",
    "blockquote", "pre", "figure", "figcaption", "address", "details", "summary", "hr",
    "body", "center", "fieldset", "caption",
}
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_PERMALINK_TAIL = re.compile(r"[\s¶#§🔗]+$")


def _is_chrome(el) -> bool:
    """Navigation, ads, cookie banners, share bars and hidden bits: not article text."""
    if el.tag in _CHROME_TAGS:
        return True
    if (el.get("role") or "").lower() in _CHROME_ROLES:
        return True
    if el.get("aria-hidden") == "true" or el.get("hidden") is not None:
        return True
    if re.search(r"display\s*:\s*none", el.get("style") or "", re.I):
        return True
    tokens = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
    for token in tokens:
        if token in _CHROME_TOKENS or _CHROME_PARTS.intersection(re.split(r"[-_]", token)):
            return True
    return False


def _content_root(doc):
    """The element holding the article: the largest <main>/<article>, else <body>."""
    for xpath in ("//main|//*[@role='main']", "//article"):
        found = doc.xpath(xpath)
        if found:
            return max(found, key=lambda el: len(el.text_content()))
    body = doc.find("body")
    return body if body is not None else doc


def _heading_anchor(el) -> str:
    """The publisher's anchor for a heading, so our deep links match theirs."""
    if el.get("id"):
        return el.get("id").strip()
    for inner in el.iter():
        if inner is not el and isinstance(inner.tag, str):
            anchor = inner.get("id") or (inner.get("name") if inner.tag == "a" else None)
            if anchor:
                return anchor.strip()
    parent = el.getparent()  # <section id="x"><h2>...: the section carries the anchor
    if parent is not None and parent.tag == "section" and parent.get("id"):
        first = next((c for c in parent if isinstance(c.tag, str)), None)
        if first is el:
            return parent.get("id").strip()
    return ""


def _table_text(table) -> str:
    """A table as readable text: a row per line, cells joined with " | "."""
    lines = []
    caption = table.find("caption")
    if caption is not None and _one_line(caption.text_content()):
        lines.append(_one_line(caption.text_content()))
    for tr in table.iter("tr"):
        if next(tr.iterancestors("table")) is not table:
            continue  # rows of a nested table are read as part of their outer cell
        cells = [_one_line(c.text_content()) for c in tr if c.tag in ("td", "th")]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


class _HtmlFlow:
    """Walks an element tree into `_Block`s, treating whitespace as HTML does."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self._buffer: list[str] = []
        self._stack: list[str] = []  # enclosing block tags, to know when text is a list item

    def _add(self, text: str | None) -> None:
        if text:
            self._buffer.append(re.sub(r"\s+", " ", text))

    def _flush(self) -> None:
        text = _clean("".join(self._buffer))
        self._buffer = []
        if text:
            is_list = any(tag in ("li", "dd", "dt") for tag in self._stack)
            self.blocks.append(_Block("text", text, is_list=is_list))

    def walk(self, el) -> None:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None or tag in ("head", "title", "script", "style"):
            self._add(el.tail)  # a comment, or never-visible text: only its tail is text
            return
        if tag in _HEADING_TAGS:
            self._flush()
            text = _PERMALINK_TAIL.sub("", _one_line(el.text_content()))
            if text:
                self.blocks.append(
                    _Block("heading", text, level=_HEADING_TAGS[tag], anchor=_heading_anchor(el))
                )
        elif tag == "table":
            self._flush()
            self.blocks.append(_Block("text", _table_text(el)))
        elif tag == "br":
            self._buffer.append("\n")
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._stack.append(tag)
            self._add(el.text)
            for child in el:
                self.walk(child)
            self._flush()
            self._stack.pop()
        else:
            self._add(el.text)
            for child in el:
                self.walk(child)
        self._add(el.tail)


def _html_title(doc, root, path: Path) -> str:
    """The article's <h1>, else <title> without its " | Site" suffix, else the file name."""
    for scope in (root, doc):
        for h1 in scope.iter("h1"):
            if any(_is_chrome(el) for el in h1.iterancestors() if el is not root):
                continue  # a site logo in the page header is not the article's name
            text = _PERMALINK_TAIL.sub("", _one_line(h1.text_content()))
            if text:
                return text
    title_el = doc.find(".//title")
    title = _one_line(title_el.text_content()) if title_el is not None else ""
    site = doc.xpath("string(//meta[@property='og:site_name']/@content)").strip()
    if site:
        for sep in (" | ", " - ", " – ", " — ", " · ", " :: "):
            if title.endswith(sep + site):
                title = title[: -len(sep + site)].strip()
    if " | " in title:  # "Article | Site name" even without og:site_name
        title = title.split(" | ")[0].strip()
    return title or _humanise_stem(path)


def _canonical_url(doc) -> str:
    for link in doc.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return link.get("href").strip()
    return ""


def _id_from_url(url: str) -> str:
    """Slug of the last meaningful segment of a URL path ("/meds/a682388.html" -> "a682388")."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    while segments:
        stem = re.sub(r"\.(html?|php|aspx?|jsp|cfm)$", "", segments.pop(), flags=re.I)
        if stem.lower() not in ("index", "default", "main"):
            return slugify(stem)
    return ""


def load_html(path: Path, text: str) -> Iterator[Article]:
    """One article from an HTML page saved from the web: main text only, split at h2/h3."""
    # lxml refuses str input that still declares a byte encoding; it is decoded already.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise BadArticle(str(path), f"not parseable as HTML: {exc}") from None
    root = _content_root(doc)
    title = _html_title(doc, root, path)
    url = _canonical_url(doc)
    # Remove chrome inside the article root (never the root itself: a <body class="has-sidebar">
    # must not take the whole page with it).
    for el in list(root.iterdescendants()):
        if isinstance(el.tag, str) and el.getparent() is not None and _is_chrome(el):
            el.drop_tree()
    flow = _HtmlFlow()
    flow.walk(root)
    blocks = [
        b for b in flow.blocks
        # The title's own <h1> is not a section, and chrome phrases can hide in plain <p>s.
        if not (b.kind == "heading" and b.level == 1 and b.text == title)
        and not (b.kind == "text" and _is_chrome_line(b.text))
    ]
    sections, meta = _assemble(blocks, drop_boilerplate=True)
    id_ = _id_from_url(url) or slugify(path.stem) or "article"
    yield _article(path, id_, title, url, sections, meta)


# --------------------------------------------------------------------------- plain text

# Whole lines that are site furniture, not article text (matched case-insensitively).
_CHROME_LINE = re.compile(
    r"^(skip to (main )?(content|navigation)|\d+\s*(-\s*)?min(ute)?s?\s+read|in this article"
    r"|table of contents|contents|on this page|jump to( section)?|share( this( article| page)?)?"
    r"|advertisement|advert|ad|sponsored( content)?|print|email|back to top|menu|search"
    r"|facebook|twitter|pinterest|linkedin|whatsapp|x|copy link|sign in|log in|subscribe)$",
    re.I,
)
_SENTENCE_END = (".", ",", ";", ":")


def _is_chrome_line(line: str) -> bool:
    return bool(_CHROME_LINE.match(line.strip()))


def _is_bullet(line: str) -> bool:
    return bool(re.match(r"^[-*+•·▪◦‣]\s", line))


def _heading_like(line: str) -> bool:
    """A bare-line heading: short, no closing punctuation, not a list item, starts capitalised."""
    words = line.split()
    first_letter = next((c for c in line if c.isalpha()), "")
    return (
        0 < len(line) <= 80
        and len(words) <= 12
        and not line.endswith(_SENTENCE_END)
        and not _is_bullet(line)
        and first_letter != ""
        and not first_letter.islower()
    )


def _prose_like(line: str) -> bool:
    """A line that is clearly running text (used to split a heading glued to its paragraph)."""
    return len(line.split()) >= 20 and line.endswith((".", "!", "?"))


def _cells(line: str) -> str:
    """A flattened table row whose cells were separated by tabs or runs of spaces."""
    line = line.replace("\u00a0", " ").strip()
    if "\t" in line:
        cells = line.split("\t")
    else:
        cells = re.split(r" {2,}", line)
        # Two spaces after a full stop is typing habit, not a column break.
        if any(c.rstrip().endswith((".", "!", "?")) for c in cells[:-1]):
            return line
    cells = [c.strip() for c in cells if c.strip()]
    return " | ".join(cells) if len(cells) > 1 else line


def _text_paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated paragraphs as lists of cleaned lines, chrome lines removed."""
    paragraphs: list[list[str]] = []
    for raw in re.split(r"\n[ \t\u00a0]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = []
        for line in raw.split("\n"):
            line = _clean(_cells(line))
            if line and not _is_chrome_line(line):
                lines.append(line)
        if not lines:
            continue
        # A heading glued to its paragraph without a blank line in between.
        if len(lines) > 1 and _heading_like(lines[0]) and _prose_like(lines[1]):
            paragraphs.append([lines[0]])
            lines = lines[1:]
        paragraphs.append(lines)
    return paragraphs


def load_text(path: Path, text: str) -> Iterator[Article]:
    """One article from a page a browser saved as plain text, headings found by their shape."""
    paragraphs = _text_paragraphs(text)
    if not paragraphs:
        raise BadArticle(str(path), NO_TEXT)

    title = ""
    first = paragraphs[0]
    if len(first) == 1 and len(first[0]) <= 150 and not first[0].endswith(".") and not _is_bullet(first[0]):
        title = first[0]
        paragraphs = paragraphs[1:]

    def is_candidate(p: list[str]) -> bool:
        return len(p) == 1 and _heading_like(p[0])

    # A table of contents repeats the headings as a list: drop blocks made only of them.
    candidates = {p[0].casefold() for p in paragraphs if is_candidate(p)}
    paragraphs = [
        p for p in paragraphs
        if is_candidate(p)
        or not all(_LIST_MARK.sub("", line).casefold() in candidates for line in p)
    ]

    blocks: list[_Block] = []
    for i, para in enumerate(paragraphs):
        nxt = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        if is_candidate(para) and nxt is not None:
            # A heading only when body text follows; one followed by another heading is a
            # grouping heading and yields an empty (hence dropped) section.
            blocks.append(_Block("heading", para[0], level=2))
            continue
        bullets = all(_is_bullet(line) for line in para)
        if bullets:
            blocks.extend(_Block("text", _LIST_MARK.sub("", line), is_list=True) for line in para)
        else:
            lines = [_LIST_MARK.sub("", line) if _is_bullet(line) else line for line in para]
            blocks.append(_Block("text", "\n".join(lines)))
    sections, meta = _assemble(blocks, drop_boilerplate=True)
    yield _article(path, slugify(path.stem) or "article", title or _humanise_stem(path), "", sections, meta)


# --------------------------------------------------------------------------- JSONL


def _record_article(path: Path, line_no: int, record) -> Article:
    """An Article from one shared-format JSONL record, ids kept exactly as given."""
    where = f"{path}:{line_no}"
    if not isinstance(record, dict):
        raise BadArticle(where, f"line {line_no} is not a JSON object")
    article_id = record.get("id")
    if not isinstance(article_id, str) or not article_id.strip():
        raise BadArticle(where, f"record on line {line_no} has no id (a non-empty string)")
    raw_sections = record.get("sections")
    if not isinstance(raw_sections, list):
        raise BadArticle(where, f"record {article_id!r} on line {line_no} has no sections list")
    sections: list[Section] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_sections, start=1):
        if not isinstance(raw, dict):
            raise BadArticle(where, f"section {n} of {article_id!r} is not a JSON object")
        section_id, text = raw.get("id"), raw.get("text")
        if not isinstance(section_id, str) or not section_id.strip():
            raise BadArticle(where, f"section {n} of {article_id!r} has no id")
        if not isinstance(text, str):
            raise BadArticle(where, f"section {section_id!r} of {article_id!r} has no text")
        if section_id in seen:
            raise BadArticle(where, f"section id {section_id!r} appears twice in {article_id!r}")
        seen.add(section_id)
        text = _clean(text)
        if text:  # an empty section is nothing to search; its siblings still are
            sections.append(Section(id=section_id, heading=_one_line(raw.get("heading") or ""), text=text))
    if not sections:
        raise BadArticle(where, f"record {article_id!r} on line {line_no}: {NO_TEXT}")
    meta = {k: v for k, v in record.items() if k not in ("id", "title", "url", "sections")}
    return Article(
        id=article_id,
        title=_one_line(str(record.get("title") or "")),
        url=str(record.get("url") or "").strip(),
        sections=tuple(sections),
        source_path=str(path),
        meta=meta,
    )


def load_jsonl(path: Path, text: str) -> Iterator[Article | Skipped]:
    """Articles from a JSONL file, one per line; a bad line is skipped, the rest still load."""
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON on line {line_no}: {exc.msg} (column {exc.colno})"
            yield Skipped(f"{path}:{line_no}", reason)
            continue
        try:
            yield _record_article(path, line_no, record)
        except BadArticle as exc:
            yield Skipped(exc.path, exc.reason)


# --------------------------------------------------------------------------- files

LOADERS: dict[str, Loader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".jsonl": load_jsonl,
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


def load_file(path: Path) -> Iterator[Article | Skipped]:
    """Articles from one file; every failure comes out as a Skipped, never an exception."""
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        yield Skipped(str(path), f"unsupported file type {path.suffix or '(none)'!r}; known: {known}")
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
            + " (give files or folders of .md, .html, .txt or .jsonl articles)"
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
                if not _is_ignored(name) and os.path.splitext(name)[1].lower() in LOADERS:
                    add(Path(folder) / name)
    return found


def iter_articles(sources: Sequence[str | Path]) -> Iterator[Article | Skipped]:
    """Stream articles from every discovered file, one Skipped per unreadable file or record."""
    # Duplicate article ids across files are the builder's call (indexer/pipeline.py reports them).
    for path in discover(sources):
        yield from load_file(path)

"""``.html`` / ``.htm``: a page saved from the web; only the article body is kept."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import (
    Block,
    assemble,
    checked_url,
    clean,
    humanise_stem,
    is_chrome_line,
    make_article,
    one_line,
    slugify,
)

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
    if caption is not None and one_line(caption.text_content()):
        lines.append(one_line(caption.text_content()))
    for tr in table.iter("tr"):
        if next(tr.iterancestors("table")) is not table:
            continue  # rows of a nested table are read as part of their outer cell
        cells = [one_line(c.text_content()) for c in tr if c.tag in ("td", "th")]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


class _HtmlFlow:
    """Walks an element tree into `Block`s, treating whitespace as HTML does."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._buffer: list[str] = []
        self._stack: list[str] = []  # enclosing block tags, to know when text is a list item

    def _add(self, text: str | None) -> None:
        if text:
            self._buffer.append(re.sub(r"\s+", " ", text))

    def _flush(self) -> None:
        text = clean("".join(self._buffer))
        self._buffer = []
        if text:
            is_list = any(tag in ("li", "dd", "dt") for tag in self._stack)
            self.blocks.append(Block("text", text, is_list=is_list))

    def walk(self, el) -> None:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None or tag in ("head", "title", "script", "style"):
            self._add(el.tail)  # a comment, or never-visible text: only its tail is text
            return
        if tag in _HEADING_TAGS:
            self._flush()
            text = _PERMALINK_TAIL.sub("", one_line(el.text_content()))
            if text:
                self.blocks.append(
                    Block("heading", text, level=_HEADING_TAGS[tag], anchor=_heading_anchor(el))
                )
        elif tag == "table":
            self._flush()
            self.blocks.append(Block("text", _table_text(el)))
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
            text = _PERMALINK_TAIL.sub("", one_line(h1.text_content()))
            if text:
                return text
    title_el = doc.find(".//title")
    title = one_line(title_el.text_content()) if title_el is not None else ""
    site = doc.xpath("string(//meta[@property='og:site_name']/@content)").strip()
    if site:
        for sep in (" | ", " - ", " – ", " — ", " · ", " :: "):
            if title.endswith(sep + site):
                title = title[: -len(sep + site)].strip()
    if " | " in title:  # "Article | Site name" even without og:site_name
        title = title.split(" | ")[0].strip()
    return title or humanise_stem(path)


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
    warnings: list[str] = []
    url = checked_url(_canonical_url(doc), "canonical url", warnings)
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
        and not (b.kind == "text" and is_chrome_line(b.text))
    ]
    sections, meta = assemble(blocks, drop_boilerplate=True)
    id_ = _id_from_url(url) or slugify(path.stem) or "article"
    yield make_article(path, id_, title, url, sections, meta, warnings)

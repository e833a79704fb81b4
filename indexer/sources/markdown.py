"""``.md`` / ``.markdown``: our own corpus format (YAML front matter + Markdown body)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import yaml
from frontmatter.default_handlers import YAMLHandler
from lxml import etree
from markdown_it import MarkdownIt

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import (
    Block,
    assemble,
    checked_references,
    checked_url,
    humanise_stem,
    make_article,
    one_line,
    slugify,
)

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


def _markdown_blocks(body: str) -> list[Block]:
    """Headings, paragraphs, list items, tables and code of a Markdown body, in order."""
    tokens = _MD.parse(body)
    blocks: list[Block] = []
    list_depth = 0
    item_prefix: list[str] = []  # "3. " for ordered items: the number carries meaning
    row: list[str] | None = None
    table_rows: list[str] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            blocks.append(Block("heading", _inline_text(tokens[i + 1]), level=int(tok.tag[1])))
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
            blocks.append(Block("text", "\n".join(table_rows or [])))
            table_rows = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if row and any(row) and table_rows is not None:
                table_rows.append(" | ".join(row))
            row = None
        elif kind == "inline" and row is not None:
            row.append(one_line(_inline_text(tok)))
        elif kind == "inline":
            text = _inline_text(tok)
            if list_depth and item_prefix:
                text = item_prefix[-1] + text
                item_prefix[-1] = ""  # a second paragraph of the same item has no number
            blocks.append(Block("text", text, is_list=bool(list_depth)))
        elif kind in ("fence", "code_block"):
            blocks.append(Block("text", tok.content, is_list=bool(list_depth)))
        elif kind == "html_block":
            blocks.append(Block("text", _html_fragment_text(tok.content)))
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
    title = one_line(str(fm["title"])) if fm.get("title") else ""
    # A leading "# Title" names the article; it is never a section of it.
    if blocks and blocks[0].kind == "heading" and blocks[0].level == 1:
        h1 = blocks.pop(0)
        title = title or one_line(h1.text)
    sections, extra = assemble(blocks, drop_boilerplate=False)
    meta = _json_safe({k: v for k, v in fm.items() if k not in ("title", "id", "url")})
    warnings: list[str] = []
    if "references" in meta:
        try:
            meta["references"] = checked_references(meta["references"], warnings)
        except ValueError as exc:
            raise BadArticle(str(path), f"front matter: {exc}") from None
    for key, value in extra.items():
        meta.setdefault(key, value)  # front-matter references win over a body list
    id_ = str(fm["id"]).strip() if fm.get("id") else slugify(path.stem) or "article"
    url = checked_url(str(fm["url"]), "front matter url", warnings) if fm.get("url") else ""
    yield make_article(path, id_, title or humanise_stem(path), url, sections, meta, warnings)

"""``.jsonl``: the shared article format, one article per line, ids kept exactly as given."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import BadArticle
from indexer.models import Article, Section

from .assemble import NO_TEXT, Skipped, clean, one_line

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
        text = clean(text)
        if text:  # an empty section is nothing to search; its siblings still are
            sections.append(Section(id=section_id, heading=one_line(raw.get("heading") or ""), text=text))
    if not sections:
        raise BadArticle(where, f"record {article_id!r} on line {line_no}: {NO_TEXT}")
    meta = {k: v for k, v in record.items() if k not in ("id", "title", "url", "sections")}
    return Article(
        id=article_id,
        title=one_line(str(record.get("title") or "")),
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

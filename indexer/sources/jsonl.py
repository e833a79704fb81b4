"""``.jsonl``: the shared article format, one article per line, ids kept exactly as given.

Every record is checked on its own: a line that is not JSON, a field of the wrong type or a
value nested too deeply is one `Skipped` naming its line, and every other record of the file
still loads.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import BadArticle
from indexer.models import Article, Section

from .assemble import NO_TEXT, Skipped, checked_references, checked_url, clean, not_text, one_line
from .jsonstream import json_kind

# Deeper than any article needs: the extra fields of a record go into its meta, which is stored
# and hashed as JSON; a record nested deeper is refused rather than walked.
MAX_DEPTH = 32


def _depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _text_field(record: dict, key: str, where: str, name: str) -> str:
    """An optional text field: absent or null is empty; anything but a string is refused."""
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadArticle(where, f"{name}: {key} is {json_kind(value)}, not a string")
    return value


def _record_article(path: Path, line_no: int, record) -> Article:
    """An Article from one shared-format JSONL record, ids kept exactly as given."""
    where = f"{path}:{line_no}"
    if not isinstance(record, dict):
        raise BadArticle(where, f"line {line_no} is not a JSON object")
    article_id = record.get("id")
    if not isinstance(article_id, str) or not article_id.strip():
        raise BadArticle(where, f"record on line {line_no} has no id (a non-empty string)")
    name = f"record {article_id!r} on line {line_no}"
    if _depth(record) > MAX_DEPTH:
        raise BadArticle(where, f"{name} is nested more than {MAX_DEPTH} levels deep")
    title = _text_field(record, "title", where, name)
    raw_url = _text_field(record, "url", where, name)
    raw_sections = record.get("sections")
    if not isinstance(raw_sections, list):
        raise BadArticle(where, f"{name} has no sections list")
    sections: list[Section] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_sections, start=1):
        if not isinstance(raw, dict):
            raise BadArticle(where, f"section {n} of {name} is {json_kind(raw)}, not an object")
        section_id, text = raw.get("id"), raw.get("text")
        if not isinstance(section_id, str) or not section_id.strip():
            raise BadArticle(where, f"section {n} of {name} has no id")
        if not isinstance(text, str):
            raise BadArticle(where, f"section {section_id!r} of {name} has no text")
        heading = raw.get("heading")
        if heading is not None and not isinstance(heading, str):
            raise BadArticle(where, f"section {section_id!r} of {name}: heading is {json_kind(heading)}, "
                                    "not a string")
        if section_id in seen:
            raise BadArticle(where, f"section id {section_id!r} appears twice in {article_id!r}")
        seen.add(section_id)
        text = clean(text)
        if text:  # an empty section is nothing to search; its siblings still are
            sections.append(Section(id=section_id, heading=one_line(heading or ""), text=text))
    if not sections:
        raise BadArticle(where, f"{name}: {NO_TEXT}")
    warnings: list[str] = []
    meta = {k: v for k, v in record.items() if k not in ("id", "title", "url", "sections")}
    if "references" in meta:
        try:
            meta["references"] = checked_references(meta["references"], warnings)
        except ValueError as exc:
            raise BadArticle(where, f"{name}: {exc}") from None
    url = checked_url(raw_url, "url", warnings)
    article = Article(
        id=article_id,
        title=one_line(title),
        url=url,
        sections=tuple(sections),
        source_path=str(path),
        meta=meta,
        warnings=tuple(f"line {line_no}: {w}" for w in warnings),
    )
    problem = not_text(article)
    if problem:
        raise BadArticle(where, f"{name} {problem}")
    return article


def load_jsonl(path: Path, text: str) -> Iterator[Article | Skipped]:
    """Articles from a JSONL file, one per line; a bad line is skipped, the rest still load."""
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"malformed JSON on line {line_no}: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            yield Skipped(where, f"line {line_no} is nested too deeply to read (at most {MAX_DEPTH} levels)")
            continue
        try:
            yield _record_article(path, line_no, record)
        except BadArticle as exc:
            yield Skipped(exc.path, exc.reason)
        except Exception as exc:  # noqa: BLE001 - one odd record must not hide the rest of its file
            yield Skipped(where, f"record on line {line_no} could not be loaded ({type(exc).__name__}: {exc})")

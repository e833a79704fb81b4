"""``.txt``: a page a browser saved as plain text (headings as bare lines, site chrome mixed in)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import BadArticle
from indexer.models import Article

from .assemble import (
    LIST_MARK,
    NO_TEXT,
    Block,
    assemble,
    clean,
    humanise_stem,
    is_chrome_line,
    make_article,
    slugify,
)

_SENTENCE_END = (".", ",", ";", ":")


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
            line = clean(_cells(line))
            if line and not is_chrome_line(line):
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
        or not all(LIST_MARK.sub("", line).casefold() in candidates for line in p)
    ]

    blocks: list[Block] = []
    for i, para in enumerate(paragraphs):
        nxt = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        if is_candidate(para) and nxt is not None:
            # A heading only when body text follows; one followed by another heading is a
            # grouping heading and yields an empty (hence dropped) section.
            blocks.append(Block("heading", para[0], level=2))
            continue
        bullets = all(_is_bullet(line) for line in para)
        if bullets:
            blocks.extend(Block("text", LIST_MARK.sub("", line), is_list=True) for line in para)
        else:
            lines = [LIST_MARK.sub("", line) if _is_bullet(line) else line for line in para]
            blocks.append(Block("text", "\n".join(lines)))
    sections, meta = assemble(blocks, drop_boilerplate=True)
    yield make_article(path, slugify(path.stem) or "article", title or humanise_stem(path), "", sections, meta)

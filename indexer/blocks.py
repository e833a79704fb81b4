"""The structure of section and passage text: paragraphs, list items and table rows, read from the text itself.

Loaders write every section's text in one layout (``sources/assemble.py``), and chunking keeps it in
each passage, so the structure needs no storage of its own and indexes built before it read the same:

- blocks are separated by a blank line;
- a block of one line is a paragraph, or a list of one item when it follows a paragraph ending in ":";
- a block of several lines is a list, one item a line (a first line ending in ":" is the paragraph
  that leads into it), or a table: a run of rows whose cells are joined by `` | `` (how loaders write
  table rows), with its caption above and its footnotes below as paragraphs.

The model and BM25 see whitespace only between words, so this layout embeds and indexes exactly
as the same words run together would.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CELL = " | "
_BLANK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class TextBlock:
    """A paragraph (``p``), one list item (``li``) or a table (``table``, with its ``rows`` of cells)."""

    kind: str
    text: str
    rows: tuple[tuple[str, ...], ...] = ()
    list_start: bool = False  # the first item of its list (where a new <ul> begins)

    def to_json(self) -> dict:
        """``{"type": "p" | "li", "text"}``, or ``{"type": "table", "text", "rows": [[cell, ...]]}``."""
        shown: dict = {"type": self.kind, "text": self.text}
        if self.kind == "table":
            shown["rows"] = [list(row) for row in self.rows]
        return shown


def blocks_of(text: str) -> list[TextBlock]:
    """The blocks of a section's or passage's text, in reading order."""
    out: list[TextBlock] = []
    for block in _BLANK.split(text.strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if len(lines) == 1:
            # One line after a paragraph that leads into a list ("Common ones include:") is that list's item.
            lead = bool(out) and out[-1].kind == "p" and out[-1].text.endswith(":") and CELL not in lines[0]
            out.append(TextBlock("li", lines[0], list_start=True) if lead else TextBlock("p", lines[0]))
            continue
        rows = [n for n, line in enumerate(lines) if CELL in line]
        if len(rows) >= 2 and rows == list(range(rows[0], rows[-1] + 1)):
            # A table: its caption before the rows and its footnotes after them are paragraphs.
            out += [TextBlock("p", line) for line in lines[:rows[0]]]
            table = lines[rows[0]:rows[-1] + 1]
            out.append(TextBlock("table", "\n".join(table), tuple(tuple(c.strip() for c in line.split(CELL))
                                                                    for line in table)))
            out += [TextBlock("p", line) for line in lines[rows[-1] + 1:]]
            continue
        if lines and lines[0].endswith(":"):  # "Follow these steps:" leads into the list under it
            out.append(TextBlock("p", lines.pop(0)))
        out += [TextBlock("li", line, list_start=(n == 0)) for n, line in enumerate(lines)]
    return out


def join_blocks(blocks: list[TextBlock]) -> str:
    """Text in the layout ``blocks_of`` reads: the inverse of it for blocks it returned."""
    parts: list[tuple[str, str]] = []
    for block in blocks:
        if block.kind == "li" and parts and not block.list_start and parts[-1][0] == "li":
            parts[-1] = ("li", parts[-1][1] + "\n" + block.text)
        else:
            parts.append((block.kind, block.text))
    return "\n\n".join(text for _, text in parts)

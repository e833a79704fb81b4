"""The structure of section and passage text: paragraphs, list items and table rows, read from the text itself.

Loaders write every section's text in one layout (``sources/assemble.py``), and chunking keeps it in
each passage, so the structure needs no storage of its own and indexes built before it read the same:

- blocks are separated by a blank line;
- a block of one line is a paragraph, or a list of one item when it follows a paragraph ending in ":";
- a block of several lines is a list, one item a line (a first line ending in ":" is the paragraph
  that leads into it), or a table: a run of rows whose cells are joined by `` | `` (how loaders write
  table rows, `table_text`), with its caption above and its footnotes below as paragraphs.

A table's rows are as wide as the table: an empty cell is written as nothing between its bars (``a | | b``,
``| b``, ``a |``), so a value never slides under another column; a cell spanning columns is written once,
with a bar glued to it for each column it spans into (``Dosage|| | Total``: "Dosage" over two columns),
and read back into each of them; a ``|`` inside a cell is written ``\\|``. The header is the rows above
a ``--- | ---`` line (Markdown's delimiter row), which is written only under a header of several rows;
without one, the first row of a table of several rows is its header.

The model and BM25 see whitespace only between words, so this layout embeds and indexes exactly
as the same words run together would.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

CELL = " | "
_BLANK = re.compile(r"\n[ \t]*\n")
# A bar between cells: after a space or at the line's start, before a space or at its end. Text cleaning
# folds the two spaces around an empty cell into one (``a | | b``), so the bars, not " | ", mark the cells.
_BAR = re.compile(r"(?:^|(?<= ))\|(?= |$)")
_ANY_BAR = re.compile(r"(?<!\\)\|")  # every bar but an escaped one (``\\|``, a bar inside a cell)
_SPANNED_END = re.compile(r"(?<=[^ \\])\|$")  # a row of one cell across the table ("Gastrointestinal|||")
_DELIMITER = re.compile(r":?-{3,}:?")


@dataclass(frozen=True)
class TextBlock:
    """A paragraph (``p``), one list item (``li``) or a table (``table``, with its ``rows`` of cells)."""

    kind: str
    text: str
    rows: tuple[tuple[str, ...], ...] = ()  # a table's cells, a spanning cell's text in each column it spans
    list_start: bool = False  # the first item of its list (where a new <ul> begins)
    header_rows: int = 0  # a table's leading rows that are its header
    spans: tuple[tuple[int, ...], ...] = ()  # per cell of ``rows``: the columns it spans from there, 0 where spanned

    @property
    def header_lines(self) -> int:
        """The leading lines of a table's text that make its header: its header rows and the ``---`` line."""
        lines = self.text.split("\n")
        return next((n + 1 for n, line in enumerate(lines) if _is_delimiter(_cells(line))), min(1, len(lines)))

    def to_json(self) -> dict:
        """``{"type": "p" | "li", "text"}``, or ``{"type": "table", "text", "rows": [[cell, ...]], "header_rows"}``."""
        shown: dict = {"type": self.kind, "text": self.text}
        if self.kind == "table":
            shown["rows"] = [list(row) for row in self.rows]
            shown["header_rows"] = self.header_rows
        return shown


_Row = tuple[tuple[str, ...], tuple[int, ...]]  # a row's cells and their spans


def _row(line: str) -> _Row | None:
    """The cells of a table row and their spans, or None for a line that is not a row."""
    if not (_BAR.search(line) or _SPANNED_END.search(line)):
        return None
    bars = [m.start() for m in _ANY_BAR.finditer(line)]
    texts, spans = [line[:bars[0]]], [1]
    for n, at in enumerate(bars):
        after = line[at + 1:bars[n + 1] if n + 1 < len(bars) else len(line)]
        glued = at > 0 and line[at - 1] != " "
        if glued and not after.strip():  # a column the cell on its left spans into
            spans[max(n for n, span in enumerate(spans) if span)] += 1
            texts.append("")
            spans.append(0)
        elif glued:  # a bar inside a word ("TID|BID"), as loaders before the escape wrote it
            texts[-1] += "|" + after
        else:
            texts.append(after)
            spans.append(1)
    cells = [text.strip().replace("\\|", "|") for text in texts]
    for n, span in enumerate(spans):
        if span == 0:  # after the loop: a cell's text is whole only once every bar is read
            cells[n] = cells[n - 1]
    return tuple(cells), tuple(spans)


def _cells(line: str) -> tuple[str, ...] | None:
    row = _row(line)
    return row[0] if row is not None else None


def _is_delimiter(cells: tuple[str, ...] | None) -> bool:
    return cells is not None and all(_DELIMITER.fullmatch(cell) for cell in cells)


def table_text(rows: Sequence[Sequence[str]], header_rows: int = 1,
               joined: Sequence[Sequence[bool]] | None = None) -> str:
    """A table's rows in the section layout: cells joined by " | ", ``joined`` slots as a glued bar, the ``---``
    line under a header of several rows."""
    wide = max((len(row) for row in rows), default=0) > 1
    lines = []
    for r, row in enumerate(rows):
        line = ""
        for c, cell in enumerate(row):
            if c and joined is not None and joined[r][c]:
                line += "|"
            else:
                line += (CELL if c else "") + (cell.replace("|", "\\|") if wide else cell)
        lines.append(" ".join(line.split()))
    if header_rows > 1 and wide:
        lines.insert(header_rows, CELL.join("---" for _ in rows[0]))
    return "\n".join(lines)


def _table(lines: list[str], found: list[_Row]) -> TextBlock:
    """A table block from its lines and their rows, its header read from the ``---`` line (else the first row)."""
    head = next((n for n, (cells, _) in enumerate(found) if _is_delimiter(cells)), None)
    kept = [row for n, row in enumerate(found) if n != head]
    header = head if head is not None else int(len(kept) > 1)
    return TextBlock("table", "\n".join(lines), tuple(cells for cells, _ in kept), header_rows=header,
                     spans=tuple(spans for _, spans in kept))


def blocks_of(text: str) -> list[TextBlock]:
    """The blocks of a section's or passage's text, in reading order."""
    out: list[TextBlock] = []
    for block in _BLANK.split(text.strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if len(lines) == 1:
            # One line after a paragraph that leads into a list ("Common ones include:") is that list's item.
            lead = bool(out) and out[-1].kind == "p" and out[-1].text.endswith(":") and _cells(lines[0]) is None
            out.append(TextBlock("li", lines[0], list_start=True) if lead else TextBlock("p", lines[0]))
            continue
        found = [_row(line) for line in lines]
        rows = [n for n, row in enumerate(found) if row is not None]
        if len(rows) >= 2 and rows == list(range(rows[0], rows[-1] + 1)):
            # A table: its caption before the rows and its footnotes after them are paragraphs.
            out += [TextBlock("p", line) for line in lines[:rows[0]]]
            out.append(_table(lines[rows[0]:rows[-1] + 1], [row for row in found if row is not None]))
            out += [TextBlock("p", line) for line in lines[rows[-1] + 1:]]
            continue
        if lines and lines[0].endswith(":"):  # "Follow these steps:" leads into the list under it
            out.append(TextBlock("p", lines.pop(0)))
        out += [TextBlock("li", line, list_start=(n == 0)) for n, line in enumerate(lines)]
    return out


def blocks_json(text: str) -> list[dict]:
    """The structure of a passage's or section's text for the API: ``[{"type": "p" | "li" | "table", "text", ...}]``
    (``TextBlock.to_json`` of each of ``blocks_of``)."""
    return [block.to_json() for block in blocks_of(text)]


def join_blocks(blocks: list[TextBlock]) -> str:
    """Text in the layout ``blocks_of`` reads: the inverse of it for blocks it returned."""
    parts: list[tuple[str, str]] = []
    for block in blocks:
        if block.kind == "li" and parts and not block.list_start and parts[-1][0] == "li":
            parts[-1] = ("li", parts[-1][1] + "\n" + block.text)
        else:
            parts.append((block.kind, block.text))
    return "\n\n".join(text for _, text in parts)

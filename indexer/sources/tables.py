"""Label tables as the label draws them: an HTML or SPL ``<table>`` read into a rectangular grid of cell texts.

A label's tables merge cells: a dosage form spans the rows of its weights (``rowspan``), a heading spans
the columns of its doses (``colspan``), and a dose given three times a day sits in the third column of
three with the first two left empty. Read cell by cell, left to right, every value after a merged or
empty cell would slide under the wrong column. So cells are placed as HTML's table model places them:

- rows are placed group by group (``thead``, each ``tbody``, rows outside any), the ``thead`` first;
  a cell takes the first free column of its row, and fills every slot its ``rowspan`` and ``colspan``
  cover with its text, so that each row reads on its own ("Oral Suspension Only | 3 kg to 3.9 kg | ...").
  The text writes a ``colspan`` once (``joined`` marks the slots it continues into), so that a heading
  across a table's columns, or a leaflet's paragraph laid out across a whole table, is not repeated;
- a ``rowspan`` stops at the end of its group (``0``: to the end), a ``colspan`` is at most 1000 (HTML's
  bounds); where two cells claim one slot (a model error) the first keeps it;
- an empty cell stays an empty cell: its column is kept. A column in which no cell starts (a ``colspan``
  wider than the table) is dropped, and so is a row with no text: neither holds a value of its own;
- the header is the ``thead``'s rows (without one, the leading rows of ``th`` cells); footnotes, from
  ``<footnote>`` elements in the caption and cells and from each ``tfoot`` row, are kept apart, for
  under the table.

The grid is written into section text by ``indexer.blocks.table_text`` ("cell | cell" rows), which the
page, the API and the passages read back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from indexer.blocks import table_text

MAX_COLSPAN = 1000  # HTML's own bounds on a span
MAX_ROWSPAN = 65534
# Far above any real label table (hundreds of cells): a span or a row count in a hostile label cannot
# make a grid of millions of slots; such a table is refused (`TableTooLarge`) and read as flat text.
MAX_SLOTS = 100_000


class TableTooLarge(ValueError):
    """A table whose grid would have more than `MAX_SLOTS` slots."""


@dataclass
class Table:
    """A label table: its caption, a rectangular grid of cell texts (header rows first) and its footnotes."""

    caption: str = ""
    rows: list[list[str]] = field(default_factory=list)  # every row as wide as the table
    header_rows: int = 0
    footnotes: list[str] = field(default_factory=list)
    joined: list[list[bool]] = field(default_factory=list)  # a slot the cell on its left spans into

    def text(self) -> str:
        """The caption, the rows ("cell | cell", one a line) and the footnotes, in the section layout."""
        lines = [self.caption] if self.caption else []
        if self.rows:
            lines.append(table_text(self.rows, self.header_rows, self.joined))
        lines += self.footnotes
        return "\n".join(lines)

    def to_meta(self) -> dict:
        """What ``meta["tables"]`` keeps of the table."""
        return {"caption": self.caption, "rows": self.rows, "header_rows": self.header_rows,
                "footnotes": self.footnotes}


@dataclass(frozen=True)
class _Cell:
    text: str
    rowspan: int  # 0: to the end of its row group
    colspan: int
    header: bool  # a ``th``


def _local(el) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _spaces(text: str) -> str:
    # Cells are many and small: plain whitespace folding here; the section's text is cleaned whole later.
    return " ".join(text.split())


def _span(value: str | None, most: int, zero: int) -> int:
    """A ``rowspan``/``colspan`` as HTML reads it: leading digits, 1 when there are none, at most ``most``."""
    if value is None:  # most cells
        return 1
    found = re.match(r"\s*(\d+)", value)
    if found is None:
        return 1
    number = int(found.group(1))
    return zero if number == 0 else min(number, most)


def _cut_out(el) -> None:
    """Remove an element from its tree, keeping the text that follows it."""
    parent, tail = el.getparent(), el.tail or ""
    previous = el.getprevious()
    if tail and previous is not None:
        previous.tail = (previous.tail or "") + tail
    elif tail:
        parent.text = (parent.text or "") + tail
    parent.remove(el)


def _groups(el) -> list[tuple[str, list]]:
    """(kind, rows) of each row group of this table, nested tables' rows left out, in document order."""
    groups: list[tuple[str, list]] = []
    parent = None
    for row in el.iter("{*}tr"):
        if next(row.iterancestors("{*}table"), None) is not el:
            continue  # a nested table's rows are text of their outer cell
        if row.getparent() is not parent:
            parent = row.getparent()
            kind = _local(parent)
            groups.append((kind if kind in ("thead", "tfoot") else "tbody", []))
        groups[-1][1].append(row)
    return groups


def _cells(row) -> list[_Cell]:
    return [_Cell(_spaces("".join(cell.itertext())), _span(cell.get("rowspan"), MAX_ROWSPAN, 0),
                  _span(cell.get("colspan"), MAX_COLSPAN, 1), _local(cell) == "th")
            for cell in row if _local(cell) in ("td", "th")]


def _place(groups: list[list[list[_Cell]]]) -> tuple[list[list[_Cell | None]], list[bool]]:
    """The grid of the row groups (the cell in each slot), and per row whether all cells starting in it are ``th``."""
    slots: list[dict[int, _Cell]] = []
    all_th: list[bool] = []
    anchored: set[int] = set()
    filled = 0
    for rows in groups:
        start = len(slots)
        slots += [{} for _ in rows]
        for r, cells in enumerate(rows):
            row, col = slots[start + r], 0
            all_th.append(bool(cells) and all(cell.header for cell in cells))
            for cell in cells:
                while col in row:
                    col += 1
                down = len(rows) - r if cell.rowspan == 0 else min(cell.rowspan, len(rows) - r)
                filled += down * cell.colspan
                if filled > MAX_SLOTS:
                    raise TableTooLarge(f"a table spanning more than {MAX_SLOTS} cells")
                anchored.add(col)
                for covered in slots[start + r:start + r + down]:
                    for c in range(col, col + cell.colspan):
                        covered.setdefault(c, cell)
                col += cell.colspan
    columns = sorted(anchored)
    if len(slots) * len(columns) > MAX_SLOTS:
        raise TableTooLarge(f"a table of more than {MAX_SLOTS} cells")
    return [[row.get(c) for c in columns] for row in slots], all_th


def read_table(el) -> Table:
    """A Table from an HTML or SPL ``<table>`` element (any namespace); the element is changed on the way.

    Footnotes are taken out of the cells into ``footnotes``; line breaks and paragraphs inside a
    cell become spaces. Cell text is then read by lxml in one call per cell (labels have thousands).
    Raises TableTooLarge for a grid of more than `MAX_SLOTS` slots.
    """
    table = Table()
    for note in list(el.iter("{*}footnote")):
        text = _spaces("".join(note.itertext()))
        if text and text not in table.footnotes:
            table.footnotes.append(text)
        if note.getparent() is not None:
            _cut_out(note)
    for br in el.iter("{*}br"):
        br.tail = " " + (br.tail or "")
    for block in el.iter("{*}paragraph", "{*}p", "{*}item"):
        block.text = " " + (block.text or "")
        block.tail = " " + (block.tail or "")
    table.caption = next((text for caption in el.iter("{*}caption")
                          if (text := _spaces("".join(caption.itertext())))), "")
    groups = _groups(el)
    for kind, rows in groups:
        if kind == "tfoot":  # a table's foot holds its footnotes (and abbreviations), not values of a column
            for row in rows:
                text = " ".join(cell.text for cell in _cells(row) if cell.text)
                if text and text not in table.footnotes:
                    table.footnotes.append(text)
    head = [[_cells(row) for row in rows] for kind, rows in groups if kind == "thead"]
    body = [[_cells(row) for row in rows] for kind, rows in groups if kind == "tbody"]
    grid, all_th = _place(head + body)
    heading = sum(len(rows) for rows in head)
    if not head:  # no thead: the leading rows of th cells are the header, when rows follow them
        while heading < len(grid) - 1 and all_th[heading]:
            heading += 1
    kept = [row for row in grid if any(cell is not None and cell.text for cell in row)]
    table.rows = [[cell.text if cell is not None else "" for cell in row] for row in kept]
    # ``is``: the same cell spanning on, not another cell of the same text.
    table.joined = [[n > 0 and cell is not None and cell is row[n - 1] and bool(cell.text)
                     for n, cell in enumerate(row)] for row in kept]
    table.header_rows = sum(1 for row in grid[:heading] if any(c is not None and c.text for c in row))
    return table


def flat_text(el) -> str:
    """Every text node of an element joined by single spaces: how openFDA flattens a table into prose."""
    return " ".join(" ".join(el.itertext()).split())

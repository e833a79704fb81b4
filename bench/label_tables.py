"""Label tables with merged cells (issue 28): does each reach the API and the page as the label draws it?

    .venv/bin/python bench/label_tables.py                  # every label in ../shared/data/drug-labels
    git archive 1129e9c^ | tar -x -C /tmp/before            # the code before the fix, read by this venv:
    .venv/bin/python bench/label_tables.py --code /tmp/before
    .venv/bin/python bench/label_tables.py --all            # every table, merged cells or not

Every ``<table>`` of every label (the openFDA ``*_table`` fields' HTML, the SPL documents' tables) with a
``rowspan`` or ``colspan`` above 1 is laid out here by a reference of its own, written from HTML's table
model apart from ``indexer/sources/tables.py``: row groups (``thead`` first, ``tfoot`` set aside as
footnotes), each cell in the first free column of its row filling every slot its spans cover, a
``rowspan`` stopped at its group's end; then the columns no cell starts in and the rows with no text are
dropped. Cell texts are compared without whitespace (footnotes taken out of cells, as the loaders do).

Each table is then looked for where the label's article puts it: a table in an indexed section in the
table blocks of the API's article object (``serialise.article_json``, what ``/api/v1/articles/{id}``
answers; the article page draws the same blocks of the same text), a table in a patient leaflet in the
blocks of the leaflet's text. It is *in the API* when one table block holds all its values, and *right*
when a table block's rows are the reference's rows, cell by cell: every row as wide as the table, every
cell's text in each slot its ``rowspan`` and ``colspan`` cover. Tables of parts left out of articles
(package label panels, highlights) are counted apart. Prints the figures; skips when ../shared is absent.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT.parent / "shared" / "data" / "drug-labels"
SPL_NS = "urn:hl7-org:v3"


@dataclass
class Found:
    """One table with merged cells: where its label puts it and its reference grid."""

    label: str
    where: str  # "section", "leaflet" or "left out"
    rows: list[tuple[str, ...]]
    overlap: bool  # two cells claim one slot (an error of the label's markup)


def _local(el) -> str:
    return el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""


def _cell_text(el) -> str:
    """A cell's text without its ``<footnote>``s (the loaders move those under the table)."""
    parts: list[str] = []

    def walk(node, top: bool) -> None:
        if _local(node) != "footnote":
            parts.append(node.text or "")
            for child in node:
                walk(child, False)
        if not top:
            parts.append(node.tail or "")

    walk(el, True)
    return " ".join(parts)


def _span(value: str | None) -> int:
    found = re.match(r"\s*(\d+)", value or "")
    return int(found.group(1)) if found else 1


def merged(table) -> bool:
    return any(_span(c.get("rowspan")) != 1 or _span(c.get("colspan")) > 1
               for c in table.iter() if _local(c) in ("td", "th"))


def reference(table, key) -> tuple[list[tuple[str, ...]], bool]:
    """The grid HTML's table model draws, in ``key``-normalised cell texts, and whether any cells overlap."""
    groups: list[tuple[object, str, list]] = []  # (parent element, its kind, its rows)
    for row in table.iter():
        if _local(row) != "tr" or next((a for a in row.iterancestors() if _local(a) == "table"), None) is not table:
            continue
        parent = row.getparent()
        if not groups or groups[-1][0] is not parent:
            groups.append((parent, _local(parent) if _local(parent) in ("thead", "tfoot") else "tbody", []))
        groups[-1][2].append(row)
    ordered = [g[1:] for g in groups if g[1] == "thead"] + [g[1:] for g in groups if g[1] == "tbody"]
    grid: list[list[str | None]] = []
    starts: set[int] = set()
    overlap = False
    for _, rows in ordered:
        top = len(grid)
        grid += [[] for _ in rows]
        for r, row in enumerate(rows):
            col = 0
            for cell in (c for c in row if _local(c) in ("td", "th")):
                while col < len(grid[top + r]) and grid[top + r][col] is not None:
                    col += 1
                rowspan, colspan = _span(cell.get("rowspan")), max(1, min(_span(cell.get("colspan")), 1000))
                last = len(rows) if rowspan == 0 else min(r + rowspan, len(rows))
                starts.add(col)
                text = key(_cell_text(cell))
                for i in range(top + r, top + last):
                    line = grid[i]
                    line += [None] * max(0, col + colspan - len(line))
                    for c in range(col, col + colspan):
                        if line[c] is None:
                            line[c] = text
                        else:
                            overlap = True
                col += colspan
    columns = sorted(starts)
    drawn = [tuple((line[c] if c < len(line) else None) or "" for c in columns) for line in grid]
    return [row for row in drawn if any(row)], overlap


def openfda_tables(path: Path, kind_of_field, key, every: bool = False) -> list[Found]:
    import lxml.html

    found = []
    data = json.loads(path.read_text(encoding="utf-8"))
    for label in data.get("results", []) if isinstance(data, dict) else data:
        seen: set[str] = set()
        for name, values in label.items():
            if not name.endswith("_table") or not isinstance(values, list):
                continue
            kind = kind_of_field(name.removesuffix("_table"))
            where = "section" if kind is None or kind.indexed else "leaflet" if kind.leaflet else "left out"
            for html in values:
                if not isinstance(html, str) or html in seen or "<" not in html:
                    continue
                seen.add(html)
                root = lxml.html.fragment_fromstring(html, create_parent="div")
                for table in root.iter("table"):
                    if every or merged(table):
                        rows, overlap = reference(table, key)
                        found.append(Found(label.get("set_id", ""), where, rows, overlap))
    return found


def spl_tables(path: Path, kind_of_code, key, every: bool = False) -> list[Found]:
    from lxml import etree

    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    set_id = root.find(f"{{{SPL_NS}}}setId").get("root")
    found = []
    for table in root.iter(f"{{{SPL_NS}}}table"):
        if not (every or merged(table)):
            continue
        where = "section"
        for above in table.iterancestors():
            if _local(above) == "excerpt":
                where = "left out"  # the highlights, which the loader leaves out
            if _local(above) == "section":
                code = above.find(f"{{{SPL_NS}}}code")
                kind = kind_of_code(code.get("code", "") if code is not None else "")
                if kind is not None and kind.leaflet:
                    where = "leaflet"
                elif kind is not None and not kind.indexed and where == "section":
                    where = "left out"
        rows, overlap = reference(table, key)
        found.append(Found(set_id, where, rows, overlap))
    return found


_HEADING = "\x00"  # marks a leaflet's first row, whose first words may have become the leaflet's heading


def _same(reference: list[tuple[str, ...]], drawn: list[tuple[str, ...]]) -> bool:
    """The drawn rows are the reference's, cell by cell (a leaflet's first row may lack its first words)."""
    if len(reference) != len(drawn) or reference[1:] != drawn[1:] or len(reference[0]) != len(drawn[0]):
        return False
    return all(r == d or (d.startswith(_HEADING) and r.endswith(d[1:]))
               for r, d in zip(reference[0], drawn[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, help="a checkout whose loaders and serialiser are measured "
                                                  "(default: this one)")
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder of openfda/*.json and spl/*.xml")
    parser.add_argument("--all", action="store_true", help="every table, not only those with merged cells")
    parser.add_argument("--show", type=int, default=0, help="print this many tables drawn wrong")
    args = parser.parse_args()
    if not args.labels.is_dir():
        print(f"skipped: {args.labels} is absent (../shared/data is not beside this checkout)")
        return 0
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
    from indexer.blocks import blocks_of
    from indexer.models import Article
    from indexer.sources import load_file
    from indexer.sources.assemble import clean
    from indexer.sources.labels import kind_of_code, kind_of_field
    from search_app.web.serialise import article_json

    def key(text: str) -> str:
        return re.sub(r"\s+", "", clean(text))

    started = time.perf_counter()
    files = sorted((args.labels / "openfda").glob("*.json")) + sorted((args.labels / "spl").glob("*.xml"))
    counts: Counter[str] = Counter()
    wrong: list[tuple[Found, list]] = []
    for path in files:
        tables = openfda_tables(path, kind_of_field, key, args.all) if path.suffix == ".json" else \
            spl_tables(path, kind_of_code, key, args.all)
        drawn: dict[tuple[str, str], list[list[tuple[str, ...]]]] = {}
        for article in load_file(path):
            if not isinstance(article, Article):
                continue
            answer = article_json(article, "http://localhost")
            drawn[(article.id, "section")] = [
                [tuple(key(c) for c in row) for row in block["rows"]]
                for s in answer["sections"] for block in s["blocks"] if block["type"] == "table"]
            drawn[(article.id, "leaflet")] = []
            for leaflet in article.meta.get("patient_leaflets", []):
                for n, block in enumerate(blocks_of(leaflet["text"])):
                    if block.kind == "table":
                        rows = [tuple(key(c) for c in row) for row in block.rows]
                        if n == 0 and rows:  # the leaflet's heading was read off its first words: the table's
                            rows[0] = tuple(_HEADING + c for c in rows[0])
                        drawn[(article.id, "leaflet")].append(rows)
        for table in tables:
            counts[f"tables {table.where}"] += 1
            counts["overlapping cells"] += table.overlap
            if table.where == "left out":
                continue
            if len(table.rows) < 2 or len(table.rows[0]) < 2:
                counts[f"narrow {table.where}"] += 1  # the layout reads one row, or one column, as paragraphs
                continue
            blocks = drawn.get((table.label, table.where), [])
            # A leaflet's first row may have lost its first words to the leaflet's heading: the rest must be there.
            values = {c for row in table.rows[table.where == "leaflet":] for c in row if c}
            whole = any(values <= {c for row in block for c in row} for block in blocks)
            right = any(_same(table.rows, block) for block in blocks)
            counts[f"whole {table.where}"] += whole
            counts[f"right {table.where}"] += right
            if not right:
                wrong.append((table, blocks))
    total = sum(counts[f"tables {w}"] for w in ("section", "leaflet", "left out"))
    print(f"labels: {len(files)} files ({args.code or ROOT}), {time.perf_counter() - started:.0f} s")
    print(f"tables{'' if args.all else ' with merged cells'}: {total} (in sections {counts['tables section']}, "
          f"in patient leaflets {counts['tables leaflet']}, in parts left out of articles "
          f"{counts['tables left out']}); with overlapping cells in the label's markup: {counts['overlapping cells']}")
    for where, said in (("section", "in sections (the API's article object)"), ("leaflet", "in leaflets")):
        grids = counts[f"tables {where}"] - counts[f"narrow {where}"]
        print(f"{said}: {grids} tables of two rows and columns or more ({counts[f'narrow {where}']} of one row or "
              f"column, paragraphs in the layout); all values in one table block {counts[f'whole {where}']}; drawn "
              f"as the label draws it (rectangular, every cell in place) {counts[f'right {where}']}; wrong or "
              f"missing {grids - counts[f'right {where}']}")
    for table, blocks in sorted(wrong, key=lambda item: item[0].where != "section")[:args.show]:
        print(f"\n{table.label} ({table.where}): reference")
        print("\n".join(" | ".join(row) for row in table.rows[:8]))
        near = max(blocks, key=lambda b: len({c for r in b for c in r} & {c for r in table.rows for c in r}),
                   default=[])
        print("closest table block:\n" + "\n".join(" | ".join(row).replace(_HEADING, "") for row in near[:8]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

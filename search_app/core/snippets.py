"""Query-biased snippets: the sentences, list items or table rows of a passage that match the query.

A card shows what answers the question, not the passage's first lines: the units (a sentence of a
paragraph, a list item, a table row) holding the most query words are kept, in reading order, up to
about ``BUDGET`` characters, each list item with the sentence that leads into its list and each row
with its table's header (all its header rows); what is left out between them is marked with an ellipsis.
A short passage, or one with no query word in it (a match by meaning alone), is shown from its start.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from indexer.blocks import TextBlock, blocks_of
from indexer.chunking import split_sentences
from indexer.lexical import stem, tokens, words

BUDGET = 320  # characters of passage text on a card, about three lines at desktop width


@dataclass(frozen=True)
class Piece:
    """A block of the snippet: a paragraph's kept sentences, a list item, or a table's kept rows."""

    kind: str  # "p", "li" or "table"
    text: str
    rows: tuple[tuple[str, ...], ...] = ()
    gap_before: bool = False  # passage text is left out just before this piece (or inside a paragraph's)
    list_start: bool = False  # the first piece of its list on the card
    header_rows: int = 0  # a table's leading rows that are its header (``indexer.blocks``)
    spans: tuple[tuple[int, ...], ...] = ()  # the columns each cell of ``rows`` spans, 0 where spanned


@dataclass(frozen=True)
class Snippet:
    pieces: tuple[Piece, ...]
    gap_after: bool  # passage text is left out after the last piece
    whole: bool  # nothing was left out


@dataclass
class _Unit:
    block: int
    kind: str  # "p" (a sentence), "li" or "row"
    text: str
    lead: int | None = None  # the unit that must come with this one (lead-in sentence, header rows)
    rows: tuple[tuple[str, ...], ...] = ()  # a table's row, or its header rows (one unit: shown together)
    spans: tuple[tuple[int, ...], ...] = ()
    header: bool = False


def _units(blocks: list[TextBlock]) -> list[_Unit]:
    units: list[_Unit] = []
    list_id: int | None = None  # the block where the current list starts
    lead: int | None = None
    for number, block in enumerate(blocks):
        if block.kind == "li":
            if block.list_start or list_id is None:
                list_id, before = number, units[-1] if units else None
                lead = len(units) - 1 if before is not None and before.kind == "p" and before.block == number - 1 \
                    and before.text.endswith(":") else None
            units.append(_Unit(list_id, "li", block.text, lead))
            continue
        list_id = None
        if block.kind == "p":
            units += [_Unit(number, "p", sentence) for sentence in split_sentences(block.text)]
        else:
            head = block.header_rows
            spans = block.spans or tuple((1,) * len(row) for row in block.rows)
            header_unit = len(units) if head else None
            if head:
                units.append(_Unit(number, "row", "\n".join(" | ".join(row) for row in block.rows[:head]),
                                   rows=block.rows[:head], spans=spans[:head], header=True))
            units += [_Unit(number, "row", " | ".join(row), header_unit, rows=(row,), spans=(span,))
                      for row, span in zip(block.rows[head:], spans[head:])]
    return units


def _score(unit: _Unit, matched: set[str], own: set[str]) -> int:
    """The query's words in a unit: 2 for each of the reader's own, 1 for each word added for them (a synonym)."""
    found = matched & {stem(w) for w in words(unit.text)}
    return sum(2 if s in own else 1 for s in found)


def snippet(text: str, matched: tuple[str, ...] | list[str], query: str = "", budget: int = BUDGET,
            shown_above: str = "") -> Snippet:
    """The parts of ``text`` (a passage, in the section layout of ``indexer.blocks``) worth showing for a query.

    ``matched``: the words of the passage that matched the query (``Hit.matched``: the reader's words and
    those the query was expanded with); ``query``: what the reader asked, whose own words count double;
    ``shown_above``: the card's title and heading. A query word the heading already shows picks nothing
    (for "amitriptyline side effects" under "Common side effects of amitriptyline", the list of them
    answers, not the sentences that say "side effects" again).
    """
    blocks = blocks_of(text)
    units = _units(blocks)
    if not units:
        return Snippet((), False, True)
    wanted = {stem(w) for w in words(" ".join(matched))} - {stem(w) for w in words(shown_above)}
    own = set(tokens(query))
    scores = [_score(u, wanted, own) for u in units]
    if len(text) <= budget * 1.25:
        chosen: set[int] = set(range(len(units)))
    else:
        # Most query words first; of equals, the shorter (more of them fit) and then the earlier.
        order = sorted((i for i, s in enumerate(scores) if s), key=lambda i: (-scores[i], len(units[i].text), i))
        if not order:  # matched by meaning only: the passage's start
            order = list(range(len(units)))
        chosen = set()
        used = 0
        for i in order:
            need = [j for j in (units[i].lead, i) if j is not None and j not in chosen]
            cost = sum(len(units[j].text) for j in need)
            if chosen and used + cost > budget:
                continue
            chosen.update(need)
            used += cost
            if used >= budget:
                break
    return _pieces(units, sorted(chosen))


def _pieces(units: list[_Unit], chosen: list[int]) -> Snippet:
    pieces: list[Piece] = []
    previous = -1
    for i in chosen:
        unit, gap = units[i], i != previous + 1
        last = pieces[-1] if pieces else None
        same_block = previous >= 0 and units[previous].block == unit.block
        if unit.kind == "p" and last is not None and last.kind == "p" and same_block:
            # More of the same paragraph: one piece, with an ellipsis where sentences are left out.
            pieces[-1] = Piece("p", last.text + (" … " if gap else " ") + unit.text, gap_before=last.gap_before)
        elif unit.kind == "row" and last is not None and last.kind == "table" and same_block:
            pieces[-1] = replace(last, text=last.text + "\n" + unit.text, rows=last.rows + unit.rows,
                                 spans=last.spans + unit.spans)
        elif unit.kind == "row":
            pieces.append(Piece("table", unit.text, unit.rows, gap_before=gap if pieces else i > 0,
                                header_rows=len(unit.rows) if unit.header else 0, spans=unit.spans))
        else:
            starts_list = unit.kind == "li" and not (last is not None and last.kind == "li" and same_block)
            pieces.append(Piece(unit.kind, unit.text, gap_before=gap if pieces else i > 0, list_start=starts_list))
        previous = i
    return Snippet(tuple(pieces), gap_after=chosen[-1] != len(units) - 1,
                   whole=len(chosen) == len(units))

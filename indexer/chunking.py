"""Split sections into passages that fit the model's window, counted in model tokens."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .blocks import TextBlock, blocks_of
from .models import Article, Passage, article_permalink, context_prefix, passage_id, section_link
from .section_types import type_of
from .settings import default

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! or ? (optionally closed by a quote or bracket) followed by space and
# something that can start a sentence. Common abbreviations are protected first, so that
# "e.g. ibuprofen" or "Dr. Smith" do not end a sentence.
_ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs|Dr|Mr|Mrs|Ms|St|approx|No|Fig|mg|mcg|ml|mL)\.", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9•\-])")
_PLACEHOLDER = "\u2024"  # one-dot leader: looks like a dot, never matched as sentence end


@dataclass(frozen=True)
class ChunkSettings:
    chunk_tokens: int = default("chunk_tokens")
    overlap_tokens: int = default("overlap_tokens")
    max_seq_length: int = 256

    def describe(self) -> dict:
        """What the manifest records about chunking."""
        return {"chunk_tokens": self.chunk_tokens, "overlap_tokens": self.overlap_tokens,
                "max_seq_length": self.max_seq_length, "unit": "model tokens",
                "context": "title: heading, blank line, text",
                # Changing how passages are cut changes the build: a build of older passages is redone.
                "layout": "blocks kept (indexer/blocks.py); a list with its lead-in; no leaning first sentence; "
                          "a table's header rows repeated together; v2",
                # Which passages share a text (and its vector): a build that shared them otherwise is redone.
                "texts": "one per medicine, heading and text (indexer/texts.py)"}


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; every line (a bullet, a table row) is at least its own unit."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        protected = _ABBREVIATIONS.sub(lambda m: m.group(0)[:-1] + _PLACEHOLDER, line)
        for piece in _SENTENCE_END.split(protected):
            piece = piece.replace(_PLACEHOLDER, ".").strip()
            if piece:
                sentences.append(piece)
    return sentences


def _split_long(sentence: str, budget: int, count: TokenCounter) -> list[tuple[str, int]]:
    """Cut one over-long sentence into word runs of at most ``budget`` tokens each."""
    words = sentence.split()
    sizes = count(words)
    pieces: list[tuple[str, int]] = []
    current: list[str] = []
    used = 0
    for word, size in zip(words, sizes):
        if current and used + size > budget:
            pieces.append((" ".join(current), used))
            current, used = [], 0
        current.append(word)
        used += size
    if current:
        pieces.append((" ".join(current), used))
    return pieces


# A sentence that leans on the one before ("This is more likely if ...", "It can also ..."): a passage
# never starts with one; the sentence it leans on is carried along as context.
_DEPENDENT = re.compile(
    r"^[\"'(\[]?(this|these|that|those|it|its|they|their|them|such|however|but|and|or|also|so|otherwise|"
    r"instead|therefore|then|if so|in this case|as a result|for this reason|even so|in that case)\b", re.I)


@dataclass
class _Unit:
    text: str
    tokens: int
    block: int  # units of one block are joined on one line (a paragraph) or line by line (a list, a table)
    kind: str  # "p", "li" or "row"
    intro: int | None = None  # the unit that introduces this one (a list's lead-in sentence, a table's header)
    dependent: bool = False  # leans on the sentence before it


def _units(text: str, budget: int, count: TokenCounter) -> list[_Unit]:
    """Sentences of paragraphs, list items and table rows, each at most ``budget`` tokens."""
    pieces: list[tuple[str, int, str]] = []  # (text, block, kind)
    for number, block in enumerate(_grouped(blocks_of(text))):
        kind = {"p": "p", "li": "li", "table": "row"}[block[0].kind]
        if kind == "p":
            pieces += [(sentence, number, kind) for sentence in split_sentences(block[0].text)]
        elif kind == "li":
            pieces += [(item.text, number, kind) for item in block]
        else:
            # A header of several rows (and the ``---`` line under it) is one unit: a chunk repeats it whole.
            lines = block[0].text.split("\n")
            head = block[0].header_lines
            pieces += [("\n".join(lines[:head]), number, kind)] + [(line, number, kind) for line in lines[head:]]
    sizes = count([p for p, _, _ in pieces])
    if any(size > budget and "\n" in piece for (piece, _, _), size in zip(pieces, sizes)):
        # A header too long for one chunk goes back to a row a unit, so that no row is cut into words.
        pieces = [(line, number, kind) for piece, number, kind in pieces for line in piece.split("\n")]
        sizes = count([p for p, _, _ in pieces])
    units: list[_Unit] = []
    lead_in: dict[int, int] = {}  # block -> the unit that introduces it
    for (piece, number, kind), size in zip(pieces, sizes):
        if number not in lead_in:
            if kind == "li" and units and units[-1].kind == "p" and units[-1].text.endswith(":"):
                lead_in[number] = len(units) - 1  # "Common ones include:"
            elif kind == "row":
                lead_in[number] = len(units)  # a table's header (its first row, or rows) introduces the rows after it
        intro = lead_in.get(number)
        first = len(units)
        for text, tokens in (_split_long(piece, budget, count) if size > budget else [(piece, size)]):
            units.append(_Unit(text, tokens, number, kind, intro=None if intro == len(units) else intro,
                               dependent=kind == "p" and len(units) == first and bool(_DEPENDENT.match(text))))
    return units


def _grouped(blocks: list[TextBlock]) -> list[list[TextBlock]]:
    """Blocks with the items of each list together."""
    groups: list[list[TextBlock]] = []
    for block in blocks:
        if block.kind == "li" and not block.list_start and groups and groups[-1][0].kind == "li":
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _join(units: list[_Unit]) -> str:
    """A chunk's text in the section's layout: a paragraph's sentences on one line, items and rows a line each."""
    out = ""
    for i, unit in enumerate(units):
        if i:
            same = unit.block == units[i - 1].block
            out += (" " if unit.kind == "p" else "\n") if same else "\n\n"
        out += unit.text
    return out


def split_text(text: str, budget: int, overlap: int, count: TokenCounter) -> list[str]:
    """Pack sentences, list items and rows greedily into chunks of at most ``budget`` tokens, overlapping.

    A chunk repeats the last ``overlap`` tokens of whole units before it. Beyond that, a list is never
    cut from the sentence that introduces it: the lead-in moves to the next chunk when the list starts
    there, and a chunk that starts inside a list (or a table) repeats the lead-in (or the header row);
    and a chunk never starts with a sentence that leans on the one before ("This is more likely if
    ..."): that one is repeated too. Each is kept only while the chunk still fits its budget.
    """
    units = _units(text, budget, count)
    chunks: list[list[int]] = []
    current: list[int] = []
    used = 0
    fresh = 0  # units in `current` that were not carried over from the previous chunk
    for i, unit in enumerate(units):
        if current and used + unit.tokens > budget:
            # The list's lead-in closes this chunk but its first item starts the next: it goes with the item.
            moved: list[int] = []
            if unit.intro is not None and current[-1] == unit.intro and fresh > 1:
                moved = [current.pop()]
                fresh -= 1
            chunks.append(current)
            carried: list[int] = []
            carried_tokens = 0
            for previous in reversed(current):
                size = units[previous].tokens
                if carried_tokens + size > overlap or carried_tokens + size + unit.tokens > budget:
                    break
                if units[previous].kind != "p" and units[previous].block != unit.block:
                    break  # a list's last items carried before a paragraph would read as a list of their own
                carried.insert(0, previous)
                carried_tokens += size
            needed = list(moved)
            if unit.intro is not None and unit.intro not in carried + needed:
                needed.insert(0, unit.intro)
            if unit.dependent and i - 1 not in carried + needed:
                needed.append(i - 1)
            for extra in sorted(needed):
                if extra not in carried and carried_tokens + units[extra].tokens + unit.tokens <= budget:
                    carried.append(extra)
                    carried_tokens += units[extra].tokens
            carried.sort()
            # A carried sentence that leans on its own predecessor brings that one too ("This ... It ...").
            while carried and carried[0] > 0 and units[carried[0]].dependent and \
                    carried_tokens + units[carried[0] - 1].tokens + unit.tokens <= budget:
                carried.insert(0, carried[0] - 1)
                carried_tokens += units[carried[0]].tokens
            current, used, fresh = carried, carried_tokens, 0
        current.append(i)
        used += unit.tokens
        fresh += 1
    if current and fresh:
        chunks.append(current)
    return [_join([units[i] for i in chunk]) for chunk in chunks]


# Distinct section texts a build's ``Chunker`` remembers the chunks of: a 10,000-label DailyMed-like corpus
# has fewer (its copies repeat far fewer distinct texts than rows), each a few kB with its chunks.
MEMO_SECTIONS = 100_000


class Chunker:
    """Cuts a build's articles into passages, each distinct section text once per token budget.

    DailyMed repeats most of its text: a repackager's label copies its source's sections word for word and a
    generic copies the brand's, so a build meets most section texts many times. Cutting one takes a tokenizer
    call per sentence run; the same text with the same budget always gives the same chunks, so a copy reuses
    those of the first (``split_text`` of the text, remembered). What is remembered is bounded by
    ``memo_sections`` texts, the least recently used forgotten first: a text met again after that is simply cut again.
    The tokens of each context ("title: heading") are counted once too.
    """

    def __init__(self, settings: ChunkSettings, count: TokenCounter, memo_sections: int = MEMO_SECTIONS):
        self.settings = settings
        self.count = count
        self._split = lru_cache(maxsize=memo_sections)(self._split_text) if memo_sections else self._split_text
        # Tokens of each context ("title: heading") met: a labeler's labels of one product share their title.
        self._contexts: dict[str, int] | None = {} if memo_sections else None
        self._most_contexts = memo_sections

    def _split_text(self, text: str, budget: int) -> tuple[str, ...]:
        return tuple(split_text(text, budget, self.settings.overlap_tokens, self.count))

    def _context_tokens(self, contexts: list[str]) -> list[int]:
        """Model tokens of each context, those not met before counted in one tokenizer call."""
        known = self._contexts
        if known is None:
            return self.count(contexts) if contexts else []
        missing = [c for c in dict.fromkeys(contexts) if c not in known]
        if missing:
            if len(known) + len(missing) > self._most_contexts:
                known.clear()
            known.update(zip(missing, self.count(missing)))
        return [known[c] for c in contexts]

    def passages(self, article: Article) -> Iterator[Passage]:
        """Every passage of an article, in reading order, with stable ids and deep links."""
        sections = article.sections
        contexts = self._context_tokens([context_prefix(article.title, s.heading) for s in sections])
        for section, context_tokens in zip(sections, contexts):
            # [CLS] and [SEP] take two positions of the window; the context is embedded with every passage.
            budget = max(32, min(self.settings.chunk_tokens, self.settings.max_seq_length - 2 - context_tokens))
            url, permalink = section_link(article, section.id), article_permalink(article.id, section.id)
            kind = type_of(section)
            for ordinal, text in enumerate(self._split(section.text, budget)):
                yield Passage(id=passage_id(article.id, section.id, ordinal), article_id=article.id,
                              section_id=section.id, ordinal=ordinal, title=article.title, heading=section.heading,
                              text=text, url=url, permalink=permalink, section_type=kind)


def passages_for(article: Article, settings: ChunkSettings, count: TokenCounter) -> Iterator[Passage]:
    """Every passage of an article, in reading order, with stable ids and deep links (nothing remembered)."""
    return Chunker(settings, count, memo_sections=0).passages(article)

"""Split sections into passages that fit the model's window, counted in model tokens."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

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
                "context": "title: heading, blank line, text"}


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


def split_text(text: str, budget: int, overlap: int, count: TokenCounter) -> list[str]:
    """Pack sentences greedily into chunks of at most ``budget`` tokens, overlapping by whole sentences."""
    sentences = split_sentences(text)
    units: list[tuple[str, int]] = []
    for sentence, size in zip(sentences, count(sentences)):
        units.extend(_split_long(sentence, budget, count) if size > budget else [(sentence, size)])
    chunks: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    used = 0
    fresh = 0  # units in `current` that were not carried over from the previous chunk
    for unit in units:
        if current and used + unit[1] > budget:
            chunks.append(current)
            carried: list[tuple[str, int]] = []
            carried_tokens = 0
            for previous in reversed(current):
                if carried_tokens + previous[1] > overlap or carried_tokens + previous[1] + unit[1] > budget:
                    break
                carried.insert(0, previous)
                carried_tokens += previous[1]
            current, used, fresh = carried, carried_tokens, 0
        current.append(unit)
        used += unit[1]
        fresh += 1
    if current and fresh:
        chunks.append(current)
    return [_join(chunk) for chunk in chunks]


def _join(units: list[tuple[str, int]]) -> str:
    return " ".join(text for text, _ in units)


def passages_for(article: Article, settings: ChunkSettings, count: TokenCounter) -> Iterator[Passage]:
    """Every passage of an article, in reading order, with stable ids and deep links."""
    for section in article.sections:
        context_tokens = count([context_prefix(article.title, section.heading)])[0]
        # [CLS] and [SEP] take two positions of the window; the context is embedded with every passage.
        budget = max(32, min(settings.chunk_tokens, settings.max_seq_length - 2 - context_tokens))
        for ordinal, text in enumerate(split_text(section.text, budget, settings.overlap_tokens, count)):
            yield Passage(
                id=passage_id(article.id, section.id, ordinal),
                article_id=article.id,
                section_id=section.id,
                ordinal=ordinal,
                title=article.title,
                heading=section.heading,
                text=text,
                url=section_link(article, section.id),
                permalink=article_permalink(article.id, section.id),
                section_type=type_of(section),
            )

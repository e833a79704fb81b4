"""Passages of the same text, stored once: what "the same text" is, and the build's table of distinct texts.

DailyMed republishes the same words many times: a repackager's label copies its source word for
word under another set id, a generic copies the brand's text, and medicines of one class share
class labeling (the NSAIDs' boxed warning). A build stores each distinct text once: one vector in
the FAISS store and one BM25 document; each passage row keeps its own article, section, heading
and position and points at its text (``passages.text_id`` in the catalog). Retrieval runs over
the texts and expands to the rows that carry them (``SearchIndex``).

Two passages have the same text when they are about the same medicine (the article's ``drug``,
``subject``) and their heading and text are equal once normalised (``key``): Unicode NFKC,
whitespace runs collapsed to one space and trimmed, case-folded. The heading counts because the
model and BM25 read it with the text: "None." under "Contraindications" is not "None." under "Drug
Interactions". The medicine counts because the model and BM25 also read the article title: class
labeling printed by two medicines' labels ("None." as the contraindications of 58 labels, the
NSAIDs' cardiovascular warning) would otherwise carry the first label's title in its one vector and
BM25 document, and score lower against a query naming the other medicine than that label's own
sections do ("KADCYLA contraindications": cosine 0.42 under another label's title, 0.69 under
KADCYLA's). Each medicine's copies get their own vector; a page still shows the words once
(``RowTable.alike``: the same heading and text whatever the medicine). The article title does not count: a
medicine's copies differ in it by their labeler's name, which is the point of sharing. A text's
vector is that of the passage it was first embedded from (its title included), carried over by
incremental builds with any passage of the text, so that removing a repackager's copy re-embeds
nothing; its BM25 document is that of its first passage in row order.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """A text as compared for sameness: NFKC, whitespace collapsed and trimmed, case-folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def subject(meta: Mapping[str, object]) -> str:
    """The medicine an article is about, as texts are shared by (its front matter's ``drug``; '' when none)."""
    drug = meta.get("drug")
    return normalise(drug) if isinstance(drug, str) else ""


def key(medicine: str, heading: str, text: str) -> bytes:
    """What identifies a passage's text: a digest of its medicine (``subject``) and its normalised heading and text."""
    return hashlib.blake2b(f"{medicine}\n{normalise(heading)}\n{normalise(text)}".encode(), digest_size=16).digest()


def digest(text: str) -> bytes:
    """A digest of a text exactly as written (a copy whose case or spacing differs keeps its own)."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def key_and_digest(medicine: str, heading: str, text: str) -> tuple[bytes, bytes]:
    """``key(medicine, heading, text)`` and ``digest(text)``."""
    return key(medicine, heading, text), digest(text)


# Distinct passages a build remembers the key of: more than a 10,000-label DailyMed-like corpus holds. Each costs
# a dict entry beside its text, which the build's ``chunking.Chunker`` mostly remembers anyway.
MEMO_TEXTS = 200_000


def remembering(most: int = MEMO_TEXTS) -> Callable[[str, str, str], tuple[bytes, bytes]]:
    """``key_and_digest`` that remembers its last ``most`` distinct (medicine, heading, text): a build meets most passages
    many times (DailyMed's copies), and normalising a text costs far more than looking it up."""
    return lru_cache(maxsize=most)(key_and_digest)


class TextTable:
    """The distinct texts of a build as it is written: key -> (text id, digest of its first passage's own text).

    Memory grows with the distinct texts, 16-byte digests each, not with their words.
    """

    def __init__(self) -> None:
        self._ids: dict[bytes, tuple[int, bytes]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, text_key: bytes) -> bool:
        return text_key in self._ids

    def find(self, text_key: bytes) -> tuple[int, bytes] | None:
        """(text id, digest of the first copy's own text) of a known text, else None."""
        return self._ids.get(text_key)

    def add(self, text_key: bytes, own: bytes) -> int:
        """Register a new text; returns its id (ids run from 0 in the order texts are added)."""
        text_id = len(self._ids)
        self._ids[text_key] = (text_id, own)
        return text_id

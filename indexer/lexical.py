"""The lexical index: tokenising and BM25 (bm25s), the only module that imports bm25s.

Documents are passages as the model sees them (title, heading, text), so that a query
naming the medicine matches passages whose own text never repeats the name.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

# bm25s sets its logger to DEBUG on import, so "Building index from tokens" reaches any handler on the root.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# PyStemmer's stemmers are not thread-safe (each holds libstemmer's C buffers and a word cache, and its
# docs say to use one per thread); the server's threads stem queries at once, so each thread has its own.
_THREAD = threading.local()
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves im ive id dont doesnt didnt cant wont isnt
""".split())


def words(text: str) -> list[str]:
    """Lowercase words of a text, apostrophes folded ("can't" -> "cant")."""
    found = _WORD.findall(text.lower())
    if "'" not in text and "’" not in text:
        return found
    # Words never hold a NUL, so the apostrophes of all of them go in two passes over one string.
    return "\0".join(found).replace("'", "").replace("’", "").split("\0")


def words_stemming_to(text: str, stems: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The distinct words of ``text`` (as ``words`` reads them) whose stem is one of ``stems``, in order.

    The same as filtering ``words(text)``, but only words starting with a stem's first letter are
    stemmed (the Snowball stemmer never changes a word's first letter), found by one regex pass.
    """
    initials = "".join(sorted({s[0] for s in stems if s and s[0] in _INITIALS}))
    if not initials:
        return ()
    # A word starts after anything that is not part of a word (so never inside "o'neill").
    candidates = re.findall(rf"(?<![a-z0-9'’])[{initials}][a-z0-9]*(?:['’][a-z]+)?", text.lower())
    folded = (w.replace("'", "").replace("’", "") for w in candidates)
    return tuple(w for w in dict.fromkeys(folded) if stem(w) in stems)


def words_stemming_to_each(texts: Sequence[str], stems: set[str] | frozenset[str]) -> list[tuple[str, ...]]:
    """``words_stemming_to`` of each of ``texts``."""
    return [words_stemming_to(text, stems) for text in texts]


_INITIALS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def stemmer() -> Stemmer.Stemmer:
    """This thread's English Snowball stemmer, made on first use."""
    mine = getattr(_THREAD, "stemmer", None)
    if mine is None:
        mine = _THREAD.stemmer = Stemmer.Stemmer("english")
    return mine


@lru_cache(maxsize=65536)  # functools' cache is safe to share between threads
def stem(word: str) -> str:
    """A word's Snowball stem."""
    return stemmer().stemWord(word)


def stems(words: Sequence[str]) -> list[str]:
    """The Snowball stems of many words (``stem`` of each), in one call to the stemmer."""
    return stemmer().stemWords(list(words))


def query_words(text: str) -> tuple[list[str], dict[str, str]]:
    """A query's words (``words``) and the stem of each word and of each two neighbours joined (a name typed in two
    halves, "levet iracetam"), read in one call: the stemmer is asked once for the whole query."""
    typed = words(text)
    both = typed + [a + b for a, b in zip(typed, typed[1:])]
    return typed, dict(zip(both, stems(both)))


def tokens(text: str) -> list[str]:
    """BM25 tokens: words without stopwords, Snowball-stemmed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


K1, B = 1.2, 0.75  # Lucene's BM25 defaults, which bm25s follows


class LexicalIndex:
    """BM25 over the build's distinct texts (``texts.py``), numbered as the vector store's vectors."""

    @staticmethod
    def describe() -> dict:
        """What the manifest records about the lexical index (a change of any of it means a rebuild)."""
        return {"kind": "bm25s", "method": "lucene", "k1": K1, "b": B, "tokens": "english stopwords, snowball",
                "document": "title: heading, text of a distinct text's first passage", "version": 2}

    def __init__(self, retriever: bm25s.BM25):
        self._bm25 = retriever
        self.vocabulary = frozenset(retriever.vocab_dict)
        # bm25s's eager index: per token, the rows it occurs in and their BM25 scores (a sparse matrix).
        # With Lucene's BM25 a row without the token scores 0 for it (no non-occurrence term to add).
        matrix = retriever.scores
        self._num_docs = int(matrix["num_docs"])
        self._data, self._indices, self._indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        self._token_ids = retriever.vocab_dict

    def __len__(self) -> int:
        """How many documents it holds."""
        return self._num_docs

    @classmethod
    def build(cls, documents: Iterable[str]) -> LexicalIndex:
        """Index documents in row order."""
        return cls.build_from_tokens([tokens(doc) or ["\0"] for doc in documents])

    @classmethod
    def build_from_tokens(cls, documents: list[list[str]]) -> LexicalIndex:
        """Index already tokenised documents in row order (an empty document is ``["\\0"]``)."""
        retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
        retriever.index(documents, show_progress=False)
        return cls(retriever)

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(directory), show_progress=False, verbosity=0))

    def scores(self, query_tokens: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 score of every document for the query tokens (unknown tokens ignored).

        ``weights`` scales each token's contribution (expansions count less than the
        reader's own words); tokens repeated in the query count once.
        """
        total = np.zeros(self._num_docs, dtype=np.float32)
        seen: dict[str, float] = {}
        for i, token in enumerate(query_tokens):
            if token in self.vocabulary:
                w = 1.0 if weights is None else float(weights[i])
                seen[token] = max(seen.get(token, 0.0), w)
        # One token's column of the precomputed score matrix is bm25s's ``get_scores([token])`` (each row at
        # most once); adding its non-zero entries in place gives the same float32 sums without a full array each.
        for token, w in seen.items():
            token_id = self._token_ids[token]
            start, end = self._indptr[token_id], self._indptr[token_id + 1]
            total[self._indices[start:end]] += w * self._data[start:end]
        return total

    def rows_with(self, token: str) -> np.ndarray:
        """The documents that hold ``token`` (a BM25 token, as ``tokens`` makes it), in order."""
        token_id = self._token_ids.get(token)
        if token_id is None:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.asarray(self._indices[self._indptr[token_id]:self._indptr[token_id + 1]], dtype=np.int64))

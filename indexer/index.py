"""A published build opened for searching: manifest checked, vectors and catalog loaded once.

``SearchIndex`` is the boundary between ranking and storage: it answers retrieval (the nearest
rows, BM25 scores, the rows about a medicine or of some articles, passages) and hands ranking two
read-only tables made once at open (``tables.py``: ``table`` by row and section, ``articles`` by
article), over which fusion, folding and de-duplication are functions. Ranking never reaches its
vector store or its catalog, and nothing outside it can change its state.

Vectors and BM25 documents are one per distinct text (``texts.py``), rows one per passage: the
index searches the texts and answers in rows, every row carrying a text it found, so that ranking
still weighs each passage in its own article and section.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import headings as heading_vectors
from . import lexicon as lexicons
from . import manifest as manifests
from .catalog import Catalog
from .errors import IndexIncompatible
from .history import LabelVersion
from .lexical import LexicalIndex
from .models import Article, Passage, make_passages
from .publishing import live_build
from .section_types import SECTION_TYPES
from .sources.labels import SUPPORTING_FIELDS, kind_of_field
from .store import VectorStore
from .tables import ArticleFacts, ArticleTable, RowTable
from .texts import normalise

_TYPE_INDEX = {t: i for i, t in enumerate(SECTION_TYPES)}


class Nearest(NamedTuple):
    """What the dense retriever answers for one query vector."""

    rows: np.ndarray    # the rows of the k nearest texts (among the allowed rows), best first, a text's copies together
    scores: np.ndarray  # each row's cosine to the query
    best: float         # the cosine of the build's nearest text, allowed or not (what the match verdict reads)


class Ask(NamedTuple):
    """What one query asks of the build's retrievers (``SearchIndex.retrieve``)."""

    vector: np.ndarray                   # the query's unit vector
    dense: int                           # how many nearest texts to find (0: none; the build's best cosine still)
    terms: tuple[tuple[str, float], ...]  # BM25 tokens with their weights (none: every row scores 0)
    lexical: int                         # how many of the best-scoring texts to list
    allowed: np.ndarray | None = None    # the rows the filters allow (None: every row)
    medicines: tuple[Iterable[str], ...] = ()  # each medicine's names: the rows about each (``rows_about``)
    articles: frozenset[str] = frozenset()     # articles whose rows are asked for (those the query names)


class Found(NamedTuple):
    """What the build's retrievers answer for one query."""

    dense: np.ndarray         # the rows of the nearest texts among the allowed rows, best first (``nearest``)
    best: float               # the cosine of the build's nearest text, allowed or not (what the match verdict reads)
    lexical: np.ndarray       # the BM25 score of every row, 0 outside the allowed rows
    lexical_rows: np.ndarray  # the rows of the best-scoring texts, best first (``best_rows``)
    about: tuple[np.ndarray, ...]  # the rows about each medicine asked for
    articles: np.ndarray      # the rows of the articles asked for, in row order


class Page(NamedTuple):
    """What a page of results shows of its rows, read from the build at once."""

    passages: dict[int, Passage]  # by row (``passages``)
    copies: list[np.ndarray]      # for each row asked, every row saying the same, itself included (``copies``)


class SearchIndex:
    """The vector store, BM25 and catalog of one build; read-only and shared by all requests."""

    def __init__(self, build_dir: Path, manifest: manifests.Manifest, vectors: VectorStore, catalog: Catalog):
        self.build_dir = build_dir
        self.manifest = manifest
        self.build_id = manifest.build_id
        self._vectors = vectors
        self._catalog = catalog
        self._lexical = LexicalIndex.load(build_dir / manifests.BM25_DIR)
        # A build never changes, so article headers (cited by every result) are read from SQLite once.
        self._headers = lru_cache(maxsize=4096)(catalog.article_header)
        self._cards = lru_cache(maxsize=16384)(catalog.article_card)
        self.names: dict[str, list[str]] = lexicons.load(build_dir / manifests.LEXICON)["names"]
        # Per-row arrays let ranking score and filter candidates without touching SQLite.
        rows = catalog.row_table()
        self._size = len(rows)  # passage rows; an opened build never changes; ranking asks this several times a query
        # The text of each row, and the rows of each text (rows sorted by text, and where each text starts).
        self._row_text = np.array(catalog.row_texts(), dtype=np.int64)
        self._texts = len(vectors)
        if len(self._row_text) != len(rows) or (len(rows) and int(self._row_text.max()) >= self._texts):
            raise IndexIncompatible(f"index {build_dir}: its passages name {self._texts} texts inconsistently; "
                                    "rebuild it with `python -m indexer build`")
        self._by_text = np.argsort(self._row_text, kind="stable")
        self._text_starts = np.searchsorted(self._row_text[self._by_text], np.arange(self._texts + 1))
        facts = catalog.article_facts()
        article_ids = sorted(f.article_id for f in facts)
        self._article_position = {a: i for i, a in enumerate(article_ids)}
        sections: dict[tuple[str, str], int] = {}
        self._row_article = np.array([self._article_position[r[1]] for r in rows], dtype=np.int32)
        self._row_section = np.array([sections.setdefault((r[1], r[2]), len(sections)) for r in rows], dtype=np.int32)
        # The rows of each article, in row order: "the rows of these articles" without a pass over every row.
        by_article = np.argsort(self._row_article, kind="stable")
        by_article.setflags(write=False)  # callers get views of it
        starts = np.searchsorted(self._row_article[by_article], np.arange(len(article_ids) + 1))
        self._article_rows = [by_article[starts[i]:starts[i + 1]] for i in range(len(article_ids))]
        self._section_keys = list(sections)
        # Each section's id as a number shared by every article with a section of that id ("boxed_warning" in
        # two labels): "the same section of another label" without comparing strings.
        section_ids: dict[str, int] = {}
        self._section_id_number = np.array([section_ids.setdefault(s, len(section_ids)) for _, s in sections],
                                           dtype=np.int32)
        # What a passage shows besides its own text, by section: reading a page of passages is then one
        # lookup per row in SQLite instead of a join of three tables (the titles and links are in _headers).
        self._section_types = [""] * len(sections)
        for r in rows:
            self._section_types[sections[(r[1], r[2])]] = r[3]
        # The label section each section is (its openFDA field: "boxed_warning", "overdosage"; "" outside labels).
        # A label section's type is the one the section table gives its field, also in a build made before the
        # table changed (the boxed warning had "serious_side_effects" until it got a type of its own).
        self._section_fields = [""] * len(sections)
        for article_id, section_id, field in catalog.label_section_fields():
            number = sections.get((article_id, section_id))
            if number is not None and field:
                self._section_fields[number] = field
                kind = kind_of_field(field)
                if kind is not None and kind.indexed:
                    self._section_types[number] = kind.type
        section_type_index = np.array([_TYPE_INDEX.get(t, _TYPE_INDEX["other"]) for t in self._section_types],
                                      dtype=np.int8)
        self._row_type = section_type_index[self._row_section]
        headings = catalog.section_headings()
        self._section_headings = [""] * len(sections)
        for article_id, section_id, heading in headings:
            number = sections.get((article_id, section_id))
            if number is not None:
                self._section_headings[number] = heading
        self._medicines(catalog, facts, sections, headings)
        # Rows of the parts of drug labels that support the prescribing information (pharmacology, studies, ...).
        supporting = np.array([field in SUPPORTING_FIELDS for field in self._section_fields], dtype=bool)
        self._row_supporting = supporting[self._row_section]
        try:  # the heading vector of each label section (-1: none), read by ranking within a label
            self._heading_position, self._heading_vectors = heading_vectors.load(build_dir, sections, vectors.dimension)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexIncompatible(f"index {build_dir}: {manifests.HEADINGS} is unreadable ({exc}); rebuild it "
                                    "with `python -m indexer build`") from None
        # What ranking reads of every row, handed over once (``tables.py``); the arrays above, made read-only.
        # The words of each text, once normalised as texts are (``texts.normalise``), and which texts say the same
        # (heading and words) under different medicines: a page shows those once.
        words: dict[str, int] = {}
        said: dict[tuple[str, int], int] = {}
        text_words = np.zeros(self._texts, dtype=np.int32)
        text_alike = np.zeros(self._texts, dtype=np.int32)
        first_sections = self._row_section[self._by_text[self._text_starts[:-1]]].tolist() if len(rows) else []
        for text_id, body in catalog.texts():
            text_words[text_id] = number = words.setdefault(normalise(body), len(words))
            heading = normalise(self._section_headings[first_sections[text_id]])
            text_alike[text_id] = said.setdefault((heading, number), len(said))
        self._by_alike = np.argsort(text_alike, kind="stable")
        self._alike_starts = np.searchsorted(text_alike[self._by_alike], np.arange(len(said) + 1))
        self.table = RowTable.make(self._row_article, self._row_section, self._row_text, text_words, text_alike,
                                   self._row_type, self._row_supporting, self._section_id_number,
                                   self._heading_position, self._heading_vectors, vectors.every_vector())

    def _medicines(self, catalog: Catalog, facts: list[ArticleFacts], sections: dict[tuple[str, str], int],
                   headings: list[tuple[str, str, str]]) -> None:
        """What each article and section is about, for medicine-aware ranking and labels.

        A name is a medicine when the brand table knows it or an article about it says it is a
        medicine (``kind: medicine`` or a label); topic and disease pages name no medicine.
        Sections whose heading names a medicine ("Amitriptyline and muscle cramps") are about it too.
        """
        kinds = {f.article_id: f.kind for f in facts}
        # Labels of one medicine (dozens of makers and versions) fold behind the best-matching one.
        label_medicine = {f.article_id: lexicons.without_salt(f.drug) or lexicons.name_key(f.drug)
                          for f in facts if f.kind == "label" and f.drug}
        table = lexicons.generic_table()
        self.topic_articles = frozenset(a for a, kind in kinds.items() if kind == "topic")
        self.medicine_names = frozenset(table) | frozenset(
            n for n, ids in self.names.items() if any(kinds.get(a) in ("medicine", "label") for a in ids))
        about: dict[str, set[str]] = {}
        for name, ids in self.names.items():
            if name in table:
                for a in ids:
                    if a not in self.topic_articles:
                        about.setdefault(a, set()).update(table[name])
        synonyms = lexicons.synonym_table()
        titles = catalog.titles()
        article_medicines: dict[str, tuple[str, ...]] = {}
        for article_id, generics in about.items():
            kept: list[str] = []
            in_title = set(lexicons.name_key(titles.get(article_id, "")).split())
            # One name per medicine (paracetamol and acetaminophen are one): the one in the title first.
            for g in sorted(generics, key=lambda g: (not set(g.split()) <= in_title, g)):
                if not any(k in synonyms.get(g, ()) for k in kept):
                    kept.append(g)
            article_medicines[article_id] = tuple(kept)
        self.articles = ArticleTable.make(facts, label_medicine, article_medicines)  # handed to ranking, as ``table``
        heading_sections: dict[str, list[int]] = {}
        for article_id, section_id, heading in headings:
            number = sections.get((article_id, section_id))
            if number is None or not heading:
                continue
            for name in lexicons.names_in(heading, self.medicine_names):
                heading_sections.setdefault(name, []).append(number)
        section_rows = np.argsort(self._row_section, kind="stable")
        starts = np.searchsorted(self._row_section[section_rows], np.arange(len(sections) + 1))
        self._heading_rows = {name: np.sort(np.concatenate([section_rows[starts[n]:starts[n + 1]] for n in numbers]))
                              for name, numbers in heading_sections.items()}

    @classmethod
    def open(cls, index_dir: Path, model: dict[str, Any] | None = None, checksums: bool = True) -> SearchIndex:
        """Open the live build of ``index_dir``, refusing one that does not match its manifest or the model."""
        build_dir = live_build(Path(index_dir))
        manifest = manifests.read(build_dir)
        manifests.check(build_dir, manifest, model=model, checksums=checksums)
        vectors = VectorStore.load(build_dir / manifests.VECTORS, manifest.recipe.faiss_factory,
                                   manifest.vector_index.get("efSearch"))
        catalog = Catalog(build_dir / manifests.CATALOG)
        manifests.check_counts(build_dir, manifest, len(vectors), vectors.dimension, catalog.counts())
        return cls(build_dir, manifest, vectors, catalog)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every BM25 token of the build."""
        return self._lexical.vocabulary

    def __len__(self) -> int:
        return self._size

    # -- retrieval -------------------------------------------------------------------------
    @property
    def text_count(self) -> int:
        """How many distinct texts the build holds (its vectors and BM25 documents)."""
        return self._texts

    def _rows_of_texts(self, texts: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """The rows carrying each of ``texts``, text after text in that order (each text's rows in row order),
        only those in ``allowed`` (a mask over rows) when given."""
        if not len(texts):
            return np.zeros(0, dtype=np.int64)
        starts, ends = self._text_starts[texts], self._text_starts[np.asarray(texts) + 1]
        if bool(np.all(ends - starts == 1)):  # the usual case: every text has one row
            rows = self._by_text[starts]
        else:
            rows = np.concatenate([self._by_text[a:b] for a, b in zip(starts.tolist(), ends.tolist())])
        return rows if allowed is None else rows[allowed[rows]]

    def _mask(self, rows: np.ndarray) -> np.ndarray:
        mask = np.zeros(self._size, dtype=bool)
        mask[rows] = True
        return mask

    def nearest(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Nearest:
        """Rows and cosine scores of the passages of the k texts nearest to one query vector, best first (a text's
        copies together, in row order); with ``allowed``, among those rows only; and the build's best cosine."""
        texts = None if allowed is None else np.unique(self._row_text[allowed])
        scores, found = self._vectors.search(vector.reshape(1, -1), k, texts)
        keep = found[0] >= 0
        found, text_scores = found[0][keep], scores[0][keep]
        counts = self._text_starts[found + 1] - self._text_starts[found]
        if allowed is None:
            return Nearest(self._rows_of_texts(found), np.repeat(text_scores, counts),
                           float(text_scores[0]) if len(text_scores) else 0.0)
        # Filtered, the nearest allowed text need not be the build's nearest: the store is asked for that one too.
        best_score, best_text = self._vectors.search(vector.reshape(1, -1), 1, None)
        mask = self._mask(allowed)
        rows = self._rows_of_texts(found)
        kept = mask[rows]
        return Nearest(rows[kept], np.repeat(text_scores, counts)[kept],
                       float(best_score[0][0]) if best_text[0][0] >= 0 else 0.0)

    def retrieve(self, ask: Ask) -> Found:
        """What every retriever answers for one query, asked at once: the nearest rows, the BM25 score of every row
        and its best rows, the rows about each medicine and of each article the query names."""
        if ask.terms:
            terms, weights = zip(*ask.terms)
            lexical = self.lexical_scores(terms, weights)
            if ask.allowed is not None:
                masked = np.zeros_like(lexical)
                masked[ask.allowed] = lexical[ask.allowed]
                lexical = masked
        else:
            lexical = np.zeros(self._size, dtype=np.float32)
        rows, _, best = self.nearest(ask.vector, max(ask.dense, 1), ask.allowed)
        return Found(rows if ask.dense else rows[:0], best, lexical, self.best_rows(lexical, ask.lexical),
                     tuple(self.rows_about(names) for names in ask.medicines), self.rows_of(ask.articles))

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored unit vectors of some rows (for checks and benchmarks); copies of one text share theirs."""
        return self._vectors.vectors(self._row_text[np.asarray(rows, dtype=np.int64)])

    def lexical_scores(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 score of every row for the query's tokens (weighted): the score of the text it carries."""
        return self._lexical.scores(terms, weights)[self._row_text]

    def best_rows(self, scores: np.ndarray, depth: int) -> np.ndarray:
        """The rows of the ``depth`` texts with the highest positive row score, best first (ties by text), each
        text's rows together; ``scores`` is a score per row, such as ``lexical_scores`` (0 where filtered out)."""
        positive = np.flatnonzero(scores > 0)
        best = np.zeros(self._texts, dtype=np.float32)
        np.maximum.at(best, self._row_text[positive], scores[positive])
        texts = np.flatnonzero(best > 0)
        if len(texts) > depth:  # keep the texts scoring at least the depth-th best (ties included) before sorting
            threshold = np.partition(best[texts], len(texts) - depth)[len(texts) - depth]
            texts = texts[best[texts] >= threshold]
        texts = texts[np.argsort(-best[texts], kind="stable")][:depth]
        return self._rows_of_texts(texts, scores > 0)

    def copies(self, rows: Sequence[int]) -> list[np.ndarray]:
        """For each of ``rows``, every row saying the same (``RowTable.alike``: its text, or another medicine's copy
        of it), itself included, in row order."""
        found = []
        for row in rows:
            alike = int(self.table.alike[self._row_text[int(row)]])
            texts = self._by_alike[self._alike_starts[alike]:self._alike_starts[alike + 1]]
            found.append(self._rows_of_texts(texts) if len(texts) == 1 else np.sort(self._rows_of_texts(texts)))
        return found

    # -- rows ------------------------------------------------------------------------------
    def rows_of(self, article_ids: Iterable[str]) -> np.ndarray:
        """Rows of every passage of the given articles (unknown ids ignored), in row order."""
        positions = sorted({self._article_position[a] for a in article_ids if a in self._article_position})
        if len(positions) == 1:
            return self._article_rows[positions[0]]
        if not positions:
            return np.zeros(0, dtype=np.intp)
        return np.sort(np.concatenate([self._article_rows[p] for p in positions]))

    def rows_where(self, articles: Iterable[str] | None = None, section_types: Iterable[str] | None = None) -> np.ndarray:
        """Rows of the given articles (all when None) whose section type is one of ``section_types`` (all when None)."""
        mask = np.ones(self._size, dtype=bool)
        if articles is not None:
            mask &= self.about(np.arange(self._size), articles)
        if section_types is not None:
            mask &= self.of_type(np.arange(self._size), section_types)
        return np.flatnonzero(mask)

    def rows_about(self, names: Iterable[str]) -> np.ndarray:
        """Rows about any of ``names``: the passages of their articles and sections whose heading names one."""
        names = list(names)
        articles = {a for n in names for a in self.names.get(n, ())}
        parts = [self.rows_of(articles)] + [self._heading_rows[n] for n in names if n in self._heading_rows]
        return np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]

    def article_medicines(self, article_id: str) -> tuple[str, ...]:
        """Generic names of the medicines an article is about (none for topic articles; ``articles.generics``)."""
        number = self.articles.number.get(article_id)
        return () if number is None else self.articles.generics[number]

    def about(self, rows: np.ndarray, article_ids: Iterable[str]) -> np.ndarray:
        """For each row, whether its passage belongs to one of the given articles."""
        return self.articles.mask(article_ids)[self._row_article[rows]]

    def of_type(self, rows: np.ndarray, section_types: Iterable[str]) -> np.ndarray:
        """For each row, whether its section is of one of the given types."""
        return self.table.type_numbers(section_types)[self._row_type[rows]]

    def label_sections(self) -> list[tuple[int, str, str]]:
        """(section number, openFDA field, heading) of every drug-label section, for learning what each kind is called."""
        return [(number, field, self._section_headings[number]) for number, field in enumerate(self._section_fields)
                if field]

    @property
    def section_count(self) -> int:
        """How many sections the build holds (section numbers run from 0 to this)."""
        return len(self._section_keys)

    def sections_with(self, token: str) -> np.ndarray:
        """The numbers of the sections of which some passage (title, heading and text) holds a BM25 token."""
        return np.unique(self._row_section[self._rows_of_texts(self._lexical.rows_with(token))])

    def section_key(self, row: int) -> tuple[str, str]:
        """(article id, section id) of a row, without a database round trip."""
        return self._section_keys[int(self._row_section[row])]

    def article_of(self, row: int) -> str:
        """The article id of a row."""
        return self._section_keys[int(self._row_section[row])][0]

    # -- records ---------------------------------------------------------------------------
    def passages(self, rows: Sequence[int]) -> dict[int, Passage]:
        """The passages of some rows, by row."""
        records = []
        for row, (passage_id, ordinal, text) in self._catalog.passage_texts(rows).items():
            number = self._row_section[row]
            article_id, section_id = self._section_keys[number]
            header = self._cards(article_id)  # its title and link: a card is enough, and cheap to read
            if header is not None:
                records.append((row, (passage_id, article_id, section_id, ordinal, text, header.title, header.url,
                                      self._section_headings[number], self._section_types[number])))
        return dict(zip([row for row, _ in records], make_passages([record for _, record in records])))

    def page(self, rows: Sequence[int]) -> Page:
        """The passages of a page's rows and the rows saying the same as each, asked at once."""
        return Page(self.passages(rows), self.copies(rows))

    def passage(self, passage_id: str) -> Passage | None:
        return self._catalog.passage(passage_id)

    def article(self, article_id: str) -> Article | None:
        return self._catalog.article(article_id)

    def article_header(self, article_id: str) -> Article | None:
        """An article without its sections (title, link, front matter), cached for the life of the build."""
        return self._headers(article_id)

    def article_headers(self, article_ids: list[str]) -> dict[str, Article | None]:
        """``article_header`` of each of some articles (a page's hits), by id."""
        return {article_id: self._headers(article_id) for article_id in dict.fromkeys(article_ids)}

    def article_card(self, article_id: str) -> Article | None:
        """An article's header less its label tables, leaflets and section map (``Catalog.article_card``): what a
        list of copies cites; cached for the life of the build."""
        return self._cards(article_id)

    def label_versions(self, set_id: str) -> list[LabelVersion]:
        """Every version of a drug label the build holds, newest first, without their sections: the indexed one,
        then the earlier ones it kept as history (never searched)."""
        return self._catalog.label_versions(set_id)

    def label_version(self, set_id: str, version: int | None = None) -> LabelVersion | None:
        """One version of a drug label with its sections: the indexed one, or ``version`` from the history."""
        return self._catalog.label_version(set_id, version)

    def titles(self) -> dict[str, str]:
        """Every article's title by id."""
        return self._catalog.titles()

    def check_readable(self) -> None:
        """IndexNotFound, saying why, when a new reader could not read this build now (deleted or moved)."""
        self._catalog.probe()

    def describe(self) -> dict[str, Any]:
        """What the health check shows of this build."""
        return {"build_id": self.build_id, "passages": self._size, "articles": self.manifest.counts.articles,
                "model": self.manifest.model["name"], "created": self.manifest.created}

    def close(self) -> None:
        self._catalog.close()

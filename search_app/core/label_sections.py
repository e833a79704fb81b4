"""The parts of a drug label a query names, learnt from the build's own labels.

A clinician's look-up names a part of a label: "adalimumab boxed warning", "rivaroxaban dose",
"metformin renal dosing", or "pregnancy" alone. A label says what each of its parts is: the LOINC
code and openFDA field of every section (``meta["label_sections"]``), whose name the section table
gives ("Boxed Warning", "Overdosage", "Nursing Mothers"), and the section's own heading ("2.4 Dosage
in Patients with Renal Impairment"). From every label section of one build this module learns how
strongly a word points at each kind of section (a kind is an openFDA field):

- a word of the sections' names (their kind's name and their own heading) points at the kinds of the
  sections so named ("dose" heads dosage subsections: "2.5 Missed Dose", "Dose Adjustment ..."); a word
  that few headings use is read from the sections' text instead ("breastfeeding": the lactation parts);
- its strength for a kind is how much more often those sections are of that kind than label sections
  are in general: 0 for no more than chance, 1 for all of them.

A query's cue for one label section is the mean, over the query's words (the medicine names aside),
of 1 where the section's own names hold the word, else the word's strength for the section's kind;
a word that names no kind of section (strength under ``NAMES_FROM``, and not in a kind's name) adds 0.
Ranking adds ``weight_section`` times the cue (labels only). A query each of whose words is, or has a
lay phrasing that is, at least half the name of a kind of section the build holds ("boxed warning",
"breastfeeding": Lactation, "storage": Storage and Handling) is a look-up of that part, which the match
verdict never calls "no match"; a strength learnt from headings is not enough for that verdict. Nothing
here is written from questions: only the labels teach it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from indexer.lexical import STOPWORDS, tokens, words
from indexer.sources.labels import UNCLASSIFIED, kind_of_code, kind_of_field

if TYPE_CHECKING:
    from indexer.index import SearchIndex

MIN_SECTIONS = 5   # a word read from fewer sections' names (or texts) than this says nothing of their kinds
NAMES_FROM = 0.5   # strength from which a word names a kind of section (for the look-up verdict)
UNCLASSIFIED_FIELD = kind.field if (kind := kind_of_code(UNCLASSIFIED)) else ""


Unit = tuple[tuple[str, ...], ...]  # one word, or a lay phrase: its phrasings (its own tokens, each clinical one's)


@dataclass(frozen=True)
class SectionAsk:
    """The label sections a query names."""

    units: tuple[Unit, ...] = ()  # the query's own words (BM25 tokens), medicine names aside; lay phrases as one
    naming: tuple[bool, ...] = () # for each unit, whether it names a kind of section ("dose", "boxed"; not "blood")
    kinds: tuple[str, ...] = ()   # openFDA fields of the kinds its words name, strongest first
    types: tuple[str, ...] = ()   # the section types of those kinds (the indexed ones), in that order
    lookup: bool = False          # every word is (a phrasing of) the name of a kind of section this build holds

    def __bool__(self) -> bool:
        return bool(self.kinds)


def _name_tokens(text: str) -> set[str]:
    """The BM25 tokens of a heading or kind name, section numbers ("2.4") aside."""
    return {t for t in tokens(text) if not t.isdigit()}


class LabelSections:
    """What each word says of the kinds of label section in one build, and the cue of a query for each section."""

    def __init__(self, index: SearchIndex):
        self.index = index
        found = index.label_sections()
        self.fields: tuple[str, ...] = tuple(sorted({field for _, field, _ in found}))
        position = {field: n for n, field in enumerate(self.fields)}
        # The kind of every section of the build (-1: not a label section).
        self.section_kind = np.full(index.section_count, -1, dtype=np.int32)
        headed: dict[str, list[int]] = defaultdict(list)      # token -> sections whose own heading holds it
        named_by = Counter((field, heading) for _, field, heading in found)  # (field, heading) -> sections so named
        own_of: dict[str, set[str]] = {}  # heading -> its tokens (a build's labels share few thousand headings)
        name_counts: dict[str, Counter] = defaultdict(Counter)  # token -> kind -> sections whose names hold it
        kind_name_of = {f: k.name if (k := kind_of_field(f)) else "" for f in self.fields}
        kind_names = {f: _name_tokens(kind_name_of[f]) for f in self.fields}
        self.kind_type = {f: k.type for f in self.fields if (k := kind_of_field(f)) and k.indexed}  # indexed kinds
        for number, field, heading in found:
            kind = position[field]
            self.section_kind[number] = kind
            own = own_of.get(heading)
            if own is None:
                own = own_of[heading] = _name_tokens(heading)
            for token in own:
                headed[token].append(number)
            for token in kind_names[field] | own:
                name_counts[token][kind] += 1
        self.headed = {t: np.array(n, dtype=np.int64) for t, n in headed.items()}
        # The words, as written, that name the build's label sections (at least MIN_SECTIONS of them, or a kind),
        # those naming more sections first: what a misspelt word of a look-up ("contraindicatons", "boxed warnig")
        # is respelt to.
        of_kinds = {w for name in kind_name_of.values() for w in words(name)}
        naming: Counter = Counter()  # word as written -> sections whose names (its kind's, its heading) hold it
        for (field, heading), n in named_by.items():
            for word in set(words(f"{kind_name_of[field]} {heading}")):
                naming[word] += n
        self.words: tuple[str, ...] = tuple(
            w for w, n in sorted(naming.items(), key=lambda item: (-item[1], item[0]))
            if (n >= MIN_SECTIONS or w in of_kinds) and len(w) >= 4 and w.isalpha() and w not in STOPWORDS)
        self.name_counts = dict(name_counts)
        self.kind_names = [kind_names[f] for f in self.fields]
        self.unclassified = position.get(UNCLASSIFIED_FIELD, -2)  # sections whose label says nothing of their kind
        # The words of the kinds' names ("pregnancy", "boxed", "interactions") and the kinds each names.
        self.kinds_named: dict[str, np.ndarray] = {}
        for kind, name_tokens in enumerate(self.kind_names):
            for token in name_tokens:
                self.kinds_named[token] = np.append(self.kinds_named.get(token, np.zeros(0, np.int64)), kind)
        sizes = np.bincount(self.section_kind[self.section_kind >= 0], minlength=len(self.fields))
        self.prior = sizes / max(int(sizes.sum()), 1)
        self.strength = lru_cache(maxsize=4096)(self._strength)

    def _strength(self, token: str) -> np.ndarray:
        """How strongly a word points at each kind (0..1), from the sections' names, else from their text."""
        counts = np.zeros(len(self.fields))
        named = self.name_counts.get(token)
        if named is not None and sum(named.values()) >= MIN_SECTIONS:
            for kind, n in named.items():
                counts[kind] = n
        else:
            kinds = self.section_kind[self.index.sections_with(token)]
            kinds = kinds[kinds >= 0]
            if len(kinds) >= MIN_SECTIONS:
                counts = np.bincount(kinds, minlength=len(self.fields)).astype(float)
        total = counts.sum()
        if not total:
            return np.zeros(len(self.fields))
        return np.clip((counts / total - self.prior) / (1 - self.prior), 0.0, 1.0)

    def _unit_strength(self, unit: Unit) -> np.ndarray:
        """How strongly a unit points at each kind: its best phrasing's mean over its tokens."""
        return np.max([np.mean([self.strength(t) for t in option], axis=0) for option in unit], axis=0)

    def ask(self, units: tuple[Unit, ...]) -> SectionAsk:
        """The kinds of section the query's own words (BM25 tokens, medicine names aside) name."""
        if not self.fields or not units:
            return SectionAsk(units)
        best: dict[int, float] = {}
        naming: list[bool] = []
        by_name: list[bool] = []  # names a kind by the kind's own name, not by a strength learnt from headings
        for unit in units:
            strength = self._unit_strength(unit)
            # The kinds a unit names: those it points at strongly, and those whose own name is at least half made
            # of a phrasing of it ("warning": Boxed Warning, Warnings and Precautions; not "impairment": Carcinogenesis,
            # Mutagenesis, Impairment of Fertility).
            named = {int(k): float(strength[k]) for k in np.flatnonzero(strength >= NAMES_FROM)}
            own_name = {k: 1.0 for k, kind_words in enumerate(self.kind_names)
                        if any(set(option) <= kind_words and 2 * len(set(option)) >= len(kind_words)
                               for option in unit)}
            named.update(own_name)
            naming.append(bool(named))
            by_name.append(bool(own_name))
            for kind, value in named.items():
                best[kind] = max(best.get(kind, 0.0), value)
        kinds = tuple(self.fields[k] for k in sorted(best, key=lambda k: (-best[k], k)))
        # The look-up verdict (never "no match") asks more than ranking does: a strength learnt from headings also
        # lets table headings' abbreviations ("yrs", "po") and stray words ("radiator") name a kind.
        types = tuple(dict.fromkeys(self.kind_type[f] for f in kinds if f in self.kind_type))
        return SectionAsk(units, tuple(naming), kinds, types, lookup=all(by_name) and bool(kinds))

    def _points(self, token: str) -> np.ndarray:
        """For every section of the build, how well the token names it: 1 where the section's names hold it, else
        the token's strength for the section's kind.

        A word of a kind's name names the sections of that kind, not others whose heading holds it ("pregnancy":
        "8.1 Pregnancy", not "8.3 Females and Males of Reproductive Potential: Pregnancy Testing"), unless the label
        left the section unclassified ("OVERDOSAGE: Treatment", LOINC 42229-5); any other word names the sections
        whose own heading holds it ("renal": "2.4 Dosage in Renal Impairment").
        """
        points = np.where(self.section_kind >= 0, self.strength(token)[np.maximum(self.section_kind, 0)], 0.0)
        headed = self.headed.get(token, np.zeros(0, dtype=np.int64))
        kinds = self.kinds_named.get(token)
        if kinds is not None:
            points[np.isin(self.section_kind, kinds)] = 1.0
            headed = headed[self.section_kind[headed] == self.unclassified]
        points[headed] = 1.0
        return points

    def cue(self, ask: SectionAsk, sections: np.ndarray) -> np.ndarray:
        """For each section number, the share of the query's words that name it (0 outside labels).

        Only the words that name a kind of section count for a section (its heading may hold the others, "blood
        clots" in "Treatment of Venous Thromboembolism": the heading cosine and the text weigh those); every word
        counts in the share, so a long question moves less than a bare look-up.
        """
        naming = [unit for unit, names in zip(ask.units, ask.naming) if names]
        if not naming or not self.fields:
            return np.zeros(len(sections), dtype=np.float32)
        points = {t: self._points(t)[sections] for unit in naming for option in unit for t in option}
        total = np.zeros(len(sections))
        for unit in naming:
            total += np.max([np.mean([points[t] for t in option], axis=0) for option in unit], axis=0)
        return (total * len(naming) / len(ask.units) ** 2).astype(np.float32)

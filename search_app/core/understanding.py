"""Query understanding: spelling of medicine names, names to articles, lay words, intent.

Everything here works from the loaded build (its lexicon and BM25 vocabulary) and the
curated tables in ``search_app/data`` and ``indexer/data``; nothing is learnt from queries.
"""
from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jellyfish
import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from indexer.lexical import STOPWORDS, query_words, stem, tokens
from indexer.lexicon import generic_table, name_key, synonym_table
from indexer.tables import ArticleTable

from .label_sections import LabelSections, SectionAsk, Unit

DATA = Path(__file__).resolve().parent.parent / "data"
LAY_TERMS_FILE = DATA / "lay_terms.tsv"
MAX_NAME_WORDS = 4
NEAR_NAME = 80  # fuzz.ratio from which a typed word may be read as a medicine name
_LETTER = {ch: i for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz0123456789")}  # any other character: one slot

# What a reader's words say they want to know, as section types (several may apply).
_INTENTS: tuple[tuple[str, str], ...] = (
    ("side_effects", r"side.?effects?|adverse|\bcaus|\bmake[sd]? (me|you|my)|reaction|symptoms?\b|\bfeel\b"),
    ("serious_side_effects", r"serious|severe|danger|emergency|side.?effects?"),
    ("interactions", r"\bwith\b|together|interact|alcohol|drink|beer|wine|cocktail|liquor|grapefruit|food|\bmix|"
                     r"combin(e|ed|ing) with|\bafter (a|an|my|taking|drinking)\b|\band\b.*\b(same time)\b"),
    ("dosage", r"\bdos(e|es|age|ing)\b|how (much|many|often|long)|\bmg\b|milligram|when (should|to|do|can) .*take|"
               r"how (to|do i|should i|do you) (take|use|inject|apply|give)|maximum|\bmax\b|\bper day\b|"
               r"administ|dilut|reconstitut|\bmix(ed|ing)? (it|the)\b|\bbefore (a |my )?meals?\b|\bwith(out)? food\b|bed ?time"),
    ("pregnancy", r"pregnan|breast.?feed|breastfeeding|nursing|conceive|fertility|trying for a baby"),
    ("overdose", r"overdos|too much|too many|poison|double (dose|does)|extra (dose|pill)"),
    ("missed_dose", r"\bmiss(ed)?\b|forg[eo]t|skipp?ed"),
    ("stopping", r"\bstop|\bquit|come off|coming off|withdraw|taper|wean|cold turkey"),
    ("storage", r"\bstor(e|ed|age|ing)\b|fridge|refrigerat|expir|shelf life|room temperature|freez"),
    ("ingredients", r"ingredient|contain|made (of|from)|gluten|lactose|\bdye|inactive|what is in|look like|colou?r|"
                    r"\bshape|imprint|\bvegan\b|gelatin|shellac|resin"),
    ("mechanism", r"how (does|do|is) .*\bwork|mechanism|what does .* do\b|\baction\b|how it works|affect the brain|"
                  r"metaboli[sz]|half.?life|eliminat|excret|absor(b|ption)|pharmacokinetic|\bclass(ification)?\b"),
    ("uses", r"used? (for|to)|what (is|are) .* for\b|\btreat|indicat|prescribed|\bwhat is\b|\bwhat are\b|"
             r"why (to |do |would |should )?(i |you |people )?(take|is|use)"),
    ("warnings", r"\bsafe|warning|precaution|\brisks?\b|contraindicat|should not|allerg|\bif i have\b"),
)
_INTENT_PATTERNS = tuple((label, re.compile(pattern, re.I)) for label, pattern in _INTENTS)


# Phrasings that ask about more than one medicine, or about others: then no medicine constrains the ranking.
_COMPARISON = re.compile(r"\b(vs|versus|instead of|alternatives?|substitutes?|switch(ed|ing)? (from|to|over)|"
                         r"chang(e|ed|ing) (from|to)|compared? (to|with)|comparison|difference between|"
                         r"better than|which is (better|safer|stronger)|replace|rather than)\b", re.I)


@dataclass(frozen=True)
class NamedMedicine:
    """A medicine the query names, by any of its names."""

    typed: str                 # the name as it stands in the (respelt) query
    generic: str               # its generic name, as reported
    names: frozenset[str]      # every name of it (brand and generic)
    articles: frozenset[str]   # articles about it in this build
    # Read from the above when made (fields, so that whoever reads them does not call back into this module):
    covered: bool = field(init=False)  # it has an article in this build
    brand: bool = field(init=False)    # the reader typed a brand name (not the generic)

    def __post_init__(self) -> None:
        object.__setattr__(self, "covered", bool(self.articles))
        object.__setattr__(self, "brand", self.typed != self.generic and self.typed not in self.generic.split(" "))


@dataclass(frozen=True)
class Analysis:
    """What the engine understood of one query."""

    text: str                                  # the query as typed (normalised)
    corrected: str                             # the query with medicine names respelled
    corrections: tuple[tuple[str, str], ...]   # (typed, corrected) pairs
    names: tuple[str, ...]                     # medicine names found in the query
    articles: frozenset[str]                   # articles about those names
    expansions: tuple[str, ...]                # clinical words and other names added for lexical search
    intents: frozenset[str]                    # section types the query asks about
    lexical_terms: tuple[tuple[str, float], ...] = field(default=())  # (BM25 token, weight)
    medicines: tuple[NamedMedicine, ...] = ()  # the names that are medicines, one per medicine, in the query's order
    comparison: bool = False                   # asks about several medicines or alternatives
    known_share: float = 0.0                   # share of the query's content words the build knows
    sections: SectionAsk = SectionAsk()        # the parts of a drug label it names ("boxed warning", "dose")
    # Read from the above when made:
    constraining: tuple[NamedMedicine, ...] = field(init=False)  # the medicines that put their own passages first:
    #                                                              those with an article, unless comparing
    uncovered: tuple[NamedMedicine, ...] = field(init=False)     # the medicines with no article in this build

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraining",
                           () if self.comparison else tuple(m for m in self.medicines if m.covered))
        object.__setattr__(self, "uncovered", tuple(m for m in self.medicines if not m.covered))


@lru_cache(maxsize=4)
def lay_terms(path: Path = LAY_TERMS_FILE) -> dict[str, tuple[str, ...]]:
    """Lay phrase -> clinical phrases, from the curated table."""
    table: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            lay, clinical = name_key(row["lay"]), row["clinical"].strip().lower()
            if lay and clinical and clinical not in table[lay]:
                table[lay].append(clinical)
    return {lay: tuple(clinical) for lay, clinical in table.items()}


def _position(words: list[str], name: list[str]) -> int:
    """Where a name (its words) first stands among the query's words."""
    return next((i for i in range(len(words) - len(name) + 1) if words[i:i + len(name)] == name), len(words))


def letter_counts(texts: list[str]) -> np.ndarray:
    """How often each letter and digit occurs in each text, one row per letter (other characters share a row)."""
    counts = np.zeros((len(_LETTER) + 1, len(texts)), dtype=np.int32)
    for column, text in enumerate(texts):
        for ch in text:
            counts[_LETTER.get(ch, len(_LETTER)), column] += 1
    return counts


def intents(text: str) -> frozenset[str]:
    """Section types a query asks about."""
    return frozenset(label for label, pattern in _INTENT_PATTERNS if pattern.search(text))


@dataclass(frozen=True)
class LayTerm:
    """A lay phrase of the curated table with its clinical phrasings, and their BM25 tokens."""

    padded: str                                # " lay phrase ", for a whole-word substring test
    clinical: tuple[str, ...]                  # its clinical phrasings
    tokens: tuple[str, ...]                    # the lay phrase's tokens
    clinical_tokens: tuple[tuple[str, ...], ...]  # each clinical phrasing's tokens (those that have some)


def section_units(own: list[str], named: set[str], lay: list[LayTerm]) -> tuple[Unit, ...]:
    """The query's words that may name a part of a label: its tokens less the names' (``named``), a lay phrase as
    one unit with its clinical phrasings ("side effects" or "adverse reactions"), the longest phrase first."""
    used: set[str] = set()
    units: list[Unit] = []
    for term in sorted(lay, key=lambda found: -len(found.padded)):
        words_of = tuple(t for t in term.tokens if t not in named)
        if words_of and not used & set(words_of):
            used.update(words_of)
            units.append((words_of, *term.clinical_tokens))
    units += [((t,),) for t in dict.fromkeys(own) if t not in named and t not in used]
    return tuple(units)


class Understander:
    """Analyses queries against one build's lexicon and vocabulary."""

    def __init__(self, names: dict[str, list[str]], vocabulary: frozenset[str], expansion_weight: float = 0.5,
                 medicine_names: frozenset[str] = frozenset(), english: frozenset[str] = frozenset(),
                 articles: ArticleTable | None = None, label_sections: LabelSections | None = None):
        self.names = names
        self.label_sections = label_sections  # what the build's labels call their parts
        self.vocabulary = vocabulary
        self.english = english  # real words: never respelt into a medicine name
        # The generic names of the medicines each article is about (by article number), read without a call per name.
        self._article_number = articles.number if articles is not None else {}
        self._article_generics = articles.generics if articles is not None else ()
        self.generics = generic_table()
        self.medicine_names = medicine_names | frozenset(self.generics)
        self.expansion_weight = expansion_weight
        self.synonyms = synonym_table()
        # Single words a misspelling may be corrected to: names of our articles and known medicines.
        self._spellable = sorted({n for n in set(names) | set(self.synonyms) if " " not in n and len(n) >= 4
                                  and not n.isdigit()})
        # Letter counts of each name: a name sharing too few letters with a word cannot be near it.
        self._letters = letter_counts(self._spellable)
        self._lengths = np.array([len(n) for n in self._spellable], dtype=np.int64)
        self._metaphones = defaultdict(list)
        for name in self._spellable:
            self._metaphones[jellyfish.metaphone(name)].append(name)
        # "metformine" stems to "metformin": one stem, one medicine name, whatever the ending typed.
        by_stem = defaultdict(set)
        for name in self._spellable:
            by_stem[stem(name)].add(name)
        self._by_stem = {s: next(iter(n)) for s, n in by_stem.items() if len(n) == 1}
        # Lay phrases padded with spaces, so that one substring test finds them as whole words; the BM25 tokens of
        # the lay phrases and of every name's other names, read once here rather than per query.
        self._lay = [LayTerm(f" {lay} ", clinical, tuple(tokens(lay)),
                             tuple(found for c in clinical if (found := tuple(tokens(c)))))
                     for lay, clinical in lay_terms().items()]
        every_name = set(names) | set(self.synonyms)
        self._name_tokens = {n: tuple(tokens(n)) for n in every_name}
        # Words a misspelt word may be respelt to besides names: those naming the parts of the build's labels (the
        # commonest first, so that the first of equally near words is the likelier), then the words of the lay
        # phrases ("breastfeeding"); with their tokens.
        part_words = label_sections.words if label_sections is not None else ()
        self._part_words = part_words + tuple(sorted(
            {w for lay in lay_terms() for w in lay.split() if len(w) >= 4 and w.isalpha() and w not in STOPWORDS}
            - set(part_words)))
        self._respelt_tokens = {w: tuple(tokens(w)) for w in self._part_words} | self._name_tokens
        self._other_names_tokens = {n: tuple(dict.fromkeys(tokens(" ".join(sorted(self.synonyms.get(n, frozenset())
                                                                                  - {n})))))
                                    for n in every_name}

    def _known(self, word: str, stemmed: str) -> bool:
        return (word in STOPWORDS or len(word) < 4 or word.isdigit() or word in self.names
                or word in self.synonyms or stemmed in self.vocabulary)

    def correct(self, word: str, stemmed: str | None = None) -> str | None:
        """The medicine name a misspelt word (whose stem is ``stemmed``, if known) most likely meant, or None."""
        if word in self.names or word in self.synonyms:
            return None
        stemmed = stemmed or stem(word)
        if len(word) >= 6 and stemmed in self._by_stem and word not in self.english:
            return self._by_stem[stemmed]
        if self._known(word, stemmed) or word in self.english:
            return None
        # A near miss on a short word is as likely another word as a medicine ("hydro" is not "hydrea").
        floor = 85 if len(word) < 8 else 80
        best = self.nearest_name(word)
        same_sound = self._metaphones.get(jellyfish.metaphone(word), [])
        sounding = max(same_sound, key=lambda n: fuzz.ratio(word, n), default=None)
        if sounding and fuzz.ratio(word, sounding) >= (70 if len(word) >= 6 else floor) and (best is None or best[1] < 90):
            return sounding
        if best and best[0] not in self.names:
            # A medicine with no article here is read from a typo only when the typo is very near: reading
            # "chlorine" as chloroquine would tell a reader we have nothing on what they asked.
            floor = max(floor, 88)
        return best[0] if best and best[1] >= floor else None

    def correct_part(self, word: str, stemmed: str) -> str | None:
        """The word naming a part of the build's drug labels ("contraindicatons": contraindications, "boxed warnig")
        or of a lay phrase ("breastfeding") that a misspelt word meant, or None: a word of five letters or more that
        neither the build nor English knows, one typing slip (a letter left out, added, changed or two swapped) from
        it; of equally near words, the one naming most label sections."""
        if not self._part_words or len(word) < 5 or self._known(word, stemmed) or word in self.english:
            return None  # a short word one letter from another ("wean", "weak") is as likely meant as it is
        best = process.extractOne(word, self._part_words, scorer=OSA.distance, score_cutoff=1)
        return best[0] if best else None

    def nearest_name(self, word: str) -> tuple[str, float] | None:
        """The spellable name nearest to ``word`` by fuzz.ratio, if it reaches NEAR_NAME (first of equals).

        The same as rapidfuzz's ``extractOne`` over every name, which it calls only on the names that
        can reach the cutoff: fuzz.ratio is 100 * (1 - indel distance / total length), and the indel
        distance is at least the total length less twice the letters the two have in common.
        """
        common = np.zeros(len(self._spellable), dtype=np.int64)
        for slot, count in Counter(_LETTER.get(ch, len(_LETTER)) for ch in word).items():
            common += np.minimum(self._letters[slot], count)
        # Reaching the cutoff needs 100 * (total - 2 * common) <= (100 - NEAR_NAME) * total.
        feasible = np.flatnonzero(200 * common >= NEAR_NAME * (self._lengths + len(word)))
        best = process.extractOne(word, [self._spellable[i] for i in feasible], scorer=fuzz.ratio,
                                  score_cutoff=NEAR_NAME)
        return (best[0], best[1]) if best else None

    def _respell(self, typed: list[str], stemmed: dict[str, str]) -> tuple[list[str], list[tuple[str, str]]]:
        """Words with misspelt medicine names corrected, including names split in two ("level iracetam").
        ``stemmed``: the stem of every word and of every two neighbours joined."""
        fixed: list[str] = []
        corrections: list[tuple[str, str]] = []
        i = 0
        while i < len(typed):
            word = typed[i]
            if i + 1 < len(typed) and not (self._known(word, stemmed[word])
                                           and self._known(typed[i + 1], stemmed[typed[i + 1]])):
                joined = word + typed[i + 1]
                right = (self.correct(joined, stemmed[joined]) if not self._known(joined, stemmed[joined])
                         else (joined if joined in self.names else None))
                if right and fuzz.ratio(joined, right) >= 85:
                    corrections.append((f"{word} {typed[i + 1]}", right))
                    fixed.append(right)
                    i += 2
                    continue
            right = self.correct(word, stemmed[word]) or self.correct_part(word, stemmed[word])
            if right and right != word:
                corrections.append((word, right))
            fixed.append(right or word)
            i += 1
        return fixed, corrections

    def _tokens(self, fixed: list[str], stemmed: dict[str, str]) -> list[str]:
        """The BM25 tokens of the query's words as respelt (``fixed``): ``tokens(" ".join(fixed))`` without a call to
        the stemmer. A typed word's stem is in ``stemmed``; a respelt word is a name or a word naming a part of a
        label, whose tokens were read at start-up."""
        return [t for w in fixed for t in (((stemmed[w],) if w not in STOPWORDS and len(w) > 1 else ())
                                           if w in stemmed else self._respelt_tokens[w])]

    def analyse(self, text: str, respell: bool = True) -> Analysis:
        """Correct, recognise names, expand lay words, and read the intent of a query."""
        typed, stemmed = query_words(text)  # one call to the stemmer for the whole query
        fixed, corrections = self._respell(typed, stemmed) if respell else (typed, [])
        corrected = text
        for wrong, right in corrections:
            pattern = r"\s+".join(re.escape(part) for part in wrong.split())
            corrected = re.sub(rf"\b{pattern}\b", right, corrected, flags=re.I)
        # Typed words are lower-case letters and digits (``words``) and a respelt word is a name: each word is its own
        # name key, so the words as fixed are ``name_key(" ".join(fixed)).split()``.
        key_words, own = fixed, self._tokens(fixed, stemmed)
        found_names: list[str] = []
        for size in range(MAX_NAME_WORDS, 0, -1):
            for i in range(len(key_words) - size + 1):
                gram = " ".join(key_words[i:i + size])
                if gram in self.names or gram in self.synonyms:
                    if not any(gram in longer.split(" ") or gram in longer for longer in found_names):
                        found_names.append(gram)
        articles = frozenset(a for n in found_names for a in self.names.get(n, ()))
        groups: list[tuple[list[str], tuple[str, ...]]] = []  # alternatives to add: (phrases, their tokens)
        for name in found_names:  # other names of the same medicine: brand <-> generic
            groups.append((sorted(self.synonyms.get(name, frozenset()) - {name}), self._other_names_tokens[name]))
        key_text = " " + " ".join(key_words) + " "
        lay_words: set[str] = set()  # words of the lay phrases the query holds: known words, for the match verdict
        lay_found: list[LayTerm] = []
        for term in self._lay:
            if term.padded in key_text:
                groups.append((list(term.clinical), tuple(dict.fromkeys(t for c in term.clinical_tokens for t in c))))
                lay_words.update(term.padded.split())
                lay_found.append(term)
        extra: dict[str, float] = {}
        for _, alternatives in groups:
            # Each group of alternatives together weighs as much as one expansion, however many
            # brand names a medicine has; words the index has never seen carry nothing.
            group_tokens = [t for t in alternatives if t in self.vocabulary and t not in own]
            for t in group_tokens:
                extra[t] = max(extra.get(t, 0.0), self.expansion_weight / len(group_tokens))
        expansions = [phrase for phrases, _ in groups for phrase in phrases]
        terms = tuple((t, 1.0) for t in own) + tuple(extra.items())
        # One medicine per name, in the order the query names them: the first is what a question about several asks
        # of ("raltegravir dose on rifampin").
        at = {name: _position(key_words, name.split(" ")) for name in found_names}
        medicines = self.medicines(sorted(found_names, key=at.__getitem__))
        content = [w for w in fixed if w not in STOPWORDS and len(w) > 1]
        known = sum(1 for w in content if w in self.names or w in self.synonyms or w in lay_words
                    or (stemmed.get(w) or stem(w)) in self.vocabulary)  # a corrected word is a name
        comparison = bool(_COMPARISON.search(corrected)) or (
            len(medicines) >= 2 and re.search(r"\bor\b", corrected, re.I) is not None)
        sections = SectionAsk()
        if self.label_sections is not None:
            named = {t for n in found_names for t in self._name_tokens[n]}
            sections = self.label_sections.ask(section_units(own, named, lay_found))
        asked = intents(corrected) | set(sections.types)
        return Analysis(text=text, corrected=corrected, corrections=tuple(corrections), names=tuple(found_names),
                        articles=articles, expansions=tuple(dict.fromkeys(expansions)),
                        intents=frozenset(asked), lexical_terms=terms, medicines=medicines, comparison=comparison,
                        known_share=known / len(content) if content else 0.0, sections=sections)

    def medicines(self, found: list[str]) -> tuple[NamedMedicine, ...]:
        """The found names that are medicines, one entry per medicine (a brand and its generic are one)."""
        out: list[NamedMedicine] = []
        for name in found:
            if name not in self.medicine_names:
                continue
            names = frozenset(self.synonyms.get(name, frozenset())) | {name}
            if any(names & m.names for m in out):
                continue
            articles = frozenset(a for n in names for a in self.names.get(n, ()))
            generics = self.generics.get(name, (name,))
            # Report the medicine as its article names it (paracetamol, not acetaminophen; methotrexate for "mtx").
            own = [g for a in sorted(articles) if a in self._article_number
                   for g in self._article_generics[self._article_number[a]] if g in names or name not in self.generics]
            generic = own[0] if own else generics[0]
            out.append(NamedMedicine(typed=name, generic=generic, names=names, articles=articles))
        return tuple(out)

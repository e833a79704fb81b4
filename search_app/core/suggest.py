"""Medicine-name suggestions: completions as a reader types, and related names when a search finds nothing.

Everything comes from the loaded build's lexicon (name -> article ids) and its article
titles, so a suggestion always leads to an article in the index.
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from indexer.lexicon import name_key

MIN_PREFIX = 3       # characters of a word before it is completed
MAX_TAIL_WORDS = 3   # how many trailing words of the query may start a name ("insulin gl")
FUZZY_FLOOR = 75     # rapidfuzz ratio for a misspelt beginning ("amitryp" -> "amitriptyline")


@dataclass(frozen=True)
class Suggestion:
    """One medicine name: what to put in the search box and which article it leads to."""

    name: str                 # the lexicon name, lower case ("zoloft")
    completion: str           # the whole query with the typed words replaced by the name
    title: str                # the article's title ("Sertraline")
    article_id: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "completion": self.completion, "title": self.title, "article_id": self.article_id}


class Suggester:
    """Prefix and near-miss lookups over one build's medicine names."""

    def __init__(self, names: Mapping[str, list[str]], titles: Mapping[str, str]):
        self.names = {name: list(ids) for name, ids in names.items() if ids}
        self.titles = dict(titles)
        # Every word-start of every name, so "glarg" finds "insulin glargine" as well as "glargine".
        keyed: list[tuple[str, str, int]] = []
        for name in self.names:
            parts = name.split()
            for i in range(len(parts)):
                keyed.append((" ".join(parts[i:]), name, i))
        keyed.sort()
        self._keys = [k for k, _, _ in keyed]
        self._entries = keyed
        self._single = sorted(n for n in self.names if " " not in n and len(n) >= 4 and not n.isdigit())

    def _prefixed(self, prefix: str) -> list[tuple[str, int]]:
        """(name, word position where the prefix starts) of names with a word-start equal to ``prefix``."""
        start = bisect.bisect_left(self._keys, prefix)
        found = []
        for key, name, position in self._entries[start:]:
            if not key.startswith(prefix):
                break
            found.append((name, position))
        return found

    def _is_title(self, name: str) -> bool:
        return any(name_key(self.titles.get(a, "")) == name for a in self.names[name])

    def _suggestion(self, name: str, before: str) -> Suggestion:
        article_id = self.names[name][0]
        title = self.titles.get(article_id, name)
        return Suggestion(name=name, completion=f"{before}{name}", title=title, article_id=article_id)

    def complete(self, text: str, limit: int = 8) -> list[Suggestion]:
        """Medicine names that the last words of ``text`` begin, best first; none once a space ends the word."""
        if not text or text[-1].isspace():
            return []
        typed = text.split()
        if not typed or len(name_key(typed[-1])) < MIN_PREFIX:
            return []
        chosen: dict[str, Suggestion] = {}
        for size in range(min(MAX_TAIL_WORDS, len(typed)), 0, -1):
            tail = name_key(" ".join(typed[-size:]))
            if not tail:
                continue
            before = " ".join(typed[:-size]) + (" " if size < len(typed) else "")
            # Names that start with what was typed before those in which a later word does; then
            # an article's own name (usually the generic) before its brands; then shorter first.
            ranked = sorted(self._prefixed(tail), key=lambda found: (found[1] > 0, not self._is_title(found[0]),
                                                                      len(found[0]), found[0]))
            for name, _ in ranked[:limit]:
                chosen.setdefault(name, self._suggestion(name, before))
            if chosen:  # the longest tail that starts a name wins: "insulin gl" is not "gl" after "insulin"
                break
        if not chosen and len(typed[-1]) >= 4:  # a misspelt beginning: "amitryp"
            before = " ".join(typed[:-1]) + (" " if len(typed) > 1 else "")
            chosen = {s.name: s for s in self.near(typed[-1], limit, before=before, prefix=True)}
        return list(chosen.values())[:limit]

    def near(self, word: str, limit: int = 5, before: str = "", prefix: bool = False) -> list[Suggestion]:
        """Names that look like a (possibly misspelt) word; with ``prefix``, like its beginning."""
        key = name_key(word)
        if len(key) < 4:
            return []
        scored = []
        for name in self._single:
            target = name[:len(key)] if prefix and len(name) > len(key) else name
            score = fuzz.ratio(key, target)
            if score >= FUZZY_FLOOR and name != key:
                scored.append((-score, len(name), name))
        scored.sort()
        return [self._suggestion(name, before) for _, _, name in scored[:limit]]

    def related(self, text: str, limit: int = 6) -> list[Suggestion]:
        """Medicine names close to the words of a query, for a page that found nothing."""
        seen: dict[str, Suggestion] = {}
        articles: set[str] = set()
        for word in text.split():
            for suggestion in self.near(word, limit):
                if suggestion.article_id not in articles:
                    articles.add(suggestion.article_id)
                    seen[suggestion.name] = suggestion
        return list(seen.values())[:limit]

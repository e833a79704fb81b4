"""Urgent-care notices: spot queries that describe an emergency or a serious reaction and say what to do now.

Two judges, and the more urgent verdict wins (emergency > urgent > advice > none):

- the rules of ``search_app/data/urgent_rules.yaml`` (``UrgencyRules``): a query is normalised
  (lower case, accents, apostrophes and punctuation dropped, whitespace collapsed) and every rule
  is tried; the most severe match wins, and among rules of one level the first in the file;
- the learned detector (``search_app.urgency_detector``): the query's embedding, from the model
  the index uses, against labelled examples; it catches wordings nobody wrote a rule for.

What a notice says comes from ``search_app/data/urgent_messages.yaml``: messages written with
placeholders filled in for the region (``emergency_region``: uk, us or both), the numbers to
call, and messages that name the medicine when its guidance differs (a tricyclic overdose, a
paracetamol overdose). ``load`` builds the assessor the app keeps in ``app.extensions["urgency"]``;
``Urgency.assess(text, vector, medicines)`` gives the ``Notice`` or None.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import yaml

from indexer.errors import MedsearchError

if TYPE_CHECKING:
    from .urgency_detector import UrgencyDetector

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_RULES = DATA / "urgent_rules.yaml"
DEFAULT_MESSAGES = DATA / "urgent_messages.yaml"
REGIONS = ("uk", "us", "both")
DEFAULT_REGION = "both"

# Most severe first; a level's position is its rank.
LEVELS = ("emergency", "urgent", "advice")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}

_RULE_KEYS = {"id", "level", "message", "situation", "all", "none"}
_TERM_REF = re.compile(r"@([a-z][a-z0-9_]*)")
# Apostrophes vanish ("can't" -> "cant") so patterns never need to spell both forms.
_APOSTROPHES = str.maketrans("", "", "'\u2018\u2019\u02bc`\u00b4")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# Characters that normalisation removes from queries: a pattern needing one could never match.
_NEVER_IN_QUERY = set("'\"\u2018\u2019\u201c\u201d")
PHRASES = ("emergency", "a_and_e", "urgent_help", "advice_help", "poison_or_111", "poison_sentence", "crisis")
CALL_KINDS = ("emergency", "urgent", "poison", "crisis")


class RulesError(MedsearchError, ValueError):
    """An urgency rules file that cannot be used; the message names the file and the rule."""


class MessagesError(MedsearchError, ValueError):
    """An urgency messages file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Call:
    """A number to tap: the emergency number, the non-emergency line, Poison Control or a crisis line."""

    kind: str       # emergency, urgent, poison or crisis
    label: str      # the button's words, e.g. "Call 999"
    number: str     # as shown, e.g. "1-800-222-1222"
    region: str     # uk or us

    @property
    def tel(self) -> str:
        """The ``tel:`` link: digits only."""
        return "tel:" + re.sub(r"[^0-9+]", "", self.number)

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "label": self.label, "number": self.number, "tel": self.tel,
                "region": self.region}


@dataclass(frozen=True)
class Reason:
    """What raised a notice: a rule (its id) or the detector (its nearest example's situation and similarity)."""

    source: str                        # "rule" or "detector"
    id: str                            # the rule's id, or "detector"
    level: str                         # the level this judge gave
    situation: str | None = None
    similarity: float | None = None    # detector: cosine similarity to the nearest example of its level
    probability: float | None = None   # detector: P(this level or a more severe one)
    example: str | None = None         # detector: that nearest example

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("source", self.source), ("id", self.id), ("level", self.level),
                                  ("situation", self.situation), ("similarity", self.similarity),
                                  ("probability", self.probability), ("example", self.example)) if v is not None}


@dataclass(frozen=True)
class Notice:
    level: str
    message: str
    rule: str                                   # the rule whose verdict it is, or "detector"
    reasons: tuple[Reason, ...] = ()            # every judge that raised one, the deciding one first
    calls: tuple[Call, ...] = ()                # the buttons, most important first
    situation: str | None = None
    medicine: str | None = None                 # the medicine its message names, if one was chosen for it

    def to_json(self) -> dict[str, Any]:
        """The notice as the API shows it: level, message, why (``reasons``) and the numbers to call."""
        return {"level": self.level, "message": self.message, "reasons": [r.to_json() for r in self.reasons],
                "calls": [c.to_json() for c in self.calls]}


@dataclass(frozen=True)
class _Rule:
    id: str
    level: str
    message: str            # as written: placeholders not yet filled in; "" when the situation's is used
    situation: str | None
    groups: tuple[re.Pattern[str], ...]
    none: re.Pattern[str] | None

    def matches(self, text: str) -> bool:
        """True when every group matches the normalised text and no ``none`` pattern does."""
        return all(group.search(text) for group in self.groups) and not (self.none is not None and self.none.search(text))


def normalise(query: str) -> str:
    """Lower case, accents and apostrophes dropped, every other non-alphanumeric run a single space."""
    text = unicodedata.normalize("NFKD", query)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.translate(_APOSTROPHES)
    return _NOT_WORD.sub(" ", text).strip()


class Messages:
    """The messages file: phrases and calls per region, medicine groups, situation messages."""

    def __init__(self, regions: dict[str, dict[str, Any]], medicines: dict[str, dict[str, tuple[str, ...]]],
                 situations: dict[str, dict[str, Any]], levels: dict[str, str], situation_from: float = 0.0,
                 source: str = "<messages>"):
        self.regions = regions
        self.medicines = medicines
        self.situations = situations
        self.levels = levels              # each level's general message
        self.situation_from = situation_from
        self.source = source
        # Every alias of every medicine as a whole-word pattern, longest first ("ferrous sulfate" before "ferrous").
        self._aliases = sorted(((alias, group, name) for group, names in medicines.items()
                                for name, aliases in names.items() for alias in aliases),
                               key=lambda item: -len(item[0]))
        self._alias_re = re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(a) for a, _, _ in self._aliases)
                                    + r")(?![a-z0-9])") if self._aliases else None
        self._by_alias = {alias: (group, name) for alias, group, name in self._aliases}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MESSAGES) -> Messages:
        """Read and check a messages file; a broken one raises MessagesError saying which entry and why."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MessagesError(f"{path}: cannot read urgency messages ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            raise MessagesError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, source: str = "<messages>") -> Messages:
        """Build the messages from a parsed document; every message is tried in every region."""
        if not isinstance(data, dict) or not {"regions", "levels", "situations"} <= set(data):
            raise MessagesError(f"{source}: expected a mapping with 'regions', 'medicines', 'levels' and 'situations'")
        unknown = sorted(set(data) - {"version", "regions", "medicines", "situation_from_similarity", "levels",
                                      "situations"})
        if unknown:
            raise MessagesError(f"{source}: unknown top-level key(s): {', '.join(unknown)}")
        regions = _check_regions(data["regions"], source)
        medicines = _check_medicines(data.get("medicines") or {}, source)
        situations: dict[str, dict[str, Any]] = {}
        if not isinstance(data["situations"], dict) or not data["situations"]:
            raise MessagesError(f"{source}: 'situations' must map names to their message")
        for name, raw in data["situations"].items():
            where = f"{source}: situation {name!r}"
            if not isinstance(raw, dict) or "message" not in raw or set(raw) - {"message", "calls", "by_medicine"}:
                raise MessagesError(f"{where}: expected message, and optionally calls and by_medicine")
            calls = raw.get("calls") or []
            if not isinstance(calls, list) or set(calls) - {"poison", "crisis"}:
                raise MessagesError(f"{where}: calls may list poison and crisis only, not {calls!r}")
            by_medicine = raw.get("by_medicine") or {}
            if not isinstance(by_medicine, dict) or set(by_medicine) - set(medicines):
                raise MessagesError(f"{where}: by_medicine must be keyed by medicine groups "
                                    f"({', '.join(medicines) or 'none listed'})")
            situations[name] = {"message": _check_message(raw["message"], where, regions),
                                "calls": tuple(calls),
                                "by_medicine": {group: _check_message(text, f"{where}, by_medicine {group}", regions,
                                                                      medicine=True)
                                                for group, text in by_medicine.items()}}
        levels = data.get("levels")
        if not isinstance(levels, dict) or set(levels) != set(LEVELS):
            raise MessagesError(f"{source}: 'levels' must give a general message for each of {', '.join(LEVELS)}")
        levels = {level: _check_message(text, f"{source}: levels {level}", regions) for level, text in levels.items()}
        situation_from = data.get("situation_from_similarity", 0.0)
        if not isinstance(situation_from, (int, float)) or isinstance(situation_from, bool) \
                or not 0 <= situation_from <= 1:
            raise MessagesError(f"{source}: situation_from_similarity must be a number from 0 to 1")
        return cls(regions, medicines, situations, levels, float(situation_from), source)

    def fill(self, template: str, region: str, medicine: str | None = None) -> str:
        """A message with its placeholders filled in for a region (and the medicine it names)."""
        phrases = dict(self.regions[region]["phrases"], medicine=medicine or "the medicine")
        return " ".join(template.format_map(phrases).split())

    def calls(self, level: str, region: str, extra: Iterable[str] = ()) -> tuple[Call, ...]:
        """The buttons of a notice: emergency first; the non-emergency line first for urgent; none for advice."""
        if level == "advice":
            return ()
        table = self.regions[region]["calls"]
        kinds = ["emergency"] if level == "emergency" else ["urgent", "emergency"]
        kinds += [k for k in ("poison", "crisis") if k in extra]
        if level == "urgent" and "poison" in extra:
            kinds = ["urgent", "poison", "emergency"]
        return tuple(call for kind in kinds for call in table[kind])

    def medicines_named(self, text: str, medicines: Sequence[str] = ()) -> list[tuple[str, str, str]]:
        """(group, name, word) for every grouped medicine in the normalised text or in ``medicines``, in query order."""
        found: list[tuple[str, str, str]] = []
        if self._alias_re is not None:
            for match in self._alias_re.finditer(text):
                group, name = self._by_alias[match.group(1)]
                found.append((group, name, match.group(1)))
            for medicine in medicines:
                key = normalise(medicine)
                if key in self._by_alias:
                    group, name = self._by_alias[key]
                    found.append((group, name, key))
        return list(dict.fromkeys(found))


def _check_regions(raw: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or set(raw) != set(REGIONS):
        raise MessagesError(f"{source}: 'regions' must define exactly {', '.join(REGIONS)}")
    regions: dict[str, dict[str, Any]] = {}
    for name in REGIONS:
        entry = raw[name]
        where = f"{source}: region {name!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                or not isinstance(entry.get("phrases"), dict) or set(entry["phrases"]) != set(PHRASES):
            raise MessagesError(f"{where}: needs a name and phrases for exactly {', '.join(PHRASES)}")
        if not all(isinstance(v, str) for v in entry["phrases"].values()):
            raise MessagesError(f"{where}: every phrase must be a string ('' for none)")
        regions[name] = {"name": entry["name"], "phrases": dict(entry["phrases"])}
        if "calls_from" in entry:
            continue
        calls = entry.get("calls")
        if not isinstance(calls, dict) or set(calls) != set(CALL_KINDS):
            raise MessagesError(f"{where}: calls must list {', '.join(CALL_KINDS)} (each a list, maybe empty)")
        table: dict[str, tuple[Call, ...]] = {}
        for kind, items in calls.items():
            if not isinstance(items, list) or not all(
                    isinstance(i, dict) and set(i) == {"label", "number"} and all(isinstance(v, str) and v
                                                                                   for v in i.values())
                    for i in items):
                raise MessagesError(f"{where}: calls {kind} must be a list of {{label, number}}")
            table[kind] = tuple(Call(kind, i["label"], i["number"], name) for i in items)
        regions[name]["calls"] = table
    for name in REGIONS:
        entry = raw[name]
        if "calls_from" in entry:
            parts = entry["calls_from"]
            if not isinstance(parts, list) or not parts or not all(p in regions and "calls" in regions[p]
                                                                   for p in parts):
                raise MessagesError(f"{source}: region {name!r}: calls_from must list regions with their own calls")
            regions[name]["calls"] = {
                kind: tuple(Call(c.kind, f"{c.label} ({regions[p]['name']})", c.number, c.region)
                            for p in parts for c in regions[p]["calls"][kind]) for kind in CALL_KINDS}
    return regions


def _check_medicines(raw: Any, source: str) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(raw, dict):
        raise MessagesError(f"{source}: 'medicines' must map groups to their names")
    groups: dict[str, dict[str, tuple[str, ...]]] = {}
    for group, names in raw.items():
        if not isinstance(names, dict) or not names:
            raise MessagesError(f"{source}: medicine group {group!r} must map names to lists of words")
        groups[group] = {}
        for name, aliases in names.items():
            if not isinstance(aliases, list) or not aliases or not all(
                    isinstance(a, str) and a == normalise(a) and a for a in aliases):
                raise MessagesError(f"{source}: medicine {name!r} of {group!r}: words must be a list of lower-case "
                                    "words without punctuation (write 'co codamol')")
            groups[group][name] = tuple(aliases)
    return groups


_PLACEHOLDER = string.Formatter()


def _check_message(text: Any, where: str, regions: Mapping[str, Any], medicine: bool = False) -> str:
    """A message template whose placeholders every region can fill; refused otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise MessagesError(f"{where}: missing message")
    try:
        names = {name for _, name, _, _ in _PLACEHOLDER.parse(text) if name is not None}
    except ValueError as exc:
        raise MessagesError(f"{where}: bad placeholder in {text!r} ({exc})") from None
    allowed = set(PHRASES) | ({"medicine"} if medicine else set())
    if names - allowed:
        raise MessagesError(f"{where}: unknown placeholder(s) {', '.join(sorted(names - allowed))} "
                            f"(allowed: {', '.join(sorted(allowed))})")
    return " ".join(text.split())


class UrgencyRules:
    """The loaded rules; ``match`` gives the most severe rule a query matches, ``assess`` its notice."""

    def __init__(self, rules: Iterable[_Rule], source: str = "<rules>", messages: Messages | None = None,
                 region: str = DEFAULT_REGION):
        # Stable sort: severity first, file order within a level.
        self.rules: tuple[_Rule, ...] = tuple(sorted(rules, key=lambda r: _RANK[r.level]))
        self.source = source
        self.messages = messages if messages is not None else Messages.load()
        self.region = region
        for rule in self.rules:
            where = f"{source}: rule {rule.id!r}"
            if rule.situation is not None and rule.situation not in self.messages.situations:
                raise RulesError(f"{where}: situation {rule.situation!r} is not in {self.messages.source}")
            if rule.message:
                try:
                    _check_message(rule.message, where, self.messages.regions)
                except MessagesError as exc:
                    raise RulesError(str(exc)) from None

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RULES, messages: Messages | None = None,
             region: str = DEFAULT_REGION) -> UrgencyRules:
        """Read and check a rules file; a broken one raises RulesError saying which rule and why."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RulesError(f"{path}: cannot read urgency rules ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            raise RulesError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_data(data, source=str(path), messages=messages, region=region)

    @classmethod
    def from_data(cls, data: Any, source: str = "<rules>", messages: Messages | None = None,
                  region: str = DEFAULT_REGION) -> UrgencyRules:
        """Build the rules from an already parsed document (``terms`` and ``rules``)."""
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
            raise RulesError(f"{source}: expected a mapping with a non-empty 'rules' list")
        unknown = sorted(set(data) - {"version", "terms", "rules"})
        if unknown:
            raise RulesError(f"{source}: unknown top-level key(s): {', '.join(unknown)}")
        terms = _check_terms(data.get("terms") or {}, source)
        seen: set[str] = set()
        rules = []
        for number, raw in enumerate(data["rules"], 1):
            rule = _build_rule(raw, number, terms, source)
            if rule.id in seen:
                raise RulesError(f"{source}: rule {rule.id!r}: id used twice")
            seen.add(rule.id)
            rules.append(rule)
        return cls(rules, source, messages, region)

    def match(self, query: str) -> _Rule | None:
        """The most severe rule the query matches (the first in the file among equals), or None."""
        text = normalise(query)
        if not text:
            return None
        return next((rule for rule in self.rules if rule.matches(text)), None)

    def assess(self, query: str, vector: Any = None, medicines: tuple[str, ...] = ()) -> Notice | None:
        """The notice of the most severe rule the query matches (rules only), or None for a routine question."""
        rule = self.match(query)
        if rule is None:
            return None
        return _notice(self.messages, self.region, normalise(query), medicines, rule.level, rule.situation,
                       rule.message, rule.id, (Reason("rule", rule.id, rule.level, rule.situation),))

    def matching(self, query: str) -> list[str]:
        """Ids of every rule the query matches, most severe first (for the benchmark and debugging)."""
        text = normalise(query)
        return [rule.id for rule in self.rules if text and rule.matches(text)]

    def __len__(self) -> int:
        return len(self.rules)


def _notice(messages: Messages, region: str, text: str, medicines: Sequence[str], level: str,
            situation: str | None, message: str, decided_by: str, reasons: tuple[Reason, ...]) -> Notice:
    """The notice of a level: the message (the medicine's own where its guidance differs) and the calls."""
    entry = messages.situations.get(situation) if situation else None
    named = None
    if entry is not None:
        for group, name, _word in messages.medicines_named(text, medicines):
            if group in entry["by_medicine"]:
                message, named = entry["by_medicine"][group], name
                break
        message = message or entry["message"]
    message = message or messages.levels[level]
    return Notice(level, messages.fill(message, region, named), decided_by, reasons,
                  messages.calls(level, region, entry["calls"] if entry else ()), situation, named)


class Urgency:
    """The assessor the app uses: the rules and the learned detector, the more urgent verdict winning."""

    def __init__(self, rules: UrgencyRules, detector: UrgencyDetector | None = None, embedder: Any = None):
        self.rules = rules
        self.messages = rules.messages
        self.region = rules.region
        self.detector = detector
        self.embedder = embedder
        if detector is not None:
            missing = sorted({s for s, level in zip(detector.situations, detector.levels) if level in _RANK}
                             - set(self.messages.situations))
            if missing:
                raise MessagesError(f"{self.messages.source}: no message for the detector's situation(s) "
                                    f"{', '.join(missing)}")

    def assess(self, text: str, vector: np.ndarray | None = None, medicines: tuple[str, ...] = ()) -> Notice | None:
        """The notice for a query, or None for a routine one.

        ``vector`` is the query's unit embedding from the index's embedder (the search service has it);
        without it the detector embeds ``text`` if an embedder was given at load, else only the rules judge.
        ``medicines`` are the names the query understanding found; the message names one whose guidance differs.
        """
        normalised = normalise(text)
        if not normalised:
            return None
        rule = self.rules.match(text)
        verdict = None
        if self.detector is not None:
            if vector is None and self.embedder is not None:
                vector = self.embedder.encode_query(text)
            if vector is not None:
                verdict = self.detector.classify(vector)
        reasons = []
        if rule is not None:
            reasons.append(Reason("rule", rule.id, rule.level, rule.situation))
        if verdict is not None:
            reasons.append(Reason("detector", "detector", verdict.level, verdict.situation, verdict.similarity,
                                  verdict.probability, verdict.example))
        if not reasons:
            return None
        # The more urgent verdict; a rule's hand-written message wins a tie.
        deciding = min(reasons, key=lambda r: (_RANK[r.level], r.source != "rule"))
        ordered = (deciding, *(r for r in reasons if r is not deciding))
        if deciding.source == "rule":
            return _notice(self.messages, self.region, normalised, medicines, rule.level, rule.situation,
                           rule.message, rule.id, ordered)
        # A specific message only when the query is close to the example it resembles most.
        situation = verdict.situation if verdict.similarity >= self.messages.situation_from else None
        return _notice(self.messages, self.region, normalised, medicines, verdict.level, situation, "",
                       "detector", ordered)

    def describe(self) -> dict[str, Any]:
        """What judges notices: the rules file, the detector (and the model it was trained for), the region."""
        return {"rules": len(self.rules), "region": self.region,
                "detector": None if self.detector is None else {
                    "examples": len(self.detector), "model": self.detector.embedder.get("name"),
                    "backend": self.detector.embedder.get("backend")}}


def load(conf: Mapping[str, Any] | None = None, embedder: Any = None, *, rules: str | Path = DEFAULT_RULES,
         messages: str | Path = DEFAULT_MESSAGES, detector: str | Path | None = None,
         examples: str | Path | None = None) -> Urgency:
    """The assessor: rules, messages for ``conf["emergency_region"]``, and the trained detector.

    ``embedder`` (default: the one ``conf`` names, shared with the searcher) must be the one that made the
    detector: another model or backend is refused with what to run. A broken file raises its error.
    """
    from .urgency_detector import DEFAULT_ARTEFACT, DEFAULT_EXAMPLES, UrgencyDetector

    conf = dict(conf or {})
    region = conf.get("emergency_region", DEFAULT_REGION)
    if region not in REGIONS:
        raise MessagesError(f"emergency_region {region!r}: expected one of {', '.join(REGIONS)}")
    if embedder is None and "model" in conf:
        from indexer.embedding import load_embedder

        embedder = load_embedder(conf["model"], conf.get("batch_size", 16), conf["backend"], conf.get("model_cache"))
    loaded_rules = UrgencyRules.load(rules, Messages.load(messages), region)
    trained = UrgencyDetector.load(detector or DEFAULT_ARTEFACT,
                                   embedder.describe() if embedder is not None else None,
                                   examples or DEFAULT_EXAMPLES)
    return Urgency(loaded_rules, trained, embedder)


def _check_terms(terms: Any, source: str) -> dict[str, list[str]]:
    """Terms are named pattern lists that any pattern can use as ``@name``."""
    if not isinstance(terms, dict):
        raise RulesError(f"{source}: 'terms' must map names to lists of patterns")
    for name, patterns in terms.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise RulesError(f"{source}: term name {name!r} must be lower-case letters, digits and _")
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
            raise RulesError(f"{source}: term {name!r} must be a non-empty list of pattern strings")
    return terms


def _expand(pattern: str, terms: dict[str, list[str]], where: str, stack: tuple[str, ...] = ()) -> str:
    """Replace each ``@name`` with the alternation of that term's (expanded) patterns."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in terms:
            raise RulesError(f"{where}: unknown term @{name}")
        if name in stack:
            raise RulesError(f"{where}: term @{name} refers to itself ({' -> '.join(stack + (name,))})")
        return "(?:" + "|".join(_expand(p, terms, where, stack + (name,)) for p in terms[name]) + ")"
    return _TERM_REF.sub(replace, pattern)


def _compile(patterns: Any, terms: dict[str, list[str]], where: str) -> re.Pattern[str]:
    """One regex for a list of patterns: any may match, each only as whole words."""
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        raise RulesError(f"{where}: expected a non-empty list of patterns")
    parts = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            raise RulesError(f"{where}: pattern {pattern!r} is not a non-empty string")
        if _NEVER_IN_QUERY & set(pattern):
            raise RulesError(f"{where}: pattern {pattern!r} has quotes or apostrophes, which queries "
                             "lose before matching (write \"cant\", not \"can't\")")
        if pattern.endswith(" "):
            raise RulesError(f"{where}: pattern {pattern!r} ends with a space, so it can never match "
                             "(patterns match whole words; drop the trailing space)")
        expanded = _expand(pattern, terms, where)
        try:
            re.compile(expanded)
        except re.error as exc:
            raise RulesError(f"{where}: bad regex {pattern!r} ({exc})") from None
        parts.append(expanded)
    # Whole words only: "fit" must not match "benefit", nor "od" "food".
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])")


def _build_rule(raw: Any, number: int, terms: dict[str, list[str]], source: str) -> _Rule:
    """Check one rule mapping and compile its groups."""
    name = raw.get("id") if isinstance(raw, dict) else None
    where = f"{source}: rule {name!r}" if isinstance(name, str) and name else f"{source}: rule #{number}"
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: expected a mapping with id, level, message (or situation) and all")
    if not isinstance(name, str) or not name.strip():
        raise RulesError(f"{where}: missing id")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_RULE_KEYS))})")
    level = raw.get("level")
    if level not in _RANK:
        raise RulesError(f"{where}: unknown level {level!r} (expected one of {', '.join(LEVELS)})")
    message, situation = raw.get("message"), raw.get("situation")
    if situation is not None and (not isinstance(situation, str) or not situation.strip()):
        raise RulesError(f"{where}: situation must be a name from the messages file")
    if (message is not None or situation is None) and (not isinstance(message, str) or not message.strip()):
        raise RulesError(f"{where}: missing message (or a situation whose message it uses)")
    groups = raw.get("all")
    if not isinstance(groups, list) or not groups:
        raise RulesError(f"{where}: 'all' must be a non-empty list of groups, each {{any: [patterns]}}")
    compiled = []
    for index, group in enumerate(groups, 1):
        if not isinstance(group, dict) or set(group) != {"any"}:
            raise RulesError(f"{where}: group {index} of 'all' must be {{any: [patterns]}}, not {group!r}")
        compiled.append(_compile(group["any"], terms, f"{where}, group {index}"))
    none = _compile(raw["none"], terms, f"{where}, none") if raw.get("none") is not None else None
    return _Rule(name, level, " ".join((message or "").split()), situation, tuple(compiled), none)

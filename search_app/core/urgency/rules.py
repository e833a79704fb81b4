"""The urgency rules (``search_app/data/urgent_rules.yaml``): patterns over the normalised query, most severe first.

The file may also say what a general question looks like (``general_question``: a question about a danger
that names nobody it is happening to); the learned detector is not asked about those.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import MedsearchError

from .gate import Gate, check_keys
from .messages import DATA, DEFAULT_REGION, Messages, MessagesError, _check_message, notice_for
from .notice import _RANK, LEVELS, Notice, Reason, normalise, read_yaml

DEFAULT_RULES = DATA / "urgent_rules.yaml"
_RULE_KEYS = {"id", "level", "message", "situation", "all", "none"}
_QUESTION_KEYS = {"all", "none"}
_TERM_REF = re.compile(r"@([a-z][a-z0-9_]*)")
_NEVER_IN_QUERY = set("'\"\u2018\u2019\u201c\u201d")


class RulesError(MedsearchError, ValueError):
    """An urgency rules file that cannot be used; the message names the file and the rule."""


@dataclass(frozen=True)
class _Rule:
    id: str
    level: str
    message: str            # as written: placeholders not yet filled in; "" when the situation's is used
    situation: str | None
    patterns: re.Pattern[str]   # its ``all`` and ``none`` (``_patterns``): ``match`` the normalised text


@dataclass(frozen=True)
class Ruling:
    """What the rules say of one normalised query (``UrgencyRules.judge``)."""

    rule: _Rule | None      # the most severe rule it matches (the first in the file among equals)
    general: bool           # a question about a danger in general (the file's ``general_question``)


class UrgencyRules:
    """The loaded rules; ``judge`` gives the most severe rule a normalised query matches, ``assess`` its notice."""

    def __init__(self, rules: Iterable[_Rule], source: str = "<rules>", messages: Messages | None = None,
                 region: str = DEFAULT_REGION, general_question: re.Pattern[str] | None = None, gate: Gate | None = None):
        # Stable sort: severity first, file order within a level.
        self.rules: tuple[_Rule, ...] = tuple(sorted(rules, key=lambda r: _RANK[r.level]))
        self.general_question = general_question
        self.gate = gate
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
        return cls.from_data(read_yaml(path, "urgency rules", RulesError), source=str(path), messages=messages,
                             region=region)

    @classmethod
    def from_data(cls, data: Any, source: str = "<rules>", messages: Messages | None = None,
                  region: str = DEFAULT_REGION) -> UrgencyRules:
        """Build the rules from an already parsed document (``terms``, ``rules`` and optionally ``general_question``)."""
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
            raise RulesError(f"{source}: expected a mapping with a non-empty 'rules' list")
        unknown = sorted(set(data) - {"version", "terms", "rules", "general_question", "gate"})
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
        general = None
        if data.get("general_question") is not None:
            raw = data["general_question"]
            where = f"{source}: general_question"
            if not isinstance(raw, dict) or not set(raw) <= _QUESTION_KEYS or "all" not in raw:
                raise RulesError(f"{where}: expected a mapping with 'all' (and optionally 'none'), like a rule's")
            general = _patterns(raw, terms, where)
        gate = _gate(data["gate"], terms, source, seen) if data.get("gate") is not None else None
        return cls(rules, source, messages, region, general, gate)

    def judge(self, text: str) -> Ruling:
        """The most severe rule a normalised query (``notice.normalise``) matches, and whether it asks in general."""
        if not text:
            return Ruling(None, False)
        return Ruling(self._first(text),
                      self.general_question is not None and self.general_question.match(text) is not None)

    def _first(self, text: str) -> _Rule | None:
        """The most severe rule a non-empty normalised text matches (the first in the file among equals), or None."""
        return next((rule for rule in self.rules if rule.patterns.match(text)), None)

    def assess(self, query: str, vector: Any = None, medicines: tuple[str, ...] = ()) -> Notice | None:
        """The notice of the most severe rule the query matches (rules only), or None for a routine question."""
        text = normalise(query)
        rule = self._first(text) if text else None
        if rule is None:
            return None
        return notice_for(self.messages, self.region, text, medicines, rule.level, rule.situation,
                       rule.message, rule.id, (Reason("rule", rule.id, rule.level, rule.situation),))

    def asks_in_general(self, query: str) -> bool:
        """True when the query is a question about a danger in general (the file's ``general_question``)."""
        return self.judge(normalise(query)).general

    def matching(self, query: str) -> list[str]:
        """Ids of every rule the query matches, most severe first (for the benchmark and debugging)."""
        text = normalise(query)
        return [rule.id for rule in self.rules if text and rule.patterns.match(text)]

    def __len__(self) -> int:
        return len(self.rules)


def _gate(raw: Any, terms: dict[str, list[str]], source: str, rule_ids: set[str]) -> Gate:
    """The ``gate`` section compiled: bare-name words, the look-up phrasing and what the detector needs."""
    raw = check_keys(raw, source, RulesError)
    where = f"{source}: gate"
    keep = frozenset(raw["lookup"].get("keep") or ())
    unknown = sorted(keep - rule_ids)
    if unknown:
        raise RulesError(f"{where}: lookup keep names unknown rule(s) {', '.join(unknown)}")
    lookup = {k: v for k, v in raw["lookup"].items() if k != "keep"}
    needs = raw["detector_needs"]
    if not isinstance(needs, dict) or not set(needs) <= _QUESTION_KEYS or "all" not in needs:
        raise RulesError(f"{where}: detector_needs must be a mapping with 'all' (and optionally 'none')")
    calm = raw.get("calm_question")
    if calm is not None and (not isinstance(calm, dict) or not set(calm) <= _QUESTION_KEYS or "all" not in calm):
        raise RulesError(f"{where}: calm_question must be a mapping with 'all' (and optionally 'none')")
    return Gate(_compile(raw["name_words"], terms, f"{where}, name_words"), _patterns(lookup, terms, f"{where}, lookup"),
                keep, _patterns(needs, terms, f"{where}, detector_needs"), raw.get("min_words", 1),
                _patterns(calm, terms, f"{where}, calm_question") if calm is not None else None,
                float(raw.get("over_rule_from", 0.0)), float(raw.get("no_match_from", 0.0)))


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
    return _Rule(name, level, " ".join((message or "").split()), situation, _patterns(raw, terms, where))


def _patterns(raw: dict, terms: dict[str, list[str]], where: str) -> re.Pattern[str]:
    """A mapping's ``all`` (a list of ``{any: [patterns]}`` groups) and optional ``none`` as one regex: it
    ``match``es a normalised text when every group occurs in it and no ``none`` pattern does."""
    groups = raw.get("all")
    if not isinstance(groups, list) or not groups:
        raise RulesError(f"{where}: 'all' must be a non-empty list of groups, each {{any: [patterns]}}")
    compiled = []
    for index, group in enumerate(groups, 1):
        if not isinstance(group, dict) or set(group) != {"any"}:
            raise RulesError(f"{where}: group {index} of 'all' must be {{any: [patterns]}}, not {group!r}")
        compiled.append(_compile(group["any"], terms, f"{where}, group {index}"))
    none = _compile(raw["none"], terms, f"{where}, none") if raw.get("none") is not None else None
    # From the start of the text, one lookahead a group (anywhere after it) and one that refuses ``none``. A check
    # is then one call to the regex engine, so neither the rules nor the gate call back into the other's module.
    ahead = "".join(f"(?=.*?{group.pattern})" for group in compiled)
    try:
        return re.compile(r"\A" + ahead + (f"(?!.*?{none.pattern})" if none is not None else ""), re.DOTALL)
    except re.error as exc:  # each pattern compiled alone: only their groups' names can clash
        raise RulesError(f"{where}: its patterns cannot be combined ({exc})") from None

"""Evidence before alarm: when a notice may be shown at all, and when the learned detector may speak.

The rules file's ``gate`` section says it (``search_app/data/urgent_rules.yaml``):

- ``name_words``: words that may stand beside a medicine's name in a bare-name query ("tablets",
  "500 mg", "vs", "childrens"). A query made only of medicine names and such words names no situation:
  it gets no notice from any judge ("Tylenol", "zyrtec vs claritin", "amoxicilin 500mg").
- ``lookup``: a look-up phrased as a clinician (or a curious reader) types it, naming nobody it is
  happening to ("warfarin overdose management", "Coumadin boxed warning", "metformin renal dosing").
  It gets no notice, but for the rules listed in ``keep`` (the crisis notice: any mention of suicide).
- ``detector_needs``: what a query must say before the learned detector is asked: a symptom, a sign or
  an event, and someone it is happening to or a sign that it is happening now. Keyboard noise,
  off-topic words and bare "drug + symptom" noun phrases say neither.
- ``calm_question``: "is that normal?", "is this a known side effect?": no advice notice (the results
  answer it); an emergency or urgent verdict still shows.
- ``no_match_from``: when the search's match verdict is "none" (nothing in the build is close), a
  detector verdict stands only if its nearest example is this close, so that a page never shows
  "No good match" under an alarm that rests on nothing.
- ``over_rule_from``: a detector verdict more urgent than a rule that matched stands only if its
  nearest example is this close (a mild side effect the rules recognise is not made an emergency by
  a distant resemblance).

The detector's own last check (it answers only near one of its flagged examples) lives in
``search_app.core.urgency.detector``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_KEYS = {"name_words", "lookup", "detector_needs", "min_words", "calm_question", "over_rule_from", "no_match_from"}


@dataclass(frozen=True)
class Evidence:
    """What the search found out about a query that a notice must agree with."""

    match: str | None = None            # the match verdict: strong, weak or none (None: not searched)
    names: tuple[str, ...] = ()         # the medicine names the query understanding found (normalised)
    corrected: str | None = None        # the query with medicine names respelled, when it was


@dataclass(frozen=True)
class Screen:
    """What the gate lets through for one query, told before any judge speaks (``Gate.screen``)."""

    bare_name: bool = False                 # medicine names only: no notice from any judge
    only_rules: frozenset[str] | None = None  # a look-up: only these rules may speak (None: every rule)
    ask_detector: bool = True               # the words say what is happening and to whom, and it is no look-up
    calm: bool = False                      # "is that normal?": no advice notice
    verdict_from: float = -math.inf         # the similarity a detector verdict needs, given what the search found
    over_rule_from: float = -math.inf       # ... and when it is more urgent than a rule that matched


# Without a gate section every judge speaks.
OPEN = Screen()


@dataclass(frozen=True)
class Gate:
    """The checks of the rules file's ``gate`` section, compiled (each pattern set one regex, ``rules._patterns``)."""

    name_words: re.Pattern[str]
    lookup: re.Pattern[str]             # a look-up naming nobody
    keep: frozenset[str]                # rule ids still shown on a look-up
    detector_needs: re.Pattern[str]     # what the detector needs to be asked
    min_words: int                      # fewer words than this: the detector is not asked
    calm_question: re.Pattern[str] | None = None   # "is that normal?": no advice notice
    over_rule_from: float = 0.0         # the detector's similarity needed to outrank a rule that matched
    no_match_from: float = 0.0          # the detector's similarity needed when the match verdict is "none"

    def screen(self, normalised: str, respelled: str, evidence: Evidence) -> Screen:
        """Every check of the gate for one normalised query (``respelled``: the search's respelling, normalised).

        A detector verdict stands only when its nearest example's similarity reaches ``verdict_from``, or
        ``over_rule_from`` when it is more urgent than a rule that matched: when the search found nothing
        close (match "none"), or a rule already judged the query less urgent, only a verdict close to an
        example the detector learned from stands.
        """
        if self.bare_name(respelled, evidence.names):
            return Screen(bare_name=True, ask_detector=False)
        lookup = self.lookup.match(normalised) is not None
        verdict_from = self.no_match_from if evidence.match == "none" else -math.inf
        return Screen(only_rules=self.keep if lookup else None,
                      ask_detector=not lookup and self.detector_abstains(normalised) is None,
                      calm=self.calm_question is not None and self.calm_question.match(normalised) is not None,
                      verdict_from=verdict_from, over_rule_from=max(verdict_from, self.over_rule_from))

    def bare_name(self, normalised: str, names: tuple[str, ...]) -> bool:
        """True when the normalised query holds medicine names and nothing else but ``name_words``."""
        if not names:
            return False
        rest = f" {normalised} "
        for name in sorted(names, key=len, reverse=True):
            rest = rest.replace(f" {name} ", " ")
        return not self.name_words.sub(" ", rest).split()

    def detector_abstains(self, normalised: str) -> str | None:
        """Why the learned detector must not judge this query, from its words alone, or None when it may."""
        if len(normalised.split()) < self.min_words:
            return "too few words"
        if self.detector_needs.match(normalised) is None:
            return "no situation"
        return None


def check_keys(raw: Any, source: str, error: type[Exception]) -> dict[str, Any]:
    """The ``gate`` mapping, its keys checked (a bad one raises ``error``); the rules module compiles its patterns."""
    where = f"{source}: gate"
    if not isinstance(raw, dict) or not {"name_words", "lookup", "detector_needs"} <= set(raw):
        raise error(f"{where}: expected a mapping with name_words, lookup and detector_needs")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise error(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})")
    min_words = raw.get("min_words", 1)
    if not isinstance(min_words, int) or isinstance(min_words, bool) or not 1 <= min_words <= 10:
        raise error(f"{where}: min_words must be a whole number from 1 to 10")
    for key in ("over_rule_from", "no_match_from"):
        value = raw.get(key, 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise error(f"{where}: {key} must be a similarity from 0 to 1")
    lookup = raw["lookup"]
    if not isinstance(lookup, dict) or not set(lookup) <= {"all", "none", "keep"} or "all" not in lookup:
        raise error(f"{where}: lookup must be a mapping with 'all' (and optionally 'none' and 'keep')")
    keep = lookup.get("keep") or []
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise error(f"{where}: lookup keep must be a list of rule ids")
    return raw

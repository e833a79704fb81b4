"""Urgent-care notices: spot queries that describe an emergency or a serious reaction and say what to do now.

Two judges, and the more urgent verdict wins (emergency > urgent > advice > none):

- the rules of ``search_app/data/urgent_rules.yaml`` (``UrgencyRules``): a query is normalised
  (lower case, accents, apostrophes and punctuation dropped, whitespace collapsed) and every rule
  is tried; the most severe match wins, and among rules of one level the first in the file;
- the learned detector (``search_app.core.urgency.detector``): the query's embedding, from the model
  the index uses, against labelled examples; it catches wordings nobody wrote a rule for. It is
  not asked about a general question that names nobody it is happening to (the rules file's
  ``general_question``: "signs of an overdose of tramadol"): embeddings tell what a query is
  about far better than whether it is happening.

Evidence before alarm (``gate``, set in the rules file's ``gate`` section): a bare medicine name gets
no notice from either judge; a look-up phrased as a clinician types it gets none but the crisis
notice; the detector is asked only when the query says what is happening and to whom, and the search
found something close (match verdict not "none"); and it answers only near an example it learned from.

What a notice says comes from ``search_app/data/urgent_messages.yaml``: messages written with
placeholders filled in for the region (``emergency_region``: uk, us or both), the numbers to
call, and messages that name the medicine when its guidance differs (a tricyclic overdose, a
paracetamol overdose). ``load`` builds the assessor the app keeps in ``app.extensions["urgency"]``;
``Urgency.assess(text, vector, medicines, evidence)`` gives the ``Notice`` or None.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .gate import OPEN, Evidence, Gate
from .messages import (
    CALL_KINDS,
    DEFAULT_MESSAGES,
    DEFAULT_REGION,
    PHRASES,
    REGIONS,
    Messages,
    MessagesError,
    notice_for,
)
from .notice import _RANK, LEVELS, Call, Notice, Reason, normalise, normalise_each
from .rules import DEFAULT_RULES, RulesError, UrgencyRules

if TYPE_CHECKING:
    from ..settings import SearchSettings
    from .detector import UrgencyDetector

__all__ = ["CALL_KINDS", "DEFAULT_MESSAGES", "DEFAULT_REGION", "DEFAULT_RULES", "LEVELS", "PHRASES", "REGIONS", "Call",
           "Evidence", "Gate", "Messages", "MessagesError", "Notice", "Reason", "RulesError", "Urgency", "UrgencyRules", "load",
           "normalise"]


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

    def assess(self, text: str, vector: np.ndarray | None = None, medicines: tuple[str, ...] = (),
               evidence: Evidence | None = None) -> Notice | None:
        """The notice for a query, or None for a routine one.

        ``vector`` is the query's unit embedding from the index's embedder (the search service has it);
        without it the detector embeds ``text`` if an embedder was given at load, else only the rules judge.
        ``medicines`` are the names the query understanding found; the message names one whose guidance differs.
        ``evidence`` is what the search found (match verdict, medicine names): the gate reads it (``gate``).
        """
        evidence = evidence or Evidence()
        normalised, respelled = normalise_each(text, evidence.corrected or text)
        if not normalised:
            return None
        gate = self.rules.gate
        screen = gate.screen(normalised, respelled, evidence) if gate is not None else OPEN
        if screen.bare_name:
            return None
        ruling = self.rules.judge(normalised)
        rule = ruling.rule
        if rule is not None and screen.only_rules is not None and rule.id not in screen.only_rules:
            rule = None
        verdict = None
        if self.detector is not None and screen.ask_detector and not ruling.general:
            if vector is None and self.embedder is not None:
                vector = self.embedder.encode_query(text)
            if vector is not None:
                verdict = self.detector.classify(vector)
            if verdict is not None:
                # A verdict more urgent than the rule that matched needs a closer example (the gate's thresholds).
                outranks = rule is not None and _RANK[verdict.level] < _RANK[rule.level]
                if verdict.similarity < (screen.over_rule_from if outranks else screen.verdict_from):
                    verdict = None
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
        if deciding.level == "advice" and screen.calm:
            return None
        ordered = (deciding, *(r for r in reasons if r is not deciding))
        if deciding.source == "rule" and rule is not None:
            return notice_for(self.messages, self.region, normalised, medicines, rule.level, rule.situation,
                              rule.message, rule.id, ordered)
        assert verdict is not None  # the deciding reason is the detector's
        # A specific message only when the query is close to the example it resembles most.
        situation = verdict.situation if verdict.similarity >= self.messages.situation_from else None
        return notice_for(self.messages, self.region, normalised, medicines, verdict.level, situation, "",
                          "detector", ordered)

    def describe(self) -> dict[str, Any]:
        """What judges notices: the rules file, the detector (and the model it was trained for), the region."""
        return {"rules": len(self.rules), "region": self.region,
                "detector": None if self.detector is None else {
                    "examples": len(self.detector), "model": self.detector.embedder.get("name"),
                    "backend": self.detector.embedder.get("backend")}}


def load(settings: SearchSettings | None = None, embedder: Any = None, *, region: str | None = None,
         rules: str | Path = DEFAULT_RULES, messages: str | Path = DEFAULT_MESSAGES,
         detector: str | Path | None = None, examples: str | Path | None = None) -> Urgency:
    """The assessor: rules, messages for the region (``region``, else the settings' ``emergency_region``, else
    ``DEFAULT_REGION``), and the trained detector.

    ``embedder`` (default: the one ``settings`` names, shared with the searcher) must be the one that made the
    detector: another model or backend is refused with what to run. A broken file raises its error.
    """
    from .detector import DEFAULT_ARTEFACT, DEFAULT_EXAMPLES, UrgencyDetector

    region = region or (settings.emergency_region if settings is not None else DEFAULT_REGION)
    if region not in REGIONS:
        raise MessagesError(f"emergency_region {region!r}: expected one of {', '.join(REGIONS)}")
    if embedder is None and settings is not None:
        from indexer.embedding import load_embedder

        embedder = load_embedder(settings.model, settings.batch_size, settings.backend, settings.model_cache)
    loaded_rules = UrgencyRules.load(rules, Messages.load(messages), region)
    trained = UrgencyDetector.load(detector or DEFAULT_ARTEFACT,
                                   embedder.describe() if embedder is not None else None,
                                   examples or DEFAULT_EXAMPLES)
    return Urgency(loaded_rules, trained, embedder)

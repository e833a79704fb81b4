"""Evidence before alarm (issue #25): the shipped rules, gate and detector on each kind of query a search box
receives, and the gate's own file checks. The real model embeds every query."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from search_app.core import urgency
from search_app.core.urgency import DEFAULT_RULES, Evidence, RulesError, UrgencyRules


@pytest.fixture(scope="module")
def shipped(embedder) -> urgency.Urgency:
    return urgency.load(embedder=embedder)


def level(assessor: urgency.Urgency, query: str, evidence: Evidence | None = None) -> str | None:
    notice = assessor.assess(query, evidence=evidence)
    return notice.level if notice else None


# ------------------------------------------------------------------ what gets no box

@pytest.mark.parametrize("query, names", [
    ("Tylenol", ("tylenol",)),
    ("meloxicam", ("meloxicam",)),
    ("children's tylenol", ("tylenol",)),
    ("amoxicillin 500mg capsules", ("amoxicillin",)),
    ("zyrtec vs claritin", ("zyrtec", "claritin")),
])
def test_a_bare_medicine_name_gets_no_notice(shipped, query, names):
    assert level(shipped, query, Evidence("strong", names)) is None


def test_a_misspelt_name_is_bare_once_the_search_has_respelled_it(shipped):
    assert level(shipped, "tylenl", Evidence("strong", ("tylenol",), corrected="tylenol")) is None


@pytest.mark.parametrize("query", ["ok", "x", "42", "jjjjjjjj", "xyz", "aaaa", "lol", "zxqv", "asdfgh", "?",
                                   "window spoon elephant running", "how to kill a python process",
                                   "overdosed on netflix this weekend", "suicide squad cast"])
def test_keyboard_noise_and_off_topic_words_get_no_notice(shipped, query):
    assert level(shipped, query, Evidence("none")) is None


@pytest.mark.parametrize("query", ["ok", "x", "42", "jjjjjjjj", "xyz", "lol", "zxqv", "window spoon elephant running"])
def test_noise_gets_no_notice_even_without_the_search_s_evidence(shipped, query):
    assert level(shipped, query) is None   # the words alone name no situation


@pytest.mark.parametrize("query", ["warfarin overdose management", "Coumadin boxed warning", "metformin renal dosing",
                                   "apixaban hepatic impairment", "tylenol pregnancy", "lithium toxicity treatment",
                                   "iron overdose deferoxamine", "amitriptyline overdose management"])
def test_a_clinician_s_look_up_gets_no_notice(shipped, query):
    assert level(shipped, query, Evidence("strong")) is None


def test_a_look_up_that_mentions_suicide_still_gets_the_crisis_notice(shipped):
    notice = shipped.assess("sertraline suicidal thoughts boxed warning", evidence=Evidence("strong"))
    assert notice is not None and notice.rule == "suicidal-thoughts"


def test_a_look_up_about_someone_it_is_happening_to_is_not_a_look_up(shipped):
    assert level(shipped, "my dad took too much warfarin what is the overdose management", Evidence("strong")) \
        == "emergency"


@pytest.mark.parametrize("query", ["is a dry mouth normal on amitriptyline",
                                   "my ankles are a bit puffy on amlodipine, is that a common thing"])
def test_a_calm_question_about_a_mild_effect_gets_no_advice_box(shipped, query):
    assert level(shipped, query, Evidence("strong")) is None


def test_the_same_mild_effect_told_as_a_complaint_gets_advice(shipped):
    assert level(shipped, "amitriptyline is giving me a really dry mouth", Evidence("strong")) == "advice"


def test_a_mild_symptom_after_a_normal_dose_is_not_made_urgent_by_a_distant_example(shipped):
    assert level(shipped, "i took two ibuprofen and now my stomach hurts", Evidence("strong")) in (None, "advice")


def test_an_animal_is_not_given_to_the_detector(shipped):
    assert level(shipped, "my dog ate one of my ibuprofen", Evidence("strong")) is None


# ------------------------------------------------------------------ what still gets one

@pytest.mark.parametrize("query, expected", [
    ("my son swallowed my pills", "emergency"),
    ("I broke out in hives and my throat feels tight after an antibiotic", "emergency"),
    ("hives and a tight throat after amoxicillin", "emergency"),
    ("my lips and tongue are swelling up after the new tablet", "emergency"),
    ("took 30 paracetamol", "emergency"),
    ("my wife is jerking all over and wont respond", "emergency"),
    ("i want to die", "emergency"),
    ("yellow eyes since starting atorvastatin", "urgent"),
    ("forgot to take my sertraline this morning, do i take it now", "advice"),
])
def test_real_situations_keep_their_notice(shipped, query, expected):
    assert level(shipped, query, Evidence("strong")) == expected


def test_a_rule_speaks_even_when_the_search_found_nothing_close(shipped):
    assert level(shipped, "my son swallowed my pills", Evidence("none")) == "emergency"


def with_gate(shipped: urgency.Urgency, embedder, **thresholds: float) -> urgency.Urgency:
    """The shipped assessor, its gate's thresholds changed."""
    rules = copy.copy(shipped.rules)
    rules.gate = dataclasses.replace(shipped.rules.gate, **thresholds)
    return urgency.Urgency(rules, shipped.detector, embedder)


def detector_similarity(shipped: urgency.Urgency, embedder, query: str) -> float:
    """The similarity of the detector's verdict on a query to its nearest example."""
    verdict = shipped.detector.classify(embedder.encode_query(query))
    assert verdict is not None, query
    return verdict.similarity


def test_under_a_none_match_only_a_close_detector_verdict_stands(shipped, embedder):
    query = "toddler swallowed button battery"      # the detector's verdict alone: no rule matches it
    similarity = detector_similarity(shipped, embedder, query)
    assert level(with_gate(shipped, embedder, no_match_from=similarity + 0.01), query, Evidence("none")) is None
    assert level(with_gate(shipped, embedder, no_match_from=similarity), query, Evidence("none")) == "emergency"
    assert level(with_gate(shipped, embedder, no_match_from=similarity + 0.01), query, Evidence("weak")) == "emergency"


def test_a_detector_verdict_above_a_rule_needs_a_close_example(shipped, embedder):
    query = "mild rash after starting amoxicillin"  # a rule says advice, the detector urgent
    similarity = detector_similarity(shipped, embedder, query)
    assert level(with_gate(shipped, embedder, over_rule_from=similarity + 0.01), query, Evidence("strong")) == "advice"
    assert level(with_gate(shipped, embedder, over_rule_from=similarity), query, Evidence("strong")) == "urgent"
    below = "convulsions after stopping diazepam"   # a rule says emergency, the detector urgent: it stands, below
    notice = with_gate(shipped, embedder, over_rule_from=1.0).assess(below, evidence=Evidence("strong"))
    assert notice is not None and [r.source for r in notice.reasons] == ["rule", "detector"]


def test_the_detector_abstains_far_from_every_flagged_example(shipped, embedder):
    detector = shipped.detector
    assert detector.settings.min_similarity > 0
    vector = embedder.encode_query("the weather in lisbon in march").reshape(-1)
    assert float((detector.vectors[detector._flagged] @ vector).max()) < detector.settings.min_similarity
    assert detector.classify(vector) is None
    assert detector.with_thresholds(detector.settings.thresholds).settings.min_similarity \
        == detector.settings.min_similarity


def test_every_reason_explains_itself_in_plain_words(shipped):
    notice = shipped.assess("my son swallowed my pills", evidence=Evidence("strong"))
    texts = [reason.explain() for reason in notice.reasons]
    assert texts[0] == "Your search matches our written rule for child swallowed medicine."
    detector = [r for r in notice.reasons if r.source == "detector"]
    if detector:
        assert "{" not in detector[0].explain() and "similarity" in detector[0].explain()


# ------------------------------------------------------------------ the search service and the API

@pytest.mark.parametrize("query", ["Tylenol", "ok", "x", "warfarin overdose management"])
def test_the_api_gives_no_notice_for_a_name_noise_or_a_look_up(client, query):
    body = client.get("/api/v1/search", query_string={"q": query}).get_json()
    assert body["notice"] is None


def test_the_api_notice_and_the_page_say_why(client):
    body = client.get("/api/v1/search", query_string={"q": "my son swallowed my pills"}).get_json()
    assert body["notice"]["level"] == "emergency"
    assert body["notice"]["reasons"][0] == {"source": "rule", "id": "child-swallowed-medicine", "level": "emergency",
                                            "situation": "child-ingestion"}
    page = client.get("/search", query_string={"q": "my son swallowed my pills"}).get_data(as_text=True)
    assert "Why am I seeing this?" in page and "rule for child swallowed medicine" in page


# ------------------------------------------------------------------ the gate section of the rules file

def shipped_data() -> dict:
    return yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))


@pytest.mark.parametrize("change, words", [
    (lambda g: g.update(colour="red"), "unknown key(s) colour"),
    (lambda g: g.pop("lookup"), "expected a mapping with name_words, lookup and detector_needs"),
    (lambda g: g["lookup"].update(keep=["no-such-rule"]), "unknown rule(s) no-such-rule"),
    (lambda g: g.update(min_words=0), "min_words must be a whole number"),
    (lambda g: g.update(no_match_from=1.5), "no_match_from must be a similarity"),
    (lambda g: g.update(name_words=["(unclosed"]), "bad regex"),
    (lambda g: g["detector_needs"].update(all="x"), "'all' must be a non-empty list"),
])
def test_a_broken_gate_is_refused_with_a_message_naming_it(change, words):
    data = copy.deepcopy(shipped_data())
    change(data["gate"])
    with pytest.raises(RulesError) as caught:
        UrgencyRules.from_data(data, source="rules.yaml")
    assert "rules.yaml: gate" in str(caught.value) and words in str(caught.value)


def test_without_a_gate_section_every_judge_speaks_as_before():
    data = shipped_data()
    del data["gate"]
    assert UrgencyRules.from_data(data).gate is None


def test_every_flagged_example_the_detector_learnt_from_can_reach_it():
    """An emergency or urgent example that the gate would never let through teaches the detector nothing."""
    from search_app.core.urgency import normalise
    from search_app.core.urgency.detector import load_examples

    gate = UrgencyRules.load().gate
    examples = load_examples()
    blocked = [text for text, lvl in zip(examples.texts, examples.levels)
               if lvl in ("emergency", "urgent") and gate.detector_abstains(normalise(text)) is not None]
    assert len(blocked) <= 0.05 * sum(lvl in ("emergency", "urgent") for lvl in examples.levels), blocked[:10]

"""Urgency notices: the right tier for worried queries, none for routine ones, a broken rules file refused."""
from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from search_app.core.urgency import DEFAULT_RULES, Notice, RulesError, UrgencyRules

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "urgent_queries.jsonl"


@pytest.fixture(scope="module")
def rules() -> UrgencyRules:
    return UrgencyRules.load()


def level(rules: UrgencyRules, query: str) -> str | None:
    notice = rules.assess(query)
    return notice.level if notice else None


@pytest.mark.parametrize("query", [
    "took 20 paracetamol what do i do",
    "my child swallowed my blood pressure tablets",
    "chest pain after sumatriptan",
    "face swelling after starting lisinopril",
    "sertraline and tramadol shaking sweating fever",
    "i've OD'd on my sertraline",
    "can't breathe after taking naproxen",
    "my husband just had a fit, he takes tramadol",
    "throat feels like it's closing after ibuprofen",
    "mum collapsed and won't wake up",
    "vomiting blood on naproxen",
    "face drooping and slurred speech",
    "blood sugar 2.1 and confused on gliclazide",
    "i don't want to be alive anymore",
    "thinking about ending things this weekend",          # suicidal without the word
    "they would all be better off without me",
    "took forty of my sleeping tablets",                  # a count in words
    "a crushing feeling in the middle of my chest",
    "gave up drinking and now seeing spiders on the ceiling",   # withdrawal with hallucinations
])
def test_emergencies_get_the_emergency_notice(rules, query):
    notice = rules.assess(query)
    assert notice is not None and notice.level == "emergency", (query, notice)
    assert "999" in notice.message and "911" in notice.message


@pytest.mark.parametrize("query", [
    "amitriptyline cramps confused headache",
    "accidentally took my warfarin twice today",
    "yellow eyes since starting atorvastatin",
    "muscle pain and dark urine on simvastatin",
    "blistering rash after starting allopurinol",
    "blood in my urine on apixaban",
    "sore throat and fever on methotrexate",
])
def test_serious_reactions_get_the_urgent_notice(rules, query):
    assert level(rules, query) == "urgent"


@pytest.mark.parametrize("query", [
    "missed a dose of sertraline",
    "took my levothyroxine twice this morning",
    "want to stop taking citalopram",
    "metformin giving me diarrhoea",
])
def test_everyday_decisions_get_the_advice_notice(rules, query):
    assert level(rules, query) == "advice"


@pytest.mark.parametrize("query", [
    "what is sertraline used for",
    "can I take ibuprofen with food",
    "side effects of metformin",
    "how to store insulin",
    "is omeprazole safe long term",
    "amitriptyline for sleep dose",
    "what is the overdose limit of paracetamol",
    "can sumatriptan cause chest pain",
    "what are the signs of serotonin syndrome",
    "levetiracetam for seizures how long to work",
    "i have a headache, can i take ibuprofen",
    "my dad had a heart attack last year and takes clopidogrel",
    # Asking about a danger in general: nobody it is happening to.
    "how do doctors treat angioedema",
    "can you die from a hypo",
    "diabetic ketoacidosis diagnosis criteria",
    "why is it risky to stop clonazepam suddenly",
    "had fifteen mg of mirtazapine",                       # a dose, not a count of tablets
    "i take every tablet the doctor gives me",
    "i want to end things with my girlfriend",
    "",
    "   ",
])
def test_routine_questions_get_no_notice(rules, query):
    assert rules.assess(query) is None


@pytest.mark.parametrize("query", [
    "benefits of metformin",           # "fit" inside "benefits"
    "keeping fit while on beta blockers",
    "food to avoid with warfarin",     # "od" inside "food"
    "what does od mean on my prescription",
    "lansoprazole 30mg od before breakfast",
    "hypothyroid levothyroxine dose",  # "hypo" inside "hypothyroid"
])
def test_words_inside_other_words_do_not_trigger(rules, query):
    assert rules.assess(query) is None


def test_od_on_its_own_is_an_overdose(rules):
    assert level(rules, "OD on citalopram") == "emergency"


def test_case_curly_quotes_and_spacing_do_not_matter(rules):
    plain = rules.assess("cant breathe after ibuprofen")
    assert plain is not None
    for variant in ["CAN'T BREATHE after ibuprofen", "can\u2019t   breathe\tafter ibuprofen", "Can't breathe after Ibuprofen!!"]:
        assert rules.assess(variant) == plain


@pytest.mark.parametrize("general, happening", [
    ("how do doctors treat anaphylaxis", "what do i do, my son has anaphylaxis after his antibiotic"),
    ("what happens in a seizure", "what should we do, my sister is having a seizure"),
    ("what does stevens johnson syndrome look like", "blistering and peeling skin since starting carbamazepine"),
])
def test_a_general_question_gets_no_notice_but_someone_it_is_happening_to_does(rules, general, happening):
    assert rules.assess(general) is None
    assert level(rules, happening) in ("emergency", "urgent")


@pytest.mark.parametrize("query, general", [
    ("signs of an overdose of tramadol", True),
    ("can sumatriptan cause chest pain", True),
    ("how is anaphylaxis treated", True),
    ("my son took too much tramadol, signs of an overdose", False),     # someone it is happening to
    ("what to do throat swelling after amoxicillin", False),            # under way, no pronoun
    ("crushing chest pain on amlodipine", False),                       # not a question
])
def test_a_general_question_is_told_from_a_report(rules, query, general):
    """The detector is not asked about a general question (the rules file's general_question)."""
    assert rules.asks_in_general(query) is general


def test_the_most_severe_matching_rule_wins(rules):
    query = "missed my sertraline dose and now i have chest pain"
    assert {"missed-dose", "chest-pain"} <= set(rules.matching(query))
    assert rules.assess(query).rule == "chest-pain"


def test_high_risk_double_dose_is_urgent_and_low_risk_is_advice(rules):
    assert level(rules, "took a double dose of methotrexate by mistake") == "urgent"
    assert level(rules, "took a double dose of omeprazole by mistake") == "advice"


def test_suicidal_thoughts_notice_gives_crisis_lines(rules):
    notice = rules.assess("feeling suicidal on fluoxetine")
    assert notice.level == "emergency"
    assert "116 123" in notice.message and "988" in notice.message


def test_a_rules_notice_says_which_rule_raised_it(rules):
    notice = rules.assess("chest pain after sumatriptan")
    assert isinstance(notice, Notice) and notice.rule == "chest-pain"
    body = json.loads(json.dumps(notice.to_json()))
    assert body["level"] == "emergency" and body["message"] == notice.message
    assert body["reasons"] == [{"source": "rule", "id": "chest-pain", "level": "emergency"}]
    assert [c["tel"] for c in body["calls"]] == ["tel:999", "tel:911"]


# An example query for every rule in the shipped file, so a new rule cannot go in untried.
RULE_EXAMPLES = {
    "child-swallowed-medicine": "my toddler got hold of my pills",
    "overdose": "i think i overdosed on my sertraline",
    "suicidal-thoughts": "thinking of killing myself",
    "chest-pain": "crushing chest pain on amlodipine",
    "breathing-difficulty": "struggling to breathe since using my new inhaler",
    "face-throat-swelling": "lips and tongue swelling after amoxicillin",
    "used-adrenaline": "had to use my epipen after a bee sting",
    "skin-blistering-and-peeling": "skin blistering and peeling since starting allopurinol",
    "withdrawal-hallucinations": "stopped drinking two days ago and now hearing voices",
    "seizure": "convulsions after stopping diazepam",
    "collapse-unconscious": "passed out after taking my blood pressure tablet",
    "severe-bleeding": "black tarry poo on aspirin",
    "head-injury-on-blood-thinner": "hit my head and i'm on rivaroxaban",
    "stroke-signs": "sudden weakness in one arm and face drooping",
    "severe-confusion": "dad very confused and can't stand up",
    "serotonin-syndrome": "agitated twitching and sweating on venlafaxine and tramadol",
    "serotonin-syndrome-combination": "citalopram and tramadol together shaking and sweating",
    "serotonin-syndrome-named": "i think i have serotonin syndrome",
    "severe-hypo": "gliclazide hypo confused and drowsy",
    "extra-dose-high-risk": "gave my son his insulin twice",
    "wrong-medicine": "accidentally took my wife's tablets",
    "low-sodium-signs": "citalopram muscle cramps and headache",
    "lithium-toxicity": "lithium diarrhoea and shaking hands",
    "new-confusion": "mum seems confused since starting tramadol",
    "low-sodium-named": "my sodium is low on citalopram",
    "statin-muscle-pain": "severe muscle pain on atorvastatin",
    "jaundice": "skin turning yellow on paracetamol",
    "muscle-damage": "dark pee and muscle weakness",
    "severe-skin-reaction": "peeling skin and mouth ulcers after new tablets",
    "rash-with-fever": "rash and high temperature after amoxicillin",
    "infection-on-immunosuppressant": "high temperature on methotrexate",
    "blood-in-urine-or-stool": "peeing blood on rivaroxaban",
    "unusual-bleeding": "bleeding gums on warfarin",
    "tendon-pain-on-quinolone": "heel pain after ciprofloxacin",
    "severe-stomach-pain": "severe stomach pain going through to my back on ozempic",
    "persistent-vomiting": "can't stop throwing up on metformin",
    "severe-diarrhoea": "severe diarrhoea after antibiotics",
    "ketoacidosis-signs": "empagliflozin vomiting and fruity breath",
    "hallucinations": "hallucinating on tramadol",
    "allergic-reaction": "hives all over after penicillin",
    "low-blood-sugar": "having a hypo on gliclazide what do i do",
    "missed-dose": "forgot my sertraline this morning",
    "extra-dose": "accidentally took two omeprazole",
    "stopping-medicine": "how to come off venlafaxine",
    "mild-side-effect": "ramipril giving me a dry cough",
}


def test_every_rule_has_an_example_that_triggers_it(rules):
    ids = {rule.id for rule in rules.rules}
    assert ids == set(RULE_EXAMPLES), "add an example here for each new rule, remove one for each removed rule"
    for rule_id, query in RULE_EXAMPLES.items():
        assert rules.assess(query).rule == rule_id, (rule_id, query, rules.matching(query))


def test_benchmark_emergency_recall_and_notice_precision(rules):
    """The shipped rules against the splits they were written and tuned on (fresh3 and fresh4 are the detector's)."""
    records = [json.loads(line) for line in BENCH.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if r["split"] in ("tune", "held_out", "fresh1", "fresh2")]
    assert len(records) >= 150
    given = [level(rules, r["query"]) for r in records]
    emergencies = [g for r, g in zip(records, given) if r["level"] == "emergency"]
    assert sum(g == "emergency" for g in emergencies) / len(emergencies) >= 0.95
    shown = [r for r, g in zip(records, given) if g is not None]
    assert sum(r["level"] is not None for r in shown) / len(shown) >= 0.9
    routine = sum(r["level"] is None for r in records) / len(records)
    assert 0.3 <= routine <= 0.5, f"routine share {routine:.2f}: the benchmark should stay about 40% routine"


# ------------------------------------------------------------------ a broken rules file

GOOD_RULE = {"id": "chest", "level": "emergency", "message": "Call 999.", "all": [{"any": ["chest pain"]}]}


def write_rules(tmp_path: Path, *rules: dict, terms: dict | None = None) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"terms": terms or {}, "rules": list(rules)}), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, words", [
    ({"level": "critical"}, ["'bad'", "unknown level 'critical'", "emergency, urgent, advice"]),
    ({"message": ""}, ["'bad'", "missing message"]),
    ({"message": "Call {ambulance}."}, ["'bad'", "unknown placeholder(s) ambulance"]),
    ({"all": [{"any": ["chest (pain"]}]}, ["'bad'", "bad regex", "chest (pain"]),
    ({"all": [{"any": ["can't breathe"]}]}, ["'bad'", "apostrophes", "cant"]),
    ({"all": [{"any": ["@nosuchterm pain"]}]}, ["'bad'", "unknown term @nosuchterm"]),
    ({"all": [{"any": ["chest pain "]}]}, ["'bad'", "ends with a space"]),
    ({"all": []}, ["'bad'", "'all' must be a non-empty list"]),
    ({"all": [["chest pain"]]}, ["'bad'", "{any: [patterns]}"]),
    ({"nothing": ["x"]}, ["'bad'", "unknown key(s) nothing"]),
])
def test_a_broken_rule_is_refused_with_a_message_naming_it(tmp_path, change, words):
    path = write_rules(tmp_path, GOOD_RULE, {**GOOD_RULE, "id": "bad", **change})
    with pytest.raises(RulesError) as info:
        UrgencyRules.load(path)
    assert isinstance(info.value, ValueError)
    for word in words:
        assert word in str(info.value)
    assert str(path) in str(info.value)


def test_a_broken_general_question_is_refused(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [GOOD_RULE], "general_question": ["signs of"]}), encoding="utf-8")
    with pytest.raises(RulesError, match="general_question: expected a mapping with 'all'"):
        UrgencyRules.load(path)


def test_duplicate_ids_and_missing_ids_are_refused(tmp_path):
    with pytest.raises(RulesError, match="rule 'chest': id used twice"):
        UrgencyRules.load(write_rules(tmp_path, GOOD_RULE, GOOD_RULE))
    with pytest.raises(RulesError, match="rule #2: missing id"):
        UrgencyRules.load(write_rules(tmp_path, GOOD_RULE, {k: v for k, v in GOOD_RULE.items() if k != "id"}))


def test_a_term_that_refers_to_itself_is_refused(tmp_path):
    path = write_rules(tmp_path, {**GOOD_RULE, "all": [{"any": ["@a"]}]}, terms={"a": ["x|@b"], "b": ["@a"]})
    with pytest.raises(RulesError, match="refers to itself"):
        UrgencyRules.load(path)


def test_missing_and_unparsable_files_are_refused(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        UrgencyRules.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        UrgencyRules.load(bad)


def test_terms_none_and_file_order_work_in_a_small_rules_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(dedent("""\
        terms:
          pain: ['pains?|hurts?']
        rules:
          - id: advice-first
            level: advice
            message: Talk to a pharmacist.
            all: [{any: ['headache']}]
          - id: chest
            level: emergency
            message: Call 999.
            all: [{any: ['chest']}, {any: ['@pain']}]
            none: ['no chest @pain']
          - id: chest-second
            level: emergency
            message: Also 999.
            all: [{any: ['chest']}]
        """), encoding="utf-8")
    small = UrgencyRules.load(path)
    assert small.assess("headache and chest hurts").rule == "chest"   # severity beats file order
    assert small.assess("chest tight").rule == "chest-second"
    assert small.assess("no chest pain, just a headache").rule == "chest-second"  # none blocks only its rule
    assert small.assess("headache").rule == "advice-first"
    assert small.assess("chesty cough") is None


def test_the_shipped_rules_file_is_the_default():
    assert DEFAULT_RULES == ROOT / "search_app" / "data" / "urgent_rules.yaml"
    assert len(UrgencyRules.load()) == len(yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))["rules"])

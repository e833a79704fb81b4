"""Section types from headings (index time) and the section types a query asks about (query time)."""
import pytest

from indexer.section_types import SECTION_TYPES, section_type
from search_app.core.understanding import intents


@pytest.mark.parametrize("heading, expected", [
    # DailyMed-style label headings
    ("ADVERSE REACTIONS", "side_effects"),
    ("DOSAGE AND ADMINISTRATION", "dosage"),
    ("DRUG INTERACTIONS", "interactions"),
    ("OVERDOSAGE", "overdose"),
    ("HOW SUPPLIED/STORAGE AND HANDLING", "storage"),
    ("INDICATIONS AND USAGE", "uses"),
    ("CLINICAL PHARMACOLOGY", "mechanism"),
    ("INGREDIENTS AND APPEARANCE", "ingredients"),
    ("USE IN SPECIFIC POPULATIONS: Pregnancy", "pregnancy"),
    # MedlinePlus-style questions
    ("What should I do if I forget a dose?", "missed_dose"),
    ("Why is this medication prescribed?", "uses"),
    ("What side effects can this medication cause?", "side_effects"),
    ("What special precautions should I follow?", "warnings"),
    ("In case of emergency/overdose", "overdose"),
    ("How should this medicine be used?", "dosage"),
    # our own corpus headings
    ("Common side effects of sertraline", "side_effects"),
    ("Serious side effects: get help straight away", "serious_side_effects"),
    # a boxed warning, as a label heads it in an article and as MedlinePlus retells it, is a type of its own
    ("BOXED WARNING", "boxed_warning"),
    ("IMPORTANT WARNING:", "boxed_warning"),
    ("Stopping amitriptyline", "stopping"),
    # a disease page's "causes" is about the condition, not a medicine's side effects
    ("What causes Insomnia ?", "other"),
    ("What are the causes of gout?", "other"),
    ("", "other"),
    ("Background", "other"),
])
def test_headings_are_labelled_with_their_section_type(heading, expected):
    assert section_type(heading) == expected
    assert expected in SECTION_TYPES


@pytest.mark.parametrize("query, asked", [
    ("side effects of sertraline", "side_effects"),
    ("can i drink wine on metronidazole", "interactions"),
    ("how much ibuprofen can i take in a day", "dosage"),
    ("how do i give the injection", "dosage"),
    ("how to dilute the powder for injection", "dosage"),
    ("should i take it before meals", "dosage"),
    ("i took a double dose by accident", "overdose"),
    ("i forgot my pill yesterday", "missed_dose"),
    ("can the insulin pen be stored out of the fridge", "storage"),
    ("how is this drug metabolized", "mechanism"),
    ("what is the half-life of diazepam", "mechanism"),
    ("how does valium affect the brain", "mechanism"),
    ("why would i take metformin", "uses"),
    ("what is lisinopril used for", "uses"),
    ("is this tablet gluten free", "ingredients"),
    ("what does the pill look like", "ingredients"),
    ("is it safe in pregnancy", "pregnancy"),
    ("how do i come off venlafaxine", "stopping"),
])
def test_a_query_asks_for_the_section_type_its_words_say(query, asked):
    assert asked in intents(query)


def test_a_plain_name_asks_for_no_particular_section():
    assert intents("amoxicillin") == frozenset()

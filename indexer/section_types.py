"""Section types: what a section is about, labelled from its heading at index time.

A section whose source says what it is (a drug label's LOINC code, see
``indexer/sources/labels.py``) carries that type in ``Section.section_type``; `type_of` honours it.
A boxed warning has a type of its own, ``boxed_warning``: a label's (LOINC 34066-1) and an article's
headed so ("BOXED WARNING", MedlinePlus's "IMPORTANT WARNING", which retells the label's box), so
that a filter or a query can ask for it alone; other serious effects are ``serious_side_effects``.

Covers our own headings ("Common side effects of sertraline"), DailyMed's upper-case
label headings ("ADVERSE REACTIONS") and MedlinePlus's questions ("What should I do if I
forget a dose?"). The first matching rule wins, so specific rules come before general ones.
"""
from __future__ import annotations

import re

SECTION_TYPES: tuple[str, ...] = (
    "uses", "dosage", "side_effects", "boxed_warning", "serious_side_effects", "interactions", "warnings", "pregnancy",
    "overdose", "missed_dose", "stopping", "storage", "ingredients", "mechanism", "other",
)

LABELS: dict[str, str] = {
    "uses": "Uses", "dosage": "Dosage", "side_effects": "Side effects", "boxed_warning": "Boxed warning",
    "serious_side_effects": "Serious side effects", "interactions": "Interactions", "warnings": "Warnings",
    "pregnancy": "Pregnancy & breastfeeding", "overdose": "Overdose", "missed_dose": "Missed dose",
    "stopping": "Stopping", "storage": "Storage", "ingredients": "Ingredients & appearance",
    "mechanism": "How it works", "other": "Other",
}

_RULES: tuple[tuple[str, str], ...] = (
    ("other", r"^what (causes|are the causes of)\b"),  # a condition's causes ("What causes insomnia?")
    ("missed_dose", r"\b(miss(ed|ing)?|forg[eo]t+(en)?)\b.*\bdose|\bmissed\b"),
    ("overdose", r"overdos|too much|too many|in case of emergency|poison"),
    ("boxed_warning", r"boxed warning|black.?box|important warning"),
    ("serious_side_effects", r"serious|severe|urgent|emergency|get help|call (a|your) doctor"),
    ("pregnancy", r"pregnan|breast.?feed|lactation|nursing mothers|fertility|contracepti"),
    ("stopping", r"\bstop(ping)?\b|coming off|withdraw|discontinu|reducing"),
    ("storage", r"stor(e|age|ing)|disposal|keep(ing)? .* (safe|cool)|how supplied/storage"),
    ("interactions", r"interact|with other medicines|other (drugs|medications)|food|alcohol|dietary|grapefruit|"
                     r"\b(take|taking|have|drink|drinking|eat|mix|use)\b.*\b(with|together|after)\b"),
    ("side_effects", r"side.?effects?|adverse|reactions?\b|undesirable|\bcause[sd]?\b|\bmake (me|you|my)\b"),
    ("dosage", r"dos(e|age|ing)|how (and when )?(to|should|do) .*(take|use|used|given)|administration|directions|"
               r"how much|how often|how to (take|use)|when to take"),
    ("uses", r"\bused? for\b|uses\b|indications?|why is this medication prescribed|what .* (is|are) for|"
             r"what is it for|who can take|treat"),
    ("ingredients", r"ingredient|appearance|description|how supplied|what .* (contain|looks? like)|"
                    r"dosage forms|strengths|brand names|composition"),
    ("mechanism", r"pharmacolog|mechanism|how (does )?.* works?|what .* does\b|action"),
    ("warnings", r"warning|precaution|contraindicat|caution|before (you )?(take|taking|using)|who should not|"
                 r"special precautions|safety|risks?\b|cautions"),
)
_COMPILED = tuple((label, re.compile(pattern, re.I)) for label, pattern in _RULES)


def type_of(section) -> str:
    """A section's type: the one its publisher's structure gives (``Section.section_type``), else from its heading."""
    return section.section_type or section_type(section.heading)


def section_type(heading: str) -> str:
    """The type of a section from its heading; "other" when nothing matches."""
    heading = " ".join(heading.split())
    for label, pattern in _COMPILED:
        if pattern.search(heading):
            return label
    return "other"

"""Where an openFDA label field's text puts its heading, and the numbered subsections inside it.

openFDA gives each label section as one run of text that starts with its heading ("6 ADVERSE
REACTIONS", "Nursing Mothers") and may hold numbered subsections ("2.5 Dosage in Renal
Impairment"); these helpers find them, from the section table's phrases and the text's own
capitalisation, so that ``openfda.py`` can cut the text into sections.
"""
from __future__ import annotations

import re

from .assemble import one_line

# Headings a field's text may start with, beyond its LOINC name and field name.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "boxed_warning": ("warning", "warnings", "boxed warning"),
    "indications_and_usage": ("indications", "indications and use", "uses"),
    "dosage_and_administration": ("directions", "dosage", "dose and administration"),
    "warnings_and_cautions": ("warnings and precautions",),
    "information_for_patients": ("patient counseling information", "information for patients"),
    "how_supplied": ("how supplied storage and handling", "supply"),
    "storage_and_handling": ("storage", "storage and handling"),
    "nursing_mothers": ("lactation",),
    "general_precautions": ("general",),
    "carcinogenesis_and_mutagenesis_and_impairment_of_fertility": (
        "carcinogenesis mutagenesis impairment of fertility", "carcinogenesis mutagenesis and impairment of fertility",
        "carcinogenesis and mutagenesis and impairment of fertility"),
    "animal_pharmacology_and_or_toxicology": ("animal toxicology and or pharmacology", "animal toxicology"),
    "spl_medguide": ("medication guide",),
    "spl_patient_package_insert": ("patient information", "patient package insert"),
    "mechanism_of_action": ("mechanism of action",),
    "nonteratogenic_effects": ("non teratogenic effects",),
    "drug_and_or_laboratory_test_interactions": ("drug laboratory test interactions",),
    "females_and_males_of_reproductive_potential": ("females and males of reproductive potential",),
    "active_ingredient": ("active ingredients", "active ingredient s"),
    "purpose": ("purposes",),
    "ask_doctor": ("ask a doctor before use", "ask a doctor"),
    "ask_doctor_or_pharmacist": ("ask a doctor or pharmacist before use", "ask a doctor or pharmacist"),
    "when_using": ("when using this product",),
    "stop_use": ("stop use and ask a doctor",),
    "pregnancy_or_breast_feeding": ("if pregnant or breast feeding",),
    "other_safety_information": ("other information",),
    "questions": ("questions or comments",),
    "inactive_ingredient": ("inactive ingredients",),
    "overdosage": ("overdose",),
}
TOKEN = re.compile(r"[A-Za-z0-9]+|&")
VAGUE = frozenset({"risks", "spl_unclassified_section"})
# Fields whose name in a subsection's heading says nothing about its type ("7.1 General Information").
_VAGUE_HEADINGS = VAGUE | {"general_precautions", "precautions", "warnings", "references", "questions", "purpose",
                            "description", "components", "accessories", "alarms", "statement_of_identity"}
NUMBER = re.compile(r"\s*(\d{1,2}(?:\.\d{1,2})*\.?|[A-Z]\.)\s+")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple("and" if t == "&" else t.lower() for t in TOKEN.findall(text))


def _phrases() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Heading phrases by first word, longest first: (tokens, field)."""
    from .labels import _table

    found: dict[tuple[str, ...], str] = {}
    for kind in _table()[1].values():
        for phrase in (*_SYNONYMS.get(kind.field, ()), kind.name, kind.field.replace("_", " ")):
            found.setdefault(_tokens(phrase), kind.field)
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for tokens, name in found.items():
        if tokens:
            by_first.setdefault(tokens[0], []).append((tokens, name))
    for items in by_first.values():
        items.sort(key=lambda item: -len(item[0]))
    return by_first


_PHRASES = _phrases()


def _phrase_at(text: str, start: int, prefer: str) -> tuple[int, str] | None:
    """(end offset, field) of the longest known heading phrase at ``start``; ``prefer``'s wins ties."""
    words = [(m.group(0), m.end()) for m in TOKEN.finditer(text, start, min(len(text), start + 200))]
    if not words or TOKEN.match(text, start) is None:
        return None
    norm = tuple("and" if w == "&" else w.lower() for w, _ in words)
    best: tuple[int, int, str] | None = None
    for tokens, name in _PHRASES.get(norm[0], ()):
        if norm[:len(tokens)] == tokens:
            rank = (len(tokens), name == prefer)
            if best is None or rank > (best[0], best[2] == prefer):
                best = (len(tokens), words[len(tokens) - 1][1], name)
    return (best[1], best[2]) if best else None


def _capital_word(token: str) -> bool:
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return False
    return all(c.isupper() for c in letters) or (token[0].isupper() and sum(c.isupper() for c in letters) >= 2)


def _upper_run(text: str, start: int, brand_words: frozenset[str], most: int) -> int | None:
    """End offset of a heading in capitals at ``start`` ("WARNING: SUICIDAL THOUGHTS"), or None."""
    end, words, last_good = start, 0, None
    for match in re.finditer(r"\S+", text[start:start + 600]):
        token = match.group(0)
        has_letters = any(c.isalpha() for c in token)
        if has_letters and not _capital_word(token):
            break
        words += 1
        if words > most:
            return None
        end = start + match.end()
        if has_letters and re.sub(r"\W", "", token).lower() not in brand_words:
            last_good = end
    if last_good is None or not any(c.isalpha() and c.isupper() for c in text[start:last_good]):
        return None
    return last_good


_CONNECTORS = frozenset("of and or in with for to on at by from under vs versus de per that into during after "
                        "without within over".split())
_ARTICLES = frozenset(("the", "a", "an"))
_IMPERATIVES = frozenset("Administer Initiate Take Use Avoid Reduce Discontinue Monitor Start Give Do Consider".split())


def _title_run(text: str, start: int, brand_words: frozenset[str]) -> int | None:
    """End offset of a Title Case heading at ``start`` ("Renal Impairment" in "Renal Impairment No dose ...").

    The run of capitalised words (and small joining words: "of", "with", "of the") stops at a
    line end, at a lowercase word, or at the product's own name (unless a joining word leads to
    it: "Effect of Other Drugs on EXKIVITY"); its last capitalised word is the next sentence's
    first when a lowercase word follows ("Patient Selection | Select patients ...").
    """
    line_end = text.find("\n", start)
    stop = min(start + 300, line_end if line_end >= 0 else len(text))
    tokens = [(m.group(0), start + m.end()) for m in re.finditer(r"\S+", text[start:stop])]
    bare = [re.sub(r"^\W+|\W+$", "", token) for token, _ in tokens]
    run: list[tuple[str, int]] = []
    stopped_by_lowercase = False
    for n, (token, end) in enumerate(tokens):
        word = bare[n]
        if not word:
            break
        after_joiner = bool(run) and run[-1][0].lower() in _CONNECTORS
        if word.lower() in brand_words and run and not after_joiner:
            if run[-1][0] in _IMPERATIVES:  # "Recommended Dosage | Administer CELEXA once daily"
                run.pop()
            break
        following = bare[n + 1] if n + 1 < len(bare) else ""
        if word[0].isupper() or word[0].isdigit():
            run.append((token, end))
        elif run and (word in _CONNECTORS or (word in _ARTICLES and (
                run[-1][0] in _CONNECTORS or (following[:1].isupper() and following.lower() not in brand_words)))):
            run.append((token, end))  # "Increase the Risk of", "in the Elderly"
        else:
            stopped_by_lowercase = True
            break
        if len(run) >= 20:  # a very long title: keep its first twenty words
            break
        if token.endswith((".", ":", ";")) and not re.fullmatch(r"[A-Z]\.", token):
            break

    def drop_joiners() -> None:
        while run and run[-1][0] in _CONNECTORS | _ARTICLES:
            run.pop()

    drop_joiners()
    if stopped_by_lowercase and len(run) > 1:
        run.pop()
        drop_joiners()
    return run[-1][1] if run else None


def split_heading(text: str, field: str, brand_words: frozenset[str], own: bool) -> tuple[str, str, str] | None:
    """(heading, body, field whose type applies) at the start of a run of label text, or None.

    ``own``: the text opens its field, so the field's own heading is expected there; elsewhere
    (a run left between two cut-out subsections) a heading counts after a section number, in
    capitals, or before a capitalised word. The field's type holds unless a numbered heading
    names another section ("8.5 Geriatric Use" filed under pregnancy) or the run is not the
    field's opening.
    """
    text = text.lstrip().lstrip("•").lstrip()  # a bullet or line break left by a table before the heading
    number = NUMBER.match(text)
    numbered = bool(number and number.group(1)[0].isdigit())
    if number and not numbered and not own:
        return None  # "A." lettering is trusted only where a field opens
    start = number.end() if number else 0
    end, named = None, field
    if field == "boxed_warning" and own:
        end = _upper_run(text, start, brand_words, 30)
    if end is None:
        hit = _phrase_at(text, start, field)
        if hit is not None:
            after = text[hit[0]:].lstrip(" :.-–—")
            capital = bool(after) and (after[0].isupper() or after[0].isdigit() or after[0] in "•(-")
            if own or numbered or text[start:hit[0]].isupper() or capital:
                end, named = hit
    if numbered and not own:  # a subsection's own title is usually longer than a known name in it
        longer = _title_run(text, start, brand_words)
        if longer is not None and (end is None or longer > end):
            end = longer
    if end is None and (own or numbered):
        end = _upper_run(text, start, brand_words, 14)
    if end is None:
        return None
    if (own and not numbered) or named in _VAGUE_HEADINGS:
        named = field  # "7.1 General Information" is a part of drug interactions, not of general precautions
    heading = one_line(text[:end]).rstrip(" :.-–—")
    words = heading.split()
    half = len(words) // 2
    if len(words) >= 4 and len(words) % 2 == 0 and words[:half] == words[half:]:
        heading = " ".join(words[:half])  # a boxed warning's title printed twice (highlights and full text)
    return heading, text[end:].lstrip(" :.-–—"), named


# A numbered subsection inside a field's text: "... 2.5 Dosage in Renal Impairment ...". Not in
# brackets ("( 2.5 )", "[see (5.1)]") and followed by a capitalised word.
_SUBSECTION = re.compile(r"(?:^|(?<=\s))(?<![(\[,] )(\d{1,2})\. ?(\d{1,2})\.? (?=[A-Z])")  # "2. 3" is a typo seen in labels


def subsections(text: str, major: str) -> list[int]:
    """Offsets where numbered subsections of section ``major`` start, in increasing number order."""
    offsets, last = [], 0
    for m in _SUBSECTION.finditer(text):
        if m.group(1) == major and int(m.group(2)) > last:
            offsets.append(m.start())
            last = int(m.group(2))
    return offsets

"""What the two drug-label formats share: the section table, titles and metadata (tables: `tables.py`).

FDA labels come as openFDA JSON (`openfda.py`) and as DailyMed SPL XML (`spl.py`). Both
name their sections by LOINC code (openFDA by a field name made from the code's name);
``indexer/data/label_sections.tsv`` maps each code and field to its display name and to
our section type, or to ``-`` for parts that are not prose a reader searches (package
label panels, product data elements, the recent-changes log), or to ``leaflet`` for the
patient's leaflets (Medication Guide, Patient Information, Instructions for Use). The type
comes from this table, never from the heading's wording. The leaflets retell the whole
label in lay words in one long part; indexed, they answered questions before the section of
the label that answers them (5 of 52 tuning questions, `bench/README.md`), so they are kept in
``meta["patient_leaflets"]`` for the article page and left out of search.

Every label article carries in ``meta``: ``kind`` ("label"); ``labeler`` (the company that put the
label out, whose it is: openFDA's ``manufacturer_name``, SPL's author organisation; a repackager's own
label is the repackager's), also its ``publisher``; ``distributor`` ("DailyMed (U.S. National Library
of Medicine)", which distributes every label); ``repackaged`` (true for a repackager's or relabeler's
label: openFDA's ``original_packager_product_ndc`` or ``is_original_packager`` false, SPL's
``asEquivalentEntity``) and ``original_ndcs`` (the NDCs of the products it repackages);
``product`` (the title without its labeler: "XARELTO (rivaroxaban) tablet"); ``label_format``
(openfda or spl), ``set_id``, ``version`` (int), ``spl_id``, ``effective_time`` (YYYYMMDD) and
``updated`` (the same as an ISO date); ``application_numbers`` (["NDA022406"]: openFDA's
``application_number``, SPL's ``approval`` ids; a monograph's citation, "part341", for an OTC
label), ``product_ndcs`` and ``package_ndcs`` (openFDA's ``product_ndc`` and ``package_ndc``, SPL's
product and package codes); ``brand_names``, ``generic_names``, ``substance_names``, ``drug`` (the
first generic name), ``dosage_form``, ``routes``, ``product_type``, ``pharm_classes`` (openFDA),
``boxed_warning`` (the id of the boxed-warning section, when there is one), ``tables`` ({section id:
[table]}, each table ``{"caption", "rows", "header_rows", "footnotes"}``, its rows a rectangular grid:
`tables.py`), ``label_sections`` ({section id: {"code", "field", "type"}}: the LOINC code and openFDA
field each section came from), and ``patient_leaflets`` ([{"field", "code", "heading", "text"}]).
Keys without a value are left out. A change of these keys is a change of the index format
(`indexer/manifest.py`).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .assemble import one_line

TABLE_FILE = Path(__file__).resolve().parent.parent / "data" / "label_sections.tsv"
# DailyMed, run by the National Library of Medicine, distributes every label; the label is its labeler's.
DISTRIBUTOR = "DailyMed (U.S. National Library of Medicine)"
DAILYMED = "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid="
LEFT_OUT = "-"
LEAFLET = "leaflet"  # the patient's own leaflets (Medication Guide, Patient Information): kept in meta, not indexed
UNCLASSIFIED = "42229-5"
# Parts of a label that support its prescribing information rather than state it: pharmacology and
# pharmacokinetics, the studies, toxicology in animals, and the counselling points that retell the
# warnings. They share a question's words ("dose", "elderly", "bleeding", the condition) with the
# section that answers it, so ranking gives them a small handicap (setting ``weight_supporting``).
# Mechanism of action is not among them: it answers "how does X work".
SUPPORTING_FIELDS = frozenset({
    "clinical_pharmacology", "pharmacodynamics", "pharmacokinetics", "pharmacogenomics", "microbiology",
    "nonclinical_toxicology", "carcinogenesis_and_mutagenesis_and_impairment_of_fertility",
    "animal_pharmacology_and_or_toxicology", "clinical_studies", "information_for_patients",
})


@dataclass(frozen=True)
class SectionKind:
    """One row of the label section table."""

    code: str
    field: str
    name: str
    type: str  # a section type, or "-" for parts kept out of the index

    @property
    def indexed(self) -> bool:
        """A section of the article that search sees (not left out, not a patient leaflet)."""
        return self.type not in (LEFT_OUT, LEAFLET)

    @property
    def leaflet(self) -> bool:
        return self.type == LEAFLET


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, SectionKind], dict[str, SectionKind]]:
    by_code: dict[str, SectionKind] = {}
    by_field: dict[str, SectionKind] = {}
    with open(TABLE_FILE, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            kind = SectionKind(row["loinc"], row["field"], row["name"], row["type"])
            by_code[kind.code] = by_field[kind.field] = kind
    return by_code, by_field


def kind_of_code(code: str) -> SectionKind | None:
    """The section a LOINC code names, or None for a code the table does not know."""
    return _table()[0].get(code)


def kind_of_field(name: str) -> SectionKind | None:
    """The section an openFDA field holds (``adverse_reactions``), or None."""
    return _table()[1].get(name)


def section_type_of_code(code: str) -> str:
    """Our section type for a LOINC section code ("other" when unknown, "-" when left out)."""
    kind = kind_of_code(code)
    return kind.type if kind else "other"


# --------------------------------------------------------------------------- titles and metadata

_FORMS = (  # SPL dosage-form words, longest first, as the singular we print in titles
    ("for injection", "injection"), ("injection", "injection"), ("injectable", "injection"),
    ("tablets", "tablet"), ("tablet", "tablet"), ("capsules", "capsule"), ("capsule", "capsule"),
    ("oral solution", "solution"), ("solution", "solution"), ("suspension", "suspension"), ("syrup", "syrup"),
    ("elixir", "elixir"), ("cream", "cream"), ("ointment", "ointment"), ("lotion", "lotion"), ("gel", "gel"),
    ("transdermal system", "patch"), ("patch", "patch"), ("inhalation aerosol", "aerosol"),
    ("inhalation powder", "powder"), ("nasal spray", "spray"), ("spray", "spray"), ("powder", "powder"),
    ("granules", "granule"), ("suppositories", "suppository"), ("suppository", "suppository"),
    ("lozenge", "lozenge"), ("buccal film", "film"), ("soluble film", "film"), ("drops", "drops"), ("emulsion", "emulsion"), ("kit", "kit"),
    ("implant", "implant"), ("shampoo", "shampoo"), ("foam", "foam"), ("concentrate", "concentrate"),
)
_FORM_WORDS = re.compile(r"\b(" + "|".join(re.escape(w) for w, _ in _FORMS) + r")\b", re.IGNORECASE)
_FORM_OF = dict(_FORMS)


def form_in_text(text: str) -> str:
    """The first dosage-form word a label's own text uses ("Capsules: 40 mg" -> capsule), or ""."""
    match = _FORM_WORDS.search(text)
    return _FORM_OF[match.group(1).lower()] if match else ""


def product_title(brand: str, generic: str, form: str, substances: Sequence[str] = ()) -> str:
    """ "LIPITOR (atorvastatin calcium) tablet": what the product is, from its names (never its labeler); or ""."""
    brand, generic = one_line(brand), one_line(generic).lower()
    if not (brand or generic):  # no product name: its active substances name it
        generic = " and ".join(s.lower() for s in unique_strings(substances))
    head = brand or generic
    if brand and generic and generic != brand.lower():
        head = f"{brand} ({generic})"
    if form:
        head = f"{head} {form.lower()}" if head else form.lower()
    return head


def label_title(product: str, labeler: str, set_id: str) -> str:
    """ "LIPITOR (atorvastatin calcium) tablet, Pfizer Inc": the product first, its labeler after, never alone."""
    head = product or f"Drug label {set_id}"
    return f"{head}, {one_line(labeler)}" if one_line(labeler) else head


def iso_date(value: str) -> str:
    """YYYYMMDD (SPL and openFDA effective times) as YYYY-MM-DD; anything else as given."""
    value = (value or "").strip()
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value[:8]) else value


def as_int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def unique_strings(values: Iterable) -> list[str]:
    """Non-empty strings, first occurrence kept, in order."""
    seen: dict[str, None] = {}
    for value in values:
        text = one_line(str(value)) if value is not None else ""
        if text and text.casefold() not in {k.casefold() for k in seen}:
            seen[text] = None
    return list(seen)


def label_meta(*, label_format: str, set_id: str, version, spl_id: str, effective_time: str,
               brand_names: Sequence[str], generic_names: Sequence[str], substance_names: Sequence[str],
               labeler: str, product: str, dosage_form: str, routes: Sequence[str], product_type: str,
               application_numbers: Sequence[str] = (), product_ndcs: Sequence[str] = (),
               package_ndcs: Sequence[str] = (), original_ndcs: Sequence[str] = (), repackaged: bool = False,
               extra: dict | None = None) -> dict:
    """The ``meta`` of a label article (keys described in this module's docstring)."""
    generics = unique_strings(generic_names)
    labeler = one_line(labeler)
    meta = {
        "kind": "label", "labeler": labeler, "publisher": labeler, "distributor": DISTRIBUTOR,
        "repackaged": bool(repackaged or original_ndcs), "original_ndcs": unique_strings(original_ndcs),
        "product": product, "label_format": label_format,
        "set_id": set_id, "version": as_int(version), "spl_id": spl_id,
        "effective_time": effective_time, "updated": iso_date(effective_time),
        "application_numbers": unique_strings(application_numbers), "product_ndcs": unique_strings(product_ndcs),
        "package_ndcs": unique_strings(package_ndcs),
        "brand_names": unique_strings(brand_names), "generic_names": generics,
        "substance_names": unique_strings(substance_names),
        "drug": generics[0].lower() if generics else "",
        "dosage_form": dosage_form.lower(),
        "routes": unique_strings(r.lower() for r in routes), "product_type": product_type,
    }
    meta.update(extra or {})
    return {k: v for k, v in meta.items() if v not in ("", None, [])}


def dailymed_url(set_id: str) -> str:
    return DAILYMED + set_id

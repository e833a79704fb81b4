"""A DailyMed-like corpus for benchmarks (issue 29): real label text, repeated the way DailyMed repeats it.

    .venv/bin/python bench/dailymed_like.py --labels 1000 --seed 1 --out bench/out/dailymed-like-1k
    .venv/bin/python -m indexer build bench/out/dailymed-like-1k/release            # the full release
    .venv/bin/python -m indexer build bench/out/dailymed-like-1k/release bench/out/dailymed-like-1k/update

DailyMed holds far fewer texts than labels: every generic copies its brand's label, and repackagers
republish a manufacturer's label under their own set id. This script builds such a corpus from real
labels only, and writes it in DailyMed's distribution shape, which ``indexer/sources/dailymed.py`` reads:

- ``release/dm_spl_release_human_rx_partN.zip`` (and ``..._human_otc_partN.zip`` for OTC labels): zips
  of per-label zips, ``prescription/<YYYYMMDD>_<set id>.zip`` each holding one ``<document id>.xml``.
  A part is closed before it passes 48 MiB, so that each part fits the default ``max_source_bytes``
  (64 MiB) and its unpacking budget; DailyMed's own parts are some GB and need that setting raised.
- ``update/dm_spl_weekly_update_<YYYYMMDD>.zip``: new versions of 1% of the labels (same set id,
  version + 1, a later effective time, a few sections edited), for the "1% update" benchmark.
- ``labels.jsonl`` (one line a label: set id, version, mechanism, the label it was made from) and
  ``figures.json`` (the duplication figures, also printed).

Base labels: the SPL XML documents (``*.xml``, DailyMed's own format) and openFDA label responses
(``*.json``) of ``--source`` (default ``../shared/data/drug-labels``). openFDA has only 303 labels
there and SPL three, so an openFDA label is written as an SPL document: its sections as the openFDA
loader reads them (heading, LOINC code, paragraphs, lists and tables), its leaflets and package label
panel, and product data from its ``openfda`` block (read back by the SPL loader, a section's text is
the openFDA loader's but for tables: a cell spanning columns is written into each). Text is never invented; the mechanisms below only
move, copy or swap what a label says, or add the marked note of a later version.

Mechanisms and rates (each label is exactly one of the first three; "later version" is on top):

- original (1 label in 6, at most one per base label): a base label as it is (its real set id).
  Duke, Friedlin & Li (2013) counted 9,105 DailyMed SPLs for about 1,500 drugs, some 6 labels a drug,
  of which one carries the reference text. A third of the originals get no copies (a third of their
  drugs had one label); the others are copied with Zipf weights 1/rank (3% of their drugs had more
  than 25 labels).
- generic (55% of the rest): a copy of an original under a new set id and labeler: the brand name
  replaced by the generic name (and (R)/TM marks dropped), the labeler's name and NDC labeler code
  replaced, the inactive-ingredient list rotated (text and product data), package counts in How
  Supplied and the package label changed.
- repackaged (45% of the rest): an exact republication of an original or a generic: the same section
  texts, a new set id, a repackager as labeler (SPL author), its own NDCs, the source product named by
  ``asEquivalentEntity``, "Repackaged by" on the package label panel (not indexed). No published share
  of repackager labels was found; 45% is our assumption (Rx repackagers republish the common generics).
- later version (25% of originals and generics): the label is published at a later version (version
  + 1 to 3, later effective time, new document id) with one to three sections edited: two list items
  swapped, or a marked revision note added. Its copies keep the text they were made from, as
  generics that lag their brand do (Duke et al.: outdated post-marketing sections).

Synthetic labelers are named from a fixed list, each ending in "[synthetic]". Same arguments give
byte-identical zips (fixed member order, timestamps and compression). Passages are counted with the
indexer's own chunker (``indexer.chunking.split_text``) and the model's tokenizer file, without the model.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import io
import json
import math
import random
import re
import sys
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
SHARED_LABELS = ROOT.parent / "shared" / "data" / "drug-labels"

NS = "urn:hl7-org:v3"
_V = {"v": NS}
LOINC = "2.16.840.1.113883.6.1"
NDC = "2.16.840.1.113883.6.69"
NCI = "2.16.840.1.113883.3.26.1.1"
RX, OTC = ("34391-3", "HUMAN PRESCRIPTION DRUG LABEL"), ("34390-5", "HUMAN OTC DRUG LABEL")
PACKAGE_LABEL, HOW_SUPPLIED, STORAGE, DESCRIPTION, INACTIVE = "51945-4", "34069-5", "44425-7", "34089-3", "51727-6"
PRODUCT_DATA, UNCLASSIFIED = "48780-1", "42229-5"

ORIGINAL_SHARE = 1 / 6      # Duke et al. 2013: 9,105 SPLs for ~1,500 drugs
SINGLE_SHARE = 1 / 3        # Duke et al.: almost a third of drugs had one label
GENERIC_SHARE = 0.55        # of the labels that are not originals; the rest are repackaged
REVISED_SHARE = 0.25        # of originals and generics: published at a later version than their copies' text
UPDATE_SHARE = 0.01         # labels with a new version in the update zip
PART_BYTES = 48 * 1024 * 1024
UNPACKED_BYTES = 900 * 1024 * 1024  # under the loader's 16 x max_source_bytes
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
COUNTS = (30, 60, 90, 100, 500, 1000)

_TREES = ("Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel", "Juniper", "Larch", "Maple",
          "Oak", "Pine", "Rowan", "Spruce", "Willow", "Aspen", "Linden", "Poplar", "Sequoia")
REPACKAGERS = tuple(f"{t} Repack Services LLC [synthetic]" for t in _TREES)
GENERICS = tuple(f"{t} Generics Inc [synthetic]" for t in _TREES)


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _el(parent, tag: str, text: str | None = None, **attrs):
    el = etree.SubElement(parent, q(tag), {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


# --------------------------------------------------------------------------- base labels

@dataclass
class Base:
    """One real label as an SPL document, and what the mechanisms need to know of it."""

    name: str
    root: etree._Element
    otc: bool = False
    brand: str = ""
    generic: str = ""
    labeler: str = ""
    ndc_labeler: str = ""


def _section_xml(parent, code: str, display: str, title: str, text: str, effective: str) -> None:
    """One SPL ``<section>`` whose ``<text>`` holds a section text's paragraphs, lists and tables."""
    from indexer.blocks import blocks_of

    section = _el(_el(parent, "component"), "section")
    _el(section, "id", root=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{effective}/{code}/{title}/{len(text)}")))
    _el(section, "code", code=code, codeSystem=LOINC, displayName=display)
    if title:
        _el(section, "title", title)
    body = _el(section, "text")
    items = None
    for block in blocks_of(text):
        if block.kind == "li":
            if items is None or block.list_start:
                items = _el(body, "list", listType="unordered")
            _el(items, "item", block.text)
            continue
        items = None
        if block.kind == "p":
            _el(body, "paragraph", block.text)
            continue
        table = _el(body, "table")
        head = _el(table, "thead") if block.header_rows else None
        rows = _el(table, "tbody")
        for n, row in enumerate(block.rows):
            tr = _el(head if head is not None and n < block.header_rows else rows, "tr")
            for cell in row:
                _el(tr, "th" if n < block.header_rows else "td", cell)
    _el(section, "effectiveTime", value=effective)


def spl_from_openfda(article, raw: dict) -> etree._Element:
    """An SPL document holding an openFDA label's sections as its loader reads them, and its product data."""
    from indexer.sources.labels import kind_of_code, kind_of_field

    meta = article.meta
    otc = "OTC" in (meta.get("product_type") or "").upper()
    doc_code = OTC if otc else RX
    effective = meta.get("effective_time") or "20200101"
    root = etree.Element(q("document"), nsmap={None: NS})
    _el(root, "id", root=meta.get("spl_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, article.id)))
    _el(root, "code", code=doc_code[0], codeSystem=LOINC, displayName=doc_code[1])
    _el(root, "title", meta.get("product") or article.title)
    _el(root, "effectiveTime", value=effective)
    _el(root, "setId", root=article.id)
    _el(root, "versionNumber", value=str(meta.get("version") or 1))
    org = _el(_el(_el(root, "author"), "assignedEntity"), "representedOrganization")
    _el(org, "name", meta.get("labeler") or "")
    body = _el(_el(root, "component"), "structuredBody")

    data = _el(_el(body, "component"), "section")
    _el(data, "code", code=PRODUCT_DATA, codeSystem=LOINC, displayName="SPL PRODUCT DATA ELEMENTS SECTION")
    product = _el(_el(_el(data, "subject"), "manufacturedProduct"), "manufacturedProduct")
    for ndc in meta.get("product_ndcs", [])[:1]:
        _el(product, "code", code=ndc, codeSystem=NDC)
    _el(product, "name", (meta.get("brand_names") or [""])[0])
    _el(product, "formCode", codeSystem=NCI, displayName=(meta.get("dosage_form") or "").upper())
    _el(_el(_el(product, "asEntityWithGeneric"), "genericMedicine"), "name", (meta.get("generic_names") or [""])[0])
    for substance in meta.get("substance_names", []):
        _el(_el(_el(product, "ingredient", classCode="ACTIB"), "ingredientSubstance"), "name", substance)
    for ndc in meta.get("package_ndcs", []):
        _el(_el(_el(product, "asContent"), "containerPackagedProduct"), "code", code=ndc, codeSystem=NDC)
    for route in meta.get("routes", []):
        _el(_el(product, "consumedIn"), "substanceAdministration").append(
            etree.Element(q("routeCode"), codeSystem=NCI, displayName=route.upper()))
    for number in meta.get("application_numbers", []):
        _el(_el(_el(product, "subjectOf"), "approval"), "id", extension=number, root="2.16.840.1.113883.3.150")

    codes = meta.get("label_sections", {})
    for section in article.sections:
        code = (codes.get(section.id) or {}).get("code") or UNCLASSIFIED
        kind = kind_of_code(code)
        _section_xml(body, code, kind.name.upper() if kind else "", section.heading, section.text, effective)
    extra = [(leaflet["code"], leaflet["heading"], leaflet["text"]) for leaflet in meta.get("patient_leaflets", [])]
    for field_name in ("package_label_principal_display_panel",):
        kind = kind_of_field(field_name)
        for text in raw.get(field_name) or []:
            extra.append((kind.code, kind.name.upper(), text))
    for code, heading, text in extra:
        kind = kind_of_code(code)
        _section_xml(body, code, kind.name.upper() if kind else "", heading, text, effective)
    return root


def _describe(base: Base) -> Base:
    """Fill in a base's brand, generic, labeler and NDC labeler code from its document."""
    root = base.root
    code = root.find("v:code", _V)
    base.otc = code is not None and code.get("code") == OTC[0]
    product = root.find(".//v:manufacturedProduct/v:manufacturedProduct", _V)
    if product is None:
        product = root.find(".//v:manufacturedProduct/v:manufacturedMedicine", _V)
    if product is not None:
        name = product.find("v:name", _V)
        base.brand = " ".join((name.text or "").split()) if name is not None else ""
        generic = product.find("v:asEntityWithGeneric/v:genericMedicine/v:name", _V)
        base.generic = " ".join("".join(generic.itertext()).split()) if generic is not None else ""
        ndc = product.find("v:code", _V)
        if ndc is not None and ndc.get("codeSystem") == NDC:
            base.ndc_labeler = (ndc.get("code") or "").split("-")[0]
    org = root.find("v:author/v:assignedEntity/v:representedOrganization/v:name", _V)
    base.labeler = " ".join((org.text or "").split()) if org is not None else ""
    return base


def load_bases(sources: list[Path]) -> tuple[list[Base], list[str]]:
    """The base labels of the sources (SPL ``.xml`` and openFDA ``.json``), sorted by file, and what was skipped."""
    from indexer.sources import Skipped
    from indexer.sources.files import load_file

    files = sorted({p for s in sources for p in ([s] if s.is_file() else s.rglob("*"))
                    if p.is_file() and p.suffix in (".xml", ".json")})
    bases, skipped = [], []
    for path in files:
        if path.suffix == ".xml":
            try:
                root = etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError as exc:
                skipped.append(f"{path}: {exc}")
                continue
            if root.tag != q("document") or root.find("v:setId", _V) is None:
                skipped.append(f"{path}: not an SPL document")
                continue
            bases.append(_describe(Base(path.name, root)))
            continue
        raw_labels = json.loads(path.read_text(encoding="utf-8"))
        raw_labels = raw_labels.get("results", []) if isinstance(raw_labels, dict) else raw_labels
        raw_by_id = {r.get("set_id"): r for r in raw_labels if isinstance(r, dict)}
        for item in load_file(path):
            if isinstance(item, Skipped):
                skipped.append(f"{item.path}: {item.reason}")
                continue
            bases.append(_describe(Base(f"{path.name}#{item.id}", spl_from_openfda(item, raw_by_id.get(item.id, {})))))
    return bases, skipped


# --------------------------------------------------------------------------- transformations of a document

def _text_nodes(el, fn) -> None:
    """Apply ``fn`` to every text and tail under ``el`` (attributes untouched)."""
    for node in el.iter():
        if not isinstance(node.tag, str):
            continue
        if node.text:
            node.text = fn(node.text)
        if node is not el and node.tail:
            node.tail = fn(node.tail)


def _sections(root, codes: set[str] | None = None):
    for section in root.iterfind(".//v:structuredBody//v:section", _V):
        code = section.find("v:code", _V)
        if codes is None or (code is not None and code.get("code") in codes):
            yield section


def identify(root, set_id: str, doc_id: str, version: int, effective: str) -> None:
    """Give the document its set id, document id, version and effective time."""
    root.find("v:id", _V).set("root", doc_id)
    root.find("v:setId", _V).set("root", set_id)
    version_el = root.find("v:versionNumber", _V)
    if version_el is None:
        version_el = etree.Element(q("versionNumber"))
        root.find("v:setId", _V).addnext(version_el)
    version_el.set("value", str(version))
    root.find("v:effectiveTime", _V).set("value", effective)


def relabel(root, labeler: str, duns: str) -> None:
    """Make ``labeler`` the document's author (the label's labeler)."""
    author = root.find("v:author", _V)
    if author is None:
        author = etree.Element(q("author"))
        root.find("v:versionNumber", _V).addnext(author)
    entity = author.find("v:assignedEntity", _V)
    if entity is None:
        entity = _el(author, "assignedEntity")
    org = entity.find("v:representedOrganization", _V)
    if org is not None:
        entity.remove(org)
    org = etree.Element(q("representedOrganization"))
    entity.insert(0, org)
    _el(org, "id", extension=duns, root="1.3.6.1.4.1.519.1")
    _el(org, "name", labeler)


def _ndc_codes(root):
    return [el for el in root.iterfind(".//v:structuredBody//v:code", _V) if el.get("codeSystem") == NDC
            and el.getparent().tag != q("definingMaterialKind")]


def renumber(root, old: str, new: str, in_text: bool) -> list[str]:
    """Product and package NDCs under labeler ``new``: in the data elements, and (``in_text``) those of ``old`` in the text.

    Returns the product NDCs as they were.
    """
    products = []
    for el in _ndc_codes(root):
        code = el.get("code") or ""
        parts = code.split("-")
        if len(parts) >= 2:
            if el.getparent().tag == q("manufacturedProduct"):
                products.append(code)
            el.set("code", "-".join([new, *parts[1:]]))
    if old and in_text:
        pattern = re.compile(rf"\b{re.escape(old)}(?=-\d{{3,4}}-\d{{1,2}}\b|-\d{{3,4}}\b)")
        for section in _sections(root, {HOW_SUPPLIED, STORAGE, PACKAGE_LABEL}):
            _text_nodes(section, lambda t: pattern.sub(new, t))
    return products


def mark_repackaged(root, source_ndcs: list[str], repackager: str) -> None:
    """Name the source product (``asEquivalentEntity``) and the repackager on the package label panel."""
    for product in root.iterfind(".//v:manufacturedProduct/v:manufacturedProduct", _V):
        for ndc in source_ndcs[:1]:
            equiv = _el(product, "asEquivalentEntity", classCode="EQUIV")
            _el(equiv, "code", code="C64637", codeSystem=NCI)
            _el(_el(equiv, "definingMaterialKind"), "code", code=ndc, codeSystem=NDC)
        break
    for section in _sections(root, {PACKAGE_LABEL}):
        text = section.find("v:text", _V)
        if text is not None:
            _el(text, "paragraph", f"Repackaged by: {repackager}")
        break


def genericise(root, base: Base, labeler: str, key: str) -> None:
    """A generic's copy of a brand's text: generic name, its labeler, rotated inactive list, other package counts."""
    brand, generic = base.brand, base.generic
    swaps: list[tuple[re.Pattern, object]] = []
    if brand and generic and generic.split()[0].casefold() not in brand.casefold() \
            and brand.casefold() not in generic.casefold():
        words = r"\s+".join(re.escape(w) for w in brand.split())
        plain = generic.lower()

        def name(match: re.Match) -> str:  # as a generic's label writes it: "Efavirenz is", "with efavirenz"
            before = match.string[:match.start()].rstrip()
            return plain[:1].upper() + plain[1:] if not before or before[-1] in ".:;!?)]" else plain
        # "SUSTIVA (efavirenz)" becomes "efavirenz", not "efavirenz (efavirenz)"
        swaps.append((re.compile(rf"\b{words}\s*[\u00ae\u2122]?\s*\(\s*{re.escape(generic)}\s*\)", re.IGNORECASE), name))
        swaps.append((re.compile(rf"\b{words}\b", re.IGNORECASE), name))
    swaps.append((re.compile("[\u00ae\u2122]"), ""))
    if base.labeler:
        swaps.append((re.compile(re.escape(base.labeler)), labeler))

    def rename(text: str) -> str:
        for pattern, repl in swaps:
            text = pattern.sub(repl, text)
        return text

    body = root.find("v:component/v:structuredBody", _V)
    for section in _sections(root):
        for child in section:
            if child.tag in (q("title"), q("text")):
                _text_nodes(child, rename)
    title = root.find("v:title", _V)
    if title is not None:
        _text_nodes(title, rename)
    for product in body.iterfind(".//v:manufacturedProduct/v:manufacturedProduct", _V):
        name_el = product.find("v:name", _V)
        if name_el is not None and generic and swaps and name_el.text:
            name_el.text = rename(name_el.text)
        inactive = [i for i in product.findall("v:ingredient", _V) if i.get("classCode") == "IACT"]
        if len(inactive) > 1:  # the same ingredients in another order
            at = list(product).index(inactive[0])
            for i in inactive:
                product.remove(i)
            for n, i in enumerate(inactive[1:] + inactive[:1]):
                product.insert(at + n, i)
    listed = re.compile(r"(inactive ingredients?\b[^:.]{0,60}:\s*)([^.]+?)(\.)", re.IGNORECASE)

    def rotate(match: re.Match) -> str:
        items = [i for i in re.split(r",\s*(?:and\s+)?|\s+and\s+", match.group(2)) if i.strip()]
        if len(items) < 2:
            return match.group(0)
        items = items[1:] + items[:1]
        return match.group(1) + ", ".join(items) + match.group(3)
    for section in _sections(root, {DESCRIPTION, INACTIVE}):
        _text_nodes(section, lambda t: listed.sub(rotate, t))
    counts = re.compile(r"\b((?:bottles?|cartons?|blister packs?|boxes|packages?|cases?|vials?|packs?) of )(\d{1,4})\b",
                        re.IGNORECASE)

    def recount(match: re.Match) -> str:
        n = int(match.group(2))
        if n not in COUNTS:
            return match.group(0)
        shift = 1 + int(hashlib.sha256(f"{key}/{n}".encode()).hexdigest(), 16) % (len(COUNTS) - 1)
        return match.group(1) + str(COUNTS[(COUNTS.index(n) + shift) % len(COUNTS)])
    for section in _sections(root, {HOW_SUPPLIED, STORAGE, PACKAGE_LABEL}):
        _text_nodes(section, lambda t: counts.sub(recount, t))


def revise(root, rng: random.Random, effective: str) -> list[str]:
    """A later version's edits to one to three indexed sections: two list items swapped or a marked note added."""
    from indexer.sources.labels import kind_of_code

    candidates = []
    for section in _sections(root):
        code = section.find("v:code", _V)
        kind = kind_of_code(code.get("code", "") if code is not None else "")
        text = section.find("v:text", _V)
        if kind is not None and kind.indexed and text is not None and "".join(text.itertext()).strip():
            candidates.append(section)
    edited = []
    for section in rng.sample(candidates, min(len(candidates), 1 + rng.randrange(3))):
        text = section.find("v:text", _V)
        lists = [lst for lst in text.iterfind(".//v:list", _V) if len(lst.findall("v:item", _V)) >= 2]
        code = section.find("v:code", _V).get("code", "")
        if lists and rng.random() < 0.5:
            first, second = lists[rng.randrange(len(lists))].findall("v:item", _V)[:2]
            first.addprevious(second)  # the second item now comes first
            edited.append(f"{code}:items swapped")
        else:
            _el(text, "paragraph", f"Revised: {effective[4:6]}/{effective[:4]} [synthetic revision note].")
            edited.append(f"{code}:note added")
    for section_time in root.iterfind(".//v:structuredBody//v:section/v:effectiveTime", _V):
        section_time.set("value", effective)
    return edited


# --------------------------------------------------------------------------- the corpus plan

@dataclass
class Label:
    """One label of the corpus: how it is made (its document is built when it is written, then dropped)."""

    set_id: str
    doc_id: str
    version: int
    effective: str
    mechanism: str                  # original, generic or repackaged
    base: int                       # index of the base label whose text it carries
    source: Label | None = None     # the label it copies (as that label was before any later version)
    labeler: str = ""
    code: str = ""                  # its NDC labeler code ("" for an original)
    duns: str = ""
    later: tuple[str, str, int] | None = None   # a later version's (document id, effective time, version)
    edits: list[str] = field(default_factory=list)
    part: str = ""

    @property
    def current(self) -> tuple[str, str, int]:
        """Document id, effective time and version as published."""
        return self.later or (self.doc_id, self.effective, self.version)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _date(rng: random.Random, start: int = 2016, years: int = 8) -> str:
    return datetime.date.fromordinal(datetime.date(start, 1, 1).toordinal() + rng.randrange(365 * years)).strftime("%Y%m%d")


def _later(effective: str, rng: random.Random) -> str:
    day = datetime.date(int(effective[:4]), int(effective[4:6]), int(effective[6:8]))
    return (day + datetime.timedelta(days=30 + rng.randrange(700))).strftime("%Y%m%d")


def _version_of(root) -> int:
    el = root.find("v:versionNumber", _V)
    try:
        return int(el.get("value")) if el is not None else 1
    except (TypeError, ValueError):
        return 1


def plan(bases: list[Base], n: int, seed: int) -> list[Label]:
    """The corpus's labels, decided deterministically from the bases and the seed."""
    rng = random.Random(seed)
    order = list(range(len(bases)))
    rng.shuffle(order)
    n_orig = max(1, min(len(bases), n, round(n * ORIGINAL_SHARE)))
    labels: list[Label] = []
    for i in order[:n_orig]:
        root = bases[i].root
        effective = (root.find("v:effectiveTime", _V).get("value") or "")[:8] or _date(rng)
        labels.append(Label(root.find("v:setId", _V).get("root"), root.find("v:id", _V).get("root"),
                            _version_of(root), effective, "original", i, labeler=bases[i].labeler))
    copied = labels[round(len(labels) * SINGLE_SHARE):] or labels  # a third are never copied
    weights = [1 / (rank + 1) for rank in range(len(copied))]
    carriers: dict[int, list[Label]] = {label.base: [label] for label in labels}  # base -> brand and generics
    while len(labels) < n:
        brand = rng.choices(copied, weights)[0]
        set_id, doc_id, effective, version = _uuid(rng), _uuid(rng), _date(rng), 1 + rng.randrange(4)
        if rng.random() < GENERIC_SHARE:
            k = rng.randrange(len(GENERICS))
            label = Label(set_id, doc_id, version, effective, "generic", brand.base, brand, GENERICS[k],
                          f"{99900 + k}", f"{990000000 + k}")
            carriers[brand.base].append(label)
        else:  # a repackager takes the brand's product or a generic's
            k = rng.randrange(len(REPACKAGERS))
            label = Label(set_id, doc_id, version, effective, "repackaged", brand.base,
                          rng.choice(carriers[brand.base]), REPACKAGERS[k], f"{99800 + k}", f"{980000000 + k}")
        labels.append(label)
    for label in labels:  # later versions come after the copies were made: the copies keep the earlier text
        if label.mechanism != "repackaged" and rng.random() < REVISED_SHARE:
            effective = _later(label.effective, rng)
            label.later = (_uuid(rng), effective, label.version + 1 + rng.randrange(3))
    return labels


def document(label: Label, bases: list[Base], seed: int, published: bool = True) -> etree._Element:
    """The label's SPL document: as published, or (``published`` false) as it was when copied."""
    base = bases[label.base]
    if label.source is None:
        root = copy.deepcopy(base.root)
    else:
        root = document(label.source, bases, seed, published=False)
        source_root = root.find(".//v:manufacturedProduct/v:manufacturedProduct/v:code", _V)
        source_code = (source_root.get("code") or "").split("-")[0] if source_root is not None else ""
        identify(root, label.set_id, label.doc_id, label.version, label.effective)
        if label.mechanism == "generic":
            genericise(root, base, label.labeler, label.set_id)
        relabel(root, label.labeler, label.duns)
        source_ndcs = renumber(root, source_code, label.code, in_text=label.mechanism == "generic")
        if label.mechanism == "repackaged":
            mark_repackaged(root, source_ndcs, label.labeler)
    if published and label.later:
        doc_id, effective, version = label.later
        label.edits = revise(root, random.Random(f"{seed}/{label.set_id}/{version}"), effective)
        identify(root, label.set_id, doc_id, version, effective)
    return root


def updates(labels: list[Label], seed: int) -> list[Label]:
    """New versions of 1% of the labels (at least one): a week of DailyMed's updates."""
    rng = random.Random(seed * 7919 + 1)
    chosen = sorted(rng.sample(range(len(labels)), max(1, math.ceil(len(labels) * UPDATE_SHARE))))
    latest = max(label.current[1] for label in labels)
    out = []
    for i in chosen:
        old = labels[i]
        doc_id, _, version = old.current
        new = copy.copy(old)
        new.edits = []
        new.later = None
        new.source = old  # built as the published label, then edited once more
        new.mechanism = "update"
        new.later = (_uuid(rng), _later(latest, rng), version + 1)
        out.append(new)
    return out


def updated_document(label: Label, bases: list[Base], seed: int) -> etree._Element:
    """An update's document: its label as published, one version on, with a few sections edited."""
    root = document(label.source, bases, seed)
    doc_id, effective, version = label.later
    label.edits = revise(root, random.Random(f"{seed}/{label.set_id}/{version}"), effective)
    identify(root, label.set_id, doc_id, version, effective)
    return root


# --------------------------------------------------------------------------- writing zips

def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def label_zip(label: Label, root) -> tuple[str, bytes, int]:
    """One label's zip as DailyMed names it (``<effective>_<set id>.zip``), its bytes, and its XML's size."""
    doc_id, effective, _ = label.current
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr(_info(f"{doc_id}.xml"), xml, compresslevel=6)
    return f"{effective}_{label.set_id}.zip", buffer.getvalue(), len(xml)


def write_zips(labels: list[Label], bases: list[Base], build, folder: Path, name) -> list[Path]:
    """Zips of label zips, Rx and OTC apart, in set-id order, a new part before ``PART_BYTES``.

    ``build`` makes a label's document (each is written and dropped); ``name(kind, part)`` names a part.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind, inner_folder in (("rx", "prescription"), ("otc", "otc")):
        group = sorted((lb for lb in labels if bases[lb.base].otc == (kind == "otc")), key=lambda lb: lb.set_id)
        part, size, unpacked, archive = 0, 0, 0, None
        for label in group:
            member, data, xml_size = label_zip(label, build(label))
            if archive is None or size + len(data) > PART_BYTES or unpacked + len(data) + xml_size > UNPACKED_BYTES:
                if archive is not None:
                    archive.close()
                part += 1
                paths.append(folder / name(kind, part))
                archive = zipfile.ZipFile(paths[-1], "w")
                size = unpacked = 0
            archive.writestr(_info(f"{inner_folder}/{member}"), data, compress_type=zipfile.ZIP_STORED)
            size += len(data)
            unpacked += len(data) + xml_size
            label.part = paths[-1].name
        if archive is not None:
            archive.close()
    return paths


# --------------------------------------------------------------------------- figures

def token_counter():
    """Model-token counts from the model's tokenizer file alone (the model itself is not loaded)."""
    from tokenizers import Tokenizer

    from indexer.embedding.models import DEFAULT_MODEL, resolve_model_path

    tokenizer = Tokenizer.from_file(str(resolve_model_path(DEFAULT_MODEL) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    known: dict[str, int] = {}  # copies share most sentences: each is counted once

    def count(texts) -> list[int]:
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, (len(e.ids) for e in tokenizer.encode_batch(missing, add_special_tokens=False))))
        return [known[t] for t in texts]
    return count


def _digest(text: str) -> bytes:
    """The normalised text's digest: whitespace collapsed, case folded."""
    return hashlib.blake2b(" ".join(text.split()).casefold().encode(), digest_size=16).digest()


def read_back(paths: list[Path]):
    """Every article and every skip of the zips, as the indexer's DailyMed loader reads them, one at a time."""
    from indexer.sources.dailymed import load_dailymed_zip
    from indexer.sources.files import MAX_SOURCE_BYTES

    for path in paths:
        with open(path, "rb") as fh:
            yield from load_dailymed_zip(path, fh, MAX_SOURCE_BYTES)


class Figures:
    """Repeated sections and passages before and after de-duplication, gathered one article at a time."""

    def __init__(self, count=None):
        from indexer.chunking import ChunkSettings

        self.count = count or token_counter()
        self.settings = ChunkSettings()
        self.sections: Counter[bytes] = Counter()
        self.labels: Counter[bytes] = Counter()
        self.chunks: dict[tuple[bytes, int], int] = {}
        self.distinct: set[bytes] = set()
        self.before = self.articles = 0

    def add(self, article) -> None:
        from indexer.chunking import split_text
        from indexer.models import context_prefix

        self.articles += 1
        digests = []
        for section in article.sections:
            digest = _digest(section.text)
            digests.append(digest)
            self.sections[digest] += 1
            # The passage budget leaves room for "title: heading" (indexer.chunking.passages_for).
            context = self.count([context_prefix(article.title, section.heading)])[0]
            budget = max(32, min(self.settings.chunk_tokens, self.settings.max_seq_length - 2 - context))
            key = (hashlib.blake2b(section.text.encode(), digest_size=16).digest(), budget)
            if key not in self.chunks:
                chunks = split_text(section.text, budget, self.settings.overlap_tokens, self.count)
                self.chunks[key] = len(chunks)
                self.distinct.update(_digest(c) for c in chunks)
            self.before += self.chunks[key]
        self.labels[hashlib.blake2b(b"".join(digests), digest_size=16).digest()] += 1

    def result(self) -> dict:
        total = sum(self.sections.values())
        return {
            "labels_read": self.articles, "sections": total, "distinct_sections": len(self.sections),
            "share_of_sections_repeated": round(sum(k for k in self.sections.values() if k > 1) / max(1, total), 4),
            "labels_whose_section_texts_all_repeat_another_label": sum(k for k in self.labels.values() if k > 1),
            "passages_before_dedup": self.before, "passages_after_dedup": len(self.distinct),
            "passages_per_label": round(self.before / max(1, self.articles), 1),
            "dedup_ratio": round(self.before / max(1, len(self.distinct)), 2),
        }


def plan_figures(labels: list[Label]) -> dict:
    """Labels per mechanism, and how many labels carry each base text (Duke et al.'s buckets)."""
    per_base = Counter(label.base for label in labels)
    buckets = Counter("1" if k == 1 else "2-5" if k <= 5 else "6-25" if k <= 25 else ">25" for k in per_base.values())
    return {"mechanisms": dict(sorted(Counter(label.mechanism for label in labels).items())),
            "later_versions": sum(1 for label in labels if label.later),
            "base_texts": len(per_base),
            "base_texts_by_labels_carrying_them": {k: buckets.get(k, 0) for k in ("1", "2-5", "6-25", ">25")}}


def manifest(labels: list[Label]) -> str:
    rows = []
    for lb in labels:
        doc_id, effective, version = lb.current
        rows.append({"set_id": lb.set_id, "version": version, "document_id": doc_id, "effective_time": effective,
                     "mechanism": lb.mechanism, "source_set_id": lb.source.set_id if lb.source else "",
                     "labeler": lb.labeler, "later_version_edits": lb.edits, "part": lb.part})
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in sorted(rows, key=lambda r: r["set_id"]))


def generate(sources: list[Path], n: int, seed: int, out: Path, stats: bool = True) -> dict:
    """Write the release, the update and the manifests under ``out``; return the figures (with ``stats``)."""
    bases, skipped = load_bases(sources)
    if not bases:
        raise SystemExit(f"no base labels (SPL .xml or openFDA .json) under {', '.join(map(str, sources))}")
    labels = plan(bases, n, seed)
    for folder in (out / "release", out / "update"):
        for stale in folder.glob("*.zip") if folder.is_dir() else ():
            stale.unlink()
    release = write_zips(labels, bases, lambda lb: document(lb, bases, seed), out / "release",
                         lambda kind, part: f"dm_spl_release_human_{kind}_part{part}.zip")
    updated = updates(labels, seed)
    week = min(u.current[1] for u in updated)
    update = write_zips(updated, bases, lambda lb: updated_document(lb, bases, seed), out / "update",
                        lambda kind, part: f"dm_spl_weekly_update_{week}_human_{kind}"
                                           + (f"_part{part}" if part > 1 else "") + ".zip")
    (out / "labels.jsonl").write_text(manifest(labels), encoding="utf-8")
    (out / "update.jsonl").write_text(manifest(updated), encoding="utf-8")
    result = {"labels_requested": n, "seed": seed, "base_labels": len(bases), "base_labels_skipped": skipped,
              "release_files": [p.name for p in release], "update_files": [p.name for p in update],
              "release_bytes": sum(p.stat().st_size for p in release),
              "update_bytes": sum(p.stat().st_size for p in update), "update_labels": len(updated),
              **plan_figures(labels)}
    if stats:
        from indexer.sources import Skipped

        gathered, bad = Figures(), []
        for item in read_back(release):
            if isinstance(item, Skipped):
                bad.append(f"{item.path}: {item.reason}")
            else:
                gathered.add(item)
        result["skipped_by_loader"] = bad
        result.update(gathered.result())
    (out / "figures.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=1000, help="labels in the release (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="folder for release/, update/ and the figures")
    parser.add_argument("--source", type=Path, action="append",
                        help=f"SPL .xml / openFDA .json files or folders (default {SHARED_LABELS})")
    parser.add_argument("--no-stats", action="store_true", help="write the zips only (no read-back, no figures)")
    args = parser.parse_args(argv)
    if args.labels < 1:
        parser.error("--labels must be at least 1")
    sources = args.source or [SHARED_LABELS]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        parser.error(f"source not found: {', '.join(missing)}")
    started = time.perf_counter()
    result = generate(sources, args.labels, args.seed, args.out, stats=not args.no_stats)
    print(json.dumps(result, indent=1))
    print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

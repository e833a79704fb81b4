"""DailyMed Structured Product Labeling: one HL7 v3 SPL ``.xml`` document, one label article.

Sections nest (``component/section``) and each carries a LOINC ``code``; its type comes from
that code (`labels.py`), and an unclassified subsection (42229-5, "2.5 Dosage in Renal
Impairment") takes its parent's. A section with a title and text of its own is a section of the
article; an untitled subsection's text joins its titled parent; an untitled top-level section
(a boxed warning often has no title) is headed by its code's name. A non-numbered subsection's
heading keeps its parents' in front ("WARNINGS: Do not use"), so "Children" under "DOSAGE AND
ADMINISTRATION" still says what it is. Highlights (``excerpt``), package label panels, product
data are left out; the patient leaflets go to ``meta["patient_leaflets"]`` and the recent-changes
list to ``meta["recent_major_changes"]``, for the label's page, not to search. Tables become their grid of rows ("cell | cell", merged cells filled
in, `tables.py`) in the text and ``meta["tables"]``. The OTC "Drug Facts" sections (active ingredient, purpose,
uses, warnings and their do-not-use / ask-a-doctor / stop-use parts, directions) are sections
like any other, typed by their codes.

The title is made from the product, never from the document's ``<title>`` (often the start of
the highlights, or missing): "LIPITOR (atorvastatin calcium) tablet, film coated, Pfizer Inc".
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from indexer.errors import BadArticle
from indexer.history import RECENT_CHANGES
from indexer.models import Article, Section

from .assemble import _unique, clean, one_line, slugify
from .labels import UNCLASSIFIED, as_int, dailymed_url, kind_of_code, label_meta, label_title, product_title
from .tables import Table, TableTooLarge, flat_text, read_table

NS = "urn:hl7-org:v3"
_V = {"v": NS}
NDC = "2.16.840.1.113883.6.69"  # the code system of National Drug Codes
SAME = "C64637"  # asEquivalentEntity's code for "the same product as": a repackaged or relabeled one
_BLOCKS = frozenset({"paragraph", "list", "table", "item", "caption"})
_NUMBERED = re.compile(r"^\s*\d{1,2}(\.\d{1,2})*\.?\s")


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _text_of(el, tables: list) -> str:
    """Readable text of an SPL ``<text>``: paragraphs apart, list items and table rows one a line."""
    out: list[str] = []
    line: list[str] = []

    def flush(gap: str = "\n\n") -> None:
        text = one_line("".join(line))
        line.clear()
        if text:
            out.append(text)
            out.append(gap)

    def walk(node) -> None:
        name = _local(node)
        if name == "table":
            flush()
            try:
                table = read_table(node)
            except TableTooLarge:
                out.append(flat_text(node))  # its words, without a grid no reader could use
                out.append("\n\n")
                table = None
            if table is not None and table.rows:
                tables.append(table)
                out.append(table.text())
                out.append("\n\n")
            if node.tail:
                line.append(node.tail)
            return
        if name in ("renderMultiMedia", "footnoteRef"):
            if node.tail:
                line.append(node.tail)
            return
        if name in ("paragraph", "list", "item", "caption") or name == "br":
            flush("\n" if name in ("item", "br") else "\n\n")
        if node.text:
            line.append(node.text)
        for child in node:
            walk(child)
        if name in _BLOCKS:
            flush("\n" if name == "item" else "\n\n")
        if node.tail:
            line.append(node.tail)

    if el.text:
        line.append(el.text)
    for child in el:
        walk(child)
    flush()
    return clean("".join(out))


# What ``_text_of`` made of each distinct ``<text>`` of a section's own text, by a digest of the element's markup:
# DailyMed's generics and repackagers repeat their source's sections tag for tag, and walking one costs many times
# what serialising and hashing it does. The oldest are forgotten past ``_MOST_KNOWN`` (a few kB each).
_KNOWN: OrderedDict[bytes, tuple[str, tuple[Table, ...]]] = OrderedDict()
_MOST_KNOWN = 50_000


def _known_text_of(el, tables: list) -> str:
    """``_text_of(el, tables)``, worked out once per distinct markup of ``el``.

    Only for an element nothing else reads (a section's own ``<text>``): reading a table changes its element
    (``tables.read_table``), which a second reader would see, and a known one is not read at all.
    """
    key = hashlib.blake2b(etree.tostring(el, with_tail=False), digest_size=16).digest()
    found = _KNOWN.get(key)
    if found is None:
        made: list[Table] = []
        found = (_text_of(el, made), tuple(made))
        _KNOWN[key] = found
        if len(_KNOWN) > _MOST_KNOWN:
            _KNOWN.popitem(last=False)
    tables.extend(found[1])
    return found[0]


def _title_of(section) -> str:
    title = section.find("v:title", _V)
    return one_line("".join(title.itertext())) if title is not None else ""


class _Walker:
    def __init__(self):
        self.sections: list[Section] = []
        self.tables: dict[str, list[dict]] = {}
        self.codes: dict[str, dict] = {}
        self.used: set[str] = set()
        self.boxed: str | None = None
        self.leaflets: list[dict] = []
        self.recent: dict | None = None  # the label's "Recent Major Changes" list, for its page (not searched)

    def _all_text(self, section) -> str:
        """A leaflet's whole text: its own, then each part's title and text, in order."""
        parts = []
        text = section.find("v:text", _V)
        if text is not None:
            parts.append(_known_text_of(text, []))
        for child in section.findall("v:component/v:section", _V):
            title, body = _title_of(child), self._all_text(child)
            parts.append(f"{title}\n\n{body}" if title and body else title or body)
        return "\n\n".join(p for p in parts if p)

    def _own_text(self, section, tables: list) -> str:
        """The section's text, with the text of its untitled subsections (they have no heading of their own)."""
        parts = []
        text = section.find("v:text", _V)
        if text is not None:
            parts.append(_known_text_of(text, tables))
        for child in section.findall("v:component/v:section", _V):
            code = child.find("v:code", _V)
            kind = kind_of_code(code.get("code", "") if code is not None else "")
            if not _title_of(child) and not (kind is not None and not kind.indexed):
                parts.append(self._own_text(child, tables))
        return "\n\n".join(p for p in parts if p)

    def walk(self, section, parents: list[str], parent_type: str | None, top: bool) -> None:
        code_el = section.find("v:code", _V)
        code = code_el.get("code", "") if code_el is not None else ""
        kind = kind_of_code(code)
        if kind is not None and kind.leaflet:
            self.leaflets.append({"field": kind.field, "code": code, "heading": _title_of(section) or kind.name,
                                  "text": self._all_text(section)})
            return
        if kind is not None and kind.field == RECENT_CHANGES:  # its text sits in the highlights' excerpt
            texts = [_text_of(el, []) for el in (section.find("v:text", _V),
                                                 section.find("v:excerpt/v:highlight/v:text", _V)) if el is not None]
            text = "\n\n".join(t for t in texts if t)
            if text and self.recent is None:
                self.recent = {"code": code, "heading": kind.name, "text": text}
            return
        if kind is not None and not kind.indexed:
            return
        title = _title_of(section)
        if not title and not top:
            return  # joined to its titled parent's text
        if kind is None or kind.code == UNCLASSIFIED:
            type_ = parent_type or "other"
        else:
            type_ = kind.type
        if not title:  # a top-level section with no title: its code names it
            title = kind.name if kind is not None and kind.code != UNCLASSIFIED else "Other information"
        heading = title if (_NUMBERED.match(title) or not parents) else ": ".join([*parents, title])
        tables: list = []
        text = self._own_text(section, tables)
        if text:
            base = (kind.field if kind is not None and kind.code != UNCLASSIFIED else "") or slugify(title)
            section_id = _unique(slugify(base) or "section", self.used)
            self.sections.append(Section(id=section_id, heading=heading, text=text, section_type=type_))
            self.codes[section_id] = {"code": code, "field": kind.field if kind else "", "type": type_}
            if tables:
                self.tables[section_id] = [t.to_meta() for t in tables]
            if kind is not None and kind.field == "boxed_warning" and self.boxed is None:
                self.boxed = section_id
        chain = [] if _NUMBERED.match(title) else [*parents, title]
        for child in section.findall("v:component/v:section", _V):
            self.walk(child, chain, type_, top=False)


def _product(doc) -> dict:
    """Brand, generic, substances, form and routes of the document's first product."""
    product = doc.find(".//v:manufacturedProduct/v:manufacturedProduct", _V)
    if product is None:
        product = doc.find(".//v:manufacturedProduct/v:manufacturedMedicine", _V)
    found: dict[str, Any] = {"brand": "", "generic": "", "form": "", "substances": [], "routes": []}
    if product is None:
        return found
    name = product.find("v:name", _V)
    if name is not None:
        found["brand"] = one_line(name.text or "")  # without its <suffix> ("Childrens Night Time ...")
    generic = product.find("v:asEntityWithGeneric/v:genericMedicine/v:name", _V)
    found["generic"] = one_line("".join(generic.itertext())) if generic is not None else ""
    form = product.find("v:formCode", _V)
    found["form"] = (form.get("displayName") or "") if form is not None else ""
    for ingredient in product.findall("v:ingredient", _V):
        if (ingredient.get("classCode") or "").startswith("ACT"):
            substance = ingredient.find("v:ingredientSubstance/v:name", _V)
            if substance is not None:
                found["substances"].append(one_line(substance.text or ""))
    found["routes"] = [r.get("displayName") or "" for r in doc.iterfind(".//v:routeCode", _V)]
    return found


def _codes(doc) -> dict[str, list[str]]:
    """Application numbers, product and package NDCs, and the NDCs a repackaged product came as, of every product.

    An application number is an ``approval``'s id ("NDA020702"; an OTC monograph's citation, "part341");
    a repackager's or relabeler's product names its source by ``asEquivalentEntity`` (code "same").
    """
    def codes(path: str) -> list[str]:
        return [one_line(el.get("code") or "") for el in doc.iterfind(path, _V) if el.get("codeSystem") == NDC]

    products = ".//v:manufacturedProduct/v:manufacturedProduct/v:code"
    medicines = ".//v:manufacturedProduct/v:manufacturedMedicine/v:code"
    source = [one_line(el.get("code") or "")
              for equiv in doc.iterfind(".//v:asEquivalentEntity", _V)
              if (equiv.get("classCode") or "EQUIV") == "EQUIV"
              and ((code := equiv.find("v:code", _V)) is None or code.get("code") in (SAME, None))
              for el in equiv.iterfind("v:definingMaterialKind/v:code", _V) if el.get("codeSystem") == NDC]
    return {"applications": [one_line(el.get("extension") or "") for el in doc.iterfind(".//v:approval/v:id", _V)],
            "products": codes(products) + codes(medicines),
            "packages": codes(".//v:containerPackagedProduct/v:code"), "source": source}


def load_spl(path: Path, text: str) -> Iterator[Article]:
    """One label article from a DailyMed SPL XML document."""
    # lxml refuses str input that still declares its encoding; the text is decoded already.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        root = etree.fromstring(text, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise BadArticle(str(path), f"malformed XML: {exc}") from None
    if etree.QName(root).namespace != NS or _local(root) != "document":
        raise BadArticle(str(path), f"not an SPL document (root element {root.tag!r}, expected "
                                    f"{{{NS}}}document)")
    set_id_el = root.find("v:setId", _V)
    set_id = (set_id_el.get("root") or "").strip() if set_id_el is not None else ""
    if not set_id:
        raise BadArticle(str(path), "SPL document has no setId")
    body = root.find("v:component/v:structuredBody", _V)
    walker = _Walker()
    if body is not None:
        for section in body.findall("v:component/v:section", _V):
            walker.walk(section, [], None, top=True)
    if not walker.sections:
        raise BadArticle(str(path), f"label {set_id}: no label text (only package panels and data elements)")
    product = _product(root)
    codes = _codes(root)
    org = root.find("v:author/v:assignedEntity/v:representedOrganization/v:name", _V)
    labeler = one_line(org.text or "") if org is not None else ""
    version_el = root.find("v:versionNumber", _V)
    version = version_el.get("value") if version_el is not None else None
    if version is not None and as_int(version) is None:  # an unreadable version must never win over a readable one
        raise BadArticle(str(path), f"label {set_id}: versionNumber {one_line(version)[:40]!r} "
                                    "is not a whole number")
    effective = root.find("v:effectiveTime", _V)
    doc_id = root.find("v:id", _V)
    doc_code = root.find("v:code", _V)
    name = product_title(product["brand"], product["generic"], product["form"], product["substances"])
    meta = label_meta(
        label_format="spl", set_id=set_id, version=version,
        spl_id=(doc_id.get("root") or "") if doc_id is not None else "",
        effective_time=(effective.get("value") or "") if effective is not None else "",
        brand_names=[product["brand"]], generic_names=[product["generic"]], substance_names=product["substances"],
        labeler=labeler, product=name, dosage_form=product["form"], routes=product["routes"],
        product_type=(doc_code.get("displayName") or "") if doc_code is not None else "",
        application_numbers=codes["applications"], product_ndcs=codes["products"], package_ndcs=codes["packages"],
        original_ndcs=codes["source"],
        extra={"boxed_warning": walker.boxed, "tables": walker.tables, "label_sections": walker.codes,
               "patient_leaflets": walker.leaflets,
               "document_title": _title_of(root)},
    )
    if walker.recent:
        meta[RECENT_CHANGES] = walker.recent
    title = label_title(name, labeler, set_id)
    yield Article(id=set_id, title=title, url=dailymed_url(set_id), sections=tuple(walker.sections),
                  source_path=str(path), meta=meta)

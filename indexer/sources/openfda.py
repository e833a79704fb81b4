"""openFDA drug labels: ``.json`` label responses and the bulk download's ``.json.zip`` files.

A response is ``{"meta": ..., "results": [label, ...]}`` (a bare ``[label, ...]`` is read too);
labels are streamed one at a time with ijson, so a bulk file of thousands of labels never
sits in memory whole. Each label becomes one article (see `labels.py` for its ``meta``):

- id: the label's set id (stable across versions); url: its DailyMed page.
- sections: the label's fields in the order openFDA gives them (the label's order), each
  field's heading read from the start of its own text ("6 ADVERSE REACTIONS", "Nursing
  Mothers"), its type from the field name. openFDA repeats a subsection's text inside its
  parent ("8 USE IN SPECIFIC POPULATIONS" holds "8.1 Pregnancy"): the repeat is cut out of
  the parent, which keeps only its own words, and numbered subsections inside one field
  ("2.5 Dosage in Renal Impairment") become sections of their own.
- tables: openFDA flattens every ``*_table`` into the prose; there it is replaced by readable
  rows ("cell | cell"), and its structure goes to ``meta["tables"]`` for the page.
- left out: package label panels, product data elements, the recent-changes log, ids; the patient
  leaflets (Medication Guide, Patient Information) go to ``meta["patient_leaflets"]``, not to search.
"""
from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import ijson
import lxml.html
from lxml import etree

from indexer.errors import BadArticle
from indexer.models import Article, Section

from .assemble import Skipped, _unique, clean, one_line, slugify
from .labels import (Table, dailymed_url, flat_text, form_in_text, kind_of_field, label_meta, label_title,
                     read_table)
from .openfda_headings import NUMBER, TOKEN, VAGUE, split_heading, subsections

_NOT_SECTIONS = frozenset({"set_id", "id", "version", "effective_time", "openfda"})
_NO_LABELS = "openFDA response with no labels"
_SMALL_FILE = 10 << 20  # an empty or foreign response this small is read whole to say what it is

class _Builder:
    """Turns one openFDA label into sections, cutting repeats and numbering subsections."""

    def __init__(self, label: dict, brand_words: frozenset[str]):
        self.label, self.brand_words = label, brand_words
        self.sections: list[Section] = []
        self.codes: dict[str, dict] = {}
        self.used: set[str] = set()

    def add(self, heading: str, body: str, field: str, base: str) -> None:
        body = clean(body)
        if not re.search(r"[A-Za-z]{2}", body):
            return  # a grouping heading, or a bracketed cross-reference left by a cut
        kind = kind_of_field(field)
        type_ = kind.type if kind else "other"
        section_id = _unique(slugify(base) or "section", self.used)
        self.sections.append(Section(id=section_id, heading=heading, text=body, section_type=type_))
        self.codes[section_id] = {"code": kind.code if kind else "", "field": field, "type": type_}

    def piece(self, text: str, field: str, own: bool, fallback: str, major: str | None) -> None:
        """One run of a field's text: its heading, then the numbered subsections of ``major`` in it."""
        found = split_heading(text, field, self.brand_words, own)
        heading, body, named = found if found is not None else (fallback, text, field)
        cuts = subsections(body, major) if major else []
        base = field if own or found is None else slugify(heading)
        self.add(heading, body[:cuts[0]] if cuts else body, named, base)
        for i, cut in enumerate(cuts):
            self.piece_sub(body[cut:cuts[i + 1] if i + 1 < len(cuts) else len(body)], field, heading)

    def piece_sub(self, text: str, field: str, parent_heading: str) -> None:
        """A numbered subsection cut from its field's text ("2.5 Dosage in Renal Impairment ...")."""
        found = split_heading(text, field, self.brand_words, own=False)
        heading, body, named = found if found is not None else (parent_heading, text, field)
        self.add(heading, body, named, slugify(heading) or field)


def _field_items(label: dict, tables: list[tuple[Table, str]], leaflets: bool = False) -> list[tuple[str, str]]:
    """(field, text) of every prose item, in label order, tables as rows, exact repeats dropped.

    ``leaflets``: the patient leaflets' items instead of the indexed ones.
    """
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in label.items():
        if name in _NOT_SECTIONS or name.endswith("_table"):
            continue
        kind = kind_of_field(name)
        if leaflets != bool(kind is not None and kind.leaflet) or (kind is not None and not kind.indexed
                                                                   and not kind.leaflet):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            text = " ".join(item.split())
            for table, flat in tables:
                at = text.find(flat)
                if at >= 0:
                    text = f"{text[:at]}\n\n{table.text()}\n\n{text[at + len(flat):]}"  # a block of its own
            if text and text not in seen:
                seen.add(text)
                items.append((name, text))
    return items


def _tables(label: dict) -> list[tuple[Table, str]]:
    """Every table of a label with the flattened form openFDA put into its prose."""
    found: list[tuple[Table, str]] = []
    seen: set[str] = set()
    for name, value in label.items():
        if not name.endswith("_table") or not isinstance(value, list):
            continue
        for html in value:
            if not isinstance(html, str) or "<" not in html:
                continue
            try:
                el = lxml.html.fragment_fromstring(html, create_parent=False) if html.lstrip().startswith("<table") \
                    else lxml.html.fragment_fromstring(html, create_parent="div")
            except (etree.ParserError, ValueError):
                continue
            flat = flat_text(el)
            if len(flat) < 8 or flat in seen:
                continue
            seen.add(flat)
            table = read_table(el)
            if table.rows:
                found.append((table, flat))
    # Longer tables first: a short table's text can sit inside a longer one's.
    found.sort(key=lambda item: -len(item[1]))
    return found


def _label_order(items: list[tuple[str, str]], roots: list[int]) -> list[int]:
    """Top-level items in the label's order: by section number when the label is numbered.

    openFDA keeps most labels' fields in label order, but not all ("7 DRUG INTERACTIONS" can
    come first); unnumbered labels keep the order given.
    """
    def number(i: int) -> tuple[int, ...] | None:
        match = NUMBER.match(items[i][1])
        if match and match.group(1)[0].isdigit():
            return tuple(int(p) for p in match.group(1).rstrip(".").split("."))
        return None

    if sum(number(i) is not None for i in roots) < 3:
        return roots
    from .labels import _table

    rank = {name: n for n, name in enumerate(_table()[1])}

    def key(i: int) -> tuple[int, ...]:
        found = number(i)
        if found is not None:
            return found
        name = items[i][0]  # unnumbered: the boxed warning first, the patient leaflets after section 17
        return (-1,) if name == "boxed_warning" else (1000 + rank.get(name, len(rank)),)

    return sorted(roots, key=key)


def _sections(label: dict, brand_words: frozenset[str]) -> tuple[list[Section], dict, dict, list[dict]]:
    tables = _tables(label)
    items = _field_items(label, tables)
    leaflets = []
    for name, text in _field_items(label, tables, leaflets=True):
        kind = kind_of_field(name)
        found = split_heading(text, name, brand_words, own=True)
        heading, body = (found[0], found[1]) if found else (kind.name, text)
        leaflets.append({"field": name, "code": kind.code, "heading": heading, "text": clean(body)})
    # The smallest item that holds another's text is its parent; the child is cut out of it.
    # A nested part openFDA files under a vague field ("Risk Summary" as ``risks`` inside "8.1
    # Pregnancy") stays in its parent: cut out, it would lose its parent's heading and type.
    parent: dict[int, int] = {}
    inside: set[int] = set()
    for i, (name, text) in enumerate(items):
        holders = [j for j, (_, other) in enumerate(items) if j != i and len(other) > len(text) and text in other]
        if holders and name in VAGUE:
            inside.add(i)
        elif holders:
            parent[i] = min((j for j in holders), key=lambda j: len(items[j][1]))
    for i in inside:  # a vague part may also have been chosen as a holder: its children move up
        for child, holder in list(parent.items()):
            if holder == i:
                del parent[child]
                rest = [j for j, (_, other) in enumerate(items)
                        if j not in inside and j != child and len(other) > len(items[child][1]) and items[child][1] in other]
                if rest:
                    parent[child] = min(rest, key=lambda j: len(items[j][1]))
    children: dict[int, list[int]] = {}
    for child, holder in parent.items():
        children.setdefault(holder, []).append(child)
    builder = _Builder(label, brand_words)

    def emit(i: int, major: str | None) -> None:
        name, text = items[i]
        kind = kind_of_field(name)
        fallback = kind.name if kind else name.replace("_", " ").capitalize()
        spans = sorted((text.find(items[c][1]), c) for c in children.get(i, ()))
        cursor, first = 0, True
        own_number = NUMBER.match(text)
        mine = own_number.group(1).rstrip(".") if own_number and own_number.group(1)[0].isdigit() else None
        if mine and "." not in mine:
            major = mine
        for at, child in spans:
            if at < cursor:  # overlaps an earlier child: keep it whole below, cut nothing
                emit(child, major)
                continue
            if at > cursor or first:
                builder.piece(text[cursor:at], name, first, fallback, major)
            first = False
            emit(child, major)
            cursor = at + len(items[child][1])
        if cursor < len(text) or first:
            builder.piece(text[cursor:], name, first, fallback, major)

    for i in _label_order(items, [i for i in range(len(items)) if i not in parent and i not in inside]):
        emit(i, None)
    sections = builder.sections
    table_meta: dict[str, list[dict]] = {}
    for table, _ in tables:
        rows = table.text()
        holder = next((s.id for s in sections if rows in s.text), None)
        if holder is not None:
            table_meta.setdefault(holder, []).append(table.to_meta())
    return sections, table_meta, builder.codes, leaflets


def _first(values) -> str:
    if isinstance(values, list):
        return str(values[0]) if values else ""
    return str(values or "")


def label_article(label: dict, where: str) -> Article:
    """One article from one openFDA label object; BadArticle when it has no set id or no text."""
    if not isinstance(label, dict):
        raise BadArticle(where, "label is not a JSON object")
    set_id = label.get("set_id") or _first((label.get("openfda") or {}).get("spl_set_id"))
    if not isinstance(set_id, str) or not set_id.strip():
        raise BadArticle(where, "label has no set_id")
    set_id = set_id.strip()
    names = label.get("openfda") or {}
    brands = [str(b) for b in names.get("brand_name") or []]
    generics = [str(g) for g in names.get("generic_name") or []]
    brand_words = frozenset(w.lower() for b in brands for w in TOKEN.findall(b))
    sections, tables, codes, leaflets = _sections(label, brand_words)
    if not sections:
        raise BadArticle(where, f"label {set_id}: no label text (only package panels and data elements)")
    form_text = " ".join(s.text[:300] for s in sections if codes[s.id]["field"] == "dosage_forms_and_strengths")
    form = form_in_text(form_text) or form_in_text(" ".join(label.get("package_label_principal_display_panel") or [])[:600])
    manufacturer = _first(names.get("manufacturer_name"))
    title = label_title(_first(brands), _first(generics), form, manufacturer) or f"Drug label {set_id}"
    boxed = next((s.id for s in sections if codes[s.id]["field"] == "boxed_warning"), None)
    meta = label_meta(
        label_format="openfda", set_id=set_id, version=label.get("version"), spl_id=str(label.get("id") or ""),
        effective_time=str(label.get("effective_time") or ""), brand_names=brands, generic_names=generics,
        substance_names=[str(s) for s in names.get("substance_name") or []], manufacturer=manufacturer,
        dosage_form=form, routes=[str(r) for r in names.get("route") or []],
        product_type=_first(names.get("product_type")),
        extra={"boxed_warning": boxed, "tables": tables, "label_sections": codes, "patient_leaflets": leaflets,
               "application_numbers": [str(a) for a in names.get("application_number") or []],
               "pharm_classes": [str(c) for c in names.get("pharm_class_epc") or []]},
    )
    return Article(id=set_id, title=title, url=dailymed_url(set_id), sections=tuple(sections),
                   source_path=where.split("#", 1)[0], meta=meta)


def _first_byte(fh) -> bytes:
    """The first non-blank byte of a stream, left unread (files and zip members can peek)."""
    chunk = fh.peek(64)
    stripped = chunk.lstrip()
    while chunk and not stripped:  # leading blank space longer than one peek
        fh.read(len(chunk))
        chunk = fh.peek(64)
        stripped = chunk.lstrip()
    return stripped[:1]


def _stream_labels(fh, where: str) -> Iterator[Article | Skipped]:
    """Labels of one openFDA JSON stream; a bad label is skipped, a broken stream ends with its reason."""
    head = _first_byte(fh)
    if head not in (b"{", b"["):
        raise BadArticle(where, "not an openFDA label response (a JSON object with a results list)")
    count = 0
    try:
        for count, label in enumerate(ijson.items(fh, "results.item" if head == b"{" else "item", use_float=True),
                                      start=1):
            try:
                yield label_article(label, f"{where}#{count}")
            except BadArticle as exc:
                yield Skipped(exc.path, exc.reason)
    except ijson.JSONError as exc:
        reason = f"malformed JSON after {count} label(s): {one_line(str(exc))[:200]}"
        raise BadArticle(where, reason) from None
    if count == 0:
        raise BadArticle(where, f"{_NO_LABELS} (empty results)")


def _explain_empty(data: bytes) -> str | None:
    """Why a small JSON file gave no labels: an openFDA error object, or no results list."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        return f"malformed JSON: {exc}"
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        error = doc["error"]
        return f"openFDA error response: {error.get('code', '')} {error.get('message', '')}".strip()
    if isinstance(doc, dict) and "results" not in doc:
        return "not an openFDA label response (no results list)"
    if isinstance(doc, dict) and not isinstance(doc.get("results"), list):
        return "not an openFDA label response (results is not a list)"
    return None


def load_openfda(path: Path, text: str = "") -> Iterator[Article | Skipped]:
    """Labels of an openFDA ``.json`` response, streamed from the file."""
    try:
        with open(path, "rb") as fh:
            yield from _stream_labels(fh, str(path))
    except BadArticle as exc:
        # No label at all: a small file is read whole to say what it is instead (an openFDA error object, ...).
        reason = _explain_empty(path.read_bytes()) if _NO_LABELS in exc.reason and path.stat().st_size <= _SMALL_FILE \
            else None
        if reason:
            raise BadArticle(str(path), reason) from None
        raise


load_openfda.streams = True  # reads the file itself, a label at a time (indexer/sources/files.py)


def load_openfda_zip(path: Path, text: str = "") -> Iterator[Article | Skipped]:
    """Labels of every ``.json`` member of an openFDA bulk ``.json.zip``, streamed without unpacking."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadArticle(str(path), f"not a readable zip file ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".json") and not m.is_dir()]
        if not members:
            raise BadArticle(str(path), "zip holds no .json file of openFDA labels")
        for member in members:
            where = f"{path}!{member.filename}"
            try:
                with archive.open(member) as fh:
                    yield from _stream_labels(fh, where)
            except BadArticle as exc:
                yield Skipped(exc.path, exc.reason)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a corrupt member; the others still load
                yield Skipped(where, f"unreadable zip member ({exc})")


load_openfda_zip.streams = True

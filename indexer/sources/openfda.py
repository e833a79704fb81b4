"""openFDA drug labels: ``.json`` label responses and the bulk download's ``.json.zip`` files.

A response is ``{"meta": ..., "results": [label, ...]}`` (a bare ``[label, ...]`` is read too);
labels are streamed one at a time from ijson's events (`jsonstream.py`), so a bulk file of
thousands of labels never sits in memory whole. The input is not trusted: a ``.json`` file or
``.json.zip`` is at most ``max_source_bytes`` on disk, a zip unpacks to at most `UNZIP_FACTOR`
times that, a label is at most `MAX_LABEL_BYTES` of JSON and `MAX_LABEL_DEPTH` levels deep, and
each label is type-checked on its own: a bad one is a `Skipped` naming the file, the zip member
and the label's number, and the labels after it still load. A label over its size (or a zip over
its budget) ends its file or member, since the parser cannot skip a value it cannot finish.
Each label becomes one article (see `labels.py` for its ``meta``):

- id: the label's set id (stable across versions); url: its DailyMed page.
- sections: the label's fields in the order openFDA gives them (the label's order), each
  field's heading read from the start of its own text ("6 ADVERSE REACTIONS", "Nursing
  Mothers"), its type from the field name. openFDA repeats a subsection's text inside its
  parent ("8 USE IN SPECIFIC POPULATIONS" holds "8.1 Pregnancy"): the repeat is cut out of
  the parent, which keeps only its own words, and numbered subsections inside one field
  ("2.5 Dosage in Renal Impairment") become sections of their own.
- tables: openFDA flattens every ``*_table`` into the prose; there it is replaced by its grid of
  rows ("cell | cell", merged cells filled in, `tables.py`), and its structure goes to ``meta["tables"]``.
- left out: package label panels, product data elements, ids; the patient leaflets (Medication Guide,
  Patient Information) go to ``meta["patient_leaflets"]`` and the recent-changes list to
  ``meta["recent_major_changes"]``, for the label's page, not to search.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import ijson
import lxml.html
from lxml import etree

from indexer.errors import BadArticle
from indexer.history import RECENT_CHANGES
from indexer.models import Article, Section

from .assemble import Skipped, _unique, clean, one_line, slugify
from .jsonstream import BoundedReader, Event, TooDeep, TooLarge, events, json_kind, read_value, size_text
from .labels import as_int, dailymed_url, form_in_text, kind_of_field, label_meta, label_title, product_title
from .openfda_headings import NUMBER, TOKEN, VAGUE, split_heading, subsections
from .tables import Table, TableTooLarge, flat_text, read_table

_NOT_SECTIONS = frozenset({"set_id", "id", "version", "effective_time", "openfda"})
_NO_LABELS = "openFDA response with no labels"
# A label nests 3 levels (the label, its openfda object, their lists of strings); deeper is not a label.
LABEL_DEPTH = 3
MAX_LABEL_DEPTH = 8
# Several times the largest label we have seen (under 1 MiB of JSON): one label is held whole while it is read.
MAX_LABEL_BYTES = 8 * 1024 * 1024
# Label JSON packs several times smaller in a zip; a zip that unpacks to far more is a zip bomb.
UNZIP_FACTOR = 16

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
    bare_flats = ["".join(flat.split()) for _, flat in tables]
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
            bare = text.replace(" ", "")
            for (table, flat), bare_flat in zip(tables, bare_flats):
                found = _copy_of(flat, bare_flat, text, bare)
                if found is not None:
                    start, end = found
                    text = f"{text[:start]}\n\n{table.text()}\n\n{text[end:]}"  # a block of its own
                    bare = "".join(text.split())
            if text and text not in seen:
                seen.add(text)
                items.append((name, text))
    return items


def _copy_of(flat: str, bare_flat: str, text: str, bare_text: str) -> tuple[int, int] | None:
    """Where openFDA's flattened copy of a table sits in a field's text, as (start, end), or None.

    Some labels' prose joins the cells with a space, others with nothing ("Drug ClassClinical Rationale"):
    a copy not found as it is is looked for with the whitespace of both left out (``bare_``).
    """
    at = text.find(flat)
    if at >= 0:
        return at, at + len(flat)
    at = bare_text.find(bare_flat) if bare_flat else -1
    if at < 0:
        return None
    kept = [n for n, char in enumerate(text) if not char.isspace()]  # bare position -> position in text
    return kept[at], kept[at + len(bare_flat) - 1] + 1


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
            try:
                table = read_table(el)
            except TableTooLarge:
                continue  # openFDA's flattened copy stays in the prose
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


_RECENT_HEADING = re.compile(r"^\s*recent major changes\b[\s:.]*", re.IGNORECASE)


def _recent_changes(label: dict) -> dict | None:
    """The label's own "Recent Major Changes" list (LOINC 43683-2), its table as rows, for ``meta``: not a section
    (it names changed sections and dates, and would answer searches in their place), shown on the label's page."""
    kind = kind_of_field(RECENT_CHANGES)
    text = " ".join(" ".join(item.split()) for item in label.get(RECENT_CHANGES) or () if isinstance(item, str))
    if kind is None or not re.search(r"[A-Za-z]{2}", text):
        return None
    heading, body = kind.name, _RECENT_HEADING.sub("", text)  # its entries start with section names: no heading
    for table, flat in _tables({RECENT_CHANGES + "_table": label.get(RECENT_CHANGES + "_table")}):
        at = _copy_of(flat, "".join(flat.split()), body, "".join(body.split()))
        if at is not None:
            body = f"{body[:at[0]]}\n\n{table.text()}\n\n{body[at[1]:]}"
    return {"code": kind.code, "heading": heading, "text": clean(body)}


def _sections(label: dict, brand_words: frozenset[str]) -> tuple[list[Section], dict, dict, list[dict]]:
    tables = _tables(label)
    items = _field_items(label, tables)
    leaflets = []
    for name, text in _field_items(label, tables, leaflets=True):
        kind = kind_of_field(name)
        if kind is None:  # every leaflet field is in the section table; a guard, not a case
            continue
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
    for grid, _ in tables:
        rows = clean(grid.text())  # as the section's text was cleaned
        section_id = next((s.id for s in sections if rows in s.text), None)
        if section_id is not None:
            table_meta.setdefault(section_id, []).append(grid.to_meta())
    return sections, table_meta, builder.codes, leaflets


_NAME_FIELDS = ("brand_name", "generic_name", "substance_name", "manufacturer_name", "route", "product_type",
                "application_number", "pharm_class_epc", "spl_set_id", "product_ndc", "package_ndc",
                "original_packager_product_ndc")


def _check_label(label: object, name: str, where: str) -> tuple[dict, dict[str, list[str]]]:
    """The label with each field it reads checked for type, and its ``openfda`` names; BadArticle naming the field.

    Prose and table fields are lists of strings (a lone string is taken as a list of one); the
    ``openfda`` names must be lists of strings, so that a string is refused rather than read
    letter by letter; the version must be a whole number, so that an unreadable one never wins
    over a readable version of the same set id. A field we do not read is left as it is.
    """
    if not isinstance(label, dict):
        raise BadArticle(where, f"{name} is {json_kind(label)}, not a JSON object")
    checked = dict(label)
    for key, value in label.items():
        if key in _NOT_SECTIONS or not (kind_of_field(key) is not None or key.endswith("_table")):
            continue
        if isinstance(value, str) or value is None:
            checked[key] = [value] if value else []
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise BadArticle(where, f"{name}: {key} is {_kind_of_list(value)}, not a list of strings")
    for key in ("set_id", "id", "effective_time"):
        value = label.get(key)
        if value is not None and not isinstance(value, str):
            raise BadArticle(where, f"{name}: {key} is {json_kind(value)}, not a string")
    version = label.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, (str, int))
                                or as_int(version) is None):
        raise BadArticle(where, f"{name}: version {one_line(str(version))[:40]!r} is not a whole number")
    openfda = label.get("openfda")
    if openfda is None:
        openfda = {}
    if not isinstance(openfda, dict):
        raise BadArticle(where, f"{name}: openfda is {json_kind(openfda)}, not an object")
    names: dict[str, list[str]] = {}
    for key in _NAME_FIELDS:
        value = openfda.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise BadArticle(where, f"{name}: openfda.{key} is {_kind_of_list(value)}, not a list of strings")
        names[key] = value or []
    original = openfda.get("is_original_packager")  # [true] or [false]; a repackager's label is not the original
    if original is not None and (not isinstance(original, list) or not all(isinstance(v, bool) for v in original)):
        raise BadArticle(where, f"{name}: openfda.is_original_packager is {_kind_of_list(original, bool)}, "
                                "not a list of booleans")
    names["repackaged"] = ["yes"] if original and not any(original) else []
    return checked, names


def _kind_of_list(value: object, kind: type = str) -> str:
    """What a value that should be a list of strings (or ``kind``) is: "a number", "a list holding a number"."""
    if isinstance(value, list):
        odd = next(item for item in value if not isinstance(item, kind))
        return f"a list holding {json_kind(odd)}"
    return json_kind(value)


def _first(values: list[str]) -> str:
    return values[0] if values else ""


def label_article(label: object, where: str, number: int = 1) -> Article:
    """One article from one openFDA label object; BadArticle, naming label ``number``, when it cannot be one."""
    given = label.get("set_id") if isinstance(label, dict) else None
    name = f"label {number} (set id {one_line(given)[:80]})" if isinstance(given, str) and given.strip() \
        else f"label {number}"
    fields, names = _check_label(label, name, where)
    set_id = (fields.get("set_id") or _first(names["spl_set_id"])).strip()
    if not set_id:
        raise BadArticle(where, f"{name} has no set_id")
    brands, generics = names["brand_name"], names["generic_name"]
    brand_words = frozenset(w.lower() for b in brands for w in TOKEN.findall(b))
    sections, tables, codes, leaflets = _sections(fields, brand_words)
    if not sections:
        raise BadArticle(where, f"{name}: no label text (only package panels and data elements)")
    form_text = " ".join(s.text[:300] for s in sections if codes[s.id]["field"] == "dosage_forms_and_strengths")
    form = form_in_text(form_text) or form_in_text(" ".join(fields.get("package_label_principal_display_panel")
                                                            or [])[:600])
    labeler = _first(names["manufacturer_name"])
    product = product_title(_first(brands), _first(generics), form, names["substance_name"])
    boxed = next((s.id for s in sections if codes[s.id]["field"] == "boxed_warning"), None)
    meta = label_meta(
        label_format="openfda", set_id=set_id, version=fields.get("version"), spl_id=fields.get("id") or "",
        effective_time=fields.get("effective_time") or "", brand_names=brands, generic_names=generics,
        substance_names=names["substance_name"], labeler=labeler, product=product,
        dosage_form=form, routes=names["route"], product_type=_first(names["product_type"]),
        application_numbers=names["application_number"], product_ndcs=names["product_ndc"],
        package_ndcs=names["package_ndc"], original_ndcs=names["original_packager_product_ndc"],
        repackaged=bool(names["repackaged"]),
        extra={"boxed_warning": boxed, "tables": tables, "label_sections": codes, "patient_leaflets": leaflets,
               "pharm_classes": names["pharm_class_epc"]},
    )
    recent = _recent_changes(fields)
    if recent:
        meta[RECENT_CHANGES] = recent
    title = label_title(product, labeler, set_id)
    return Article(id=set_id, title=title, url=dailymed_url(set_id), sections=tuple(sections),
                   source_path=where.split("#", 1)[0], meta=meta)


class _Response:
    """What an openFDA response held besides its labels, to say why it gave none."""

    def __init__(self) -> None:
        self.results: str | None = None  # what ``results`` was: None when absent, "a list" when it was one
        self.error: object = None


class _NotResponse(Exception):
    """The document is not an openFDA response (nor a bare list of labels)."""


def _labels(stream: Iterator[Event], reader: BoundedReader, response: _Response) -> Iterator[tuple[int, object]]:
    """(number, label) of each label of a response, built one at a time; a label too deep is a TooDeep."""
    first = next(stream, None)
    if first is None:
        raise _NotResponse("empty file")
    if first[0] == "start_array":  # a bare list of labels
        yield from _items(stream, reader)
        return
    if first[0] != "start_map":
        raise _NotResponse("not an openFDA label response (a JSON object with a results list)")
    for kind, key in stream:
        if kind == "end_map":
            return
        reader.mark(f"the value of {one_line(str(key))[:40]!r}")
        value = next(stream)
        if key == "results" and value[0] == "start_array":
            response.results = "a list"
            yield from _items(stream, reader)
        elif key == "error":
            response.error = read_value(value, stream, MAX_LABEL_DEPTH)
        else:  # meta, a results that is not a list, anything else: read past, never built
            if key == "results":
                response.results = "an object" if value[0] == "start_map" else json_kind(value[1])
            read_value(value, stream, MAX_LABEL_DEPTH, build=False)


def _items(stream: Iterator[Event], reader: BoundedReader) -> Iterator[tuple[int, object]]:
    """The labels of a list whose start was read, up to and including its end."""
    for number, event in enumerate(stream, start=1):
        if event[0] == "end_array":
            return
        reader.mark(f"label {number}", number)
        value = read_value(event, stream, MAX_LABEL_DEPTH)
        reader.mark(f"what follows label {number}")
        yield number, value


def _why_no_labels(response: _Response) -> str:
    """Why a response gave no labels: an openFDA error object, no results list, or an empty one."""
    error = response.error
    if isinstance(error, dict):
        return one_line(f"openFDA error response: {error.get('code', '')} {error.get('message', '')}")[:300]
    if response.results is None:
        return "not an openFDA label response (no results list)"
    if response.results != "a list":
        return f"not an openFDA label response (results is {response.results}, not a list)"
    return f"{_NO_LABELS} (empty results)"


def _stream_labels(reader: BoundedReader, where: str) -> Iterator[Article | Skipped]:
    """Labels of one openFDA JSON stream; a bad label is skipped and the labels after it still load.

    A stream that cannot go on (malformed JSON, a label over its size, the reader's budget spent)
    ends with a BadArticle saying how many labels came before.
    """
    response = _Response()
    count = 0
    try:
        for count, label in _labels(events(reader), reader, response):
            at = f"{where}#{count}"
            if isinstance(label, TooDeep):
                yield Skipped(at, f"label {count} is nested more than {MAX_LABEL_DEPTH} levels deep "
                                  f"(a label has {LABEL_DEPTH})")
                continue
            try:
                item: Article | Skipped = label_article(label, at, count)
            except BadArticle as exc:
                item = Skipped(exc.path, exc.reason)
            except Exception as exc:  # noqa: BLE001 - one odd label must not hide the labels after it
                item = Skipped(at, f"label {count} could not be loaded ({type(exc).__name__}: "
                                   f"{one_line(str(exc))[:200]})")
            yield item
    except ijson.JSONError as exc:
        if reader.position == 0:
            raise BadArticle(where, "empty file") from None
        raise BadArticle(where, f"malformed JSON after {count} label(s): {one_line(str(exc))[:200]}") from None
    except TooLarge as exc:
        if exc.value is None:  # the file's (or zip's) bound
            raise BadArticle(where, f"{exc}; stopped after {count} label(s)") from None
        at, most = (f"{where}#{exc.record}", "one label") if exc.record is not None else (where, "one value")
        raise BadArticle(at, f"{exc.value} is larger than {size_text(MAX_LABEL_BYTES)}, the most {most} may be; "
                             f"it and the rest of the file were not read ({count} label(s) before it)") from None
    except _NotResponse as exc:
        raise BadArticle(where, str(exc)) from None
    if count == 0:
        raise BadArticle(where, _why_no_labels(response))


def load_openfda(path: Path, raw: BinaryIO, max_bytes: int) -> Iterator[Article | Skipped]:
    """Labels of an openFDA ``.json`` response, streamed from the opened file, reading at most ``max_bytes``."""
    grew = (f"too large: over the limit of {size_text(max_bytes)} per file (setting max_source_bytes, "
            "MEDSEARCH_MAX_SOURCE_BYTES); it grew while it was being read")
    yield from _stream_labels(BoundedReader(raw, max_bytes, grew, MAX_LABEL_BYTES), str(path))


def load_openfda_zip(path: Path, raw: BinaryIO, max_bytes: int) -> Iterator[Article | Skipped]:
    """Labels of every ``.json`` member of an openFDA bulk ``.json.zip``, streamed without unpacking to disk.

    All members together may unpack to `UNZIP_FACTOR` times ``max_bytes``, counted as they are
    read (a member's declared size can lie); past that the zip stops, naming the member.
    """
    budget = UNZIP_FACTOR * max_bytes
    over = (f"the zip unpacks to more than {size_text(budget)} ({UNZIP_FACTOR} x max_source_bytes, "
            "MEDSEARCH_MAX_SOURCE_BYTES)")
    try:
        archive = zipfile.ZipFile(raw)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadArticle(str(path), f"not a readable zip file ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".json") and not m.is_dir()]
        if not members:
            raise BadArticle(str(path), "zip holds no .json file of openFDA labels")
        declared = sum(m.file_size for m in members)
        if declared > budget:  # refused before anything is unpacked
            raise BadArticle(str(path), f"{over}: its members declare {size_text(declared)}")
        for member in members:
            where = f"{path}!{member.filename}"
            reader: BoundedReader | None = None
            try:
                with archive.open(member) as fh:
                    reader = BoundedReader(fh, budget, over, MAX_LABEL_BYTES)
                    yield from _stream_labels(reader, where)
            except BadArticle as exc:
                yield Skipped(exc.path, exc.reason)
                if exc.reason.startswith(over):
                    return  # the budget is spent: the members after this one are not read
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                # a corrupt, encrypted or oddly compressed member; the others still load
                yield Skipped(where, f"unreadable zip member ({one_line(str(exc))[:200]})")
            budget -= reader.position if reader is not None else 0

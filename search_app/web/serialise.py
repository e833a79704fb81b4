"""The one place that turns results into JSON: hits, passages, articles, citations and search outcomes.

The legacy ``/api/search``, ``/api/v1`` and OpenAPI's examples all use these functions, so
a field is named and shaped once. Nothing here knows about Flask: absolute links are made
with the ``base_url`` the caller passes.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from indexer.blocks import blocks_json
from indexer.history import LabelVersion, VersionSection
from indexer.models import Article, Passage, article_permalink, section_link
from indexer.section_types import type_of
from indexer.urls import safe_http_url

from ..core.copies import Copy
from ..core.credit import Credit, LabelRecord, citation_text, credit_of
from ..core.label_changes import LabelChanges
from ..core.ranking import Hit
from ..core.search import SearchOutcome

HeadersOf = Callable[[list[str]], Mapping[str, "Article | None"]]  # article ids -> their headers


def _text(value: Any) -> str | None:
    """A metadata value as a string, or None when it is missing or not a scalar."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def _strings(value: Any) -> list[str]:
    return [s for s in (_text(v) for v in value) if s] if isinstance(value, list) else []


def references_json(credit: Credit) -> list[dict[str, str]]:
    """An article's references: title, link ('' when it has none) and the publisher of each."""
    return [{"title": r.title, "url": r.url, "publisher": r.publisher} for r in credit.references]


def _issued(updated: str | None) -> dict[str, Any] | None:
    """CSL's date: ``{"date-parts": [[2026, 11, 25]]}`` from YYYY-MM-DD (or YYYY-MM, YYYY); else None."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", (updated or "")[:10])
    if not match:
        return None
    return {"date-parts": [[int(part) for part in match.groups() if part]]}


def label_json(label: LabelRecord | None) -> dict[str, Any] | None:
    """A drug label's record: labeler, DailyMed's set id and version, effective date, application numbers, NDCs."""
    if label is None:
        return None
    return {"labeler": label.labeler or None, "repackaged": label.repackaged, "set_id": label.set_id,
            "version": label.version, "effective_date": label.effective,
            "application_numbers": list(label.application_numbers), "spl_id": label.spl_id or None,
            "product": label.product, "product_ndcs": list(label.product_ndcs),
            "package_ndcs": list(label.package_ndcs), "distributor": label.distributor}


def csl(item_id: str, article: Article | None, title: str, heading: str, credit: Credit, url: str,
        permalink_url: str) -> dict[str, Any]:
    """A CSL-JSON item (the citation format of Zotero, Mendeley, pandoc) for one section of an article.

    A drug label is its labeler's (``author``), titled by its product, in DailyMed (``container-title``)
    of the National Library of Medicine (``publisher``), with its ``version``, application number
    (``number``) and set id (``archive_location``).
    """
    label = credit.label
    item: dict[str, Any] = {"id": item_id, "type": "webpage", "title": label.product if label else title,
                            "publisher": credit.publisher, "URL": url if safe_http_url(url) else permalink_url}
    if heading:
        item["section"] = heading
    issued = _issued(credit.updated)
    if issued:
        item["issued"] = issued
    if label is not None:
        item.update({"genre": "drug label", "container-title": "DailyMed", "publisher": "U.S. National Library of "
                     "Medicine", "archive": "DailyMed", "archive_location": label.set_id})
        if label.labeler:
            item["author"] = [{"literal": label.labeler}]
        if label.version is not None:
            item["version"] = str(label.version)
        if label.application_numbers:
            item["number"] = label.applications
    notes = [] if item["URL"] == permalink_url else [f"Permalink: {permalink_url}"]
    if label is not None and label.repackaged:
        notes.insert(0, f"Repackaged by {label.labeler or 'its labeler'}".rstrip(".") + ".")
    if credit.references:
        notes.append("References: " + "; ".join(f"{r.title} <{r.url}>" if r.url else r.title
                                                 for r in credit.references))
    if notes:
        item["note"] = " ".join(notes)
    return item


def _cited(article: Article | None, credit: Credit, item_id: str, title: str, heading: str, url: str,
           permalink_url: str) -> dict[str, Any]:
    """The citation fields of one section: credit, references, its label record, plain text and CSL-JSON."""
    return {"publisher": credit.publisher, "source": credit.publisher, "updated": credit.updated,
            "references": references_json(credit), "label": label_json(credit.label),
            "permalink_url": permalink_url, "citation": citation_text(title, heading, credit, url, permalink_url),
            "citation_csl": csl(item_id, article, title, heading, credit, url, permalink_url)}


def cite(passage: Passage, article: Article | None, base_url: str) -> dict[str, Any]:
    """The citation fields of a passage, with its label section's codes."""
    return {**_cited(article, credit_of(article), passage.id, passage.title, passage.heading, passage.url,
                     base_url.rstrip("/") + passage.permalink), **section_codes(article, passage.section_id)}


def section_codes(article: Article | None, section_id: str) -> dict[str, str | None]:
    """A drug label section's LOINC code and openFDA field, so a client can ask for "the boxed warning" by code."""
    found = ((article.meta if article is not None else {}).get("label_sections") or {}).get(section_id) or {}
    return {"loinc": found.get("code") or None, "field": found.get("field") or None}


def passage_fields(p: Passage) -> dict[str, Any]:
    """The fields every passage-shaped answer shares."""
    return {"passage_id": p.id, "article_id": p.article_id, "section_id": p.section_id,
            "section_type": p.section_type, "title": p.title, "heading": p.heading, "text": p.text,
            "blocks": blocks_json(p.text), "url": p.url, "permalink": p.permalink}


def copy_json(copy: Copy) -> dict[str, Any]:
    """Another article printing a hit's text: which label it is and where to read it."""
    return {"article_id": copy.article_id, "title": copy.title, "labeler": copy.labeler, "set_id": copy.set_id,
            "version": copy.version, "effective_date": copy.effective, "url": copy.url or None,
            "permalink": copy.permalink}


def hit_json(hit: Hit) -> dict[str, Any]:
    """A ranked passage with why it matched, and the other articles printing its text (shown once)."""
    return {"rank": hit.rank, "score": round(hit.score, 4), **passage_fields(hit.passage),
            "medicines": list(hit.medicines), "more_labels": hit.more_labels,
            "also_in": [copy_json(c) for c in hit.also_in.copies], "also_in_count": hit.also_in.count,
            "explanation": {"dense_rank": hit.dense_rank, "lexical_rank": hit.lexical_rank,
                            "matched_terms": list(hit.matched), "names_medicine": hit.name_match,
                            "about_medicine_asked": hit.about_asked, "section_type_asked": hit.intent_match}}


def passage_json(passage: Passage, article: Article | None, base_url: str) -> dict[str, Any]:
    """One passage with its citation."""
    return {**passage_fields(passage), "ordinal": passage.ordinal, **cite(passage, article, base_url)}


def article_json(article: Article, base_url: str) -> dict[str, Any]:
    """An article with its sections; the file it was loaded from is never shown."""
    meta, credit = article.meta, credit_of(article)
    base = base_url.rstrip("/")
    sections = []
    for s in article.sections:
        url, permalink = section_link(article, s.id), article_permalink(article.id, s.id)
        cited = _cited(article, credit, f"{article.id}#{s.id}", article.title, s.heading, url, base + permalink)
        sections.append({"section_id": s.id, "heading": s.heading, "section_type": type_of(s),
                         "text": s.text, "blocks": blocks_json(s.text), "url": url, "permalink": permalink,
                         "permalink_url": base + permalink,
                         "citation": cited["citation"], "citation_csl": cited["citation_csl"],
                         **section_codes(article, s.id)})
    permalink = article_permalink(article.id)
    whole = article_citation(article, base_url)
    return {"article_id": article.id, "title": article.title, "url": article.url or permalink,
            "permalink": permalink, "permalink_url": base + permalink, "publisher": credit.publisher,
            "source": credit.publisher, "updated": credit.updated, "label": whole["label"],
            "kind": _text(meta.get("kind")), "drug": _text(meta.get("drug")), "aliases": _strings(meta.get("aliases")),
            "drug_class": _text(meta.get("drug_class")), "references": references_json(credit),
            "citation": whole["citation"], "citation_csl": whole["citation_csl"],
            "disclaimer": _text(meta.get("disclaimer")), "sections": sections}


def article_citation(article: Article, base_url: str) -> dict[str, Any]:
    """The citation fields of a whole article (its page cites it, as the API's article answer does)."""
    permalink_url = base_url.rstrip("/") + article_permalink(article.id)
    return _cited(article, credit_of(article), article.id, article.title, "", article.url, permalink_url)


def search_json(outcome: SearchOutcome, headers_of: HeadersOf | None = None, base_url: str = "") -> dict[str, Any]:
    """A search outcome; with ``headers_of`` (API v1) every hit carries its citation and the page its build and next
    page."""
    req, a = outcome.request, outcome.analysis
    body: dict[str, Any] = {
        "query": req.q, "k": req.k, "offset": req.offset, "mode": req.mode,
        "filters": {"drug": list(req.drugs), "section_type": list(req.section_types)},
        "notice": outcome.notice.to_json() if outcome.notice else None,
        "match": outcome.match.to_json(),
        "corrected_query": a.corrected if a.corrections else None,
        "corrections": [{"typed": typed, "corrected": right} for typed, right in a.corrections],
        "understood": {"medicines": list(a.names), "expansions": list(a.expansions),
                       "section_types": sorted(a.intents)},
        "results": [hit_json(h) for h in outcome.hits],
        # Sections ranked in all; a lower bound when more may rank past the first pool (the next page says).
        "total": outcome.total_sections, "total_is_lower_bound": not outcome.total_exact,
        "unknown_drugs": [{"drug": typed, "did_you_mean": guess} for typed, guess in outcome.unknown_drugs]}
    if headers_of is None:
        return body
    headers = headers_of([hit.passage.article_id for hit in outcome.hits])
    for hit, shown in zip(outcome.hits, body["results"]):
        shown.update(cite(hit.passage, headers[hit.passage.article_id], base_url))
    return {"build_id": outcome.build_id, **body, "spell": "on" if req.respell else "off",
            "fold": "on" if req.fold else "off",
            "next_offset": outcome.next_offset}


# -- drug-label versions (``core/label_changes.py``) ------------------------------------------------------
def source_file(path: str) -> str:
    """The file a label version came from, by name, its folders never shown: "update.zip!prescription/x.zip!x.xml"."""
    outer, bang, inside = path.partition("!")
    return outer.replace("\\", "/").rsplit("/", 1)[-1] + bang + inside


def version_json(version: LabelVersion) -> dict[str, Any]:
    """One version of a label in a list: its number, effective date, source file, and whether it is the indexed one."""
    return {"version": version.version, "effective_date": version.effective or None,
            "source_file": source_file(version.source_path), "current": version.current}


def _section_ref(section: VersionSection, set_id: str, current: bool) -> dict[str, Any]:
    """What names a section of a version; its permalink only in the indexed version (earlier ones have no page)."""
    return {"section_id": section.section_id, "heading": section.heading, "loinc": section.code or None,
            "field": section.field or None,
            "permalink": article_permalink(set_id, section.section_id) if current else None}


def label_version_json(version: LabelVersion) -> dict[str, Any]:
    """One version of a label with its sections and its own "Recent Major Changes" list."""
    recent = version.recent_changes
    return {"set_id": version.set_id, "title": version.title, **version_json(version),
            "recent_major_changes": {"loinc": recent["code"] or None, "heading": recent["heading"],
                                     "text": recent["text"], "blocks": blocks_json(recent["text"])} if recent else None,
            "sections": [{**_section_ref(s, version.set_id, version.current), "section_type": s.section_type,
                          "text": s.text, "blocks": blocks_json(s.text)} for s in version.sections]}


def label_changes_json(changes: LabelChanges) -> dict[str, Any]:
    """What changed between two versions of a label: sections added, removed and changed, with the changed
    sentences of each changed section marked (``diff``: runs of ``equal``, ``delete`` and ``insert``)."""
    before, after = changes.before, changes.after
    return {"set_id": after.set_id, "title": after.title, "from": version_json(before), "to": version_json(after),
            "added": [_section_ref(c.section, after.set_id, after.current) for c in changes.added],
            "removed": [_section_ref(c.section, before.set_id, before.current) for c in changes.removed],
            "changed": [{**_section_ref(c.section, after.set_id, after.current),
                         "heading_before": c.before.heading if c.before else c.section.heading,
                         "diff": [{"op": run.op, "text": run.text} for run in c.diff]} for c in changes.changed],
            "unchanged": changes.unchanged}

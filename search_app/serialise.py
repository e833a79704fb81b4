"""The one place that turns results into JSON: hits, passages, articles, citations and search outcomes.

The legacy ``/api/search``, ``/api/v1`` and OpenAPI's examples all use these functions, so
a field is named and shaped once. Nothing here knows about Flask: absolute links are made
with the ``base_url`` the caller passes.
"""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlsplit

from indexer.models import Article, Passage, article_permalink, section_link
from indexer.section_types import type_of

from .ranking import Hit
from .search import SearchOutcome

OWN_SOURCE = "medsearch"  # articles written by us have no publisher url
HeaderOf = Callable[[str], "Article | None"]


def _text(value: Any) -> str | None:
    """A metadata value as a string, or None when it is missing or not a scalar."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def _strings(value: Any) -> list[str]:
    return [s for s in (_text(v) for v in value) if s] if isinstance(value, list) else []


def source_of(article: Article | None) -> str:
    """Who published an article: its ``source`` field, else the host of its url, else us."""
    if article is None:
        return OWN_SOURCE
    named = _text(article.meta.get("source"))
    if named:
        return named
    host = urlsplit(article.url).netloc.removeprefix("www.") if article.url else ""
    return host or OWN_SOURCE


def citation(title: str, heading: str, source: str, updated: str | None, url: str, permalink_url: str) -> str:
    """A citation string: title and section, source and updated date, source link, permalink."""
    def sentence(text: str) -> str:
        return text if text.endswith((".", "?", "!")) else text + "."

    parts = [sentence(f"{title}: {heading}" if heading else title),
             sentence(source + (f", updated {updated}" if updated else ""))]
    # Links end the citation bare: a full stop after one would join the address.
    parts += [url, f"Permalink: {permalink_url}"] if url.startswith(("http://", "https://")) else [permalink_url]
    return " ".join(parts)


def label_citation(article: Article, heading: str, url: str, permalink_url: str) -> str:
    """A drug label's citation: "LIPITOR (atorvastatin calcium) tablet, film coated. Pfizer. 6 ADVERSE REACTIONS.
    DailyMed set id ..., version ..., effective .... <DailyMed link> Permalink: <this site>"."""
    meta = article.meta
    maker = _text(meta.get("manufacturer")) or ""
    product = article.title.removesuffix(f", {maker}") if maker else article.title
    record = ", ".join(part for part in (
        f"DailyMed set id {_text(meta.get('set_id'))}" if _text(meta.get("set_id")) else "",
        f"version {_text(meta.get('version'))}" if _text(meta.get("version")) else "",
        f"effective {_text(meta.get('updated'))}" if _text(meta.get("updated")) else "") if part)
    parts = [p.rstrip(".") + "." for p in (product, maker, heading, record) if p]
    parts += [url, f"Permalink: {permalink_url}"] if url.startswith(("http://", "https://")) else [permalink_url]
    return " ".join(parts)


def cite(passage: Passage, article: Article | None, base_url: str) -> dict[str, Any]:
    """The citation fields of a passage."""
    source = source_of(article)
    updated = _text(article.meta.get("updated")) if article else None
    link = base_url.rstrip("/") + passage.permalink
    if article is not None and article.meta.get("kind") == "label":
        text = label_citation(article, passage.heading, passage.url, link)
    else:
        text = citation(passage.title, passage.heading, source, updated, passage.url, link)
    return {"source": source, "updated": updated, "permalink_url": link, "citation": text}


def passage_fields(p: Passage) -> dict[str, Any]:
    """The fields every passage-shaped answer shares."""
    return {"passage_id": p.id, "article_id": p.article_id, "section_id": p.section_id,
            "section_type": p.section_type, "title": p.title, "heading": p.heading, "text": p.text,
            "url": p.url, "permalink": p.permalink}


def hit_json(hit: Hit) -> dict[str, Any]:
    """A ranked passage with why it matched."""
    return {"rank": hit.rank, "score": round(hit.score, 4), **passage_fields(hit.passage),
            "medicines": list(hit.medicines), "more_labels": hit.more_labels,
            "explanation": {"dense_rank": hit.dense_rank, "lexical_rank": hit.lexical_rank,
                            "matched_terms": list(hit.matched), "names_medicine": hit.name_match,
                            "about_medicine_asked": hit.about_asked, "section_type_asked": hit.intent_match}}


def passage_json(passage: Passage, article: Article | None, base_url: str) -> dict[str, Any]:
    """One passage with its citation."""
    return {**passage_fields(passage), "ordinal": passage.ordinal, **cite(passage, article, base_url)}


def article_json(article: Article, base_url: str) -> dict[str, Any]:
    """An article with its sections; the file it was loaded from is never shown."""
    meta, source = article.meta, source_of(article)
    base = base_url.rstrip("/")
    updated = _text(meta.get("updated"))
    references = [{"title": _text(r.get("title")) or "", "url": _text(r.get("url")) or ""}
                  for r in meta.get("references") or [] if isinstance(r, dict)] \
        if isinstance(meta.get("references"), list) else []
    sections = []
    for s in article.sections:
        url, permalink = section_link(article, s.id), article_permalink(article.id, s.id)
        cited = (label_citation(article, s.heading, url, base + permalink) if meta.get("kind") == "label"
                 else citation(article.title, s.heading, source, updated, url, base + permalink))
        sections.append({"section_id": s.id, "heading": s.heading, "section_type": type_of(s),
                         "text": s.text, "url": url, "permalink": permalink, "permalink_url": base + permalink,
                         "citation": cited})
    permalink = article_permalink(article.id)
    return {"article_id": article.id, "title": article.title, "url": article.url or permalink,
            "permalink": permalink, "permalink_url": base + permalink, "source": source, "updated": updated,
            "kind": _text(meta.get("kind")), "drug": _text(meta.get("drug")), "aliases": _strings(meta.get("aliases")),
            "drug_class": _text(meta.get("drug_class")), "references": references,
            "disclaimer": _text(meta.get("disclaimer")), "sections": sections}


def search_json(outcome: SearchOutcome, header_of: HeaderOf | None = None, base_url: str = "") -> dict[str, Any]:
    """A search outcome; with ``header_of`` (API v1) every hit carries its citation and the page its build and next page."""
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
        "results": [hit_json(h) for h in outcome.hits]}
    if header_of is None:
        return body
    for hit, shown in zip(outcome.hits, body["results"]):
        shown.update(cite(hit.passage, header_of(hit.passage.article_id), base_url))
    return {"build_id": outcome.build_id, **body, "spell": "on" if req.respell else "off",
            "fold": "on" if req.fold else "off",
            "next_offset": outcome.next_offset}

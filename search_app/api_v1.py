"""The versioned JSON API for clinicians and other tools: ``/api/v1/...``, described by ``openapi.py``.

Every answer names the build it came from (``build_id`` in the body and the
``X-Medsearch-Build`` header); a request is answered from one build only.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, render_template, request
from markdown_it import MarkdownIt
from markupsafe import Markup

from indexer.errors import BadQuery
from indexer.models import Article, Passage, article_permalink, section_link
from indexer.section_types import section_type

from . import api, query
from .errors import error_response
from .openapi import MAX_OFFSET, document
from .ranking import Searcher

bp = Blueprint("api_v1", __name__)
SEARCH_PARAMS = api.SEARCH_PARAMS | {"build"}
# v1 shows exactly the fields its OpenAPI document describes, whatever /api/search gains later.
SEARCH_FIELDS = ("query", "k", "offset", "mode", "filters", "notice", "corrected_query", "corrections", "understood")
HIT_FIELDS = ("rank", "score", "passage_id", "article_id", "section_id", "section_type", "title", "heading", "text",
              "url", "permalink", "explanation")
MAX_ID_CHARS = 300
OWN_SOURCE = "medsearch"  # articles written by us have no publisher url


def pinned() -> Searcher:
    """The searcher this request is answered from (one build for the whole request)."""
    return current_app.extensions["medsearch"].get()


def check_id(value: str, what: str) -> None:
    """Refuse ids no article or passage has: too long, ``.``/``..``, control characters, backslashes."""
    if len(value) > MAX_ID_CHARS:
        raise BadQuery(f"bad_{what}_id", f"a {what} id is at most {MAX_ID_CHARS} characters long")
    if value in (".", "..") or "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadQuery(f"bad_{what}_id", f"that is not a {what} id: ids hold no control characters, "
                                         "backslashes or '..'")


# -- citations --------------------------------------------------------------------------
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


def absolute(permalink: str) -> str:
    """A permalink made absolute with ``public_url`` or the address the request came to."""
    base = current_app.config["MEDSEARCH"]["public_url"] or request.url_root
    return base.rstrip("/") + permalink


def citation(title: str, heading: str, source: str, updated: str | None, url: str, permalink: str) -> str:
    """A citation string: title and section, source and updated date, source link, permalink."""
    def sentence(text: str) -> str:
        return text if text.endswith((".", "?", "!")) else text + "."

    parts = [sentence(f"{title}: {heading}" if heading else title),
             sentence(source + (f", updated {updated}" if updated else ""))]
    link = absolute(permalink)  # links end the citation bare: a full stop after one would join the address
    parts += [url, f"Permalink: {link}"] if url.startswith(("http://", "https://")) else [link]
    return " ".join(parts)


def cite(passage: Passage, article: Article | None) -> dict[str, Any]:
    """The citation fields of a passage."""
    source = source_of(article)
    updated = _text(article.meta.get("updated")) if article else None
    return {"source": source, "updated": updated, "permalink_url": absolute(passage.permalink),
            "citation": citation(passage.title, passage.heading, source, updated, passage.url, passage.permalink)}


def passage_json(passage: Passage, article: Article | None) -> dict[str, Any]:
    return {"passage_id": passage.id, "article_id": passage.article_id, "section_id": passage.section_id,
            "section_type": passage.section_type, "ordinal": passage.ordinal, "title": passage.title,
            "heading": passage.heading, "text": passage.text, "url": passage.url, "permalink": passage.permalink,
            **cite(passage, article)}


def article_json(article: Article) -> dict[str, Any]:
    """An article with its sections; the file it was loaded from is never shown."""
    meta, source = article.meta, source_of(article)
    updated = _text(meta.get("updated"))
    references = [{"title": _text(r.get("title")) or "", "url": _text(r.get("url")) or ""}
                  for r in meta.get("references") or [] if isinstance(r, dict)] \
        if isinstance(meta.get("references"), list) else []
    sections = []
    for s in article.sections:
        url, permalink = section_link(article, s.id), article_permalink(article.id, s.id)
        sections.append({"section_id": s.id, "heading": s.heading, "section_type": section_type(s.heading),
                         "text": s.text, "url": url, "permalink": permalink, "permalink_url": absolute(permalink),
                         "citation": citation(article.title, s.heading, source, updated, url, permalink)})
    permalink = article_permalink(article.id)
    return {"article_id": article.id, "title": article.title, "url": article.url or permalink,
            "permalink": permalink, "permalink_url": absolute(permalink), "source": source, "updated": updated,
            "kind": _text(meta.get("kind")), "drug": _text(meta.get("drug")), "aliases": _strings(meta.get("aliases")),
            "drug_class": _text(meta.get("drug_class")), "references": references,
            "disclaimer": _text(meta.get("disclaimer")), "sections": sections}


# -- routes -----------------------------------------------------------------------------
@bp.get("/api/v1/search")
def search():
    """Ranked passages, one per section, each with its citation; see the OpenAPI document."""
    req = query.parse(request.args, current_app.config["MEDSEARCH"], allowed=SEARCH_PARAMS)
    searcher = pinned()
    build_id = searcher.index.build_id
    wanted = request.args.get("build")
    if wanted and wanted != build_id:  # a later page asked of a newer build would not continue the first
        return error_response(409, "build_changed", f"the index was rebuilt: build {wanted[:40]!r} is no longer "
                                                     f"served (now {build_id}); start again from offset 0")
    result = api.run_search(req)
    shared = api.result_json(req, result)
    header = searcher.index.article_header
    hits = [{**{key: hit_json[key] for key in HIT_FIELDS}, **cite(hit.passage, header(hit.passage.article_id))}
            for hit_json, hit in zip(shared["results"], result.hits)]
    full_page = len(result.hits) == req.k and req.offset + req.k <= MAX_OFFSET
    return jsonify({"build_id": build_id, **{key: shared[key] for key in SEARCH_FIELDS},
                    "spell": "on" if req.respell else "off", "results": hits,
                    "next_offset": req.offset + req.k if full_page else None})


@bp.get("/api/v1/passages/<passage_id>")
def passage(passage_id: str):
    """One passage by id, so that a cited passage can be fetched again."""
    check_id(passage_id, "passage")
    searcher = pinned()
    found = searcher.index.passage(passage_id)
    if found is None:
        return error_response(404, "not_found", f"no passage {passage_id[:80]!r} in build {searcher.index.build_id}")
    return jsonify({"build_id": searcher.index.build_id,
                    "passage": passage_json(found, searcher.index.article_header(found.article_id))})


@bp.get("/api/v1/articles/<article_id>")
def article(article_id: str):
    """One article with all its sections."""
    check_id(article_id, "article")
    searcher = pinned()
    found = searcher.index.article(article_id)
    if found is None:
        return error_response(404, "not_found", f"no article {article_id[:80]!r} in build {searcher.index.build_id}")
    return jsonify({"build_id": searcher.index.build_id, "article": article_json(found)})


@bp.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API, with this server's limits."""
    return jsonify(document(current_app.config["MEDSEARCH"]))


@bp.get("/api/docs")
def docs():
    """The API documentation page, rendered from the same OpenAPI document (no scripts)."""
    return render_template("api_docs.html", spec=document(current_app.config["MEDSEARCH"]), md=inline_markdown)


_MARKDOWN = MarkdownIt("commonmark", {"html": False})  # raw HTML in a description is shown as text


def inline_markdown(text: str) -> Markup:
    """An OpenAPI description (CommonMark, e.g. `code`) as inline HTML."""
    return Markup(_MARKDOWN.renderInline(text))

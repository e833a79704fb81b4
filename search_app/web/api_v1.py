"""The versioned JSON API for clinicians and other tools: ``/api/v1/...``, described by ``openapi.py``.

Every answer names the build it came from (``build_id`` in the body and the
``X-Medsearch-Build`` header); a request is answered from one build only.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from markdown_it import MarkdownIt
from markupsafe import Markup

from indexer.errors import BadQuery

from ..core import label_changes, query
from ..core import search as service
from . import api
from .errors import error_response
from .hosts import base_url
from .live import pinned_searcher
from .openapi import document
from .serialise import (
    article_json,
    label_changes_json,
    label_version_json,
    passage_json,
    search_json,
    version_json,
)
from .settings import app_settings

bp = Blueprint("api_v1", __name__)
SEARCH_PARAMS = api.SEARCH_PARAMS | {"build"}
MAX_ID_CHARS = 300
# An article or passage never changes within a build, but the URL answers from the newest build: a short
# shared cache, revalidated by its ETag (the build and the object), keeps a hot swap visible within minutes.
OBJECT_CACHE = "public, max-age=300"


@bp.after_request
def cross_origin(response: Response) -> Response:
    """Any site's scripts may read the API's GET answers (CORS), never with the reader's credentials."""
    if request.method in ("GET", "HEAD"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "X-Medsearch-Build, ETag, Retry-After"
    return response


def cacheable(body: dict, build_id: str, object_id: str) -> Response:
    """A build's article or passage as JSON with its ETag and cache lifetime; 304 when the client has it."""
    response = jsonify(body)
    response.set_etag(hashlib.sha256(f"{build_id}\0{object_id}".encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = OBJECT_CACHE
    response.make_conditional(request)  # a 304 in place when the client's ETag matches
    return response


def check_id(value: str, what: str) -> None:
    """Refuse ids no article or passage has: too long, ``.``/``..``, control characters, backslashes."""
    if len(value) > MAX_ID_CHARS:
        raise BadQuery(f"bad_{what}_id", f"a {what} id is at most {MAX_ID_CHARS} characters long")
    if value in (".", "..") or "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadQuery(f"bad_{what}_id", f"that is not a {what} id: ids hold no control characters, "
                                         "backslashes or '..'")


# -- routes -----------------------------------------------------------------------------
@bp.get("/api/v1/search")
def search():
    """Ranked passages, one per section, each with its citation; see the OpenAPI document."""
    req = query.parse(request.args, app_settings().search, allowed=SEARCH_PARAMS)
    searcher = pinned_searcher()
    outcome = service.run(req, searcher, current_app.extensions["urgency"], build=request.args.get("build"))
    return jsonify(search_json(outcome, searcher.index.article_headers, base_url()))


@bp.get("/api/v1/passages/<path:passage_id>")  # an id from a JSONL record or front matter may hold "/"
def passage(passage_id: str):
    """One passage by id, so that a cited passage can be fetched again."""
    check_id(passage_id, "passage")
    index = pinned_searcher().index
    found = index.passage(passage_id)
    if found is None:
        return error_response(404, "not_found", f"no passage {passage_id[:80]!r} in build {index.build_id}")
    return cacheable({"build_id": index.build_id,
                      "passage": passage_json(found, index.article_header(found.article_id), base_url())},
                     index.build_id, "passage:" + passage_id)


@bp.get("/api/v1/articles/<path:article_id>")
def article(article_id: str):
    """One article with all its sections."""
    check_id(article_id, "article")
    index = pinned_searcher().index
    found = index.article(article_id)
    if found is None:
        return error_response(404, "not_found", f"no article {article_id[:80]!r} in build {index.build_id}")
    return cacheable({"build_id": index.build_id, "article": article_json(found, base_url())}, index.build_id,
                     "article:" + article_id)


def check_params(allowed: frozenset[str]) -> None:
    """Refuse parameters a route does not take, as the search does."""
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadQuery("unknown_parameter", f"unknown parameter(s): {', '.join(unknown)}; allowed: "
                                            f"{', '.join(sorted(allowed)) or 'none'}")


@bp.get("/api/v1/labels/<set_id>/versions")
def label_versions(set_id: str):
    """The versions of a drug label the build holds, newest first, the indexed one marked ``current``."""
    check_id(set_id, "label")
    check_params(frozenset())
    index = pinned_searcher().index
    found = label_changes.versions(index, set_id)
    return cacheable({"build_id": index.build_id, "set_id": set_id, "title": found[0].title,
                      "versions": [version_json(v) for v in found]}, index.build_id, "label-versions:" + set_id)


@bp.get("/api/v1/labels/<set_id>")
def label(set_id: str):
    """A drug label as the build indexes it, or ``?version=`` an earlier version from its history."""
    check_id(set_id, "label")
    check_params(frozenset({"version"}))
    number = label_changes.parse_version(request.args, "version")
    index = pinned_searcher().index
    found = label_changes.version(index, set_id, number)
    return cacheable({"build_id": index.build_id, "label": label_version_json(found)}, index.build_id,
                     f"label:{set_id}:{found.version}")


@bp.get("/api/v1/labels/<set_id>/changes")
def label_changes_between(set_id: str):
    """What changed from ``from`` to ``to`` (default: the two newest versions), section by section."""
    check_id(set_id, "label")
    check_params(frozenset({"from", "to"}))
    before, after = (label_changes.parse_version(request.args, name) for name in ("from", "to"))
    index = pinned_searcher().index
    found = label_changes.changes(index, set_id, before, after)
    return cacheable({"build_id": index.build_id, **label_changes_json(found)}, index.build_id,
                     f"label-changes:{set_id}:{found.before.version}:{found.after.version}")


@bp.get("/api/v1")
def routes():
    """What this API answers: every route of the OpenAPI document with its summary, and where the docs are."""
    spec = document(app_settings())
    return jsonify({"api": "medsearch", "version": 1, "openapi": "/api/v1/openapi.json", "docs": "/api/docs",
                    "routes": [{"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
                               for path, item in spec["paths"].items() for method, operation in item.items()]})


@bp.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API, with this server's limits."""
    return jsonify(document(app_settings()))


@bp.get("/api/docs")
def docs():
    """The API documentation page, rendered from the same OpenAPI document (no scripts)."""
    return render_template("api_docs.html", spec=document(app_settings()), md=inline_markdown,
                           base=base_url().rstrip("/") + "/")


_MARKDOWN = MarkdownIt("commonmark", {"html": False})  # raw HTML in a description is shown as text


def inline_markdown(text: str) -> Markup:
    """An OpenAPI description (CommonMark, e.g. `code`) as inline HTML."""
    return Markup(_MARKDOWN.renderInline(text))

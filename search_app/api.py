"""JSON API: the same search call as the pages, as data."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from . import query
from .ranking import Filters, SearchResult

bp = Blueprint("api", __name__)
SEARCH_PARAMS = frozenset({"q", "k", "offset", "drug", "section_type", "mode", "spell"})


def run_search(req: query.SearchRequest) -> SearchResult:
    """The one search call behind the pages and the API."""
    return current_app.extensions["medsearch"].search(
        req.q, req.k, offset=req.offset, filters=Filters(req.drugs, req.section_types), mode=req.mode,
        respell=req.respell)


def notice_for(q: str):
    """The urgent-care notice a query calls for, or None for a routine question."""
    return current_app.extensions["urgency"].assess(q)


def result_json(req: query.SearchRequest, result: SearchResult) -> dict:
    a = result.analysis
    notice = notice_for(req.q)
    return {"query": req.q, "k": req.k, "offset": req.offset, "mode": req.mode,
            "notice": notice.to_json() if notice else None,
            "filters": {"drug": list(req.drugs), "section_type": list(req.section_types)},
            "corrected_query": a.corrected if a.corrections else None,
            "corrections": [{"typed": typed, "corrected": right} for typed, right in a.corrections],
            "understood": {"medicines": list(a.names), "expansions": list(a.expansions),
                           "section_types": sorted(a.intents)},
            "results": [h.to_json() for h in result.hits]}


@bp.get("/api/search")
def search():
    """Ranked passages for ``q``: ``{"query", "results": [...]}``."""
    req = query.parse(request.args, current_app.config["MEDSEARCH"], allowed=SEARCH_PARAMS)
    return jsonify(result_json(req, run_search(req)))


@bp.get("/healthz")
def healthz():
    """Which index is loaded, so operators and load balancers can check a deploy."""
    searcher = current_app.extensions["medsearch"]
    manifest = searcher.index.manifest
    return jsonify({"status": "ok", "build_id": searcher.index.build_id, "passages": len(searcher.index),
                    "articles": manifest["counts"]["articles"], "model": manifest["model"]["name"],
                    "created": manifest.get("created")})

"""JSON API: the same search call as the pages, as data."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from . import query

bp = Blueprint("api", __name__)
SEARCH_PARAMS = frozenset({"q", "k"})


@bp.get("/api/search")
def search():
    """Ranked passages for ``q``: ``{"query", "results": [...]}``."""
    conf = current_app.config["MEDSEARCH"]
    req = query.parse(request.args, conf, allowed=SEARCH_PARAMS)
    hits = current_app.extensions["medsearch"].search(req.q, req.k)
    return jsonify({"query": req.q, "k": req.k, "results": [h.to_json() for h in hits]})


@bp.get("/healthz")
def healthz():
    """Which index is loaded, so operators and load balancers can check a deploy."""
    searcher = current_app.extensions["medsearch"]
    manifest = searcher.index.manifest
    return jsonify({"status": "ok", "build_id": searcher.index.build_id, "passages": len(searcher.index),
                    "articles": manifest["counts"]["articles"], "model": manifest["model"]["name"],
                    "created": manifest.get("created")})

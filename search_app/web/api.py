"""The first JSON API (``/api/search``) and the health check: thin views over the search service."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..core import query
from ..core import search as service
from .live import pinned_searcher
from .serialise import search_json
from .settings import app_settings

bp = Blueprint("api", __name__)
SEARCH_PARAMS = frozenset({"q", "k", "offset", "drug", "section_type", "mode", "spell", "fold"})


@bp.get("/api/search")
def search():
    """Ranked passages for ``q``: ``{"query", "results": [...]}``."""
    req = query.parse(request.args, app_settings().search, allowed=SEARCH_PARAMS)
    return jsonify(search_json(service.run(req, pinned_searcher(), current_app.extensions["urgency"])))


@bp.get("/healthz")
def healthz():
    """Which build this process serves, so operators and load balancers can check a deploy.

    A newly published build is picked up first; 503 in the one error shape when the served build cannot be read.
    """
    searcher = pinned_searcher(health=True)
    return jsonify({"status": "ok", **searcher.index.describe(),
                    "published_build_id": current_app.extensions["medsearch_live"].published()})

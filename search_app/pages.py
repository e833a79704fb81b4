"""HTML pages: search form, results, articles. Usable without JavaScript."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template, request
from markupsafe import Markup, escape

from indexer.errors import BadQuery

from . import query
from .api import notice_for, run_search

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    return render_template("home.html", q="")


@bp.get("/search")
def search():
    """Results page; a bad query shows its message on the page with status 400."""
    conf = current_app.config["MEDSEARCH"]
    try:
        req = query.parse(request.args, conf)
    except BadQuery as exc:
        return render_template("results.html", q=request.args.get("q", "")[:conf["max_query_chars"]],
                               hits=[], error=exc.message), 400
    result = run_search(req)
    return render_template("results.html", q=req.q, req=req, result=result, hits=result.hits, error=None,
                           notice=notice_for(req.q))


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    found = current_app.extensions["medsearch"].index.article(article_id)
    if found is None:
        abort(404, description=f"there is no article {article_id!r} in this index")
    return render_template("article.html", article=found, q="")


@bp.app_template_filter("highlight")
def highlight(text: str, terms) -> Markup:
    """Escape a passage and mark the words that matched the query."""
    wanted = {t.lower() for t in terms}
    if not wanted:
        return escape(text)
    parts = re.split(r"([A-Za-z0-9]+(?:['’][A-Za-z]+)?)", text)
    return Markup("").join(Markup("<mark>{}</mark>").format(p) if i % 2 and p.lower().replace("'", "").replace("’", "") in wanted
                           else escape(p) for i, p in enumerate(parts))


@bp.app_template_filter("domain")
def domain(url: str) -> str:
    """The host of an external link, for showing where a source lives."""
    from urllib.parse import urlsplit

    return urlsplit(url).netloc.removeprefix("www.") if url.startswith(("http://", "https://")) else ""

"""HTML pages: search form, results, articles, and name suggestions as you type. Usable without JavaScript."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from indexer.errors import BadQuery
from indexer.lexicon import name_key
from indexer.models import Article
from indexer.section_types import LABELS, SECTION_TYPES
from indexer.urls import safe_http_url

from . import query, search as service
from .live import pinned_searcher
from .ranking import Hit
from .search import SearchOutcome
from .suggest import Suggester

bp = Blueprint("pages", __name__)

EXAMPLES = ("can amitriptyline cause cramps", "what happens if I miss a dose of sertraline",
            "can I take ibuprofen with lisinopril", "how should I store insulin")
MAX_MEDICINE_CHIPS = 6
HIDDEN_TYPES = frozenset({"other"})  # a chip for "other" would filter to nothing a reader asked for


@dataclass(frozen=True)
class Chip:
    """One filter toggle: a link to the same search with the filter added or removed."""

    label: str
    href: str
    active: bool


@dataclass(frozen=True)
class Card:
    """A result as the page shows it: the hit plus what its article says about itself."""

    hit: Hit
    updated: Any
    sources: tuple[tuple[str, str], ...]  # (domain, url) of the publisher's page, or of the article's references
    elsewhere: str = ""  # "About amoxicillin": set when the result is not about the medicine the query names
    more_labels: tuple[str, str] | None = None  # ("12 more labels of atorvastatin", url listing them)
    boxed: tuple[str, str] | None = None  # a drug label's boxed warning: (what to say, link to it or "")


# -- helpers --------------------------------------------------------------------------------
def suggester() -> Suggester:
    """The name suggester of the loaded build, made on first use (titles cost one catalog pass)."""
    index = pinned_searcher().index
    cached = current_app.extensions.get("medsearch_suggest")
    if cached is None or cached[0] != index.build_id:
        titles = index.titles()
        cached = (index.build_id, Suggester(index.names, titles))
        current_app.extensions["medsearch_suggest"] = cached
    return cached[1]


def search_url(req: query.SearchRequest, *, q: str | None = None, drugs=None, section_types=None,
               offset: int = 0, respell: bool | None = None, closest: bool = False, fold: bool | None = None) -> str:
    """The results page for ``req`` with some of its parameters changed; defaults are left out of the URL."""
    conf = current_app.config["MEDSEARCH"]
    params: dict[str, Any] = {"q": req.q if q is None else q}
    drugs = req.drugs if drugs is None else drugs
    section_types = req.section_types if section_types is None else section_types
    if drugs:
        params["drug"] = list(drugs)
    if section_types:
        params["section_type"] = list(section_types)
    if req.k != conf["default_k"]:
        params["k"] = req.k
    if req.mode != "hybrid":
        params["mode"] = req.mode
    if offset:
        params["offset"] = offset
    if not (req.respell if respell is None else respell):
        params["spell"] = "off"
    if closest:
        params["show"] = "closest"
    if not (req.fold if fold is None else fold):
        params["fold"] = "off"
    return url_for("pages.search", **params)


def _toggle(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value) if value in values else (*values, value)


def section_chips(req: query.SearchRequest, result: SearchOutcome | None) -> tuple[list[Chip], list[Chip]]:
    """Section-type chips: those on this page, asked about or active first; the rest behind "more"."""
    shown = set(req.section_types)
    if result is not None:
        shown |= {h.passage.section_type for h in result.hits} | set(result.analysis.intents)
    first, rest = [], []
    for kind in SECTION_TYPES:
        if kind in HIDDEN_TYPES and kind not in req.section_types:
            continue
        chip = Chip(LABELS[kind], search_url(req, section_types=_toggle(req.section_types, kind)),
                    kind in req.section_types)
        (first if kind in shown else rest).append(chip)
    return first, rest


def medicine_name(article: Article, names: dict[str, list[str]]) -> str | None:
    """The lexicon name that filters to an article about a medicine: its ``drug``, else its title.

    Articles that say they are about a topic (``kind: topic``) name no medicine.
    """
    meta = article.meta or {}
    if str(meta.get("kind", "medicine")).lower() != "medicine" and not meta.get("drug"):
        return None
    for candidate in (str(meta.get("drug", "")), article.title):
        key = name_key(candidate)
        if key and article.id in names.get(key, ()):
            return key
    return None


def medicine_chips(req: query.SearchRequest, result: SearchOutcome | None, articles: dict[str, Article]) -> list[Chip]:
    """Medicine chips: active filters, then medicines the query names, then those of the results."""
    index = pinned_searcher().index
    names = index.names
    candidates = list(req.drugs)
    if result is not None:
        candidates += list(result.analysis.names)
        candidates += [medicine_name(articles[h.passage.article_id], names) for h in result.hits]
    chips: list[Chip] = []
    covered: set[frozenset[str]] = set()
    for name in candidates:
        ids = frozenset(names.get(name_key(name or ""), ()))
        if not ids or ids in covered:
            continue
        covered.add(ids)
        about = [articles.get(a) or index.article_header(a) for a in sorted(ids)]
        about = [a for a in about if a is not None and medicine_name(a, names)]
        if not about and name not in req.drugs:  # a topic ("statins and muscle pain") is no medicine
            continue
        label = about[0].title if len(about) == 1 else name
        label = label[:1].upper() + label[1:]
        chips.append(Chip(label, search_url(req, drugs=_toggle(req.drugs, name)), name in req.drugs))
        if len(chips) >= MAX_MEDICINE_CHIPS:
            break
    return chips


def elsewhere_label(hit: Hit, asked: tuple[str, ...]) -> str:
    """What a result is about when it is not about the medicine(s) the query names, or ''."""
    if not asked or hit.about_asked:
        return ""
    if hit.medicines:
        return "About " + ", ".join(hit.medicines)
    return "Not about " + " or ".join(asked)


def card_for(hit: Hit, article: Article | None, asked: tuple[str, ...] = ()) -> Card:
    """A hit with its article's updated date, where the text comes from, and what else it is about."""
    meta = (article.meta if article else {}) or {}
    p = hit.passage
    if domain(p.url):
        sources: tuple[tuple[str, str], ...] = ((domain(p.url), p.url),)
    else:  # our own articles: the publishers they were written from
        sources = tuple((domain(r["url"]), r["url"]) for r in meta.get("references", []) or []
                        if isinstance(r, dict) and domain(str(r.get("url", ""))))
    by_domain: dict[str, str] = {}
    for host, url in sources:  # one link per publisher: three MedlinePlus pages read as one source
        by_domain.setdefault(host, url)
    boxed_id = str(meta.get("boxed_warning") or "")
    boxed = None
    if boxed_id:
        boxed = ("Boxed warning", "") if p.section_id == boxed_id else (
            "This label has a boxed warning", url_for("pages.article", article_id=p.article_id) + "#" + boxed_id)
    return Card(hit=hit, updated=meta.get("updated"), sources=tuple(by_domain.items()),
                elsewhere=elsewhere_label(hit, asked), boxed=boxed)


def json_twin(req: query.SearchRequest) -> str:
    """The versioned JSON API's answer to the same search."""
    params: dict[str, Any] = {"q": req.q, "k": req.k, "offset": req.offset or None, "mode": req.mode,
                              "drug": list(req.drugs) or None, "section_type": list(req.section_types) or None,
                              "spell": None if req.respell else "off"}
    return url_for("api_v1.search", **{k: v for k, v in params.items() if v is not None})


# -- pages ------------------------------------------------------------------------------------
@bp.get("/")
def home():
    return render_template("home.html", q="", examples=EXAMPLES, autofocus=True)


@bp.get("/search")
def search():
    """Results page; a bad query or filter shows its message on the page with status 400."""
    conf = current_app.config["MEDSEARCH"]
    try:
        req = query.parse(request.args, conf)
        result = service.run(req, pinned_searcher(), current_app.extensions["urgency"])
    except BadQuery as exc:
        q = query.normalise(request.args.get("q", "")[:conf["max_query_chars"]])
        unfiltered = url_for("pages.search", q=q) if q and (request.args.get("drug") or request.args.get("section_type")) else None
        return render_template("results.html", q=q, error=exc.message, unfiltered=unfiltered, autofocus=True), 400
    index = pinned_searcher().index
    articles = {h.passage.article_id: index.article_header(h.passage.article_id) for h in result.hits}
    analysis = result.analysis
    # Labelled when not about what was asked: the medicines that rank first, or those the site has no article on.
    asked = tuple(m.generic for m in (analysis.constraining or analysis.uncovered))
    cards = [card_for(h, articles[h.passage.article_id], asked) for h in result.hits]
    for n, card in enumerate(cards):  # a medicine's other labels, folded behind its best-matching one
        if card.hit.more_labels:
            medicine = index.label_medicine[card.hit.passage.article_id]
            noun = "label" if card.hit.more_labels == 1 else "labels"
            cards[n] = replace(card, more_labels=(f"{card.hit.more_labels} more {noun} of {medicine}",
                                                  search_url(req, drugs=(medicine,), fold=False)))
    # Nonsense and off-topic queries get "No good match" instead of their closest passages (a link shows them);
    # an empty or filtered search keeps its own page, which says what to change.
    no_match = (result.match.level == "none" and bool(result.hits) and not (req.drugs or req.section_types)
                and request.args.get("show") != "closest")
    chips_first, chips_more = section_chips(req, result)
    context: dict[str, Any] = dict(
        q=req.q, req=req, result=result, hits=result.hits, cards=cards, error=None, notice=result.notice,
        analysis=analysis, type_chips=chips_first, more_type_chips=chips_more,
        medicine_chips=medicine_chips(req, result, articles), json_url=json_twin(req),
        spell_off_url=search_url(req, respell=False) if analysis.corrections else None,
        prev_url=search_url(req, offset=result.prev_offset) if result.prev_offset is not None else None,
        next_url=search_url(req, offset=result.next_offset) if result.next_offset is not None else None,
        filtered=bool(req.drugs or req.section_types), unfiltered=search_url(req, drugs=(), section_types=()),
        autofocus=not result.hits or no_match, labels=LABELS, match=result.match, no_match=no_match,
        brands=[(typed[:1].upper() + typed[1:], generic) for typed, generic in result.match.brands])
    if not req.respell:  # the reader turned correction off: still say what we would have read
        guess = pinned_searcher().understander.analyse(req.q)
        if guess.corrections:
            context["did_you_mean"] = (guess.corrected, search_url(req, q=guess.corrected, respell=True))
    if no_match:
        context.update(closest_url=search_url(req, closest=True), examples=EXAMPLES)
    if not result.hits or no_match:
        context["related"] = [(s, url_for("pages.article", article_id=s.article_id))
                              for s in suggester().related(analysis.corrected)]
        context["other_mode_url"] = search_url(replace(req, mode="hybrid")) if req.mode != "hybrid" else None
    return render_template("results.html", **context)


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    found = pinned_searcher().index.article(article_id)
    if found is None:
        abort(404, description=f"there is no article {article_id!r} in this index")
    boxed = str((found.meta or {}).get("boxed_warning") or "")
    if boxed and any(s.id == boxed for s in found.sections):  # a label's boxed warning comes first, whatever its place
        found = replace(found, sections=tuple(sorted(found.sections, key=lambda s: s.id != boxed)))
    return render_template("article.html", article=found, q="", boxed=boxed)


@bp.get("/suggest")
def suggest():
    """Medicine names completing what is typed: ``{"query", "suggestions": [{name, completion, title, url}]}``."""
    conf = current_app.config["MEDSEARCH"]
    q = request.args.get("q", "")[:conf["max_query_chars"]]
    found = suggester().complete(q.lstrip())
    response = jsonify({"query": q, "suggestions": [
        {**s.to_json(), "url": url_for("pages.article", article_id=s.article_id)} for s in found]})
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# -- template filters -----------------------------------------------------------------------
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
    return urlsplit(url).netloc.removeprefix("www.") if url.startswith(("http://", "https://")) else ""


@bp.app_template_test("http_url")
def is_http_url(value) -> bool:
    """``{% if url is http_url %}``: render a link only to an http(s) URL (indexes built before the check)."""
    return bool(safe_http_url(value))


@bp.app_template_filter("iso_date")
def iso_date(value) -> str:
    """A date from article metadata as YYYY-MM-DD, or '' when it is not a date."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        return ""


@bp.app_template_filter("long_date")
def long_date(value) -> str:
    """A date as readers write it ("1 November 2026"); anything else as it is."""
    iso = iso_date(value)
    if not iso:
        return str(value)
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


@bp.app_template_filter("blocks")
def blocks(text: str) -> list[tuple[str, Any]]:
    """Section text as ("p", line) paragraphs and ("ul", [lines]) lists.

    Loaders keep a list as one line per item inside a block; a block's first line that ends
    with ":" introduces the list that follows it.
    """
    out: list[tuple[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if len(lines) == 1:
            out.append(("p", lines[0]))
            continue
        if lines[0].endswith(":"):
            out.append(("p", lines.pop(0)))
        out.append(("ul", lines))
    return out


_PHONE = re.compile(r"\b(999|911|111|112|988|116 123|1-800-222-1222)\b")


@bp.app_template_filter("phone_links")
def phone_links(text: str) -> Markup:
    """Escape a notice and make its emergency numbers tappable on a phone."""
    parts = _PHONE.split(text)
    return Markup("").join(Markup('<a href="tel:{}">{}</a>').format(p.replace(" ", "").replace("-", ""), p)
                           if i % 2 else escape(p) for i, p in enumerate(parts))

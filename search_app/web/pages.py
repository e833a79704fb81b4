"""HTML pages: search form, results, articles, and name suggestions as you type. Usable without JavaScript."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from indexer.blocks import blocks_of
from indexer.errors import BadQuery
from indexer.history import recent_changes_of
from indexer.lexicon import name_key
from indexer.models import Article, Passage
from indexer.section_types import LABELS, SECTION_TYPES
from indexer.urls import safe_http_url

from ..core import folding, query
from ..core import search as service
from ..core.credit import Credit, credit_of
from ..core.label_changes import latest_changes
from ..core.ranking import Hit
from ..core.search import SearchOutcome
from ..core.snippets import Snippet, snippet
from ..core.suggest import Suggester
from .hosts import base_url  # citations' permalinks start where the API's do
from .live import pinned_searcher
from .serialise import article_citation, cite
from .settings import app_settings

bp = Blueprint("pages", __name__)

EXAMPLES = ("can amitriptyline cause cramps", "what happens if I miss a dose of sertraline",
            "can I take ibuprofen with lisinopril", "how should I store insulin")
MAX_MEDICINE_CHIPS = 6
MAX_CHANGES_LISTED = 12  # "What changed in version W" lists this many sections; the JSON twin has them all
PARAMETERS = frozenset({"q", "k", "offset", "drug", "section_type", "mode", "spell", "fold", "show"})
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
    credit: Credit  # who wrote it (medsearch, or the publisher) and what it cites
    citation: str = ""  # the plain-text citation the API gives, for "Copy citation"
    why: tuple[str, ...] = ()  # "Why this result", in words
    context_url: str = ""  # "Read in context": the section on its article page, marked as the result's
    snippet: Snippet | None = None  # the sentences, items or rows of the passage that match the query
    elsewhere: str = ""  # "About amoxicillin": set when the result is not about the medicine the query names
    more_labels: tuple[str, str] | None = None  # ("12 more labels of atorvastatin: 3 older, 9 repackaged", url)
    boxed: tuple[str, str] | None = None  # a drug label's boxed warning: (what to say, link to it or "")
    also_in: str = ""  # "Also in 4 other labels": the same text, shown once (the list is ``hit.also_in``)


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
    settings = app_settings()
    params: dict[str, Any] = {"q": req.q if q is None else q}
    drugs = req.drugs if drugs is None else drugs
    section_types = req.section_types if section_types is None else section_types
    if drugs:
        params["drug"] = list(drugs)
    if section_types:
        params["section_type"] = list(section_types)
    if req.k != settings.search.default_k:
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
    """Section-type chips: those of the first page, asked about or active first; the rest behind "more".

    Made from the first page whatever page this is, so that the chips stay put from page to page.
    """
    shown = set(req.section_types)
    if result is not None:
        shown |= {kind for _, kind in result.first_page} | set(result.analysis.intents)
    first: list[Chip] = []
    rest: list[Chip] = []
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
    """Medicine chips: active filters, then medicines the query names, then those of the first page's results."""
    index = pinned_searcher().index
    names = index.names
    candidates = list(req.drugs)
    if result is not None:
        candidates += list(result.analysis.names)
        leading = (articles.get(a) or index.article_header(a) for a, _ in result.first_page)
        candidates += [n for n in (medicine_name(a, names) for a in leading if a is not None) if n]
    chips: list[Chip] = []
    covered: set[frozenset[str]] = set()
    for name in candidates:
        ids = frozenset(names.get(name_key(name or ""), ()))
        if not ids or ids in covered:
            continue
        covered.add(ids)
        about = [articles.get(a) or index.article_header(a) for a in sorted(ids)]
        medicines = [a for a in about if a is not None and medicine_name(a, names)]
        if not medicines and name not in req.drugs:  # a topic ("statins and muscle pain") is no medicine
            continue
        label = medicines[0].title if len(medicines) == 1 else name
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


def why_lines(hit: Hit, named: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Why a passage was ranked here, in a reader's words (the API has the scores and ranks).

    ``named``: the generic names of the medicines the query names.
    """
    lines = []
    if hit.about_asked:
        about = [m for m in named if m in hit.medicines] or list(named) or list(hit.medicines)
        lines.append(f"It is about {' and '.join(about)}, which your question names." if about
                     else "It is about a medicine your question names.")
    elif hit.name_match:
        lines.append("It comes from an article about a medicine your question names.")
    if hit.intent_match:
        kind = LABELS.get(hit.passage.section_type, "")
        lines.append(f"It comes from a section on {kind.lower()}, the kind of information you asked for."
                     if kind else "It comes from the kind of section you asked for.")
    if hit.dense_rank == 1:
        lines.append("Of all the passages, its meaning is the closest to your question.")
    elif hit.dense_rank and hit.dense_rank <= 10:
        lines.append("Its meaning is among the ten closest to your question.")
    elif hit.dense_rank:
        lines.append("Its meaning is close to your question.")
    if hit.matched:
        lines.append("It contains words of your question, or close to them: " + ", ".join(hit.matched) + ".")
    return tuple(lines)


def context_link(p: Passage) -> str:
    """The passage's permalink with ``?result=`` naming its section, which the article page then labels."""
    path, _, anchor = p.permalink.partition("#")
    return f"{path}?{urlencode({'result': p.section_id})}" + (f"#{anchor}" if anchor else "")


def card_for(hit: Hit, article: Article | None, asked: tuple[str, ...] = (), named: tuple[str, ...] = (),
             query: str = "") -> Card:
    """A hit with its article's credit, citation and updated date, and what else it is about."""
    meta = (article.meta if article else {}) or {}
    p = hit.passage
    boxed_id = str(meta.get("boxed_warning") or "")
    boxed = None
    if boxed_id:
        boxed = ("Boxed warning", "") if p.section_id == boxed_id else (
            "This label has a boxed warning", url_for("pages.article", article_id=p.article_id) + "#" + boxed_id)
    return Card(hit=hit, updated=meta.get("updated"), credit=credit_of(article),
                citation=cite(p, article, base_url())["citation"], why=why_lines(hit, named),
                context_url=context_link(p),
                snippet=snippet(p.text, hit.matched, query, shown_above=f"{p.title} {p.heading}"),
                elsewhere=elsewhere_label(hit, asked), boxed=boxed, also_in=also_in_label(hit))


def also_in_label(hit: Hit) -> str:
    """ "Also in 1 other label" ("articles" when some copy is no drug label); '' when the text is printed once."""
    count = hit.also_in.count
    if not count:
        return ""
    noun = "label" if all(c.set_id for c in hit.also_in.copies) else "article"
    return f"Also in {count} other {noun}{'' if count == 1 else 's'}"


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
    settings = app_settings()
    try:
        req = query.parse(request.args, settings.search)
        result = service.run(req, pinned_searcher(), current_app.extensions["urgency"])
    except BadQuery as exc:
        q = query.normalise(request.args.get("q", "")[:settings.search.max_query_chars])
        unfiltered = url_for("pages.search", q=q) if q and (request.args.get("drug") or request.args.get("section_type")) else None
        return render_template("results.html", q=q, error=exc.message, unfiltered=unfiltered, autofocus=True), 400
    index = pinned_searcher().index
    articles = {h.passage.article_id: index.article_header(h.passage.article_id) for h in result.hits}
    analysis = result.analysis
    # Labelled when not about what was asked: the medicines that rank first, or those the site has no article on.
    asked = tuple(m.generic for m in (analysis.constraining or analysis.uncovered))
    named = tuple(dict.fromkeys(m.generic for m in analysis.medicines))
    cards = [card_for(h, articles[h.passage.article_id], asked, named, analysis.corrected) for h in result.hits]
    folded: dict[str, folding.Folded | None] = {}
    for n, card in enumerate(cards):  # a medicine's other labels, folded behind its best-matching one, by what they are
        if card.hit.more_labels:
            article_id = card.hit.passage.article_id
            if article_id not in folded:  # a label's sections share its folded ones: counted once
                folded[article_id] = folding.folded_behind(index.articles, article_id)
            behind = folded[article_id]
            if behind is not None and behind.count:
                cards[n] = replace(card, more_labels=(behind.describe(),
                                                      search_url(req, drugs=(behind.medicine,), fold=False)))
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
        brands=[(typed[:1].upper() + typed[1:], generic) for typed, generic in result.match.brands],
        # A drug filter naming no medicine here: said, with the name it may misspell, like any empty filter.
        unknown_drugs=[(typed, guess, search_url(req, drugs=tuple(guess if d == typed else d for d in req.drugs))
                        if guess else None) for typed, guess in result.unknown_drugs])
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
    index = pinned_searcher().index
    found = index.article(article_id)
    if found is None:
        abort(404, description=f"We have no article {article_id!r}. It may have been renamed or removed: "
                               "search for the medicine instead.")
    boxed = str((found.meta or {}).get("boxed_warning") or "")
    if boxed and any(s.id == boxed for s in found.sections):
        # A label's boxed warning comes first, whatever its place: before its other sections, and on the page before
        # what changed in this version and its recent major changes too (article.html).
        found = replace(found, sections=tuple(sorted(found.sections, key=lambda s: s.id != boxed)))
    else:
        boxed = ""
    # "Read in context" links say which section the result came from (?result=): the page labels that one only,
    # not a section the reader jumps to from the contents.
    from_result = request.args.get("result", "")
    from_result = from_result if any(s.id == from_result for s in found.sections) else ""
    # A drug label: what changed since its previous version (when the build kept one), and its own list of
    # recent major changes (never searched).
    is_label = (found.meta or {}).get("kind") == "label"
    changes = latest_changes(index, article_id) if is_label else None
    listed: list[tuple[str, Any]] = []
    if changes is not None:
        listed = [("Changed", c) for c in changes.changed] + [("Added", c) for c in changes.added] + \
                 [("Removed", c) for c in changes.removed]
    # A label's sections fold under their headings on a phone (page.js); an ordinary article's never do.
    return render_template("article.html", article=found, q="", boxed=boxed, from_result=from_result,
                           fold_sections=is_label and len(found.sections) > 1,
                           changes=changes, changes_listed=listed[:MAX_CHANGES_LISTED],
                           changes_more=max(0, len(listed) - MAX_CHANGES_LISTED),
                           changes_url=url_for("api_v1.label_changes_between", set_id=article_id) if changes else "",
                           recent_changes=recent_changes_of(found.meta) if is_label else None)


@bp.get("/suggest")
def suggest():
    """Medicine names completing what is typed: ``{"query", "suggestions": [{name, completion, title, url}]}``."""
    settings = app_settings()
    q = request.args.get("q", "")[:settings.search.max_query_chars]
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


@bp.app_template_global("article_credit")
def article_credit(article: Article) -> Credit:
    """``{% set credit = article_credit(article) %}``: who wrote an article and what it cites."""
    return credit_of(article)


@bp.app_template_global("article_citation_text")
def article_citation_text(article: Article) -> str:
    """The whole article's plain-text citation, as the article API gives it."""
    return article_citation(article, base_url())["citation"]


@bp.app_template_filter("sentence")
def sentence(text: str) -> str:
    """A message as a sentence for the page: a capital first letter and a full stop (the API's stay as they are)."""
    text = str(text).strip()
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if first in PARAMETERS:  # "k must be from 1 to 50": the name stays as the URL spells it
        text = "The parameter " + text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!", ":")) else text + "."


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


@dataclass(frozen=True)
class TableView:
    """A table as the page draws it: header and body rows of (text, columns it spans) cells."""

    head: tuple[tuple[tuple[str, int], ...], ...]
    body: tuple[tuple[tuple[str, int], ...], ...]


def table_view(rows: tuple[tuple[str, ...], ...], spans: tuple[tuple[int, ...], ...], header_rows: int) -> TableView:
    """The rows of a table block (``indexer.blocks``) with each spanning cell drawn once, across its columns."""
    spans = spans or tuple((1,) * len(row) for row in rows)  # a block made before spans were read
    drawn = tuple(tuple((cell, span) for cell, span in zip(row, row_spans) if span)
                  for row, row_spans in zip(rows, spans))
    return TableView(drawn[:header_rows], drawn[header_rows:])


# The marks that lead an item, by level: "•" (or "●"), then "○" (or "◦"), then "▪". Drug labels write their lists
# inline, in one paragraph ("• Monitor INR ... • Instruct patients ...", a sub-list "• Infuse over 60 minutes.
# ○ Flush line before and after ..."). A mark leads an item at the start or after a space, and before a space or a
# word ("•Known hypersensitivity"), so that the dot of a unit ("mcg•day/mL", "ng •hr/mL") or a salt
# ("C 17 H 18 F 3 NO •HCl", "•H 2 O") is not one.
_LEVELS = ("•●", "○◦", "▪")
_MARK = [re.compile(rf"(?:^|(?<=\s))[{marks}](?=\s|$|[A-Z]?[a-z]{{2,}}\b(?!/))") for marks in _LEVELS]


@dataclass(frozen=True)
class ListItem:
    """One item of a list read from inline bullets, with the items of its own sub-list."""

    text: str
    items: tuple[ListItem, ...] = ()


def _items(text: str, level: int) -> tuple[str, list[ListItem]]:
    """The text before the first mark of the highest level present (from ``level`` on), and the items it leads."""
    for depth in range(level, len(_LEVELS)):
        parts = _MARK[depth].split(text)
        if len(parts) > 1:
            break
    else:
        return text, []
    items = []
    for part in parts[1:]:
        if part.strip():
            lead, sub = _items(part, depth + 1)
            items.append(ListItem(" ".join(lead.split()), tuple(sub)))
    return parts[0], items


def bullet_list(text: str) -> tuple[str, list[ListItem]] | None:
    """A paragraph's inline bullets as (the text leading into them, [item, ...]), or None where they make no list.

    Two items or more make a list; so does one led by nothing or by a colon ("contraindicated in: • Pregnancy").
    A lone bullet inside a sentence, and empty items ("• •"), are left as they are. Inside an item, the marks of a
    lower level make its sub-list. Text after the last item stays in it: nothing tells where an item ends."""
    lead, items = _items(text, 0)
    lead = lead.strip()
    if len(items) >= 2 or (items and (not lead or lead.endswith(":"))):
        return lead, items
    return None


@bp.app_template_filter("blocks")
def blocks(text: str) -> list[tuple[str, Any]]:
    """Section or passage text as ("p", text), ("ul", [ListItem, ...]) and ("table", TableView) (``indexer.blocks``);
    a paragraph's inline bullets as a list (``bullet_list``), sub-lists nested, the stored text unchanged."""
    out: list[tuple[str, Any]] = []
    for block in blocks_of(text):
        listed = bullet_list(block.text) if block.kind == "p" else None
        if block.kind == "li" and not block.list_start and out and out[-1][0] == "ul":
            out[-1][1].append(ListItem(block.text))
        elif block.kind == "li":
            out.append(("ul", [ListItem(block.text)]))
        elif block.kind == "table":
            out.append(("table", table_view(block.rows, block.spans, block.header_rows)))
        elif listed is not None:
            lead, items = listed
            out += ([("p", lead)] if lead else []) + [("ul", items)]
        else:
            out.append(("p", block.text))
    return out


@bp.app_template_filter("snippet_blocks")
def snippet_blocks(shown: Snippet) -> list[tuple[str, Any, bool]]:
    """A snippet as ("p", text, gap), ("ul", [(item, gap), ...], gap) and ("table", TableView, gap); gap: text left
    out before it."""
    out: list[tuple[str, Any, bool]] = []
    for piece in shown.pieces:
        # A list's left-out items show as an "…" item inside it, before the next one shown.
        if piece.kind == "li" and not piece.list_start and out and out[-1][0] == "ul":
            out[-1][1].append((piece.text, piece.gap_before))
        elif piece.kind == "li":
            out.append(("ul", [(piece.text, piece.gap_before)], False))
        elif piece.kind == "table":
            out.append(("table", table_view(piece.rows, piece.spans, piece.header_rows), piece.gap_before))
        else:
            out.append(("p", piece.text, piece.gap_before))
    return out


_PHONE = re.compile(r"\b(999|911|111|112|988|116 123|1-800-222-1222)\b")


@bp.app_template_filter("phone_links")
def phone_links(text: str) -> Markup:
    """Escape a notice and make its emergency numbers tappable on a phone."""
    parts = _PHONE.split(text)
    return Markup("").join(Markup('<a href="tel:{}">{}</a>').format(p.replace(" ", "").replace("-", ""), p)
                           if i % 2 else escape(p) for i, p in enumerate(parts))

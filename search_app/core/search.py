"""The search service: the one path from a parsed request to a result, for every page and API.

A view parses the request (``query.parse``), takes its pinned searcher and calls ``run``;
``run`` ranks (``ranking``), asks for the urgency verdict, and decides the paging with one
rule. The result is one ``SearchOutcome``, which ``serialise`` turns into every JSON shape
and the pages render. Nothing here imports Flask.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from indexer.errors import BadQuery, MedsearchError

from . import lookups
from .matching import Match, Thresholds, judge
from .query import MAX_OFFSET, SearchRequest
from .ranking import Filters, Hit, Searcher
from .understanding import Analysis
from .urgency.gate import Evidence


class BuildChanged(MedsearchError):
    """A later page asked of a build that is no longer served (a page of a newer build would not continue it)."""

    code = "build_changed"

    def __init__(self, wanted: str, serving: str):
        self.message = (f"the index was rebuilt: build {wanted[:40]!r} is no longer served (now {serving}); "
                        "start again from offset 0")
        super().__init__(self.message)


class Assessor(Protocol):
    def assess(self, text: str, vector: Any = None, medicines: tuple[str, ...] = (), evidence: Any = None) -> Any: ...


@dataclass(frozen=True)
class SearchOutcome:
    """Everything one search answers: the hits of the page, what was understood, the notice, the paging."""

    request: SearchRequest
    build_id: str
    analysis: Analysis
    hits: list[Hit]
    notice: Any                # urgency.Notice or None
    match: Match               # does the build answer it, about the medicine it names
    closeness: float           # cosine of the query to the nearest passage of the build (the match's evidence)
    total_sections: int        # sections ranked in all
    next_offset: int | None    # offset of the next page, None on the last
    prev_offset: int | None    # offset of the previous page, None on the first
    first_page: tuple[tuple[str, str], ...] = ()  # (article id, section type) of page 1's hits, on every page
    total_exact: bool = True   # False: total_sections is a lower bound (more may rank past the pool)
    # drug= values naming no medicine of this build, each with the name it may be a misspelling of (or None):
    # like any filter that matches nothing, they answer with no results, not with an error.
    unknown_drugs: tuple[tuple[str, str | None], ...] = ()


def next_page(req: SearchRequest, shown: int, total: int, exact: bool = True) -> int | None:
    """The offset of the page after this one: after a full page with more ranked (or more that may rank, when
    the total is a lower bound), within the offset bound."""
    following = req.offset + req.k
    more = total > following or not exact
    return following if shown == req.k and more and following <= MAX_OFFSET else None


def _labels_first(hits: list[Hit], named: tuple[str, ...], searcher: Searcher, req: SearchRequest) -> list[Hit]:
    """The page with the named labels first (on the first page: each label's opening section), their other
    sections not repeated below; the rest of the ranking follows as it was."""
    index = searcher.index
    rest = [h for h in hits if h.passage.article_id not in named]
    if req.offset:
        return [replace(h, rank=req.offset + n + 1) for n, h in enumerate(rest)]
    first_rows = [int(index.rows_of([article_id])[0]) for article_id in named if len(index.rows_of([article_id]))]
    passages = index.passages(first_rows)
    top = max((h.score for h in hits), default=1.0)
    leading = [Hit(rank=0, score=top, passage=passages[row], name_match=True, about_asked=True,
                   medicines=index.article_medicines(passages[row].article_id)) for row in first_rows]
    return [replace(h, rank=n + 1) for n, h in enumerate((leading + rest)[:req.k])]


def _knows(searcher: Searcher, drug: str) -> bool:
    """Whether ``drug`` names a medicine of the searcher's build (the filter's own test)."""
    try:
        searcher.allowed_rows(Filters((drug,), ()))
    except BadQuery:
        return False
    return True


def _unknown_drugs(req: SearchRequest, searcher: Searcher) -> tuple[tuple[str, str | None], ...]:
    """The drug= values no medicine of the build answers to, each with its likely spelling if the build knows one."""
    unknown = []
    for drug in req.drugs:
        if not _knows(searcher, drug):
            guess = searcher.understander.analyse(drug)
            unknown.append((drug, guess.corrected if guess.corrections and _knows(searcher, guess.corrected) else None))
    return tuple(unknown)


def run(req: SearchRequest, searcher: Searcher, urgency: Assessor | None = None, build: str | None = None,
        limits: Thresholds | None = None) -> SearchOutcome:
    """Search ``req`` on ``searcher``'s build; ``build``, when given, must be that build's id."""
    build_id = searcher.index.build_id
    if build and build != build_id:
        raise BuildChanged(build, build_id)
    unknown = _unknown_drugs(req, searcher) if req.drugs else ()
    known = tuple(d for d in req.drugs if d not in {typed for typed, _ in unknown})
    result = searcher.search(req.q, req.k, offset=req.offset, filters=Filters(known, req.section_types),
                             mode=req.mode, respell=req.respell, fold=req.fold)
    if unknown and not known:  # every medicine asked for is unknown here: the filter matches nothing
        result = replace(result, hits=[], total_sections=0, complete=True)
    analysis = result.analysis
    medicines = tuple(m.generic for m in analysis.medicines)
    match = judge(analysis, result.best_cosine, limits or searcher.thresholds)
    # An NDC, set id or application number names its label: it comes first, whatever the words score.
    named = lookups.labels_named(req.q, searcher.index) if not (req.drugs or req.section_types) else ()
    if named:
        result = replace(result, hits=_labels_first(result.hits, named, searcher, req))
        match = replace(match, level="strong")
    # The notice must agree with what the search found: the match verdict and the names it understood.
    evidence = Evidence(match.level, analysis.names, analysis.corrected if analysis.corrections else None)
    notice = urgency.assess(req.q, vector=result.query_vector, medicines=medicines, evidence=evidence) \
        if urgency is not None else None
    return SearchOutcome(
        request=req, build_id=build_id, analysis=result.analysis, hits=result.hits, notice=notice, match=match,
        closeness=result.best_cosine,
        total_sections=result.total_sections,
        next_offset=next_page(req, len(result.hits), result.total_sections, result.complete),
        prev_offset=max(req.offset - req.k, 0) if req.offset else None, first_page=result.first_page,
        total_exact=result.complete, unknown_drugs=unknown)

"""The OpenAPI 3 document of ``/api/v1``, built from the settings so its limits are the server's own.

``tests/test_openapi.py`` fuzzes the running app against this document (schemathesis) and
checks that every route under ``/api/v1`` is in it, so the two cannot drift apart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indexer import __version__
from indexer.section_types import LABELS, SECTION_TYPES

from ..core.copies import LISTED as ALSO_IN_LISTED
from ..core.query import MAX_OFFSET
from ..core.ranking import MODES

if TYPE_CHECKING:
    from ..core.settings import SearchSettings
    from .settings import AppSettings


def _string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema = {"type": "object", "required": list(properties), "additionalProperties": False,
              "properties": properties}
    return {"description": description, **schema} if description else schema


def _strings() -> dict[str, Any]:
    return {"type": "array", "items": _string()}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


REFERENCES = {"type": "array", "description": "What the article was written from (for our own articles, the pages "
              "its facts come from), in its order.", "items": _object({
                  "title": _string(), "url": _string(description="An http(s) link, or empty when the reference "
                                                                 "gives none."),
                  "publisher": _string(description="Who published the reference (`NHS`, `MedlinePlus`, ...), from "
                                                   "its site, else its title's `Publisher:` prefix; may be empty.")})}
LABEL = _nullable(_object({
    "labeler": _nullable(_string(description="The company whose label it is (\"Janssen Pharmaceuticals, Inc.\"; a "
                                             "repackager's own label is the repackager's); null when it gives none.")),
    "repackaged": {"type": "boolean", "description": "A repackager's or relabeler's label of another company's "
                                                     "product."},
    "set_id": _string(description="DailyMed's set id: the label through all its versions."),
    "version": _nullable({"type": "integer", "description": "The label's version within its set id."}),
    "effective_date": _nullable(_string(description="The version's effective date, YYYY-MM-DD.")),
    "application_numbers": {**_strings(), "description": "The FDA application(s) the product is approved under "
                                                         "(`NDA022406`, `ANDA070278`, `BLA125084`; an OTC "
                                                         "monograph's citation)."},
    "spl_id": _nullable(_string(description="The id of this version's SPL document.")),
    "product": _string(description="The product the label is for: \"XARELTO (rivaroxaban) tablet\"."),
    "product_ndcs": {**_strings(), "description": "The products' National Drug Codes."},
    "package_ndcs": {**_strings(), "description": "The packages' National Drug Codes."},
    "distributor": _string(description="Who distributes it: `DailyMed (U.S. National Library of Medicine)`."),
}, "A drug label's record (null for other articles)."))
CITATION = {
    "publisher": _string(description="Who wrote and published the article: `medsearch` for our own articles "
                                     "(written by us from the `references`), else the third-party publisher "
                                     "(`publisher unknown` when the source says neither); a drug label's labeler "
                                     "(`labeler unknown` when it gives none)."),
    "source": _string(description="The same as `publisher` (the name of this field in earlier answers)."),
    "updated": _nullable(_string(description="When the article was last reviewed, as its source gives it (a drug "
                                             "label: its effective date).")),
    "references": REFERENCES,
    "label": LABEL,
    "permalink_url": _string(description="Absolute link to the section on this site."),
    "citation": _string(description="Plain text: Title: section. Publisher, updated date. Publisher's link. "
                                    "Permalink. References: title <link>; ... (drug labels: product. Labeler. Section. "
                                    "Drug label, version, effective date, application number, set id. Via "
                                    "DailyMed (U.S. National Library of Medicine): DailyMed link. Permalink)."),
    "citation_csl": _ref("CslItem"),
    "loinc": _nullable(_string(description="A drug label's section: its LOINC section code (`34066-1` is the boxed "
                                           "warning); null for other articles.")),
    "field": _nullable(_string(description="A drug label's section: the openFDA field it came from "
                                           "(`boxed_warning`); null for other articles and SPL-only sections.")),
}
BLOCKS = {"type": "array", "description": "The text's structure, in reading order, for showing lists as lists and "
          "tables as tables: the same words as `text`.", "items": {
              "type": "object", "required": ["type", "text"], "additionalProperties": False, "properties": {
                  "type": _string(enum=["p", "li", "table"], description="`p` a paragraph, `li` one list item "
                                  "(consecutive items form one list), `table` a table."),
                  "text": _string(description="The block's text (a table: its rows, one a line, cells joined by "
                                              "` | `; an empty cell is empty, a cell spanning columns is written once "
                                              "with a bar glued to it for each further column, a `|` in a cell is "
                                              "`\\|`, and a `--- | ---` line closes a header of several rows)."),
                  "rows": {"type": "array", "description": "A table's cells, row by row, header rows first (tables "
                           "only): every row as wide as the table, a merged cell's text in each row and column it "
                           "spans, an empty cell as an empty string, so that a cell's column is its index.",
                           "items": {"type": "array", "items": _string()}},
                  "header_rows": {"type": "integer", "minimum": 0, "description": "How many of `rows`, from the "
                                  "first, are the table's header (tables only)."}}}}
CSL_ITEM = {
    "type": "object", "required": ["id", "type", "title", "publisher", "URL"], "additionalProperties": False,
    "description": "The citation as one CSL-JSON item (Citation Style Language 1.0; import it into Zotero, Mendeley "
                   "or pandoc's citeproc).",
    "properties": {
        "id": _string(description="The passage id, `article#section` or the article id."),
        "type": _string(enum=["webpage"]), "title": _string(description="The article's title."),
        "section": _string(description="The section's heading (absent for a whole article)."),
        "publisher": _string(description="As `publisher` (a drug label: `U.S. National Library of Medicine`, "
                                         "DailyMed's publisher; its labeler is its `author`)."),
        "URL": _string(description="The publisher's page for a third-party article, else this site's permalink."),
        "issued": {"type": "object", "description": "The updated date.", "required": ["date-parts"],
                   "additionalProperties": False, "properties": {"date-parts": {
                       "type": "array", "minItems": 1, "maxItems": 1, "items": {
                           "type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "integer"}}}}},
        "genre": _string(description="`drug label` for FDA labels."),
        "author": {"type": "array", "description": "A drug label's labeler.",
                   "items": _object({"literal": _string()})},
        "container-title": _string(description="A drug label: `DailyMed`."),
        "version": _string(description="A drug label's version."),
        "number": _string(description="A drug label's application number(s)."),
        "archive": _string(description="A drug label: `DailyMed`."),
        "archive_location": _string(description="A drug label's DailyMed set id."),
        "note": _string(description="The permalink when `URL` is the publisher's, and the references."),
    },
}


def _schemas(search: SearchSettings) -> dict[str, Any]:
    hit = {
        "rank": {"type": "integer", "minimum": 1, "description": "Position in the whole ranking (offset + 1 first)."},
        "score": {"type": "number", "description": "Fused relevance score; higher is better."},
        "passage_id": _string(description="Stable across rebuilds while the section keeps its place."),
        "article_id": _string(),
        "section_id": _string(),
        "section_type": _string(enum=list(SECTION_TYPES)),
        "title": _string(description="Article title."),
        "heading": _string(description="Section heading (may be empty)."),
        "text": _string(description="The passage text, unescaped: escape it before putting it in HTML. Its layout "
                                    "is the one `blocks` reads: blocks apart by a blank line, a list an item a line, "
                                    "a table a row a line with cells joined by ` | `."),
        "blocks": BLOCKS,
        "url": _string(description="The source's deep link, or this site's page where the article has none."),
        "permalink": _string(description="This site's page for the section, as a path."),
        "medicines": {**_strings(), "description": "Generic names of the medicines the passage's article is about "
                                                   "(empty for topic articles)."},
        "more_labels": {"type": "integer", "minimum": 0, "description": "For an FDA drug label: how many other labels "
                        "of the same medicine (other makers, repackagers) are folded behind this, its best-matching "
                        "one; ask with `fold=off` (and `drug=`) to list them. 0 for other articles."},
        "also_in": {"type": "array", "maxItems": ALSO_IN_LISTED, "description": "The other articles whose passage "
                    "says the same (the same heading and text once normalised: Unicode NFKC, whitespace collapsed, "
                    "case-folded), newest first: a repackager's copy of a label, a generic's copy of the brand's "
                    "text, class labeling. A page shows each text once, from the newest label (an original before a "
                    f"repackager's copy of the same date); at most {ALSO_IN_LISTED} are listed, `also_in_count` "
                    "says how many there are.",
                    "items": _object({
                        "article_id": _string(), "title": _string(description="Article title."),
                        "labeler": _nullable(_string(description="A drug label's labeler; null for other articles.")),
                        "set_id": _nullable(_string(description="A drug label's DailyMed set id.")),
                        "version": _nullable({"type": "integer", "description": "A drug label's version."}),
                        "effective_date": _nullable(_string(format="date", description="A drug label's "
                                                            "effective date.")),
                        "url": _nullable(_string(description="The article's own page elsewhere (a label's DailyMed "
                                                             "page); null when it has no http(s) link.")),
                        "permalink": _string(description="This site's page for the article, as a path."),
                    })},
        "also_in_count": {"type": "integer", "minimum": 0, "description": "How many other articles print this "
                          "passage's text (0: only this one); `also_in` lists the newest of them."},
        "explanation": _object({
            "dense_rank": _nullable({"type": "integer", "minimum": 1}),
            "lexical_rank": _nullable({"type": "integer", "minimum": 1}),
            "matched_terms": _strings(),
            "names_medicine": {"type": "boolean"},
            "about_medicine_asked": {"type": "boolean", "description": "The passage is about a medicine the query "
                                     "names: its article, or a section of another article whose heading names it. "
                                     "Such passages rank first unless the query compares medicines."},
            "section_type_asked": {"type": "boolean"},
        }, "Why the passage matched: ranks in the dense and word searches, query words found in it."),
        **CITATION,
    }
    passage = {key: value for key, value in hit.items()
               if key not in ("rank", "score", "explanation", "medicines", "more_labels", "also_in", "also_in_count")}
    passage["ordinal"] = {"type": "integer", "minimum": 0, "description": "Position of the passage in its section."}
    section = {
        "section_id": _string(), "heading": _string(), "section_type": _string(enum=list(SECTION_TYPES)),
        "text": _string(), "blocks": BLOCKS, "url": _string(), "permalink": _string(),
        "permalink_url": CITATION["permalink_url"], "citation": CITATION["citation"],
        "citation_csl": CITATION["citation_csl"], "loinc": CITATION["loinc"], "field": CITATION["field"],
    }
    return {
        "Error": _object({"error": _object({
            "code": _string(description="Stable, machine-readable reason, e.g. `empty_query`, `unknown_parameter`."),
            "message": _string(description="What went wrong and what to do, for a person."),
        })}, "The one error shape of every error response."),
        "Hit": _object(hit, "One ranked passage (the best one of its section)."),
        "CslItem": CSL_ITEM,
        "SearchResponse": _object({
            "build_id": _string(description="The index build that answered (also in `X-Medsearch-Build`)."),
            "query": _string(description="The query as understood: control characters dropped, spaces collapsed."),
            "k": {"type": "integer", "minimum": 1, "maximum": search.max_k},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            "mode": _string(enum=list(MODES)),
            "spell": _string(enum=["on", "off"]),
            "fold": _string(enum=["on", "off"]),
            "filters": _object({"drug": _strings(), "section_type": _strings()}),
            "notice": _nullable(_object({
                "level": _string(enum=["emergency", "urgent", "advice"], description=
                                 "`emergency`: call now; `urgent`: get advice today; `advice`: ask a pharmacist."),
                "message": _string(description="Show it above the results (numbers for the server's "
                                               "`emergency_region`)."),
                "reasons": {"type": "array", "minItems": 1, "description": "What raised it, the deciding one first.",
                            "items": {"type": "object", "required": ["source", "id", "level"],
                                      "additionalProperties": False, "properties": {
                                          "source": _string(enum=["rule", "detector"]),
                                          "id": _string(description="The rule's id, or `detector`."),
                                          "level": _string(enum=["emergency", "urgent", "advice"]),
                                          "situation": _string(description="The situation it recognised."),
                                          "similarity": {"type": "number", "minimum": -1, "maximum": 1,
                                                         "description": "Detector: cosine similarity to its "
                                                                        "nearest example of that level."},
                                          "probability": {"type": "number", "minimum": 0, "maximum": 1,
                                                          "description": "Detector: P(this level or worse)."},
                                          "example": _string(description="Detector: that nearest example.")}}},
                "calls": {"type": "array", "description": "Numbers to offer as tap-to-call buttons, in order.",
                          "items": _object({"kind": _string(enum=["emergency", "urgent", "poison", "crisis"]),
                                            "label": _string(), "number": _string(description="As shown."),
                                            "tel": _string(description="A `tel:` link."),
                                            "region": _string(enum=["uk", "us"])})},
            }, "An urgent-care notice the query calls for, or null.")),
            "match": _object({
                "level": _string(enum=["strong", "weak", "none"], description=
                                 "`strong`: the passages are close to the query (and about the medicine it names); "
                                 "`weak`: they may not answer it, or it names only medicines without an article "
                                 "here, so the results are about other medicines; `none`: nonsense or off-topic, "
                                 "the closest passages are returned but answer nothing. A query naming a medicine "
                                 "with an article is never `none`."),
                "medicines": {**_strings(), "description": "Generic names of the medicines the query names "
                                                          "(by generic, brand or misspelt name)."},
                "uncovered_medicines": {**_strings(), "description": "Those of `medicines` this index has no "
                                                                    "article about: no result is about them."},
            }, "Whether this index can answer the query."),
            "corrected_query": _nullable(_string(description="The query with medicine names respelled, if any were.")),
            "corrections": {"type": "array", "items": _object({"typed": _string(), "corrected": _string()})},
            "understood": _object({"medicines": _strings(), "expansions": _strings(), "section_types": _strings()}),
            "results": {"type": "array", "maxItems": search.max_k, "items": _ref("Hit")},
            "next_offset": _nullable({"type": "integer", "minimum": 1, "description":
                                      "Offset of the next page; null on the last page (or past the deepest offset). "
                                      "Given whenever more results may follow."}),
            "total": {"type": "integer", "minimum": 0, "description": "Sections ranked for this query: the exact "
                                                                       "total, or a lower bound (see next field)."},
            "total_is_lower_bound": {"type": "boolean", "description": "True when more sections may rank past the "
                                                                       "first pool of candidates; page on to see."},
            "unknown_drugs": {"type": "array", "description": "`drug` values naming no medicine of this index: like "
                                                              "any filter that matches nothing, they match no result.",
                              "items": _object({"drug": _string(description="As asked."),
                                                "did_you_mean": _nullable(_string(
                                                    description="The medicine it may misspell, if any."))})},
        }),
        "Passage": _object(passage, "One passage with its citation."),
        "PassageResponse": _object({"build_id": _string(), "passage": _ref("Passage")}),
        "Section": _object(section),
        "Article": _object({
            "article_id": _string(), "title": _string(),
            "url": _string(description="The publisher's page, or this site's page for our own articles."),
            "permalink": _string(), "permalink_url": _string(), "publisher": CITATION["publisher"],
            "source": CITATION["source"],
            "updated": CITATION["updated"], "label": CITATION["label"],
            "kind": _nullable(_string(description="`medicine` or `topic`.")),
            "drug": _nullable(_string()), "aliases": _strings(), "drug_class": _nullable(_string()),
            "references": REFERENCES,
            "citation": _string(description="The whole article's citation, as a section's without the section."),
            "citation_csl": CITATION["citation_csl"],
            "disclaimer": _nullable(_string()),
            "sections": {"type": "array", "items": _ref("Section")},
        }, "An article with every section, in order."),
        "ArticleResponse": _object({"build_id": _string(), "article": _ref("Article")}),
        **LABEL_SCHEMAS,
    }


_VERSION = {
    "version": {"type": "integer", "minimum": 0, "description": "The label's version number (DailyMed's)."},
    "effective_date": _nullable(_string(description="The version's effective date, YYYY-MM-DD.")),
    "source_file": _string(description="The file the build read this version from, by name (its folders are not "
                                       "shown): `update.zip!prescription/label.zip!label.xml`, `label.json`."),
    "current": {"type": "boolean", "description": "True for the version the build indexes (the one search "
                                                  "finds); false for an earlier one kept as history."},
}
_SECTION_REF = {
    "section_id": _string(),
    "heading": _string(description="The section's heading as this version has it."),
    "loinc": _nullable(_string(description="The section's LOINC code (`34066-1`, the boxed warning).")),
    "field": _nullable(_string(description="The openFDA field the section is (`boxed_warning`).")),
    "permalink": _nullable(_string(description="The section on this site's page of the label: only in the "
                                               "indexed version (earlier versions have no page).")),
}
LABEL_SCHEMAS = {
    "LabelVersionItem": _object(_VERSION, "One version of a drug label."),
    "LabelVersionsResponse": _object({
        "build_id": _string(), "set_id": _string(), "title": _string(description="The indexed version's title."),
        "versions": {"type": "array", "minItems": 1, "items": _ref("LabelVersionItem"),
                     "description": "Newest first: the indexed version, then the earlier versions the build keeps "
                                    "as history (at most the server's `keep_label_versions`)."},
    }),
    "LabelResponse": _object({"build_id": _string(), "label": _object({
        "set_id": _string(), "title": _string(), **_VERSION,
        "recent_major_changes": _nullable(_object({
            "loinc": _nullable(_string()), "heading": _string(), "text": _string(), "blocks": BLOCKS},
            "The label's own \"Recent Major Changes\" list (LOINC 43683-2): shown, never searched.")),
        "sections": {"type": "array", "items": _object({
            **_SECTION_REF, "section_type": _string(enum=list(SECTION_TYPES)), "text": _string(),
            "blocks": BLOCKS})},
    }, "One version of a drug label with its sections, in the label's order.")}),
    "LabelChangesResponse": _object({
        "build_id": _string(), "set_id": _string(), "title": _string(),
        "from": _ref("LabelVersionItem"), "to": _ref("LabelVersionItem"),
        "added": {"type": "array", "items": _object(_SECTION_REF), "description": "Sections of `to` that `from` "
                  "lacks, in the label's order."},
        "removed": {"type": "array", "items": _object(_SECTION_REF), "description": "Sections of `from` that "
                    "`to` lacks."},
        "changed": {"type": "array", "description": "Sections of both (matched by LOINC code and heading) whose "
                    "heading or text differ, as `to` has them.", "items": _object({
                        **_SECTION_REF, "heading_before": _string(description="The heading in `from`."),
                        "diff": {"type": "array", "description": "The section's sentences in reading order, as runs "
                                 "that both versions share (`equal`), that `from` only has (`delete`) and that `to` "
                                 "only has (`insert`); a changed sentence is a `delete` then an `insert`.",
                                 "items": _object({"op": _string(enum=["equal", "delete", "insert"]),
                                                   "text": _string()})}})},
        "unchanged": {"type": "integer", "minimum": 0, "description": "Sections alike in both."},
    }, "What changed from one version of a drug label to another, section by section."),
}


def _error(description: str, headers: dict | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": _ref("Error")}}}
    response["headers"] = {**BUILD_HEADER, **(headers or {})}
    return response


BUILD_HEADER = {"X-Medsearch-Build": {"description": "Id of the index build that answered.", "required": True,
                                      "schema": _string()}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before the next request.", "required": True,
                               "schema": {"type": "integer", "minimum": 1}}}


def search_example(base_url: str = "https://medsearch.example.org") -> dict[str, Any]:
    """An example search answer, made by the serialiser the API itself answers with (so it cannot drift)."""
    from indexer.models import Article, Passage

    from ..core.matching import Match
    from ..core.query import SearchRequest
    from ..core.ranking import Hit
    from ..core.search import SearchOutcome
    from ..core.understanding import Analysis
    from .serialise import search_json

    passage = Passage(id="amitriptyline/common-side-effects/0", article_id="amitriptyline",
                      section_id="common-side-effects", ordinal=0, title="Amitriptyline",
                      heading="Common side effects", text="Common side effects include a dry mouth, drowsiness and "
                      "constipation. They often ease after the first weeks.", url="/articles/amitriptyline"
                      "#common-side-effects", permalink="/articles/amitriptyline#common-side-effects",
                      section_type="side_effects")
    hit = Hit(rank=1, score=1.0931, passage=passage, dense_rank=1, lexical_rank=2, matched=("side", "effects"),
              name_match=True, about_asked=True, medicines=("amitriptyline",))
    analysis = Analysis(text="elavil side effects", corrected="elavil side effects", corrections=(),
                        names=("elavil",), articles=frozenset({"amitriptyline"}), expansions=("amitriptyline",),
                        intents=frozenset({"side_effects"}))
    outcome = SearchOutcome(request=SearchRequest(q="elavil side effects", k=1), build_id="20261201T120000000000Z-abc123",
                            analysis=analysis, hits=[hit], notice=None,
                            match=Match("strong", ("amitriptyline",), (), (("elavil", "amitriptyline"),)),
                            closeness=0.65, total_sections=12, next_offset=1, prev_offset=None, total_exact=False)
    article = Article(id="amitriptyline", title="Amitriptyline", url="", sections=(),
                      source_path="corpus/amitriptyline.md", meta={"updated": "2026-11-25", "references": [
                          {"title": "MedlinePlus: Amitriptyline", "url": "https://medlineplus.gov/druginfo/meds/"
                                                                         "a682388.html"},
                          {"title": "NHS: Amitriptyline", "url": "https://www.nhs.uk/medicines/amitriptyline/"}]})
    return search_json(outcome, lambda article_ids: dict.fromkeys(article_ids, article), base_url)


def _responses(ok_schema: str, *extra: tuple[int, str], example: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref(ok_schema)}
    if example is not None:
        content["example"] = example
    responses: dict[str, Any] = {
        "200": {"description": "OK", "headers": BUILD_HEADER, "content": {"application/json": content}},
        "400": _error("Bad request: a parameter is missing, malformed, out of bounds or unknown."),
        "413": _error("The request had a body larger than the server takes."),
        "429": _error("Too many requests from this address (only when the server sets a rate limit).",
                      RETRY_AFTER),
    }
    for status, description in extra:
        responses[str(status)] = _error(description)
    return responses


def _id_parameter(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": f"The {what} id, as search results give it.",
            "schema": _string(minLength=1, maxLength=300)}


def _set_id() -> dict[str, Any]:
    return {"name": "set_id", "in": "path", "required": True, "description": "The drug label's set id (its "
            "article id, as search results give it).", "schema": _string(minLength=1, maxLength=300)}


def document(settings: AppSettings) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the v1 API under the given settings."""
    search = settings.search
    search_parameters = [
        {"name": "q", "in": "query", "required": True,
         "description": "The question, in plain words. Control characters are dropped and spaces collapsed; "
                        "a query with nothing left is refused.",
         "schema": _string(minLength=1, maxLength=search.max_query_chars)},
        {"name": "k", "in": "query", "description": "How many results (one per section).",
         "schema": {"type": "integer", "minimum": 1, "maximum": search.max_k, "default": search.default_k}},
        {"name": "offset", "in": "query", "description": "Results to skip: pass the previous page's `next_offset`.",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
        {"name": "drug", "in": "query", "style": "form", "explode": True,
         "description": "Only passages about this medicine (a name, brand or alias): its own article, and the "
                        "sections of other articles whose heading names it (e.g. a topic article's \"Amitriptyline "
                        "and muscle cramps\"); repeat for any of several.",
         "schema": {"type": "array", "items": _string()}},
        {"name": "section_type", "in": "query", "style": "form", "explode": True,
         "description": "Only sections of this type; repeat for any of several. The types, as the page's chips "
                        "name them: " + "; ".join(f"`{t}` ({LABELS[t]})" for t in SECTION_TYPES) + ". A drug "
                        "label's section takes its type from its LOINC code; `boxed_warning` is a label's boxed "
                        "warning (and an article's section headed \"Boxed warning\" or \"Important warning\").",
         "schema": {"type": "array", "items": _string(enum=list(SECTION_TYPES))}},
        {"name": "mode", "in": "query", "description": "hybrid (default): meaning and words; dense: meaning only; "
                                                       "lexical: words only.",
         "schema": _string(enum=list(MODES), default="hybrid")},
        {"name": "spell", "in": "query", "description": "Respell misspelled medicine names (on by default).",
         "schema": _string(enum=["on", "off"], default="on")},
        {"name": "fold", "in": "query", "description": "Show only the best-matching FDA label of each medicine, "
                                                       "the others counted in its `more_labels` (on by default).",
         "schema": _string(enum=["on", "off"], default="on")},
        {"name": "build", "in": "query",
         "description": "The `build_id` of the first page: a later page from another build is refused with 409, "
                        "so that pages never mix two builds.",
         "schema": _string()},
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "medsearch API",
            "version": f"1 (medsearch {__version__})",
            "description": "Semantic search over medication articles: plain-language questions in, the passages that "
                           "answer them out, each with a citation. General information, not medical advice. "
                           "Unknown parameters are refused (400); every response carries the build id of the index "
                           "that answered in `X-Medsearch-Build`.",
        },
        "paths": {
            "/api/v1/search": {"get": {
                "operationId": "search", "summary": "Search passages",
                "description": "Ranked passages, the best one of each section, each with its citation. Pages are "
                               "stable within one build and never short while more results exist.",
                "parameters": search_parameters,
                "responses": _responses("SearchResponse", (409, "The `build` asked for is no longer served."),
                                        example=search_example(settings.server.public_url or "https://medsearch.example.org")),
            }},
            "/api/v1/passages/{passage_id}": {"get": {
                "operationId": "getPassage", "summary": "One passage, to fetch a cited passage again",
                "parameters": [_id_parameter("passage_id", "passage")],
                "responses": _responses("PassageResponse", (404, "No passage with that id in the served build.")),
            }},
            "/api/v1/articles/{article_id}": {"get": {
                "operationId": "getArticle", "summary": "One article with its sections",
                "parameters": [_id_parameter("article_id", "article")],
                "responses": _responses("ArticleResponse", (404, "No article with that id in the served build.")),
            }},
            "/api/v1/labels/{set_id}/versions": {"get": {
                "operationId": "getLabelVersions", "summary": "The versions of a drug label",
                "description": "The label's indexed version and the earlier versions the build keeps as history "
                               "(seen in its sources or an earlier build), newest first. History is never searched.",
                "parameters": [_set_id()],
                "responses": _responses("LabelVersionsResponse", (404, "No drug label with that set id in the "
                                                                       "served build.")),
            }},
            "/api/v1/labels/{set_id}": {"get": {
                "operationId": "getLabel", "summary": "A drug label, or an earlier version of it",
                "parameters": [_set_id(), {"name": "version", "in": "query", "description": "An earlier version "
                                           "from the label's versions; default: the indexed one.",
                                           "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}],
                "responses": _responses("LabelResponse", (404, "No drug label with that set id, or no such version "
                                                               "of it, in the served build.")),
            }},
            "/api/v1/labels/{set_id}/changes": {"get": {
                "operationId": "getLabelChanges", "summary": "What changed between two versions of a drug label",
                "description": "Sections added, removed and changed from `from` to `to`, matched by LOINC code and "
                               "heading, with each changed section's sentences marked.",
                "parameters": [_set_id(), *({"name": name, "in": "query", "description": what,
                                             "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}
                                            for name, what in (("from", "The earlier version; default: the one "
                                                                        "before `to`."),
                                                               ("to", "The later version; default: the newest.")))],
                "responses": _responses("LabelChangesResponse", (404, "No drug label with that set id, no such "
                                                                      "version, or no earlier version to compare.")),
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "The OpenAPI 3 document of this API.", "headers": BUILD_HEADER,
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "413": _error("The request had a body larger than the server takes."),
                              "429": _error("Too many requests from this address.", RETRY_AFTER)},
            }},
        },
        "components": {"schemas": _schemas(search)},
    }

"""Hybrid ranking on the fixture corpus: names, misspellings, lay words, intent, filters, explanations."""
import pytest


def _top(client, q, **params):
    data = client.get("/api/search", query_string={"q": q, **params}).get_json()
    return data, data["results"][0]


@pytest.mark.parametrize("query, article", [
    ("Elavil for nerve pain", "amitriptyline"),     # brand name in the article's aliases
    ("Motrin upset stomach", "ibuprofen"),          # brand name known only from the curated table
    ("Zestril cough", "lisinopril"),
])
def test_a_brand_name_finds_the_generic_article(client, query, article):
    data, top = _top(client, query)
    assert top["article_id"] == article
    assert data["understood"]["medicines"]


def test_a_misspelt_name_is_corrected_and_finds_the_cramps_section(client):
    data, top = _top(client, "amitryptaline cramps")
    assert data["corrections"] == [{"typed": "amitryptaline", "corrected": "amitriptyline"}]
    assert data["corrected_query"] == "amitriptyline cramps"
    assert (top["article_id"], top["section_id"]) == ("amitriptyline", "can-amitriptyline-cause-muscle-cramps")
    page = client.get("/search?q=amitryptaline+cramps").get_data(as_text=True)
    assert "Showing results for <strong>amitriptyline cramps</strong>" in page
    assert "spell=off" in page
    plain = client.get("/api/search?q=amitryptaline+cramps&spell=off").get_json()
    assert plain["corrections"] == [] and plain["corrected_query"] is None


def test_lay_words_find_the_clinical_passage(client):
    # The thiazide section says only "hyponatraemia": lexical search reaches it through the lay-term table.
    data = client.get("/api/search?q=low+sodium&mode=lexical&k=5").get_json()
    assert "hyponatraemia" in data["understood"]["expansions"]
    found = {(r["article_id"], r["section_id"]): r for r in data["results"]}
    salt = found[("hydrochlorothiazide", "salt-balance-and-blood-tests")]
    assert salt["explanation"]["matched_terms"] == ["hyponatraemia"]
    plain = client.get("/api/search?q=sodium+level&mode=lexical&k=5").get_json()["results"]
    assert ("hydrochlorothiazide", "salt-balance-and-blood-tests") not in {(r["article_id"], r["section_id"]) for r in plain}


def test_an_interaction_question_ranks_the_interactions_section_first(client):
    data, top = _top(client, "can I take ibuprofen with lisinopril")
    assert top["section_type"] == "interactions"
    assert top["article_id"] == "lisinopril"
    assert top["explanation"]["section_type_asked"] and top["explanation"]["names_medicine"]
    assert "ibuprofen" in top["explanation"]["matched_terms"]


def test_filters_return_only_matches_and_still_k_of_them(client):
    results = client.get("/api/search?q=tablets&k=3&drug=ibuprofen").get_json()["results"]
    assert len(results) == 3 and {r["article_id"] for r in results} == {"ibuprofen"}
    typed = client.get("/api/search?q=insulin&k=4&section_type=side_effects").get_json()["results"]
    assert len(typed) == 4 and {r["section_type"] for r in typed} == {"side_effects"}
    both = client.get("/api/search", query_string=[("q", "pain"), ("k", "10"), ("section_type", "uses"),
                                                   ("section_type", "storage")]).get_json()["results"]
    assert {r["section_type"] for r in both} <= {"uses", "storage"} and len(both) >= 3


@pytest.mark.parametrize("params, code", [
    ({"section_type": "gossip"}, "unknown_section_type"),
    ({"mode": "magic"}, "bad_mode"),
    ({"offset": "-1"}, "bad_offset"),
])
def test_bad_filters_are_400(client, params, code):
    response = client.get("/api/search", query_string={"q": "pain", **params})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_pages_do_not_overlap_and_match_one_long_page(client):
    full = [r["passage_id"] for r in client.get("/api/search?q=side+effects&k=6").get_json()["results"]]
    first = [r["passage_id"] for r in client.get("/api/search?q=side+effects&k=3").get_json()["results"]]
    second = [r["passage_id"] for r in client.get("/api/search?q=side+effects&k=3&offset=3").get_json()["results"]]
    assert first + second == full


def test_every_mode_answers_and_explains(client):
    for mode in ("dense", "lexical", "hybrid"):
        data, top = _top(client, "warfarin green vegetables", mode=mode)
        assert data["mode"] == mode and top["article_id"] == "ext-002"
        assert set(top["explanation"]) == {"dense_rank", "lexical_rank", "matched_terms", "names_medicine",
                                           "about_medicine_asked",
                                           "section_type_asked"}


def test_the_page_highlights_matched_words(client):
    page = client.get("/search?q=lisinopril+dry+cough").get_data(as_text=True)
    assert "<mark>cough</mark>" in page


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("q", ["blood pressure", "side effects of tablets"])
def test_pages_past_the_candidate_pool_never_repeat_or_skip(index_dir, embedder, mode, q):
    from indexer.index import SearchIndex
    from search_app.core.ranking import Searcher

    # A pool of 1 candidate per retriever makes every page after the first rank the whole fixture index.
    searcher = Searcher(SearchIndex.open(index_dir), embedder, pool=1)
    whole = [h.passage.id for h in searcher.search(q, 30, mode=mode).hits]
    paged = []
    for offset in range(0, len(whole), 2):
        paged += [h.passage.id for h in searcher.search(q, 2, offset=offset, mode=mode).hits]
    assert len(set(paged)) == len(paged)
    assert paged == whole


@pytest.mark.parametrize("pool", [100, 1])  # 1: a later page ranks every row, from the same answers
def test_a_search_asks_the_index_retrievers_once(index_dir, embedder, pool):
    """One query, filtered or not, first page or past the pool: the index is asked once for what its retrievers
    answer (``retrieve``: the vector store once, BM25 once) and once for the page's passages."""
    from indexer.index import SearchIndex
    from search_app.core.ranking import Filters, Searcher

    index = SearchIndex.open(index_dir)
    searcher = Searcher(index, embedder, pool=pool)
    calls: list[str] = []
    for name in ("retrieve", "nearest", "lexical_scores", "passages", "rows_of", "rows_about", "best_rows"):
        real = getattr(index, name)
        setattr(index, name, lambda *a, _real=real, _name=name, **kw: calls.append(_name) or _real(*a, **kw))
    for filters, offset in ((Filters(), 0), (Filters(("amitriptyline",), ()), 0), (Filters((), ("side_effects",)), 2)):
        calls.clear()
        hits = searcher.search("can amitriptyline cause cramps", 2, offset=offset, filters=filters).hits
        assert hits
        asked = [c for c in calls if c != "rows_about" or not filters.drugs]  # the drug filter's own rows
        assert asked.count("retrieve") == 1 and asked.count("nearest") == 1 and asked.count("lexical_scores") == 1
        assert asked.count("passages") == (1 if offset == 0 else 2)  # a later page reads page 1's too (filter chips)


@pytest.mark.parametrize("q, first, second", [("ibuprofen with lisinopril", "ibuprofen", "lisinopril"),
                                              ("can I take lisinopril and ibuprofen together", "lisinopril",
                                               "ibuprofen")])
def test_a_question_about_two_medicines_asks_of_the_first(index_dir, embedder, q, first, second):
    """The medicines come in the order the query names them; the first one's passages gain ``weight_subject`` over
    the second's, so that a strong enough weight puts its article first whichever the order."""
    from dataclasses import replace

    from indexer.index import SearchIndex
    from search_app.core.ranking import Searcher, Weights

    searcher = Searcher(SearchIndex.open(index_dir), embedder)
    analysis = searcher.understander.analyse(q)
    assert [m.generic for m in analysis.constraining] == [first, second]
    scores = {}
    for weight in (0.0, 0.05, 2.0):
        searcher.weights = replace(Weights(), subject=weight)
        scores[weight] = {h.passage.id: (h.score, h.medicines) for h in searcher.search(q, 30, fold=False).hits}
    for passage, (before, medicines) in scores[0.0].items():
        if passage in scores[0.05]:
            raised = 0.05 if first in medicines else 0.0
            assert scores[0.05][passage][0] == pytest.approx(before + raised, abs=1e-5), passage
    assert first in next(iter(scores[2.0].values()))[1]


def test_a_medicine_named_by_a_longer_name_keeps_its_place_in_the_query(index_dir, embedder):
    """Names are found longest first; the medicines are still in the query's order."""
    from indexer.index import SearchIndex
    from search_app.core.ranking import Searcher

    understander = Searcher(SearchIndex.open(index_dir), embedder).understander
    analysis = understander.analyse("ibuprofen with insulin glargine")
    assert [m.generic for m in analysis.medicines] == ["ibuprofen", "insulin glargine"]
    analysis = understander.analyse("insulin glargine with ibuprofen")
    assert [m.generic for m in analysis.medicines] == ["insulin glargine", "ibuprofen"]

"""The versioned API over a real index of the fixture corpus: search, pages, filters, citations, ids, headers."""
import pytest

from .conftest import ROOT

SECURITY = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def search(client, **params):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def all_pages(client, k, **params):
    """Every result, page after page, following next_offset."""
    results, offset, sizes = [], 0, []
    while offset is not None:
        data = search(client, k=k, offset=offset, **params)
        results += data["results"]
        sizes.append(len(data["results"]))
        offset = data["next_offset"]
    return results, sizes


def sections_of(client, article_id):
    return {(article_id, s["section_id"]) for s in client.get(f"/api/v1/articles/{article_id}").get_json()["article"]["sections"]}


def test_search_answers_with_its_build_and_the_best_section_first(client):
    response = client.get("/api/v1/search?q=can+amitriptyline+cause+cramps&k=3")
    data = response.get_json()
    assert data["build_id"] == response.headers["X-Medsearch-Build"]
    assert (data["results"][0]["article_id"], data["results"][0]["section_id"]) == \
        ("amitriptyline", "can-amitriptyline-cause-muscle-cramps")
    assert [r["rank"] for r in data["results"]] == [1, 2, 3]
    assert data["next_offset"] == 3


def test_pages_are_stable_and_never_short_while_results_remain(client, app):
    index = app.extensions["medsearch_live"].current().index
    every_section = {index.section_key(row) for row in range(len(index))}
    results, sizes = all_pages(client, 4, q="side effects of blood pressure tablets", mode="dense")
    keys = [(r["article_id"], r["section_id"]) for r in results]
    assert len(keys) == len(set(keys)), "a section came back on two pages"
    assert set(keys) == every_section  # dense search ranks every section: paging reaches all of them
    assert all(size == 4 for size in sizes[:-1]) and 0 < sizes[-1] <= 4  # only the last page may be short, never empty
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    one_page = search(client, k=len(keys), q="side effects of blood pressure tablets", mode="dense")["results"]
    assert [(r["article_id"], r["section_id"]) for r in one_page] == keys


def test_a_filtered_search_pages_through_exactly_the_filtered_sections(client):
    results, sizes = all_pages(client, 2, q="what is it for", drug="Nurofen", mode="dense")
    assert {(r["article_id"], r["section_id"]) for r in results} == sections_of(client, "ibuprofen")
    assert all(size == 2 for size in sizes[:-1])


def test_repeatable_filters_and_modes(client):
    data = search(client, q="tablets", k=20, section_type=["side_effects", "dosage"])
    assert data["filters"]["section_type"] == ["side_effects", "dosage"]
    assert data["results"] and {r["section_type"] for r in data["results"]} <= {"side_effects", "dosage"}
    both = search(client, q="cough or cramps", k=20, drug=["lisinopril", "amitriptyline"], mode="hybrid")
    assert {r["article_id"] for r in both["results"]} == {"lisinopril", "amitriptyline"}
    lexical = search(client, q="fridge", mode="lexical")
    assert lexical["mode"] == "lexical" and all("fridge" in r["explanation"]["matched_terms"] for r in lexical["results"])


def test_each_result_carries_a_citation_that_fetches_the_same_passage_again(client):
    data = search(client, q="storing insulin in the fridge", k=3)
    top = data["results"][0]
    assert top["passage_id"] == "ext-001:ext-001-s1:0"
    assert top["source"] == "example.org" and top["updated"] is None
    assert top["citation"] == ("Storing insulin: How should I store insulin? example.org. "
                               "https://example.org/insulin-storage#ext-001-s1 "
                               "Permalink: http://127.0.0.1:5000/articles/ext-001#ext-001-s1")
    again = client.get(f"/api/v1/passages/{top['passage_id']}").get_json()
    assert again["build_id"] == data["build_id"]
    assert {k: again["passage"][k] for k in ("text", "citation", "url", "permalink")} == \
        {k: top[k] for k in ("text", "citation", "url", "permalink")}


def test_our_own_articles_are_cited_with_their_updated_date(client):
    top = search(client, q="ibuprofen indigestion heartburn", k=1)["results"][0]
    assert top["article_id"] == "ibuprofen" and top["updated"] == "2026-11-01" and top["source"] == "medsearch"
    assert top["citation"].startswith("Ibuprofen: Common side effects of ibuprofen. medsearch, updated 2026-11-01. ")
    assert top["citation"].endswith(" http://127.0.0.1:5000/articles/ibuprofen#common-side-effects-of-ibuprofen")


def test_citations_read_article_headers_once_per_build(index_dir):
    from indexer.index import SearchIndex

    index = SearchIndex.open(index_dir, checksums=False)
    try:
        whole, header = index.article("ibuprofen"), index.article_header("ibuprofen")
        assert whole.sections and header.sections == ()
        assert (header.id, header.title, header.url, header.meta) == (whole.id, whole.title, whole.url, whole.meta)
        assert index.article_header("ibuprofen") is header  # cached: a build never changes
        assert index.article_header("no-such-article") is None
    finally:
        index.close()


def test_public_url_is_the_base_of_citation_permalinks(index_dir):
    from search_app import create_app

    app = create_app({"index": str(index_dir), "public_url": "https://medsearch.example.org/"})
    top = app.test_client().get("/api/v1/search?q=ibuprofen+indigestion&k=1").get_json()["results"][0]
    assert top["permalink_url"] == "https://medsearch.example.org/articles/ibuprofen#common-side-effects-of-ibuprofen"


def test_article_with_sections_and_no_file_paths(client):
    response = client.get("/api/v1/articles/amitriptyline")
    article = response.get_json()["article"]
    assert article["title"] == "Amitriptyline" and article["drug"] == "amitriptyline"
    assert "Elavil" in article["aliases"] and article["disclaimer"]
    ids = [s["section_id"] for s in article["sections"]]
    assert ids[:2] == ["overview", "what-amitriptyline-is-used-for"]
    assert all(s["citation"] and s["permalink"].startswith("/articles/amitriptyline#") for s in article["sections"])
    assert str(ROOT) not in response.get_data(as_text=True) and "source_path" not in article


@pytest.mark.parametrize("path", [
    "/api/v1/articles/..", "/api/v1/articles/%2e%2e", "/api/v1/articles/..%2f..%2fetc%2fpasswd",
    "/api/v1/articles/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/api/v1/passages/a%00b", "/api/v1/passages/%5c..%5cwin.ini",
    "/api/v1/articles/" + "a" * 301, "/api/v1/passages/" + "%C3%A9" * 400, "/api/v1/articles/no-such-article",
    "/api/v1/passages/amitriptyline:nope:0", "/articles/..%2f..%2fetc%2fpasswd", "/articles/%00",
])
def test_hostile_ids_are_refused_cleanly(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and str(ROOT) not in body and "/etc/passwd" not in body.replace("%2f", "/")
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] in ("bad_path", "bad_article_id", "bad_passage_id", "not_found")
    for name, value in SECURITY.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("params, code", [
    ({"q": "cramps", "sort": "new"}, "unknown_parameter"),
    ({"q": "cramps", "k": "51"}, "bad_k"),
    ({"q": "cramps", "offset": "-1"}, "bad_offset"),
    ({"q": "x" * 501}, "query_too_long"),
    ({"q": "\x00\x01 \t"}, "empty_query"),
    ({"q": "cramps", "mode": "fuzzy"}, "bad_mode"),
    ({"q": "cramps", "section_type": "gossip"}, "unknown_section_type"),
])
def test_bad_searches_get_400_with_the_error_shape(client, params, code):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    assert response.headers["X-Medsearch-Build"]


def test_a_later_page_of_a_rebuilt_index_is_refused_not_mixed(client):
    first = search(client, q="cramps", k=2)
    assert search(client, q="cramps", k=2, offset=2, build=first["build_id"])["offset"] == 2
    response = client.get("/api/v1/search", query_string={"q": "cramps", "offset": 2, "build": "20200101T000000Z-old"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "build_changed"


@pytest.mark.parametrize("path", ["/api/v1/search?q=cramps", "/api/v1/search?q=", "/api/v1/openapi.json", "/api/docs",
                                  "/api/v1/nope", "/api/search?q=cramps", "/healthz", "/"])
def test_every_response_has_security_headers_and_the_build(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    for name, value in SECURITY.items():
        assert response.headers[name] == value
    assert response.headers["X-Medsearch-Build"] == client.get("/healthz").get_json()["build_id"]


def test_an_unexpected_error_shows_no_trace_or_path(index_dir):
    from search_app import create_app

    app = create_app({"index": str(index_dir)})

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError(f"cannot read {ROOT}/secret.txt")

    response = app.test_client().get("/api/v1/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    assert str(ROOT) not in body and "RuntimeError" not in body and "Traceback" not in body


def test_the_old_api_keeps_working(client):
    data = client.get("/api/search?q=can+amitriptyline+cause+cramps&k=1").get_json()
    assert data["results"][0]["article_id"] == "amitriptyline"


# ------------------------------------------------------------------ conventions clinicians' tools expect (issue 28)

def test_the_api_root_lists_every_documented_route(client):
    body = client.get("/api/v1").get_json()
    documented = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {r["path"] for r in body["routes"]} == set(documented)
    assert body["openapi"] == "/api/v1/openapi.json" and all(r["method"] == "GET" and r["summary"] for r in body["routes"])


def test_get_answers_may_be_read_by_any_site_without_credentials(client):
    for url in ("/api/v1/search?q=cramps", "/api/v1", "/api/v1/articles/amitriptyline", "/api/v1/search?q=cramps&k=999"):
        response = client.get(url)
        assert response.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "X-Medsearch-Build" in response.headers["Access-Control-Expose-Headers"]


def test_articles_and_passages_carry_an_etag_and_answer_304_when_unchanged(client):
    first = client.get("/api/v1/articles/amitriptyline")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, max-age=300"
    etag = first.headers["ETag"]
    again = client.get("/api/v1/articles/amitriptyline", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.get_data()
    other = client.get("/api/v1/articles/ibuprofen")
    assert other.headers["ETag"] != etag
    passage_id = search(client, q="what is amitriptyline used for", k=1)["results"][0]["passage_id"]
    cited = client.get(f"/api/v1/passages/{passage_id}")
    assert cited.headers["ETag"] and cited.headers["Cache-Control"] == "public, max-age=300"


def test_a_drug_filter_naming_no_medicine_is_an_empty_answer_with_a_suggestion(client):
    body = search(client, q="cramps", drug="amitriptylin")
    assert body["results"] == [] and body["total"] == 0 and body["next_offset"] is None
    assert body["unknown_drugs"] == [{"drug": "amitriptylin", "did_you_mean": "amitriptyline"}]
    nothing = search(client, q="cramps", drug="no-such-medicine")
    assert nothing["results"] == [] and nothing["unknown_drugs"] == [{"drug": "no-such-medicine", "did_you_mean": None}]
    # With a known medicine beside it, the known one still filters.
    both = search(client, q="cramps", drug=["no-such-medicine", "amitriptyline"])
    assert both["results"] and all(r["article_id"] == "amitriptyline" for r in both["results"])


def test_paging_goes_on_while_more_may_rank_and_says_when_the_total_is_a_bound(client):
    first = search(client, q="tablets", k=5)
    assert first["total"] >= len(first["results"]) and isinstance(first["total_is_lower_bound"], bool)
    offset, seen = 0, []
    while offset is not None and len(seen) < 400:
        page = search(client, q="tablets", k=10, offset=offset)
        seen += [(r["article_id"], r["section_id"]) for r in page["results"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen))  # never a section twice
    last = search(client, q="tablets", k=10, offset=len(seen))
    assert last["results"] == [], "a page after the last one still had results"


def test_a_pool_smaller_than_the_results_still_pages_to_the_end(index_dir, embedder):
    """A page that ends exactly where the first pool of candidates ends is followed by the next one: the total
    there is a lower bound (more rank past the pool), not the end."""
    from indexer import settings
    from indexer.index import SearchIndex
    from search_app.core import search as service
    from search_app.core.query import parse
    from search_app.core.ranking import Searcher
    from search_app.core.settings import SearchSettings

    conf = SearchSettings.from_conf(settings.resolve({"index": str(index_dir)}))
    small = Searcher(SearchIndex.open(index_dir), embedder, pool=3)
    pooled = small.search("tablets", 1)  # one hit: the first pool is not widened
    assert not pooled.complete and 0 < pooled.total_sections <= 20  # the first pool holds only some sections
    k = str(pooled.total_sections)
    first = service.run(parse({"q": "tablets", "k": k}, conf), small)
    assert len(first.hits) == pooled.total_sections and not first.total_exact
    assert first.next_offset == pooled.total_sections
    following = service.run(parse({"q": "tablets", "k": k, "offset": str(first.next_offset)}, conf), small)
    assert following.hits
    key = lambda h: (h.passage.article_id, h.passage.section_id)  # noqa: E731
    assert not {key(h) for h in following.hits} & {key(h) for h in first.hits}

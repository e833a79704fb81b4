"""The Flask app over a real index of the fixture corpus."""
import pytest


def test_query_ranks_the_expected_section_first(client):
    data = client.get("/api/search", query_string={"q": "can amitriptyline cause cramps", "k": 3}).get_json()
    top = data["results"][0]
    assert (top["article_id"], top["section_id"]) == ("amitriptyline", "can-amitriptyline-cause-muscle-cramps")


def test_json_shape_and_links(client):
    response = client.get("/api/search?q=storing+insulin+in+the+fridge&k=5")
    assert response.status_code == 200
    assert response.headers["X-Medsearch-Build"]
    data = response.get_json()
    assert data["query"] == "storing insulin in the fridge"
    assert 1 <= len(data["results"]) <= 5
    keys = {"rank", "score", "passage_id", "article_id", "section_id", "title", "heading", "text", "url"}
    for i, result in enumerate(data["results"], 1):
        assert keys <= set(result)
        assert result["rank"] == i
    assert [r["score"] for r in data["results"]] == sorted((r["score"] for r in data["results"]), reverse=True)
    top = data["results"][0]
    assert top["url"] == "https://example.org/insulin-storage#ext-001-s1"
    # Without a url of its own, an article links to the app's page at the section anchor.
    warfarin = client.get("/api/search?q=warfarin+INR+blood+test&k=1").get_json()["results"][0]
    assert warfarin["url"] == "/articles/ext-002#W1"
    assert client.get(warfarin["url"].split("#")[0]).status_code == 200


def test_results_are_one_per_section(client):
    results = client.get("/api/search?q=side+effects&k=20").get_json()["results"]
    keys = [(r["article_id"], r["section_id"]) for r in results]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("query, code", [
    ({"q": ""}, "empty_query"),
    ({"q": "   \t "}, "empty_query"),
    ({}, "empty_query"),
    ({"q": "x" * 501}, "query_too_long"),
    ({"q": "cramps", "k": "0"}, "bad_k"),
    ({"q": "cramps", "k": "51"}, "bad_k"),
    ({"q": "cramps", "k": "ten"}, "bad_k"),
    ({"q": "cramps", "k": "2.5"}, "bad_k"),
    ({"q": "cramps", "sort": "new"}, "unknown_parameter"),
])
def test_bad_api_requests_get_400_with_the_error_shape(client, query, code):
    response = client.get("/api/search", query_string=query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]


def test_bad_page_request_shows_the_message_not_a_traceback(client):
    response = client.get("/search", query_string={"q": "cramps", "k": "-1"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The parameter k must be from 1 to 50" in page and "Traceback" not in page


def test_results_page_shows_title_heading_text_source_and_score(client):
    from lxml import html

    page = client.get("/search?q=lisinopril+cough").get_data(as_text=True)
    api = client.get("/api/search?q=lisinopril+cough").get_json()["results"]
    cards = html.fromstring(page).cssselect("ol.results > li.result")
    # The page shows the same ranking as the API, card by card (the scores are the API's; the page says why in words).
    assert [c.cssselect(".card-heading")[0].text_content().strip() for c in cards] == \
        [r["heading"] or r["title"] for r in api]
    assert [c.cssselect("a.context")[0].get("href").replace(f"?result={r['section_id']}", "")
            for c, r in zip(cards, api)] == [r["permalink"] for r in api]
    first = cards[0]
    assert first.cssselect(".card-title")[0].text_content() == "Lisinopril"
    assert first.cssselect(".card-heading")[0].text_content() == "Common side effects of lisinopril"
    assert "dry, tickly <mark>cough</mark>" in html.tostring(first.cssselect(".passage")[0], encoding="unicode")
    assert first.cssselect("a.context")[0].get("href") == \
        "/articles/lisinopril?result=common-side-effects-of-lisinopril#common-side-effects-of-lisinopril"


def test_query_and_corpus_text_are_escaped(client):
    page = client.get("/search", query_string={"q": '<script>alert("x")</script> cramps'}).get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    api = client.get("/api/search", query_string={"q": "<b>cramps</b>"})
    assert api.get_json()["query"] == "<b>cramps</b>"
    assert api.headers["Content-Type"].startswith("application/json")


def test_article_page_has_an_anchor_per_section(client):
    response = client.get("/articles/amitriptyline")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for anchor in ("overview", "what-amitriptyline-is-used-for", "can-amitriptyline-cause-muscle-cramps"):
        assert f'id="{anchor}"' in page
    assert "not medical advice" in page  # the disclaimer is shown, though never indexed


def test_unknown_article_is_404_in_both_shapes(client):
    assert client.get("/articles/no-such-drug").status_code == 404
    response = client.get("/api/search/nope")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_healthz_reports_the_loaded_index(client, index_dir):
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok"
    assert data["model"] == "all-MiniLM-L6-v2"
    assert data["passages"] > 10
    assert (index_dir / "builds" / data["build_id"]).is_dir()


def test_security_headers(client):
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_emergency_query_gets_a_notice_above_the_results(client):
    data = client.get("/api/search?q=my+child+swallowed+my+amitriptyline+tablets").get_json()
    assert data["notice"]["level"] == "emergency" and "999" in data["notice"]["message"]
    assert data["results"]  # the notice never hides the results
    page = client.get("/search?q=my+child+swallowed+my+amitriptyline+tablets").get_data(as_text=True)
    assert page.index("notice-emergency") < page.index('class="results"')
    routine = client.get("/api/search?q=what+is+amitriptyline+used+for").get_json()
    assert routine["notice"] is None

"""The reader's pages through the Flask test client: cards, filters, paging, no results, articles, suggestions."""
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html


def _page(client, path, status=200, **params):
    response = client.get(path, query_string=params) if params else client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return html.fromstring(response.get_data(as_text=True)), response


def _cards(doc):
    return doc.cssselect("ol.results > li.result")


def _query(href: str) -> dict:
    return parse_qs(urlsplit(href).query)


def test_home_has_one_labelled_autofocused_search_box(client):
    doc, _ = _page(client, "/")
    boxes = doc.cssselect("input[type=search]")
    assert len(boxes) == 1
    box = boxes[0]
    assert box.get("autofocus") is not None and box.get("name") == "q" and box.get("required") is not None
    assert doc.cssselect(f"label[for={box.get('id')}]")[0].text_content().strip()
    assert doc.cssselect("form[role=search]")[0].get("action") == "/search"


def test_a_result_card_has_title_heading_highlight_context_link_source_and_date(client):
    doc, _ = _page(client, "/search", q="can amitriptyline cause cramps")
    first = _cards(doc)[0]
    assert first.cssselect(".card-title")[0].text_content() == "Amitriptyline"
    assert first.cssselect("h2")[0].text_content() == "Can amitriptyline cause muscle cramps?"
    assert "cramps" in [m.text_content().lower() for m in first.cssselect(".passage mark")]
    context = first.cssselect("a.context")[0]
    assert context.text_content().startswith("Read in context")
    assert context.get("href") == ("/articles/amitriptyline?result=can-amitriptyline-cause-muscle-cramps"
                                   "#can-amitriptyline-cause-muscle-cramps")
    # Our own articles are credited to us, with the publishers they were written from as references.
    credit = first.cssselect(".credit")[0]
    assert " ".join(credit.text_content().split()) == "medsearch article · References: NHS, MedlinePlus, DailyMed"
    assert [a.get("href").split("/")[2] for a in credit.cssselect("a")] == \
        ["www.nhs.uk", "medlineplus.gov", "dailymed.nlm.nih.gov"]
    updated = first.cssselect(".updated time")[0]
    assert updated.get("datetime") == "2026-11-01" and updated.text_content() == "1 November 2026"
    # The search box remembers the query.
    assert doc.cssselect("#q")[0].get("value") == "can amitriptyline cause cramps"


def test_an_article_with_its_own_url_is_credited_to_its_publisher(client):
    doc, _ = _page(client, "/search", q="storing insulin in the fridge")
    credit = _cards(doc)[0].cssselect(".credit")[0]
    assert " ".join(credit.text_content().split()) == "Published by example.org"
    assert credit.cssselect("a")[0].get("href") == "https://example.org/insulin-storage#ext-001-s1"


def test_more_results_continue_where_the_page_ended(client):
    doc, _ = _page(client, "/search", q="side effects", k="3")
    first_ids = [c.cssselect("a.context")[0].get("href") for c in _cards(doc)]
    more = doc.cssselect("nav.pager a[rel=next]")[0]
    assert more.text_content() == "More results"
    assert _query(more.get("href")) == {"q": ["side effects"], "k": ["3"], "offset": ["3"]}
    assert not doc.cssselect("nav.pager a[rel=prev]")
    second, _ = _page(client, more.get("href"))
    assert second.cssselect("ol.results")[0].get("start") == "4"
    second_ids = [c.cssselect("a.context")[0].get("href") for c in _cards(second)]
    assert len(second_ids) == 3 and not set(first_ids) & set(second_ids)
    back = second.cssselect("nav.pager a[rel=prev]")[0]
    assert "offset" not in _query(back.get("href"))


def test_section_chips_filter_and_show_in_the_url(client):
    doc, _ = _page(client, "/search", q="ibuprofen")
    chips = {a.text_content().strip(): a for a in doc.cssselect(".filters a.chip")}
    assert "Side effects" in chips and "Other" not in chips
    href = chips["Side effects"].get("href")
    assert _query(href) == {"q": ["ibuprofen"], "section_type": ["side_effects"]}
    filtered, _ = _page(client, href)
    cards = _cards(filtered)
    assert cards and {c.cssselect(".badge")[0].text_content() for c in cards} == {"Side effects"}
    active = filtered.cssselect('.filters a.chip[aria-current="true"]')
    assert [a.text_content().split("(")[0].replace("✓", "").strip() for a in active] == ["Side effects"]
    assert _query(active[0].get("href")) == {"q": ["ibuprofen"]}  # selecting it again removes it
    assert filtered.cssselect(".clear-filters a")[0].get("href") == "/search?q=ibuprofen"


def test_medicine_chips_name_the_medicines_of_the_query_and_results(client):
    doc, _ = _page(client, "/search", q="can I take ibuprofen with lisinopril")
    chips = {a.text_content().strip(): a.get("href") for a in doc.cssselect(".filters a.chip")}
    assert {"Ibuprofen", "Lisinopril"} <= set(chips)
    assert _query(chips["Lisinopril"])["drug"] == ["lisinopril"]
    filtered, _ = _page(client, chips["Lisinopril"])
    assert {c.cssselect(".card-title")[0].text_content() for c in _cards(filtered)} == {"Lisinopril"}
    # A brand name in the query gives a chip for its medicine, under the article's title.
    brand, _ = _page(client, "/search", q="Zestril cough")
    brand_chips = {a.text_content().strip(): a.get("href") for a in brand.cssselect(".filters a.chip")}
    assert _query(brand_chips["Lisinopril"])["drug"] == ["zestril"]


def test_no_results_page_offers_ways_forward(client):
    doc, _ = _page(client, "/search", q="fever", drug="ibuprofen", section_type="pregnancy")
    assert not _cards(doc)
    assert doc.cssselect(".empty h2")[0].text_content() == "Nothing found with these filters"
    links = [a.get("href") for a in doc.cssselect(".empty a")]
    assert "/search?q=fever" in links
    assert doc.cssselect("#q")[0].get("autofocus") is not None  # ready for another try


def test_no_results_page_suggests_the_spelling_and_related_medicines(client):
    doc, _ = _page(client, "/search", q="amitryptaline zzqv", mode="lexical", spell="off")
    assert not _cards(doc)
    text = doc.cssselect(".empty")[0].text_content()
    assert "did you mean amitriptyline zzqv?" in " ".join(text.split())
    related = {a.text_content().strip(): a.get("href") for a in doc.cssselect(".empty .related a")}
    assert related.get("Amitriptyline") == "/articles/amitriptyline"
    hybrid = [a.get("href") for a in doc.cssselect(".empty a") if "meaning" in a.text_content()]
    assert hybrid and "mode" not in _query(hybrid[0])


def test_a_correction_can_be_undone_and_redone(client):
    doc, _ = _page(client, "/search", q="amitryptaline cramps")
    undo = doc.cssselect(".correction a")[0]
    assert undo.text_content() == "Search instead for amitryptaline cramps"
    plain, _ = _page(client, undo.get("href"))
    redo = plain.cssselect(".correction a")[0]
    assert redo.text_content() == "amitriptyline cramps" and "spell" not in _query(redo.get("href"))


def test_an_unknown_medicine_filter_is_explained_on_the_page(client):
    # Like any filter that matches nothing: an empty page that says why, and how to search without it.
    doc, _ = _page(client, "/search", q="cramps", drug="notadrug")
    assert "No medicine called ‘notadrug’ in this index." in doc.cssselect(".unknown-drug")[0].text_content()
    assert "/search?q=cramps" in [a.get("href") for a in doc.cssselect("main a")]
    doc, _ = _page(client, "/search", q="cramps", drug="amitriptylin")
    guess = doc.cssselect(".unknown-drug a")[0]
    assert guess.text_content() == "amitriptyline" and _query(guess.get("href"))["drug"] == ["amitriptyline"]


def test_urgent_notice_has_tappable_numbers_and_says_results_follow(client):
    doc, _ = _page(client, "/search", q="my child swallowed my amitriptyline tablets")
    notice = doc.cssselect("div.notice-emergency")[0]
    assert "tel:999" in [a.get("href") for a in notice.cssselect("a")]
    assert "results are below" in notice.text_content()
    assert _cards(doc)


@pytest.mark.parametrize("path", ["/", "/search?q=can+amitriptyline+cause+cramps", "/articles/amitriptyline",
                                  "/search?q=fever&drug=ibuprofen&section_type=pregnancy", "/articles/nope"])
def test_pages_load_nothing_from_elsewhere_and_have_no_inline_script_or_style(client, path):
    response = client.get(path)
    doc = html.fromstring(response.get_data(as_text=True))
    scripts = doc.cssselect("script")
    assert [s.get("src").split("?v=")[0] for s in scripts] == ["/static/search.js", "/static/page.js"]
    assert not any(s.text for s in scripts)
    assert not doc.xpath("//@style") and not doc.cssselect("style")
    assert not [a for el in doc.iter() if isinstance(el.tag, str) for a in el.attrib if a.startswith("on")]
    for el in doc.cssselect("link[href], script[src], img[src]"):
        assert (el.get("href") or el.get("src")).startswith("/static/")
    assert doc.get("lang") == "en" and doc.cssselect("main") and doc.cssselect("a.skip")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_static_assets_are_served_with_their_types(client):
    assert client.get("/static/search.js").headers["Content-Type"].startswith("text/javascript")
    assert client.get("/static/style.css").headers["Content-Type"].startswith("text/css")
    assert client.get("/static/favicon.svg").status_code == 200


def test_article_page_has_contents_anchors_references_disclaimer_and_date(client):
    doc, _ = _page(client, "/articles/amitriptyline")
    assert doc.cssselect("h1")[0].text_content() == "Amitriptyline"
    toc = [a.get("href") for a in doc.cssselect("nav.toc a")]
    sections = [s.get("id") for s in doc.cssselect("section.section")]
    assert toc == [f"#{s}" for s in sections]
    assert "can-amitriptyline-cause-muscle-cramps" in sections and "references" in sections
    refs = doc.cssselect("#references a")
    assert [a.get("href").split("/")[2] for a in refs] == ["www.nhs.uk", "medlineplus.gov", "dailymed.nlm.nih.gov"]
    assert "not medical advice" in doc.cssselect(".disclaimer")[0].text_content()
    assert doc.cssselect(".article-head time")[0].get("datetime") == "2026-11-01"
    assert "Elavil" in doc.cssselect(".aka")[0].text_content()


def test_suggestions_complete_the_word_being_typed(client):
    data = client.get("/suggest?q=can+amitr").get_json()
    top = data["suggestions"][0]
    assert top == {"name": "amitriptyline", "completion": "can amitriptyline", "title": "Amitriptyline",
                   "article_id": "amitriptyline", "url": "/articles/amitriptyline"}
    brand = client.get("/suggest?q=zest").get_json()["suggestions"]
    assert [(s["name"], s["title"]) for s in brand] == [("zestril", "Lisinopril")]
    misspelt = client.get("/suggest?q=amitryp").get_json()["suggestions"]
    assert misspelt[0]["name"] == "amitriptyline"


@pytest.mark.parametrize("q", ["", "am", "ibuprofen ", "<script>", "x" * 600])
def test_suggestions_stay_quiet_until_a_word_is_under_way(client, q):
    response = client.get("/suggest", query_string={"q": q})
    assert response.status_code == 200 and response.get_json()["suggestions"] == []

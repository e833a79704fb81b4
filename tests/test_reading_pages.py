"""The pages' small promises, through the Flask test client (tests/browser/test_reading.py has them in Chromium)."""
import re

import pytest
from lxml import html


def _doc(client, path, status=200):
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return html.fromstring(response.get_data(as_text=True))


def test_the_heading_names_the_corrected_query_the_banner_announces(client):
    doc = _doc(client, "/search?q=amitryptaline+leg+cramps")
    assert doc.cssselect("h1")[0].text_content() == "Results for “amitriptyline leg cramps”"
    assert "Showing results for amitriptyline leg cramps" in doc.cssselect(".correction")[0].text_content()
    plain = _doc(client, "/search?q=amitryptaline+leg+cramps&spell=off")
    assert plain.cssselect("h1")[0].text_content() == "Results for “amitryptaline leg cramps”"


def _chips(doc):
    return [(a.text_content().strip(), a.get("href")) for a in doc.cssselect(".filters a.chip")]


@pytest.mark.parametrize("q", ["side effects", "cramps"])
def test_filter_chips_are_the_same_on_every_page(client, q):
    first = _doc(client, f"/search?q={q}&k=3")
    second = _doc(client, f"/search?q={q}&k=3&offset=3")
    assert second.cssselect("ol.results")[0].get("start") == "4"
    assert _chips(first) == _chips(second) and _chips(first)


def test_only_the_section_a_result_links_to_is_labelled(client):
    cramps = "can-amitriptyline-cause-muscle-cramps"
    marked = _doc(client, f"/articles/amitriptyline?result={cramps}")
    assert [m.getparent().get("id") for m in marked.cssselect(".result-mark")] == [cramps]
    for path in ("/articles/amitriptyline", "/articles/amitriptyline?result=no-such-section"):
        assert not _doc(client, path).cssselect(".result-mark")


def test_why_this_result_speaks_plainly(client):
    doc = _doc(client, "/search?q=can+amitriptyline+cause+cramps")
    lines = [li.text_content() for li in doc.cssselect("ol.results > li")[0].cssselect(".why li")]
    assert "It is about amitriptyline, which your question names." in lines
    assert any(line.startswith("It contains words of your question") for line in lines)
    assert not [line for line in lines if re.search(r"\b(score|rank)\b|\d\.\d", line)]


def test_messages_on_the_page_are_sentences_and_a_query_of_spaces_is_refused_before_it_is_sent(client):
    doc = _doc(client, "/search?q=+++", status=400)
    assert doc.cssselect(".error")[0].text_content() == "Type a question or some words to search for."
    box = _doc(client, "/").cssselect("#q")[0]
    pattern = box.get("pattern")  # the browser checks it before submitting (tests/browser has it in Chromium)
    assert box.get("required") is not None and re.fullmatch(pattern, "   ") is None
    assert re.fullmatch(pattern, " ibuprofen ") and box.get("title")


def test_the_not_found_page_says_what_is_missing_in_words_a_reader_uses(client):
    doc = _doc(client, "/articles/no-such-article", status=404)
    message = doc.cssselect(".error")[0].text_content()
    assert message.startswith("We have no article 'no-such-article'.") and "index" not in message


def test_every_api_docs_table_scrolls_in_a_focusable_labelled_box(client):
    doc = _doc(client, "/api/docs")
    tables = doc.cssselect("table")
    assert tables and all(t.getparent().get("class") == "table-scroll" for t in tables)
    boxes = doc.cssselect(".table-scroll")
    assert all(b.get("tabindex") == "0" and b.get("role") == "region" and b.get("aria-label") for b in boxes)
    assert len({b.get("aria-label") for b in boxes}) == len(boxes)

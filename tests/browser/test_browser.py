"""The reader's pages in a real browser: keyboard search, results, context link, filters, notices, safety."""
import re
from urllib.parse import urlsplit

ROUTINE = "what is amitriptyline used for"
OVERDOSE = "I took too many amitriptyline tablets"


def _search_with_keyboard(page, text: str) -> None:
    page.goto("/")
    assert page.evaluate("document.activeElement.id") == "q"  # autofocus: typing goes straight to the box
    page.keyboard.type(text)
    page.keyboard.press("Enter")  # with no suggestion chosen, Enter submits what was typed
    page.wait_for_url(re.compile(r"/search\?q="))


def test_type_a_query_and_submit_with_the_keyboard(tab):
    _search_with_keyboard(tab.page, "can amitriptyline cause cramps")
    assert tab.page.locator("h1").inner_text() == "Results for “can amitriptyline cause cramps”"
    assert tab.page.locator("#q").input_value() == "can amitriptyline cause cramps"
    assert tab.page.locator("ol.results > li").count() >= 3


def test_the_expected_passage_comes_first_with_its_highlight_and_credit(tab):
    page = tab.page
    page.goto("/search?q=can+amitriptyline+cause+cramps")
    first = page.locator("ol.results > li").first
    assert first.locator("h2").inner_text() == "Can amitriptyline cause muscle cramps?"
    marks = first.locator(".passage mark")
    assert marks.count() >= 1 and marks.first.is_visible()
    assert "cramps" in [m.lower() for m in marks.all_inner_texts()]
    # The highlight is visibly styled, not just present in the markup.
    assert marks.first.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    credit = first.locator(".credit")
    assert credit.is_visible() and credit.inner_text() == "medsearch article · References: NHS, MedlinePlus, DailyMed"
    assert credit.locator("a").last.get_attribute("href").startswith("https://dailymed.nlm.nih.gov/")


def test_read_in_context_opens_the_article_at_the_marked_section(tab):
    page = tab.page
    page.goto("/search?q=can+amitriptyline+cause+cramps")
    link = page.locator("ol.results > li").first.locator("a.context")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/articles/amitriptyline?result=can-amitriptyline-cause-muscle-cramps"
                      "#can-amitriptyline-cause-muscle-cramps")
    section = page.locator("#can-amitriptyline-cause-muscle-cramps")
    assert section.evaluate("e => e.matches(':target')")
    box, viewport = section.bounding_box(), page.viewport_size
    assert 0 <= box["y"] < viewport["height"]  # scrolled into view
    marked = section.evaluate("e => getComputedStyle(e).backgroundColor")
    other = page.locator("#overview").evaluate("e => getComputedStyle(e).backgroundColor")
    assert marked != other
    assert section.locator(".result-mark").inner_text() == "The section your result came from"


def test_a_filter_chip_narrows_the_results_and_shows_in_the_url(tab):
    page = tab.page
    page.goto("/search?q=ibuprofen")
    page.locator(".filters").get_by_role("link", name="Side effects", exact=True).click()
    page.wait_for_url(re.compile(r"section_type=side_effects"))
    badges = page.locator("ol.results .badge:not(.badge-elsewhere):not(.badge-boxed)").all_inner_texts()
    assert badges and set(badges) == {"Side effects"}  # other badges say which medicine a result is about
    active = page.locator('.filters a.chip[aria-current="true"]')
    assert active.count() == 1 and "Side effects" in active.inner_text()


def test_an_overdose_query_shows_the_urgent_notice_above_the_results_and_a_routine_one_does_not(tab):
    page = tab.page
    page.goto("/search?q=" + OVERDOSE.replace(" ", "+"))
    notice = page.locator(".notice")
    assert notice.is_visible() and "notice-emergency" in notice.get_attribute("class")
    assert notice.get_attribute("role") == "alert"
    assert notice.locator("h2").inner_text() == "Get emergency help now"
    first = page.locator("ol.results > li").first
    assert first.is_visible() and notice.bounding_box()["y"] < first.bounding_box()["y"]
    page.goto("/search?q=" + ROUTINE.replace(" ", "+"))
    assert page.locator("ol.results > li").count() > 0
    assert page.locator(".notice").count() == 0


def test_a_misspelt_medicine_is_corrected(tab):
    _search_with_keyboard(tab.page, "amitryptaline cramps")
    correction = tab.page.locator(".correction")
    assert correction.inner_text().startswith("Showing results for amitriptyline cramps")
    assert correction.locator("a").inner_text() == "Search instead for amitryptaline cramps"
    assert tab.page.locator("ol.results > li").first.locator(".card-title").inner_text() == "Amitriptyline"


def test_no_console_errors_and_no_request_leaves_127_0_0_1(tab):
    page = tab.page
    page.goto("/")
    page.locator("#q").press_sequentially("can amitr", delay=20)
    page.locator("#q-suggestions li").first.wait_for(state="visible")  # the script ran and fetched /suggest
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # chooses the suggestion
    assert page.locator("#q").input_value() == "can amitriptyline "
    page.keyboard.type("cramps")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    for path in ("/search?q=" + OVERDOSE.replace(" ", "+"), "/articles/amitriptyline#overview",
                 "/search?q=fever&drug=ibuprofen&section_type=pregnancy"):
        page.goto(path)
        page.wait_for_load_state("load")
    assert any("/suggest?q=" in url for url in tab.requests)
    assert tab.console_errors == []
    assert {urlsplit(url).hostname for url in tab.requests} == {"127.0.0.1"}, tab.requests


def test_a_query_with_a_script_tag_is_shown_as_text(tab):
    page = tab.page
    query = '<script>window.__injected = 1; alert("x")</script> cramps'
    _search_with_keyboard(page, query)
    # Shown as text in the heading, whether the page gives results or says there is no good match.
    assert page.locator("h1").inner_text().endswith(f" for “{query}”")
    assert page.locator("#q").input_value() == query
    assert page.evaluate("window.__injected") is None
    assert tab.dialogs == []
    assert page.locator("main script").count() == 0

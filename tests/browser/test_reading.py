"""Reading and citing in Chromium at 1280 px and 360 px: credit, "Copy citation", the correction heading,
chips that stay put from page to page and show that they scroll, the marked section, /api/docs on a phone,
and axe-core (vendored: tests/browser/axe.min.js, no network) with no violations on any page."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote_plus

import pytest

AXE = Path(__file__).parent / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
CRAMPS = "can-amitriptyline-cause-muscle-cramps"

# Every kind of page the site has, in the states a reader meets.
PAGES = {
    "home": "/",
    "results": "/search?q=can+amitriptyline+cause+cramps",
    "corrected": "/search?q=amitryptaline+cramps",
    "second page": "/search?q=side+effects&k=3&offset=3",
    "filtered, nothing found": "/search?q=fever&drug=ibuprofen&section_type=pregnancy",
    "no good match": "/search?q=how+do+i+renew+my+passport",
    "urgent": "/search?q=I+took+too+many+amitriptyline+tablets",
    "bad query": "/search?q=cramps&k=0",
    "article from a result": f"/articles/amitriptyline?result={CRAMPS}#{CRAMPS}",
    "article": "/articles/amitriptyline",
    "not found": "/articles/no-such-article",
    "api docs": "/api/docs",
}


def _context(browser, base_url, viewport, **options):
    context = browser.new_context(base_url=base_url, viewport=viewport, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture(params=["desktop", "phone"])
def width(request):
    return request.param


@pytest.fixture()
def page(browser, base_url, width):
    context = _context(browser, base_url, DESKTOP if width == "desktop" else PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def axe_browser(browser, base_url):
    """Contexts that let axe's script in (the site's CSP forbids injected scripts, rightly)."""
    contexts = {name: _context(browser, base_url, size, bypass_csp=True)
                for name, size in (("desktop", DESKTOP), ("phone", PHONE))}
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_violations(axe_browser, width, name):
    page = axe_browser[width].new_page()
    try:
        page.goto(PAGES[name])
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)""")
    finally:
        page.close()
    assert violations == [], f"{name} at {width}"


def test_copy_citation_by_keyboard_copies_the_citation_the_api_gives(browser, base_url, width):
    context = _context(browser, base_url, DESKTOP if width == "desktop" else PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    try:
        page.goto("/search?q=can+amitriptyline+cause+cramps")
        card = page.locator("ol.results > li").first
        button = card.get_by_role("button", name=re.compile(r"^Copy citation"))
        button.focus()
        page.keyboard.press("Enter")
        card.locator(".cite-status").filter(has_text="Citation copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        api = page.request.get("/api/v1/search?q=can+amitriptyline+cause+cramps").json()["results"][0]
        assert copied == api["citation"] == card.locator(".cite-text").text_content()
        assert "medsearch, updated" in copied and "References: NHS:" in copied
        # The article page has its own: the whole article's citation.
        page.goto("/articles/amitriptyline")
        page.get_by_role("button", name=re.compile(r"^Copy citation")).press("Enter")
        page.locator(".article-head .cite-status").filter(has_text="Citation copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()").startswith("Amitriptyline. medsearch, updated ")
    finally:
        context.close()


def test_without_javascript_the_citation_is_there_to_select(browser, base_url):
    context = _context(browser, base_url, PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/search?q=can+amitriptyline+cause+cramps")
        card = page.locator("ol.results > li").first
        assert card.get_by_role("button", name=re.compile("Copy citation")).count() == 0
        text = card.locator(".cite-text")
        assert not text.is_visible()
        card.locator(".cite summary").focus()
        page.keyboard.press("Enter")  # the disclosure opens by keyboard
        assert text.is_visible() and text.text_content().startswith("Amitriptyline: Can amitriptyline cause")
    finally:
        context.close()


def test_the_heading_says_what_the_results_are_for_when_a_name_is_corrected(page):
    page.goto("/search?q=amitryptaline+leg+cramps")
    assert page.locator("h1").inner_text() == "Results for “amitriptyline leg cramps”"
    assert page.locator(".correction").inner_text().startswith("Showing results for amitriptyline leg cramps")
    assert page.title().startswith("amitriptyline leg cramps")


def _chips(page) -> list[tuple[str, str]]:
    return [(a.inner_text(), a.get_attribute("href")) for a in page.locator(".filters a.chip").all()]


def test_filter_chips_stay_the_same_on_the_next_page(page):
    page.goto("/search?q=side+effects&k=3")
    first = _chips(page)
    page.locator("nav.pager a[rel=next]").click()
    page.wait_for_url(re.compile(r"offset=3"))
    assert page.locator("ol.results").get_attribute("start") == "4"
    assert _chips(page) == first and first


def test_the_section_label_marks_a_result_and_not_a_jump_from_the_contents(page, width):
    page.goto("/search?q=can+amitriptyline+cause+cramps")
    page.locator("ol.results > li").first.locator("a.context").click()
    page.wait_for_url(f"**/articles/amitriptyline?result={CRAMPS}#{CRAMPS}")
    mark = page.locator(f"#{CRAMPS} .result-mark")
    assert mark.is_visible() and mark.inner_text() == "The section your result came from"
    assert page.locator(".result-mark").count() == 1
    box = page.locator(f"#{CRAMPS}").bounding_box()
    assert 0 <= box["y"] < page.viewport_size["height"]
    # From the contents: the section is scrolled to, with no claim that a result came from it.
    page.goto("/articles/amitriptyline")
    page.locator("nav.toc").get_by_role("link", name="Can amitriptyline cause muscle cramps?").click()
    page.wait_for_url(f"**/articles/amitriptyline#{CRAMPS}")
    assert page.locator(".result-mark").count() == 0
    assert page.locator(f"#{CRAMPS}").evaluate("e => e.matches(':target')")


def test_api_docs_tables_scroll_inside_their_box_by_keyboard_on_a_phone(browser, base_url):
    context = _context(browser, base_url, PHONE)
    page = context.new_page()
    try:
        page.goto("/api/docs")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # the page itself fits
        boxes = page.locator(".table-scroll")
        assert boxes.count() == page.locator("table").count() > 5
        box = boxes.first
        assert box.evaluate("e => e.scrollWidth > e.clientWidth")  # wider than the phone: it scrolls
        assert box.get_attribute("tabindex") == "0" and box.get_attribute("aria-label")
        page.locator("h1").click()
        for _ in range(30):  # Tab reaches the box (after the links before it)
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.classList.contains('table-scroll')"):
                break
        assert page.evaluate("document.activeElement.classList.contains('table-scroll')")
        before = page.evaluate("document.activeElement.scrollLeft")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("before => document.activeElement.scrollLeft > before", arg=before)
    finally:
        context.close()


def test_a_chip_row_that_scrolls_sideways_on_a_phone_shows_that_there_is_more(browser, base_url):
    context = _context(browser, base_url, PHONE)
    page = context.new_page()
    try:
        page.goto("/search?q=ibuprofen")
        row = page.locator(".filters .filter-group .chips").first
        assert row.evaluate("e => e.scrollWidth > e.clientWidth")
        assert "more-right" in row.get_attribute("class") and "more-left" not in row.get_attribute("class")
        assert "gradient" in row.evaluate("e => getComputedStyle(e).maskImage || getComputedStyle(e).webkitMaskImage")
        row.evaluate("e => e.scrollTo({left: e.scrollWidth})")
        page.wait_for_function("e => e.classList.contains('more-left') && !e.classList.contains('more-right')",
                               arg=row.element_handle())
    finally:
        context.close()
    # At desktop width the chips wrap: nothing is hidden, nothing is faded.
    context = _context(browser, base_url, DESKTOP)
    page = context.new_page()
    try:
        page.goto("/search?q=ibuprofen")
        row = page.locator(".filters .filter-group .chips").first
        assert "more-right" not in (row.get_attribute("class") or "")
    finally:
        context.close()


def test_a_query_of_spaces_is_not_submitted(page):
    page.goto("/")
    page.locator("#q").fill("    ")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.url.endswith("/") and "/search" not in page.url
    assert page.evaluate("document.getElementById('q').validity.patternMismatch")


def test_why_this_result_is_in_words(page):
    page.goto("/search?q=can+amitriptyline+cause+cramps")
    why = page.locator("ol.results > li").first.locator(".why")
    why.locator("summary").click()
    text = why.inner_text()
    assert "your question" in text and not re.search(r"\b(score|rank)\b|\d\.\d", text)


def test_the_not_found_page_speaks_of_the_site_not_of_an_index(page):
    page.goto("/articles/" + quote_plus("no-such-article"))
    assert page.locator("h1").inner_text() == "Page not found"
    message = page.locator(".error").inner_text()
    assert message.startswith("We have no article 'no-such-article'.") and "index" not in message


def test_a_list_is_shown_as_a_list_on_a_card_and_in_the_article(page):
    page.goto("/search?q=what+is+amitriptyline+used+for")
    card = page.locator("ol.results > li").first
    assert card.locator(".passage p").first.inner_text() == "Doctors prescribe it for:"
    items = card.locator(".passage ul > li")
    assert items.count() == 3
    boxes = [item.bounding_box() for item in items.all()]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]  # one item a line, not run together
    assert items.first.evaluate("e => getComputedStyle(e).display") == "list-item"
    card.locator("a.context").click()
    page.wait_for_url("**/articles/amitriptyline?result=what-amitriptyline-is-used-for*")
    section = page.locator("#what-amitriptyline-is-used-for")
    shown = section.locator("ul > li")
    assert shown.count() == 3 and shown.first.is_visible()
    assert shown.first.evaluate("e => getComputedStyle(e).display") == "list-item"

"""A drug label's article page on a phone (issue 28): its long contents list starts folded, so the label's own
text is on the first screen; on a desktop it stays open beside the text. Its sections fold under their headings on
a phone, the boxed warning, a result's section and a linked one open; an ordinary article never folds; without
JavaScript or on a desktop every section is open; axe finds nothing wrong either way."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.pipeline import build_index

from ..conftest import FIXTURES
from .conftest import served

COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"
AXE = Path(__file__).parent / "axe.min.js"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
DEEP = "adverse-reactions"  # a section far down the label


@pytest.fixture(scope="module")
def label_base_url(tmp_path_factory, embedder):
    """An app serving a build of the Coumadin label, on 127.0.0.1."""
    from search_app import create_app

    src = tmp_path_factory.mktemp("label-page")
    shutil.copy(FIXTURES / "labels" / "good" / "coumadin.json", src / "coumadin.json")
    index_dir = tmp_path_factory.mktemp("label-page-index")
    assert build_index([src], index_dir, embedder, log=lambda line: None).published
    with served(create_app({"index": str(index_dir), "TESTING": True})) as url:
        yield url


@pytest.mark.parametrize("width, folded", [(360, True), (1280, False)])
def test_a_labels_contents_fold_on_a_phone_and_stay_open_on_a_desktop(browser, label_base_url, width, folded):
    context = browser.new_context(base_url=label_base_url, viewport={"width": width, "height": 740})
    page = context.new_page()
    page.goto(f"/articles/{COUMADIN}")
    fold = page.locator("nav.toc details")
    assert fold.count() == 1 and page.locator("nav.toc li").count() > 12
    assert fold.evaluate("el => el.open") is (not folded)
    if folded:
        # The first section's heading is on the first screen, not pushed below 40-odd contents lines.
        first = page.locator(".article-body h2").first
        assert first.bounding_box()["y"] < 740 * 1.5
        page.locator("nav.toc summary").click()
        assert fold.evaluate("el => el.open")
    context.close()


@pytest.fixture()
def phone(browser, label_base_url):
    context = browser.new_context(base_url=label_base_url, viewport=PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


# Whether a section's text takes room on the page: folded text (hidden="until-found") is laid out with no height.
SHOWS = "t => t.checkVisibility() && t.getBoundingClientRect().height > 0"


def folds(page) -> dict[str, bool]:
    """Each folding section's id and whether its text shows, in page order."""
    return page.eval_on_selector_all(".article-body section[data-fold]", f"""sections => Object.fromEntries(
        sections.map(s => [s.id, ({SHOWS})(s.querySelector('.section-text'))]))""")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_labels_sections_fold_on_a_phone_and_stay_open_on_a_desktop(browser, label_base_url, viewport):
    context = browser.new_context(base_url=label_base_url, viewport=viewport)
    page = context.new_page()
    page.goto(f"/articles/{COUMADIN}")
    shown = folds(page)
    assert len(shown) > 12 and list(shown)[0] == "boxed-warning"
    # Headings stay headings, one a section, whatever the width.
    assert page.get_by_role("heading", level=2).count() >= len(shown)
    if viewport is PHONE:
        assert shown["boxed-warning"] and not any(list(shown.values())[1:]), shown
        toggle = page.locator("#dosage-and-administration-h button")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert toggle.get_attribute("aria-controls") == "dosage-and-administration-text"
        assert page.locator("#boxed-warning-h button").get_attribute("aria-expanded") == "true"
        # A label of 37 sections is a few screens of headings, not a hundred screens of text.
        assert page.evaluate("document.documentElement.scrollHeight") < 740 * 6
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true" and folds(page)["dosage-and-administration"]
        # By keyboard: the heading's button takes the focus and Enter folds it again.
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "false" and not folds(page)["dosage-and-administration"]
    else:
        assert all(shown.values()) and page.locator(".fold-toggle, .fold-all").count() == 0
    context.close()


def test_a_deep_link_and_a_results_section_open_on_a_phone(phone):
    phone.goto(f"/articles/{COUMADIN}?result=contraindications#{DEEP}")
    shown = folds(phone)
    assert shown[DEEP] and shown["contraindications"] and shown["boxed-warning"]
    assert sum(shown.values()) == 3, shown
    top = phone.locator(f"#{DEEP}").bounding_box()["y"]
    assert 0 <= top < PHONE["height"] / 2, top  # scrolled to, after the sections above it folded


def test_a_contents_link_opens_its_section_and_scrolls_to_it(phone):
    phone.goto(f"/articles/{COUMADIN}")
    assert not folds(phone)[DEEP]
    phone.locator("nav.toc summary").click()
    phone.locator(f"nav.toc a[href='#{DEEP}']").click()
    phone.wait_for_function(f"location.hash === '#{DEEP}'")
    assert folds(phone)[DEEP]
    assert phone.locator(f"#{DEEP}-h button").get_attribute("aria-expanded") == "true"
    top = phone.locator(f"#{DEEP}").bounding_box()["y"]
    assert 0 <= top < PHONE["height"] / 2, top
    # Folded again by hand, the same link opens it again (the address does not change, so no hashchange).
    phone.locator(f"#{DEEP}-h button").click()
    phone.evaluate("window.scrollTo(0, 0)")
    phone.locator(f"nav.toc a[href='#{DEEP}']").click()
    assert folds(phone)[DEEP]


def test_expand_all_opens_every_section_and_collapse_all_folds_them(phone):
    phone.goto(f"/articles/{COUMADIN}")
    button = phone.locator("button.fold-all")
    assert button.inner_text() == "Expand all sections"
    button.click()
    assert all(folds(phone).values()) and button.inner_text() == "Collapse all sections"
    assert phone.locator(".fold-toggle[aria-expanded='false']").count() == 0
    button.click()
    assert not any(folds(phone).values()) and button.inner_text() == "Expand all sections"


def test_without_javascript_every_section_is_open_on_a_phone(browser, label_base_url):
    context = browser.new_context(base_url=label_base_url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"/articles/{COUMADIN}")
    shown = folds(page)
    assert len(shown) > 12 and all(shown.values())
    assert page.locator(".fold-toggle, .fold-all").count() == 0
    context.close()


def test_an_ordinary_article_does_not_fold_on_a_phone(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport=PHONE)
    page = context.new_page()
    page.goto("/articles/amitriptyline")
    assert page.locator(".article-body section").count() > 1
    assert page.locator("section[data-fold], .fold-toggle, .fold-all").count() == 0
    assert all(page.eval_on_selector_all(".section-text", f"texts => texts.map({SHOWS})"))
    context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_violations_on_a_label_page(browser, label_base_url, viewport):
    context = browser.new_context(base_url=label_base_url, viewport=viewport, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"/articles/{COUMADIN}?result=contraindications")
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)""")
    finally:
        context.close()
    assert violations == []

"""The urgent-care notice on a 360 x 740 phone screen in Chromium: big tap-to-call buttons, numbers that
never wrap, the non-emergency line for urgent notices, and an advice box that stays small."""
from __future__ import annotations

from urllib.parse import quote_plus

import pytest

PHONE = {"width": 360, "height": 740}
MIN_TAP = 44  # px: the smallest comfortable touch target (WCAG 2.5.5, Apple's guideline)

# How many lines a piece of text takes: one client rect per line box of a Range around it.
LINES = "el => { const r = document.createRange(); r.selectNodeContents(el); return r.getClientRects().length; }"


@pytest.fixture()
def phone(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def open_search(page, query: str):
    page.goto(f"/search?q={quote_plus(query)}")
    return page.locator(".notice")


def test_an_emergency_gets_large_call_buttons_whose_numbers_do_not_wrap(phone):
    notice = open_search(phone, "my toddler swallowed some of my iron tablets")
    assert "notice-emergency" in notice.get_attribute("class")
    buttons = notice.locator("a.call")
    assert [b.get_attribute("href") for b in buttons.all()] == ["tel:999", "tel:911", "tel:18002221222"]
    for button in buttons.all():
        box = button.bounding_box()
        assert box["width"] >= MIN_TAP and box["height"] >= MIN_TAP, (button.inner_text(), box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "a button runs off the screen"
        number = button.locator(".call-number")
        assert number.evaluate(LINES) == 1, f"{number.inner_text()} wraps"
    # The buttons come before the message: the first thing under the title is the call to action.
    assert buttons.first.bounding_box()["y"] < notice.locator(".notice-message").bounding_box()["y"]
    assert notice.bounding_box()["y"] < PHONE["height"] / 2


def test_numbers_inside_the_message_are_tappable_and_stay_on_one_line(phone):
    notice = open_search(phone, "my toddler swallowed some of my iron tablets")
    links = notice.locator(".notice-message a[href^='tel:']")
    assert links.count() >= 3   # 999, 911 and Poison Control's number
    for link in links.all():
        assert link.evaluate(LINES) == 1, f"{link.inner_text()} wraps"
        # Whatever the wording, a number is never broken across lines.
        assert link.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
    poison = links.filter(has_text="1-800-222-1222")
    assert poison.count() == 1 and poison.get_attribute("href") == "tel:18002221222"


def test_an_urgent_notice_links_the_non_emergency_line_first(phone):
    notice = open_search(phone, "yellow eyes since starting atorvastatin")
    assert "notice-urgent" in notice.get_attribute("class")
    buttons = notice.locator("a.call")
    assert [b.get_attribute("href") for b in buttons.all()] == ["tel:111", "tel:999", "tel:911"]
    assert "NHS 111" in buttons.first.inner_text()
    for button in buttons.all():
        box = button.bounding_box()
        assert box["width"] >= MIN_TAP and box["height"] >= MIN_TAP, (button.inner_text(), box)
        assert button.locator(".call-number").evaluate(LINES) == 1


def test_an_advice_notice_is_compact_and_has_no_call_buttons(phone):
    notice = open_search(phone, "forgot to take my sertraline this morning, do i take it now")
    assert "notice-advice" in notice.get_attribute("class")
    assert notice.locator("a.call").count() == 0
    height = notice.bounding_box()["height"]
    assert height <= PHONE["height"] / 3, f"the advice box is {height:.0f} px tall on a 740 px screen"


def test_a_routine_question_gets_no_notice_on_a_phone(phone):
    assert open_search(phone, "what is sertraline used for").count() == 0


@pytest.mark.parametrize("query", ["ok", "Tylenol", "xyz", "warfarin overdose management"])
def test_a_bare_name_a_stray_word_or_a_look_up_gets_no_box_on_a_phone(phone, query):
    assert open_search(phone, query).count() == 0


def test_a_child_who_swallowed_pills_gets_call_buttons_on_the_first_screen_and_says_why(phone):
    notice = open_search(phone, "my son swallowed my pills")
    assert "notice-emergency" in notice.get_attribute("class")
    buttons = notice.locator("a.call")
    assert buttons.count() >= 2
    for button in buttons.all():
        box = button.bounding_box()
        assert box["width"] >= MIN_TAP and box["height"] >= MIN_TAP, (button.inner_text(), box)
        assert box["y"] + box["height"] <= PHONE["height"], "a call button is below the first screen"
    why = notice.locator("details.notice-why")
    assert not why.locator("li").first.is_visible()   # closed until asked
    why.locator("summary").click()
    assert "child swallowed medicine" in why.locator("li").first.inner_text()

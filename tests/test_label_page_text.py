"""A drug label's page made for reading (issue 28): the label's inline bullets ("• Monitor INR ... • Instruct
patients ...") are a list on its page, its stored text unchanged, and its boxed warning is the first thing in the
page's body, before what changed in its version and its recent major changes. Built from two versions of the
Coumadin fixture (a real openFDA label) and Vectibix's dosage section (a real one, whose bullets hold sub-lists)."""
from __future__ import annotations

import json

import pytest
from lxml import html

from indexer.pipeline import build_index
from search_app.web.pages import ListItem, bullet_list

from .conftest import FIXTURES

COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"
VECTIBIX = "e0fa4bca-f245-4d92-ae29-b0c630a315c2"


def coumadin(version: int, recent: bool = False) -> str:
    """The Coumadin fixture (version 16) as another version, with a "Recent Major Changes" of its own."""
    raw = json.loads((FIXTURES / "labels" / "good" / "coumadin.json").read_text(encoding="utf-8"))
    raw["results"][0]["version"] = str(version)
    if recent:
        raw["results"][0]["recent_major_changes"] = ["Boxed Warning 6/2023"]
        raw["results"][0]["effective_time"] = "20230601"
    return json.dumps(raw)


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder):
    from search_app import create_app

    source = tmp_path_factory.mktemp("label-text")
    (source / "a-coumadin-v17.json").write_text(coumadin(17, recent=True), encoding="utf-8")
    (source / "b-coumadin-v16.json").write_text(coumadin(16), encoding="utf-8")
    (source / "c-vectibix.json").write_bytes((FIXTURES / "labels" / "lists" / "vectibix.json").read_bytes())
    index = tmp_path_factory.mktemp("label-text-index")
    report = build_index([source], index, embedder, log=lambda line: None)
    assert report.published and report.articles == 2 and report.history == 1, report.skipped
    return create_app({"index": str(index), "TESTING": True}).test_client()


@pytest.fixture(scope="module")
def page(client):
    return html.fromstring(client.get(f"/articles/{COUMADIN}").get_data(as_text=True))


def words(node) -> str:
    return " ".join(node.text_content().split())


def test_a_labels_inline_bullets_are_a_list_on_its_page(client, page):
    boxed = page.get_element_by_id("boxed-warning-text")
    items = [words(li) for li in boxed.cssselect("ul > li")]
    assert len(items) == 4 and items[0].startswith("COUMADIN can cause major or fatal bleeding")
    assert items[1].startswith("Perform regular monitoring of INR") and not boxed.cssselect("p")
    # A paragraph leading into its bullets stays a paragraph, the list under it.
    uses = page.get_element_by_id("indications-and-usage-text")
    assert [(child.tag, words(child)[:30]) for child in uses] == [("p", "COUMADIN ® is indicated for:"),
                                                                   ("ul", "Prophylaxis and treatment of v")]
    assert len(uses.cssselect("ul > li")) == 3
    risks = page.get_element_by_id("5-8-other-clinical-settings-with-increased-risks-text")
    assert [words(li) for li in risks.cssselect("li")][:2] == [
        "Moderate to severe hepatic impairment",
        "Infectious diseases or disturbances of intestinal flora (e.g., sprue, antibiotic therapy)"]
    # A section of bullets and a table keeps its table, rows and header as they were.
    cyp = page.get_element_by_id("7-2-cyp450-interactions-text")
    assert [child.tag for child in cyp] == ["p", "ul", "p", "div"]
    assert [words(th) for th in cyp.cssselect("table thead th")] == ["Enzyme", "Inhibitors", "Inducers"]
    assert [words(td) for td in cyp.cssselect("table tbody tr")[0].cssselect("td")][0] == "CYP2C9"
    # No bullet is left in the text of the page, and the stored text (the API's) is as the label wrote it.
    assert "•" not in words(page.cssselect(".article-body")[0])
    sections = client.get(f"/api/v1/articles/{COUMADIN}").get_json()["article"]["sections"]
    assert next(s["text"] for s in sections if s["section_id"] == "boxed-warning").startswith("• COUMADIN can")


def test_a_labels_sub_bullets_are_a_list_inside_their_item(client):
    page = html.fromstring(client.get(f"/articles/{VECTIBIX}").get_data(as_text=True))
    preparation = page.get_element_by_id("2-4-preparation-and-administration-text")
    outer = [li for li in preparation.cssselect("li") if li.getparent().getparent().tag != "li"]
    pump = next(li for li in outer if words(li).startswith("Vectibix must be administered via infusion pump."))
    inner = [words(li) for li in pump.cssselect("ul > li")]
    assert len(inner) == 2 and inner[0].startswith("Flush line before and after Vectibix administration")
    assert inner[1].startswith("Infuse doses of 1000 mg or lower over 60 minutes")
    # The item after the sub-list is the outer list's next item, not the sub-list's third.
    assert words(outer[outer.index(pump) + 1]).startswith("Use the diluted infusion solution of Vectibix within 6 hours")
    assert "○" not in words(preparation) and "•" not in words(preparation)


def test_a_labels_boxed_warning_is_first_before_what_changed_and_recent_changes(page):
    body = page.cssselect(".article-body")[0]
    assert [s.get("id") for s in body.cssselect("section")][:3] == [
        "boxed-warning", "label-changes", "recent-major-changes"]
    assert "boxed-warning" in body.cssselect("section")[0].get("class")
    assert [a.get("href") for a in page.cssselect("nav.toc a")][:3] == [
        "#boxed-warning", "#label-changes", "#recent-major-changes"]


@pytest.mark.parametrize("text", [
    "The mean AUC was 1306 ± 374 mcg•day/mL and 34.5 pg •hr/mL in adults.",  # a unit's dot
    "Its formula is C 17 H 18 F 3 NO •HCl; the hydrate's C 44 H 69 NO 12 •H 2 O.",  # a salt's or hydrate's dot
    "Give the dose • then watch the patient.",  # one bullet inside a sentence
    "None. • None. (4)",  # one bullet after a sentence
    "• •", "Use: •", "no bullet at all"])
def test_a_dot_that_leads_no_item_is_left_in_its_paragraph(text):
    assert bullet_list(text) is None


def test_bullets_without_a_space_after_them_are_items_too():
    assert bullet_list("Contraindicated in patients with: •Known hypersensitivity •Type I diabetes") == (
        "Contraindicated in patients with:", [ListItem("Known hypersensitivity"), ListItem("Type I diabetes")])


def test_lower_marks_make_a_sub_list_and_lead_a_list_where_no_higher_mark_is():
    assert bullet_list("Give: • by pump. ○ Flush the line. ○Infuse over 60 minutes. • Within 6 hours.") == ("Give:", [
        ListItem("by pump.", (ListItem("Flush the line."), ListItem("Infuse over 60 minutes."))),
        ListItem("Within 6 hours.")])
    assert bullet_list("Call if you get: ○ weakness ○loss of coordination") == (
        "Call if you get:", [ListItem("weakness"), ListItem("loss of coordination")])
    assert bullet_list("Tell your doctor. ○ If you become pregnant, call.") is None

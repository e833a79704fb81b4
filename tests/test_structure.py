"""Structure kept from source to page: paragraphs, lists and tables in the section text, in every passage
chunking cuts from it, in the API's ``blocks``, and on cards and article pages; query-biased snippets."""
from __future__ import annotations

import pytest
from lxml import html

from indexer.blocks import blocks_of, join_blocks
from indexer.chunking import split_text
from indexer.pipeline import build_index
from search_app.core.snippets import snippet

from .test_labels import GOOD

SIDE_EFFECTS = ("Many side effects are mild and ease after the first couple of weeks. Common ones include:\n\n"
                "feeling sleepy or drowsy, especially in the morning\ndry mouth\nconstipation\n"
                "dizziness, especially when standing up quickly\nblurred vision\n\n"
                "Sugar-free sweets or chewing gum can help a dry mouth. This is more likely to help if you also "
                "drink water often. Tell your doctor if a side effect bothers you.")


def test_blocks_are_read_from_the_section_layout():
    text = ("Follow these steps:\n1 Shake the inhaler.\n2 Breathe out.\n\nA paragraph.\n\n"
            "Table 1: Doses\nAge | Dose\nAdults | 10 mg\nChildren | 5 mg\n* Once a day.")
    blocks = blocks_of(text)
    assert [(b.kind, b.text) for b in blocks[:4]] == [
        ("p", "Follow these steps:"), ("li", "1 Shake the inhaler."), ("li", "2 Breathe out."), ("p", "A paragraph.")]
    assert [b.kind for b in blocks[4:]] == ["p", "table", "p"]
    assert blocks[5].rows == (("Age", "Dose"), ("Adults", "10 mg"), ("Children", "5 mg"))
    assert [b.to_json()["type"] for b in blocks] == ["p", "li", "li", "p", "p", "table", "p"]
    assert blocks_of(join_blocks(blocks_of(SIDE_EFFECTS))) == blocks_of(SIDE_EFFECTS)


def test_chunks_keep_lists_as_lists_with_the_sentence_that_introduces_them(embedder):
    count = embedder.count_tokens
    chunks = split_text(SIDE_EFFECTS, 30, 8, count)
    assert len(chunks) > 2 and all(count([c])[0] <= 30 for c in chunks)
    for chunk in chunks:
        blocks = blocks_of(chunk)
        if any(b.kind == "li" for b in blocks):
            # Every chunk holding items of the list starts with the sentence that leads into it.
            assert blocks[0].kind == "p" and blocks[0].text.endswith("Common ones include:"), chunk
            assert blocks[1].kind == "li" and blocks[1].list_start
    # Nothing lost, and the items stay items, one a line.
    items = {b.text for c in chunks for b in blocks_of(c) if b.kind == "li"}
    assert items == {"feeling sleepy or drowsy, especially in the morning", "dry mouth", "constipation",
                     "dizziness, especially when standing up quickly", "blurred vision"}


def test_a_passage_never_starts_with_a_sentence_that_leans_on_the_one_before(embedder):
    count = embedder.count_tokens
    for budget in (30, 40, 60):  # budgets with room for the sentence it leans on
        for chunk in split_text(SIDE_EFFECTS, budget, 0, count):
            assert not blocks_of(chunk)[0].text.startswith("This is more likely"), (budget, chunk)
    text = "Cramps are uncommon. " * 3 + "This is more likely if you are older. It can also happen at night."
    for chunk in split_text(text, 24, 0, count):
        assert not chunk.startswith(("This ", "It ")), chunk


def test_a_snippet_shows_the_matching_sentences_and_items_with_ellipses():
    long_text = SIDE_EFFECTS + " " + " ".join(f"Filler sentence {i} about tablets in general." for i in range(12))
    shown = snippet(long_text, ("constipation",), "does amitriptyline cause constipation")
    kinds = [(p.kind, p.text) for p in shown.pieces]
    assert ("li", "constipation") in kinds
    assert kinds[kinds.index(("li", "constipation")) - 1] == ("p", "Common ones include:")  # the list's lead-in
    assert shown.pieces[0].gap_before and shown.gap_after and not shown.whole
    assert sum(len(p.text) for p in shown.pieces) <= 400
    # No query word in it (a match by meaning): the passage's start; a short passage: all of it.
    start = snippet(long_text, (), "")
    assert start.pieces[0].text.startswith("Many side effects") and not start.pieces[0].gap_before
    short = snippet("Take it with food. Swallow it whole.", ("food",), "food")
    assert short.whole and [p.text for p in short.pieces] == ["Take it with food. Swallow it whole."]


def test_the_api_gives_blocks_beside_the_text(client):
    hit = client.get("/api/v1/search?q=what+is+amitriptyline+used+for&k=3").get_json()["results"][0]
    assert hit["section_id"] == "what-amitriptyline-is-used-for"
    assert hit["blocks"] == [{"type": "p", "text": "Doctors prescribe it for:"},
                             {"type": "li", "text": "long-lasting nerve pain"},
                             {"type": "li", "text": "preventing migraine headaches"},
                             {"type": "li", "text": "depression, at higher doses"}]
    assert hit["text"] == ("Doctors prescribe it for:\n\nlong-lasting nerve pain\npreventing migraine headaches\n"
                           "depression, at higher doses")
    article = client.get("/api/v1/articles/amitriptyline").get_json()["article"]
    used = next(s for s in article["sections"] if s["section_id"] == "what-amitriptyline-is-used-for")
    assert used["blocks"] == hit["blocks"]


def test_cards_and_article_pages_show_lists_as_lists(client):
    doc = html.fromstring(client.get("/search?q=what+is+amitriptyline+used+for").get_data(as_text=True))
    card = doc.cssselect("ol.results > li.result")[0]
    assert card.cssselect(".passage p")[0].text_content() == "Doctors prescribe it for:"
    assert [li.text_content() for li in card.cssselect(".passage ul > li")] == [
        "long-lasting nerve pain", "preventing migraine headaches", "depression, at higher doses"]
    page = html.fromstring(client.get("/articles/amitriptyline").get_data(as_text=True))
    section = page.cssselect("#what-amitriptyline-is-used-for")[0]
    assert len(section.cssselect("ul > li")) == 3


@pytest.fixture(scope="module")
def label_client(tmp_path_factory, embedder):
    from search_app import create_app

    path = tmp_path_factory.mktemp("label-structure")
    build_index([GOOD], path, embedder, log=lambda line: None)
    return create_app({"index": str(path), "TESTING": True}).test_client()


def test_a_label_table_is_a_table_in_the_api_and_on_the_page(label_client):
    results = label_client.get("/api/v1/search?q=CYP450+isozymes+warfarin+metabolism&k=20&fold=off").get_json()
    article_id = next(h["article_id"] for h in results["results"] if h["section_id"] == "7-2-cyp450-interactions")
    article = label_client.get(f"/api/v1/articles/{article_id}").get_json()["article"]
    section = next(s for s in article["sections"] if s["section_id"] == "7-2-cyp450-interactions")
    table = next(b for b in section["blocks"] if b["type"] == "table")
    assert table["rows"][0] == ["Enzyme", "Inhibitors", "Inducers"] and table["rows"][1][0] == "CYP2C9"
    assert section["blocks"][0]["type"] == "p"  # the prose before the table is a paragraph of its own
    page = html.fromstring(label_client.get(f"/articles/{article_id}").get_data(as_text=True))
    shown = page.cssselect("#7-2-cyp450-interactions table")[0]
    assert [th.text_content() for th in shown.cssselect("thead th")] == ["Enzyme", "Inhibitors", "Inducers"]
    assert shown.getparent().get("class") == "table-scroll" and shown.getparent().get("tabindex") == "0"

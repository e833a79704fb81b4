"""Tests for indexer.sources: finding article files and loading them into clean sections."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from indexer.models import Article
from indexer.sources import (
    LOADERS,
    Skipped,
    discover,
    iter_articles,
    load_file,
    slugify,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_one(path: Path) -> Article:
    """The single Article a fixture file must yield."""
    items = list(load_file(path))
    assert len(items) == 1, items
    assert isinstance(items[0], Article), items[0]
    return items[0]


def by_id(article: Article) -> dict:
    return {s.id: s for s in article.sections}


def assert_well_formed(article: Article) -> None:
    """What every loader promises about every article."""
    assert article.sections
    ids = [s.id for s in article.sections]
    assert len(ids) == len(set(ids)), ids
    for section in article.sections:
        assert section.text and section.text == section.text.strip()
        assert "  " not in section.text and "\t" not in section.text
        assert "\n\n\n" not in section.text
    json.dumps(article.meta)  # meta travels into the manifest and the API


# --------------------------------------------------------------------------- slugify


def test_slugify_makes_ascii_hyphenated_anchors():
    assert slugify("Hyponatremia: The Role of Sodium") == "hyponatremia-the-role-of-sodium"
    assert slugify("Can I take it with my doctor's advice?") == "can-i-take-it-with-my-doctors-advice"
    assert slugify("Café  Crème — über") == "cafe-creme-uber"
    assert slugify("!!!") == ""
    long = slugify("word " * 40)
    assert len(long) <= 80 and not long.endswith("-")


# --------------------------------------------------------------------------- Markdown


def test_markdown_front_matter_becomes_article_fields_and_meta():
    article = load_one(FIXTURES / "ibuprofen.md")
    assert (article.id, article.title, article.url) == ("ibuprofen", "Ibuprofen", "")
    assert article.source_path == str(FIXTURES / "ibuprofen.md")
    assert article.meta["aliases"] == ["Brufen", "Nurofen", "Advil"]
    assert article.meta["drug_class"].startswith("non-steroidal")
    assert article.meta["updated"] == "2026-01-15"  # a YAML date, made JSON-safe
    assert article.meta["references"][0]["url"] == "https://formulary.example.org/ibuprofen"
    assert "title" not in article.meta and "id" not in article.meta
    assert_well_formed(article)


def test_markdown_splits_sections_and_drops_grouping_headings():
    article = load_one(FIXTURES / "ibuprofen.md")
    assert [(s.id, s.heading) for s in article.sections] == [
        ("overview", "Overview"),
        ("what-ibuprofen-is-used-for", "What ibuprofen is used for"),
        ("dose", "Dose"),
        ("dose-2", "Dose"),  # a repeated heading gets a stable suffix
        ("can-ibuprofen-upset-my-stomach", "Can ibuprofen upset my stomach?"),
        ("can-i-take-ibuprofen-with-paracetamol", "Can I take ibuprofen with paracetamol?"),
    ]


def test_markdown_inline_syntax_becomes_plain_text():
    sections = by_id(load_one(FIXTURES / "ibuprofen.md"))
    overview = sections["overview"].text
    assert overview.startswith("Ibuprofen is a painkiller that also lowers fever")
    assert "**" not in overview and "_fever_" not in overview
    assert "example formulary" in overview and "](" not in overview and "https://" not in overview
    assert sections["what-ibuprofen-is-used-for"].text == (
        "headaches and toothache\nperiod pain\nsprains and strains"
    )
    assert "3 to 6 months | 50 mg" in sections["dose-2"].text.split("\n")


def test_markdown_disclaimer_goes_to_meta_not_sections():
    article = load_one(FIXTURES / "ibuprofen.md")
    assert article.meta["disclaimer"] == "This fixture is invented test text, not medical advice."
    assert all("invented test text" not in s.text for s in article.sections)
    assert all(s.heading.lower() != "disclaimer" for s in article.sections)


def test_markdown_without_front_matter_takes_title_from_h1_and_id_from_file_name():
    article = load_one(FIXTURES / "cetirizine-notes.md")
    assert (article.id, article.title) == ("cetirizine-notes", "Cetirizine")
    assert [s.heading for s in article.sections] == ["Overview", "Drowsiness"]


def test_markdown_with_invalid_yaml_is_skipped_with_reason(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\nid: bad\n---\nSome text.\n", encoding="utf-8")
    (item,) = load_file(path)
    assert isinstance(item, Skipped)
    assert item.path == str(path)
    assert item.reason.startswith("invalid YAML front matter")


def test_markdown_with_only_front_matter_has_no_text(tmp_path):
    path = tmp_path / "hollow.md"
    path.write_text("---\ntitle: Hollow\n---\n\n## Disclaimer\n\nNot advice.\n", encoding="utf-8")
    assert list(load_file(path)) == [Skipped(str(path), "no article text found")]


# --------------------------------------------------------------------------- HTML


def test_html_keeps_article_text_and_publisher_anchors():
    article = load_one(FIXTURES / "paracetamol.html")
    assert article.title == "Paracetamol"
    assert article.url == "https://health.example.org/medicines/paracetamol.html"
    assert article.id == "paracetamol"
    # "Uses" has no text before its h3s: a grouping heading. Ids follow the page's anchors.
    assert [(s.id, s.heading) for s in article.sections] == [
        ("overview", "Overview"),
        ("pain-relief", "Pain relief"),
        ("fever", "Fever"),
        ("dosing", "How much to take"),
        ("side-effects", "Side effects"),
    ]
    assert_well_formed(article)


def test_html_drops_site_chrome():
    article = load_one(FIXTURES / "paracetamol.html")
    text = "\n".join(s.heading + "\n" + s.text for s in article.sections)
    for chrome in ("Skip to content", "Medicines A to Z", "cookies", "Buy cheap pills",
                   "Advertisement", "Related articles", "newsletter", "Copyright",
                   "tracking", "font-family", "Share on Facebook", "¶"):
        assert chrome not in text, chrome


def test_html_flattens_tables_and_lists_readably():
    sections = by_id(load_one(FIXTURES / "paracetamol.html"))
    assert sections["dosing"].text.split("\n")[:3] == [
        "Who | Dose | How often",
        "Adults | 500 mg to 1 g | Every 4 to 6 hours",
        "Children 6 to 8 years | 250 mg | Every 4 to 6 hours",
    ]
    assert sections["side-effects"].text == (
        "Side effects are rare at the usual dose.\nAn overdose can cause serious liver damage."
    )
    assert sections["pain-relief"].text == (
        "Paracetamol eases mild to moderate pain such as headache and toothache."
    )


def test_html_boilerplate_and_references_go_to_meta():
    article = load_one(FIXTURES / "paracetamol.html")
    assert "informational purposes only" in article.meta["disclaimer"]
    assert article.meta["references"] == [{
        "title": "Example Pharmacopoeia. Paracetamol monograph. "
                 "https://pharmacopoeia.example.org/paracetamol",
        "url": "https://pharmacopoeia.example.org/paracetamol",
    }]


def test_html_without_h1_or_canonical_uses_title_tag_and_file_name(tmp_path):
    path = tmp_path / "Warfarin Page.htm"
    path.write_text(
        "<html><head><title>Warfarin and diet | Example Clinic</title></head>"
        "<body><p>Vitamin K in green vegetables changes how warfarin works.</p></body></html>",
        encoding="utf-8",
    )
    article = load_one(path)
    assert (article.id, article.title, article.url) == ("warfarin-page", "Warfarin and diet", "")
    assert article.sections[0].text == "Vitamin K in green vegetables changes how warfarin works."


def test_html_in_its_declared_charset_is_decoded(tmp_path):
    path = tmp_path / "latin.html"
    path.write_bytes(
        '<html><head><meta charset="windows-1252"></head><body><h1>Paracétamol</h1>'
        "<p>Le paracétamol soulage la douleur.</p></body></html>".encode("cp1252")
    )
    article = load_one(path)
    assert article.title == "Paracétamol"
    assert article.sections[0].text == "Le paracétamol soulage la douleur."


# --------------------------------------------------------------------------- plain text


def test_text_finds_title_headings_and_drops_chrome():
    article = load_one(FIXTURES / "loratadine.txt")
    assert (article.id, article.title, article.url) == (
        "loratadine", "Loratadine for Hay Fever: What to Expect", "")
    assert [s.heading for s in article.sections] == [
        "Overview",
        "How Loratadine Works",
        "Side Effects to Know About",
        "Doses at a Glance",
        "Frequently Asked Questions",
    ]
    text = "\n".join(s.text for s in article.sections)
    for chrome in ("Skip to content", "min read", "In This Article", "Share", "Advertisement"):
        assert chrome not in text, chrome
    assert_well_formed(article)


def test_text_keeps_bullets_tables_and_faq_answers():
    sections = by_id(load_one(FIXTURES / "loratadine.txt"))
    assert sections["side-effects-to-know-about"].text.endswith(
        "\n\nHeadache: usually mild and short-lived.\nDry mouth: sipping water helps.")
    assert sections["doses-at-a-glance"].text == (
        "Who | Dose | How often\nAdults | 10 mg | Once a day\nChildren 2 to 5 years | 5 mg | Once a day"
    )
    faq = sections["frequently-asked-questions"].text
    assert faq.startswith("No, loratadine rarely") and faq.endswith("with or without food.")


def test_text_references_of_bare_numbers_and_disclaimers_are_not_sections():
    article = load_one(FIXTURES / "loratadine.txt")
    assert "references" not in article.meta  # "1. 1", "2. 2" cite nothing
    assert "educational purposes only" in article.meta["disclaimer"]
    assert "invented test text" in article.meta["disclaimer"]
    text = "\n".join(s.text for s in article.sections)
    assert "purposes only" not in text and "1. 1" not in text


def test_text_heading_glued_to_its_paragraph_and_double_spaced_prose(tmp_path):
    path = tmp_path / "glued.txt"
    path.write_text(
        "Metformin Basics\n\n"
        "How It Works\n"
        "Metformin lowers the amount of sugar the liver releases into the blood and helps the "
        "body respond better to its own insulin over the day.\n\n"
        "Stomach Upset\n\n"
        "Take it with meals.  Starting low helps.  Most upset settles in a few weeks.\n",
        encoding="utf-8",
    )
    article = load_one(path)
    assert article.title == "Metformin Basics"
    assert [s.heading for s in article.sections] == ["How It Works", "Stomach Upset"]
    assert by_id(article)["stomach-upset"].text == (
        "Take it with meals. Starting low helps. Most upset settles in a few weeks.")


def test_html_section_element_id_is_the_heading_anchor(tmp_path):
    path = tmp_path / "statin.html"
    path.write_text(
        "<html><body><article><h1>Statins</h1>"
        '<section id="muscle-pain"><h2>Muscle aches</h2><p>Tell your doctor about aches.</p></section>'
        "<h2><span id=\"liver\">Liver tests</span></h2><p>A blood test checks the liver.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    assert [s.id for s in load_one(path).sections] == ["muscle-pain", "liver"]


# --------------------------------------------------------------------------- JSONL


def test_jsonl_bad_lines_are_skipped_and_the_rest_load():
    path = FIXTURES / "articles.jsonl"
    items = list(load_file(path))
    articles = [i for i in items if isinstance(i, Article)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [a.id for a in articles] == ["MQA_0001", "MQA_0004", "MQA_0006"]
    assert [s.path for s in skipped] == [f"{path}:2", f"{path}:3", f"{path}:5"]
    assert skipped[0].reason.startswith("malformed JSON on line 2: ")
    assert "no sections" in skipped[1].reason
    assert "no article text" in skipped[2].reason


def test_jsonl_keeps_ids_exactly_and_drops_empty_sections():
    articles = {a.id: a for a in load_file(FIXTURES / "articles.jsonl") if isinstance(a, Article)}
    first = articles["MQA_0001"]
    assert first.sections[0].id == "MQA_0001 s1"  # not a slug, and kept as given
    assert first.sections[0].heading == ""
    assert first.sections[0].text == "Cetirizine relieves sneezing and itchy eyes."
    assert first.meta == {"source": "ExampleQA"}
    assert first.url == "https://example.org/cetirizine"
    assert [s.id for s in articles["MQA_0004"].sections] == ["MQA_0004-s2"]
    for article in articles.values():
        assert_well_formed(article)


# --------------------------------------------------------------------------- every loader


@pytest.mark.parametrize("name", ["ibuprofen.md", "paracetamol.html", "loratadine.txt", "articles.jsonl"])
def test_section_ids_are_stable_across_loads(name, tmp_path):
    # A rebuild reads the same content from wherever it lives; ids must not change.
    copy = tmp_path / name
    shutil.copy(FIXTURES / name, copy)

    def ids(path):
        return [(a.id, [s.id for s in a.sections]) for a in load_file(path) if isinstance(a, Article)]

    assert ids(FIXTURES / name) == ids(FIXTURES / name) == ids(copy)


def test_loaders_cover_every_documented_extension():
    assert set(LOADERS) == {".md", ".markdown", ".html", ".htm", ".txt", ".jsonl", ".json", ".json.zip", ".xml", ".zip"}


# --------------------------------------------------------------------------- whole-file failures


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("pills.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin.txt", "Le paracétamol soulage la douleur.".encode("cp1252"), "not UTF-8 text"),
        ("empty.html", b"", "empty file"),
        ("blank.jsonl", b"  \n\n\t\n", "empty file"),
        ("chrome.txt", b"Skip to content\n\n3 min read\n\nShare\n", "no article text found"),
        ("scripts.html", b"<html><body><script>x()</script><nav>Home</nav></body></html>",
         "no article text found"),
    ],
)
def test_unusable_files_become_one_skipped(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    items = list(load_file(path))
    assert len(items) == 1 and isinstance(items[0], Skipped), items
    assert items[0].path == str(path)
    assert items[0].reason.startswith(reason), items[0].reason


def test_unreadable_file_is_skipped(tmp_path):
    path = tmp_path / "folder.md"  # reading a folder fails like a permission error does
    path.mkdir()
    (item,) = load_file(path)
    assert isinstance(item, Skipped) and item.reason.startswith("cannot read file")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_file_without_read_permission_is_skipped(tmp_path):
    path = tmp_path / "secret.md"
    path.write_text("Text.", encoding="utf-8")
    path.chmod(0)
    (item,) = load_file(path)
    assert isinstance(item, Skipped) and item.reason.startswith("cannot read file")


def test_utf8_bom_and_utf16_with_bom_are_read(tmp_path):
    bom8 = tmp_path / "bom.md"
    bom8.write_bytes("---\ntitle: Aspirin\n---\nAspirin thins the blood.\n".encode("utf-8-sig"))
    assert load_one(bom8).title == "Aspirin"
    bom16 = tmp_path / "wide.txt"
    bom16.write_bytes("Aspirin\n\nAspirin thins the blood and eases pain.\n".encode("utf-16"))
    assert load_one(bom16).sections[0].text == "Aspirin thins the blood and eases pain."


def test_unsupported_file_named_explicitly_is_reported(tmp_path):
    path = tmp_path / "leaflet.pdf"
    path.write_bytes(b"%PDF-1.7")
    (item,) = iter_articles([path])
    assert isinstance(item, Skipped) and "unsupported file type '.pdf'" in item.reason


# --------------------------------------------------------------------------- discover / iter_articles


def make_tree(root: Path) -> None:
    for rel in ["b.md", "a.txt", "README.md", "sub/readme.MD", "sub/c.jsonl", "sub/d.HTML",
                "sub/notes.docx", ".hidden.md", ".drafts/e.md", "sub/.cache/f.txt"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Text about aspirin.\n", encoding="utf-8")


def test_discover_walks_folders_in_sorted_order_and_ignores_readmes_and_hidden(tmp_path):
    make_tree(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path])]
    assert found == ["a.txt", "b.md", "sub/c.jsonl", "sub/d.HTML"]


def test_discover_includes_explicit_files_once(tmp_path):
    make_tree(tmp_path)
    found = discover([tmp_path / "README.md", str(tmp_path / "sub"), tmp_path / "sub" / "c.jsonl"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "README.md", "sub/c.jsonl", "sub/d.HTML"]


def test_discover_ignores_the_fixture_readme():
    names = [p.name for p in discover([FIXTURES])]
    assert names == ["articles.jsonl", "cetirizine-notes.md", "ibuprofen.md", "loratadine.txt",
                     "paracetamol.html"]


def test_discover_missing_path_raises_with_the_path(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        discover([FIXTURES, missing])


def test_iter_articles_reports_bad_files_and_loads_the_rest(tmp_path):
    shutil.copy(FIXTURES / "ibuprofen.md", tmp_path / "ibuprofen.md")
    (tmp_path / "broken.txt").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "zz-empty.md").write_bytes(b"")
    items = list(iter_articles([tmp_path]))
    assert [type(i).__name__ for i in items] == ["Skipped", "Article", "Skipped"]
    assert items[1].id == "ibuprofen"
    assert items[2] == Skipped(str(tmp_path / "zz-empty.md"), "empty file")


# --------------------------------------------------------------------------- real data (../shared)


def shared(rel: str) -> Path:
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"{path} is absent: real-data tests need the shared data checkout beside the repo")
    return path


def test_real_browser_saved_article_splits_cleanly():
    article = load_one(shared("web-articles/amitriptyline-cramps.txt"))
    assert article.title == "Can Amitriptyline Cause Cramps? Understanding the Link and What to Do"
    sections = by_id(article)
    assert list(sections)[:3] == ["overview", "quick-summary", "key-points"]
    assert "hyponatremia-the-role-of-sodium" in sections
    assert sections["hyponatremia-the-role-of-sodium"].heading == "Hyponatremia: The Role of Sodium"
    assert "amitriptyline-and-muscle-cramps-the-connection" in sections
    table = sections["side-effect-comparison-common-vs-serious"].text.split("\n")
    assert table[0] == "Side Effect Commonality Action to Take"
    assert "Hyponatremia Rare (but serious) Seek immediate medical attention." in table
    assert sections["frequently-asked-questions"].text.startswith("No, muscle cramps are not")
    text = "\n".join(s.heading + "\n" + s.text for s in article.sections)
    for chrome in ("Skip to content", "3 min read", "In This Article", "References", "1. 1",
                   "•", "Medical Disclaimer", "educational purposes only"):
        assert chrome not in text, chrome
    assert "educational purposes only" in article.meta["disclaimer"]
    assert_well_formed(article)


def test_real_medicationqa_corpus_loads_with_ids_preserved():
    path = shared("medicationqa/corpus.jsonl")
    items = list(iter_articles([path]))
    assert not [i for i in items if isinstance(i, Skipped)]
    assert len(items) == 594
    assert sum(len(a.sections) for a in items) == 655
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [(a.id, [s.id for s in a.sections]) for a in items] == [
        (r["id"], [s["id"] for s in r["sections"]]) for r in raw
    ]
    assert sum(1 for a in items for s in a.sections if s.heading == "") > 0  # empty headings kept

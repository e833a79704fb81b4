"""Label tables as the label draws them (issue 28): merged cells filled into a rectangular grid, empty cells kept,
every header row, footnotes apart; in the section text, the passages, the API's article object and the page.

Fixtures in tests/fixtures/labels/tables/ are cut from real labels (see its README): XARELTO's pediatric dosing
table, PYRUKYND's dose taper and hormone tables, ABILIFY MAINTENA's Table 9 (its prose copy without spaces) and
LIPITOR's TNT table in SPL.
"""
from __future__ import annotations

import json

import jsonschema
import lxml.html
import pytest
from lxml import html

from indexer.blocks import blocks_of
from indexer.chunking import split_text
from indexer.errors import IndexIncompatible
from indexer.index import SearchIndex
from indexer.manifest import FORMAT_VERSION
from indexer.models import Article, Section
from indexer.pipeline import build_index
from indexer.sources import load_file
from search_app.web.openapi import BLOCKS

from .conftest import FIXTURES, rewrite_manifest

TABLES = FIXTURES / "labels" / "tables"
XARELTO = "38b11f5d-f0fc-46dc-aef1-ea31872bb621"
XARELTO_SECTION = "2-2-recommended-dosage-in-pediatric-patients-treatment-of-venous"
SUSPENSION, BOTH = "Oral Suspension Only", "Oral Suspension or Tablets"
# XARELTO's Table 2 as the label draws it: 3 header rows, then one row per body weight.
XARELTO_GRID = [
    ["Dosage Form", "Body Weight", *["1 mg XARELTO = 1 mL Suspension"] * 4],
    ["Dosage Form", "Body Weight", "Dosage", "Dosage", "Dosage", "Total Daily Dose"],
    ["Dosage Form", "Body Weight", "Once a Day", "2 Times a Day", "3 Times a Day", ""],
    [SUSPENSION, "2.6 kg to 2.9 kg", "", "", "0.8 mg", "2.4 mg"],
    [SUSPENSION, "3 kg to 3.9 kg", "", "", "0.9 mg", "2.7 mg"],
    [SUSPENSION, "4 kg to 4.9 kg", "", "", "1.4 mg", "4.2 mg"],
    [SUSPENSION, "5 kg to 6.9 kg", "", "", "1.6 mg", "4.8 mg"],
    [SUSPENSION, "7 kg to 7.9 kg", "", "", "1.8 mg", "5.4 mg"],
    [SUSPENSION, "8 kg to 8.9 kg", "", "", "2.4 mg", "7.2 mg"],
    [SUSPENSION, "9 kg to 9.9 kg", "", "", "2.8 mg", "8.4 mg"],
    [SUSPENSION, "10 kg to 11.9 kg", "", "", "3 mg", "9 mg"],
    [SUSPENSION, "12 kg to 29.9 kg", "", "5 mg", "", "10 mg"],
    [BOTH, "30 kg to 49.9 kg", "15 mg", "", "", "15 mg"],
    [BOTH, "≥50 kg", "20 mg", "", "", "20 mg"],
]


def label(name: str) -> Article:
    (article,) = load_file(TABLES / name)
    assert isinstance(article, Article), article
    return article


def section(article: Article, section_id: str) -> Section:
    return next(s for s in article.sections if s.id == section_id)


def only_table(text: str):
    (table,) = [b for b in blocks_of(text) if b.kind == "table"]
    return table


def column_of(grid: list[list[str]], header_rows: int, row_starts: str, value: str) -> list[str]:
    """The header cells above ``value`` in the row that starts with ``row_starts``."""
    row = next(r for r in grid[header_rows:] if r[1] == row_starts or r[0] == row_starts)
    column = row.index(value)
    return [grid[n][column] for n in range(header_rows)]


# --------------------------------------------------------------------------- the grid, cell by cell


def test_xarelto_pediatric_dosing_is_the_grid_the_label_draws():
    xarelto = label("xarelto.json")
    (table,) = xarelto.meta["tables"][XARELTO_SECTION]
    assert table["rows"] == XARELTO_GRID and table["header_rows"] == 3
    # Every value under its column: 0.9 mg is a three-times-a-day dose for 3 to 3.9 kg, 5 mg a twice-a-day one.
    assert column_of(table["rows"], 3, "3 kg to 3.9 kg", "0.9 mg")[-1] == "3 Times a Day"
    assert column_of(table["rows"], 3, "12 kg to 29.9 kg", "5 mg")[-1] == "2 Times a Day"
    assert column_of(table["rows"], 3, "2.6 kg to 2.9 kg", "2.4 mg")[1] == "Total Daily Dose"
    # Footnotes (caption, header cells) are kept apart, under the table, not in its cells.
    assert table["footnotes"][-1].startswith("Once a day: approximately 24 hours apart")
    assert not any("approximately" in cell for row in table["rows"] for cell in row)


def test_the_section_text_the_page_and_api_read_holds_the_same_grid():
    text = section(label("xarelto.json"), XARELTO_SECTION).text
    table = only_table(text)
    assert [list(row) for row in table.rows] == XARELTO_GRID and table.header_rows == 3
    # The heading over four columns is written once and read back into each of them.
    assert "Dosage Form | Body Weight | 1 mg XARELTO = 1 mL Suspension|||" in text.splitlines()
    assert table.spans[0] == (1, 1, 4, 0, 0, 0) and table.spans[1] == (1, 1, 3, 0, 0, 1)
    assert "Oral Suspension Only | 3 kg to 3.9 kg | | | 0.9 mg | 2.7 mg" in text.splitlines()
    assert table.to_json()["header_rows"] == 3 and table.to_json()["rows"][4] == XARELTO_GRID[4]


def test_a_dose_taper_keeps_its_foot_apart_and_its_header_whole():
    taper = section(label("pyrukynd.json"), "2-3-interruption-or-discontinuation")
    table = only_table(taper.text)
    assert [list(row) for row in table.rows] == [
        ["Current Dose", "Dose Taper Schedule", "Dose Taper Schedule", "Dose Taper Schedule"],
        ["Current Dose", "Day 1-7", "Day 8-14", "Day 15"],
        ["5 mg twice daily", "5 mg once daily", "Discontinue", "N/A"],
        ["20 mg twice daily", "20 mg once daily", "5 mg once daily", "Discontinue"],
        ["50 mg twice daily", "50 mg once daily", "20 mg once daily", "Discontinue"]]
    assert table.header_rows == 2
    # The tfoot comes before the tbody in the markup; it is a footnote under the table, not a row inside it.
    assert taper.text.splitlines()[-1] == "Abbreviations: N/A = not applicable."


def test_an_empty_corner_and_a_row_across_the_table_stay_in_place():
    pyrukynd = label("pyrukynd.json")
    (table,) = pyrukynd.meta["tables"]["adverse-reactions"]
    assert table["rows"] == [
        ["", "ACTIVATE", "ACTIVATE"],
        ["Parameter", "PYRUKYND (16 males) n (%)", "Placebo (15 males) n (%)"],
        ["Reproductive hormone analyses"] * 3,
        ["Estrone decreased (males)", "9 (56.3)", "0"],
        ["Estradiol decreased (males)", "2 (12.5)", "1 (6.7)"],
        ["Blood testosterone increased (males)", "1 (6.3)", "1 (6.7)"]]
    drawn = only_table(section(pyrukynd, "adverse-reactions").text)
    assert drawn.spans[0] == (1, 2, 0) and drawn.spans[2] == (3, 0, 0)  # one cell across the table
    assert table["footnotes"][0].startswith("Decreases in estrone and estradiol")


def test_a_table_whose_prose_copy_has_no_spaces_is_still_found_and_drawn():
    abilify = label("abilify-maintena.json")
    studies = section(abilify, "14-1-schizophrenia")
    (table,) = abilify.meta["tables"][studies.id]
    assert table["rows"] == [
        ["Study Number", "Treatment Group", *["Primary Efficacy Measure: PANSS Total Score"] * 3],
        ["Study Number", "", "Mean Baseline Score (SD)", "LS Mean Change from Baseline (SE)",
         "Placebo-subtracted Difference (95% CI)"],
        ["Study 1", "ABILIFY MAINTENA (400 to 300 mg)", "102.4 (11.4)", "-26.8 (1.6)", "-15.1 (-19.4, -10.8)"],
        ["", "Placebo", "103.4 (11.1)", "-11.7 (1.6)", "--"]]
    assert "Study NumberTreatment Group" not in studies.text  # openFDA's run-together copy is replaced
    assert [list(row) for row in only_table(studies.text).rows] == table["rows"]


def test_an_spl_table_spans_columns_and_keeps_its_foot_apart():
    lipitor = label("lipitor-tnt.xml")
    (table,) = next(iter(lipitor.meta["tables"].values()))
    assert table["header_rows"] == 1 and table["rows"][0] == [
        "Endpoint", "Atorvastatin 10 mg (N=5006)", "Atorvastatin 10 mg (N=5006)", "Atorvastatin 80 mg (N=4995)",
        "Atorvastatin 80 mg (N=4995)", "HR (95%CI)"]
    assert table["rows"][1] == ["PRIMARY ENDPOINT", "n", "(%)", "n", "(%)", ""]
    assert table["rows"][2] == ["First major cardiovascular endpoint", "548", "(10.9)", "434", "(8.7)",
                                "0.78 (0.69, 0.89)"]
    assert {len(row) for row in table["rows"]} == {6} and len(table["rows"]) == 20
    assert table["footnotes"][-1].startswith("HR=hazard ratio")  # the tfoot, placed before the tbody
    assert not any(cell.startswith("HR=") for row in table["rows"] for cell in row)


# --------------------------------------------------------------------------- the layout and its limits


def test_the_layout_reads_empty_cells_spans_bars_and_the_header_line():
    from indexer.blocks import table_text

    rows = [["Form", "Dose", "Dose"], ["Form", "Once", "Twice"], ["", "a | b", ""], ["Tablet", "5 mg", ""]]
    text = table_text(rows, 2, [[False, False, True], [False] * 3, [False] * 3, [False] * 3])
    assert text.splitlines() == ["Form | Dose|", "Form | Once | Twice", "--- | --- | ---", "| a \\| b |",
                                 "Tablet | 5 mg |"]
    table = only_table(text)
    assert [list(row) for row in table.rows] == [["Form", "Dose", "Dose"], *rows[1:]] and table.header_rows == 2
    # Text written before empty cells were kept reads as it did; a bar inside a word is no cell.
    (old,) = blocks_of("Age | Dose\nAdults | 10 mg\nTID|BID | 5 mg")
    assert old.rows == (("Age", "Dose"), ("Adults", "10 mg"), ("TID|BID", "5 mg")) and old.header_rows == 1


def test_a_passage_cut_inside_the_table_repeats_every_header_row(embedder):
    text = section(label("xarelto.json"), XARELTO_SECTION).text
    chunks = split_text(text, 120, 0, embedder.count_tokens)
    with_rows = [c for c in chunks if "kg |" in c]
    assert len(with_rows) > 1
    for chunk in with_rows:
        table = only_table(chunk)
        assert [list(row) for row in table.rows[:3]] == XARELTO_GRID[:3] and table.header_rows == 3, chunk
        assert all(len(row) == 6 for row in table.rows)
    bodies = [list(row) for c in with_rows for row in only_table(c).rows[3:]]
    assert all(row in bodies for row in XARELTO_GRID[3:])  # nothing lost between passages


def test_a_table_too_large_for_its_grid_is_refused():
    from indexer.sources.tables import MAX_SLOTS, TableTooLarge, read_table

    spans = "<tr>" + '<td colspan="1000">x</td>' + "</tr>"
    el = lxml.html.fragment_fromstring(f"<table>{spans * (MAX_SLOTS // 1000 + 1)}</table>")
    with pytest.raises(TableTooLarge):
        read_table(el)


# --------------------------------------------------------------------------- a real build: API and page


@pytest.fixture(scope="module")
def tables_client(tmp_path_factory, embedder):
    from search_app import create_app

    path = tmp_path_factory.mktemp("label-tables")
    report = build_index([TABLES], path, embedder, log=lambda line: None)
    assert report.published and report.exit_code == 0, report.skipped
    return create_app({"index": str(path), "TESTING": True}).test_client()


def test_every_label_table_is_in_the_api_article_cell_by_cell(tables_client):
    article = tables_client.get(f"/api/v1/articles/{XARELTO}").get_json()["article"]
    dosing = next(s for s in article["sections"] if s["section_id"] == XARELTO_SECTION)
    (table,) = [b for b in dosing["blocks"] if b["type"] == "table"]
    assert table["rows"] == XARELTO_GRID and table["header_rows"] == 3
    jsonschema.validate(dosing["blocks"], BLOCKS)  # as the OpenAPI document describes them
    for name in ("pyrukynd.json", "abilify-maintena.json", "lipitor-tnt.xml"):
        loaded = label(name)
        shown = tables_client.get(f"/api/v1/articles/{loaded.id}").get_json()["article"]
        drawn = [b["rows"] for s in shown["sections"] for b in s["blocks"] if b["type"] == "table"]
        assert sorted(drawn) == sorted(t["rows"] for tables in loaded.meta["tables"].values() for t in tables), name


def test_the_page_draws_each_dose_under_its_column(tables_client):
    page = html.fromstring(tables_client.get(f"/articles/{XARELTO}").get_data(as_text=True))
    shown = page.cssselect(f"#{XARELTO_SECTION} table")[0]
    head = shown.cssselect("thead tr")
    assert len(head) == 3
    assert [(th.text_content(), th.get("colspan")) for th in head[0].cssselect("th")] == [
        ("Dosage Form", None), ("Body Weight", None), ("1 mg XARELTO = 1 mL Suspension", "4")]
    assert [th.text_content() for th in head[2].cssselect("th")] == [
        "Dosage Form", "Body Weight", "Once a Day", "2 Times a Day", "3 Times a Day", ""]
    body = [[td.text_content() for td in tr.cssselect("td")] for tr in shown.cssselect("tbody tr")]
    assert body == XARELTO_GRID[3:]
    pyrukynd = html.fromstring(tables_client.get(f"/articles/{label('pyrukynd.json').id}").get_data(as_text=True))
    across = pyrukynd.cssselect("#adverse-reactions table tbody tr")[0].cssselect("td")
    assert [(td.text_content(), td.get("colspan")) for td in across] == [("Reproductive hormone analyses", "3")]


def test_a_search_card_shows_the_row_under_all_its_header_rows(tables_client):
    page = html.fromstring(tables_client.get("/search", query_string={"q": "xarelto dose 3 kg to 3.9 kg child"})
                           .get_data(as_text=True))
    card = next(c for c in page.cssselect("ol.results > li.result") if c.cssselect(".passage table"))
    shown = card.cssselect(".passage table")[0]
    assert len(shown.cssselect("thead tr")) == 3
    rows = [[td.text_content() for td in tr.cssselect("td")] for tr in shown.cssselect("tbody tr")]
    assert rows and all(row in XARELTO_GRID[3:] for row in rows)  # whole rows, each value in its column


def test_a_build_made_before_the_grids_is_refused_until_rebuilt(tmp_path, embedder):
    """A build of format 4 holds the tables with values under the wrong columns: it is not served."""
    build_index([TABLES], tmp_path, embedder, log=lambda line: None)
    path = tmp_path / "current" / "manifest.json"
    manifest = json.loads(path.read_text())
    rewrite_manifest(path, {**manifest, "format_version": 4})
    with pytest.raises(IndexIncompatible, match=rf"format version 4, this code reads {FORMAT_VERSION} \(since then: "
                                                r"drug-label tables as rectangular grids; .*\); rebuild it with "
                                                r"`python -m indexer build`"):
        SearchIndex.open(tmp_path)
    report = build_index([TABLES], tmp_path, embedder, log=lambda line: None)
    assert report.published and report.passages and SearchIndex.open(tmp_path).build_id != manifest["build_id"]

"""Article pages of sources that carry javascript:, data: and vbscript: links show no such link in Chromium."""
from __future__ import annotations

import json

import pytest

from indexer.pipeline import build_index

from .conftest import served

DANGEROUS = ["javascript:alert('url')", "data:text/html,<script>alert('data')</script>", "vbscript:msgbox('vb')",
             "JaVaScRiPt:alert('case')", "java\tscript:alert('tab')"]

MARKDOWN = """---
title: Warfarin and links
id: md-links
url: "javascript:alert('front matter')"
references:
  - title: Data reference
    url: "data:text/html,<script>alert('ref')</script>"
  - title: VBScript reference
    url: "vbscript:msgbox('ref')"
  - title: MedlinePlus warfarin
    url: https://medlineplus.gov/druginfo/meds/a682277.html
---
Warfarin thins the blood; leafy green vegetables change how well it works.
"""


@pytest.fixture(scope="module")
def hostile_base_url(tmp_path_factory, embedder):
    """An app serving an index built from sources full of dangerous links, on 127.0.0.1."""
    from search_app import create_app

    src = tmp_path_factory.mktemp("hostile-links")
    (src / "links.md").write_text(MARKDOWN, encoding="utf-8")
    records = [{"id": f"rec-{n}", "title": f"Record {n}", "url": url,
                "references": [{"title": f"Reference {n}", "url": url}],
                "sections": [{"id": "s1", "heading": "About", "text": f"Cetirizine relieves hay fever, note {n}."}]}
               for n, url in enumerate(DANGEROUS)]
    (src / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    (src / "page.html").write_text(
        "<html><head><title>Ibuprofen</title><link rel=canonical href=\"javascript:alert('canonical')\"></head>"
        "<body><main><h1>Ibuprofen</h1><p>Ibuprofen eases pain and swelling.</p></main></body></html>")
    index_dir = tmp_path_factory.mktemp("hostile-links-index")
    report = build_index([src], index_dir, embedder, log=lambda line: None)
    assert report.published and len(report.warnings) == 3 + 2 * len(DANGEROUS) + 1, report.warnings
    with served(create_app({"index": str(index_dir), "TESTING": True})) as url:
        yield url


@pytest.mark.parametrize("article_id", ["md-links", "page", *[f"rec-{n}" for n in range(len(DANGEROUS))]])
def test_no_dangerous_link_is_rendered_on_the_article_page(browser, hostile_base_url, article_id):
    context = browser.new_context(base_url=hostile_base_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        response = page.goto(f"/articles/{article_id}")
        assert response.status == 200
        # Every link, source and form target, read as the browser's URL parser reads it, is http(s)
        # (this app's own pages, or the publisher links that were kept) or tel: (the app's emergency numbers).
        schemes = page.eval_on_selector_all(
            "[href], [src], [action]",
            "els => els.map(e => new URL(e.getAttribute('href') ?? e.getAttribute('src') ?? e.getAttribute('action'),"
            " document.baseURI).protocol)")
        assert schemes and set(schemes) <= {"http:", "https:", "tel:"}, schemes
        assert dialogs == []
        # The references stay as text, without their links.
        if article_id == "md-links":
            refs = page.locator("#references li")
            assert refs.all_inner_texts()[:2] == ["Data reference", "VBScript reference"]
            assert refs.nth(0).locator("a").count() == 0
            assert refs.nth(2).locator("a").get_attribute("href").startswith("https://medlineplus.gov/")
    finally:
        context.close()

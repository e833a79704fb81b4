"""A drug label's article page on a phone (issue 28): its long contents list starts folded, so the label's own
text is on the first screen; on a desktop it stays open beside the text."""
from __future__ import annotations

import shutil
import threading

import pytest

from indexer.pipeline import build_index

from ..conftest import FIXTURES

COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"


@pytest.fixture(scope="module")
def label_base_url(tmp_path_factory, embedder):
    """An app serving a build of the Coumadin label, on 127.0.0.1."""
    from werkzeug.serving import make_server

    from search_app import create_app

    src = tmp_path_factory.mktemp("label-page")
    shutil.copy(FIXTURES / "labels" / "good" / "coumadin.json", src / "coumadin.json")
    index_dir = tmp_path_factory.mktemp("label-page-index")
    assert build_index([src], index_dir, embedder, log=lambda line: None).published
    server = make_server("127.0.0.1", 0, create_app({"index": str(index_dir), "TESTING": True}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


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

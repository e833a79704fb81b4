"""Screenshots of the reader's pages at 1280 px and 360 px, and axe-core's verdict on each, over the corpus index.

    make index && .venv/bin/python bench/screenshots.py [--index var/index] [--out bench/screenshots]

Serves the app on 127.0.0.1 (werkzeug, in a thread) over the bundled corpus index, opens each page of
``PAGES`` in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright) at both widths, saves
``NAME-desktop.png`` and ``NAME-phone.png`` (the first screenful, as a reader sees it) and runs axe-core
(the copy vendored at ``tests/browser/axe.min.js``) on the page. Prints one JSON object: the files
written and every violation found (none expected; ``tests/browser/test_reading.py`` checks the fixture
index the same way).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

from _common import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT / "tests" / "browser" / "axe.min.js"
WIDTHS = {"desktop": (1280, 900), "phone": (360, 780)}
SIDE_EFFECTS = "common-side-effects-of-amitriptyline"
# name -> (path, what to do before the shot: None, or a CSS selector to click)
PAGES = {
    "results": ("/search?q=amitriptyline+side+effects", None),  # a list in a card, credit, "Copy citation"
    "results-corrected": ("/search?q=amitryptaline+leg+cramps", None),  # heading and correction agree
    "results-urgent": ("/search?q=took+20+paracetamol+what+do+i+do", None),
    "results-why": ("/search?q=can+amitriptyline+cause+cramps", "ol.results > li .why summary"),
    "article": (f"/articles/amitriptyline?result={SIDE_EFFECTS}#{SIDE_EFFECTS}", None),  # the marked section
    "article-citation": ("/articles/amitriptyline", ".article-head .cite summary"),
    "api-docs": ("/api/docs#op-search", None),  # tables in their scroll boxes
    "not-found": ("/articles/no-such-article", None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "screenshots")
    args = parser.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("error: the playwright package is missing (make install)")
    if not CHROMIUM.exists():
        sys.exit(f"error: {CHROMIUM} is missing (apt-get install chromium)")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from werkzeug.serving import make_server

    from search_app import create_app

    app = create_app({"index": str(args.index)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    args.out.mkdir(parents=True, exist_ok=True)
    saved, violations = [], {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for width_name, (width, height) in WIDTHS.items():
                # bypass_csp: the site's CSP rightly refuses the injected axe script.
                context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                              bypass_csp=True)
                page = context.new_page()
                for name, (path, click) in PAGES.items():
                    page.goto(base + path)
                    page.wait_for_load_state("load")
                    if click:
                        page.locator(click).first.click()
                    target = args.out / f"{name}-{width_name}.png"
                    page.screenshot(path=str(target))
                    saved.append(str(target.relative_to(ROOT)) if target.is_relative_to(ROOT) else str(target))
                    page.add_script_tag(path=str(AXE))
                    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
                        .violations.map(v => `${v.id} (${v.impact}): ${v.nodes.length} node(s)`)""")
                    if found:
                        violations[f"{name} {width_name}"] = found
                context.close()
            browser.close()
    finally:
        server.shutdown()
    print(json.dumps({"index": str(args.index), "screenshots": saved, "axe_violations": violations}, indent=1))


if __name__ == "__main__":
    main()

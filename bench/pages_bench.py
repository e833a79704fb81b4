"""Results-page speed and weight, and screenshots of the pages at desktop and phone widths.

    make index && .venv/bin/python bench/pages_bench.py [--index var/index] [--requests 200] [--no-screenshots]

Serves the app on 127.0.0.1 (werkzeug, threaded) over the bundled corpus index and requests
``GET /search?q=...`` for 200 reader queries (the 30 of ``bench/corpus_questions.jsonl``,
then ``bench/urgent_queries.jsonl`` in order), one after another from one client. Each query's
``GET /api/search`` (same k) is timed right after its page, so what the HTML costs shows as
the median of the paired differences (``page_minus_api_ms``), measured side by side. Reports
median and p95 time, the page's weight in bytes (HTML raw and gzip-compressed, and the CSS
and JS it loads), and prints one JSON object.

Unless ``--no-screenshots``, drives Debian's Chromium (``/usr/bin/chromium``) with Playwright
to save PNGs of the results page (a routine and an urgent query) and of an article page
opened at a result's section, at 1280 px and 360 px wide, into ``bench/screenshots/``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from _common import ROOT

from search_app import create_app

SCREENSHOTS = ROOT / "bench" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = {"desktop": (1280, 900), "phone": (360, 780)}
PAGES = {  # name -> path; the article is opened at the section the first query's top result links to
    "results": "/search?q=can+amitriptyline+cause+cramps",
    "results-urgent": "/search?q=took+20+paracetamol+what+do+i+do",
    "article": "/articles/amitriptyline#serious-side-effects-when-to-get-help-urgently",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def reader_queries(count: int) -> list[str]:
    """The spot-check questions, then the urgency benchmark's queries (routine and urgent alike)."""
    texts = []
    for name in ("corpus_questions.jsonl", "urgent_queries.jsonl"):
        for line in (ROOT / "bench" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["query"])
    return [texts[i % len(texts)] for i in range(count)]


def fetch(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url) as response:
        body = response.read()
    return (time.perf_counter() - t0) * 1000, body


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "p95": round(percentile(values, 0.95), 2),
            "max": round(max(values), 2)}


def time_pages(base: str, queries: list[str]) -> dict:
    """Median and p95 of the results page and of the same search from the API, and the page's weight."""
    fetch(base + "/search?q=warm+up")
    fetch(base + "/api/search?q=warm+up")
    page_ms, api_ms, raw, packed = [], [], [], []
    for text in queries:
        ms, body = fetch(base + "/search?" + urllib.parse.urlencode({"q": text}))
        page_ms.append(ms)
        raw.append(len(body))
        packed.append(len(gzip.compress(body, 6)))
        ms, _ = fetch(base + "/api/search?" + urllib.parse.urlencode({"q": text}))
        api_ms.append(ms)
    css = len(fetch(base + "/static/style.css")[1])
    js = len(fetch(base + "/static/search.js")[1])
    paired = [page - api for page, api in zip(page_ms, api_ms)]  # what the HTML adds, query by query
    return {"requests": len(queries), "page_ms": summary(page_ms), "api_ms": summary(api_ms),
            "page_minus_api_ms": {"median": round(statistics.median(paired), 2)},
            "html_bytes": {"median": int(statistics.median(raw)), "max": max(raw)},
            "html_gzip_bytes": {"median": int(statistics.median(packed)), "max": max(packed)},
            "css_bytes": css, "js_bytes": js,
            "first_visit_bytes_median": int(statistics.median(raw)) + css + js}


def screenshots(base: str, out: Path) -> list[str]:
    """PNG screenshots of each page at each width; [] with a note when Chromium or Playwright is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: no screenshots", file=sys.stderr)
        return []
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium): no screenshots", file=sys.stderr)
        return []
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for width_name, (width, height) in WIDTHS.items():
            context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            page = context.new_page()
            for name, path in PAGES.items():
                page.goto(base + path)
                page.wait_for_load_state("load")
                target = out / f"{name}-{width_name}.png"
                page.screenshot(path=str(target))
                saved.append(str(target.relative_to(ROOT)))
            context.close()
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per timed request
    from werkzeug.serving import make_server

    app = create_app({"index": str(args.index)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        report = {"index": str(args.index), "build_id": app.extensions["medsearch_live"].current().index.build_id,
                  **time_pages(base, reader_queries(args.requests))}
        if not args.no_screenshots:
            report["screenshots"] = screenshots(base, SCREENSHOTS)
    finally:
        server.shutdown()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

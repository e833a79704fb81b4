"""Hostile source folders: nothing outside the tree is read, special files are never opened, bad records
are reported one by one, file names cannot forge report lines, and only http(s) links survive loading."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from indexer.models import Article
from indexer.sources import Skipped, iter_articles, load_file
from indexer.urls import safe_http_url

from .conftest import ROOT

# Every scheme a source has been seen to smuggle in, in the spellings browsers still run.
DANGEROUS_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(document.domain)", "  javascript:alert(2)", "java\tscript:alert(3)",
    "data:text/html,<script>alert(4)</script>", "vbscript:msgbox(5)", "/relative/junk", "//evil.example/x",
    "file:///etc/passwd", "https://", "http:no-host", "\x01https://example.org/",
]
SAFE_URLS = ["https://medlineplus.gov/druginfo/meds/a682159.html", "http://example.org/a?b=c#d"]
OUTSIDE_WORD = "zebracornial"  # only in the file outside the source tree
LIMIT = 20_000  # max_source_bytes for the build below


@pytest.mark.parametrize("url", DANGEROUS_URLS)
def test_only_http_and_https_urls_are_safe(url):
    assert safe_http_url(url) == ""


@pytest.mark.parametrize("url", SAFE_URLS)
def test_http_and_https_urls_are_kept(url):
    assert safe_http_url(url) == url
    assert safe_http_url(f"  {url}\n") == url


def _jsonl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def _record(id_: str, text: str, **fields) -> dict:
    return {"id": id_, "title": f"Record {id_}", "sections": [{"id": "s1", "heading": "About", "text": text}],
            **fields}


RECORDS = _jsonl(
    _record("rec-a", "Naproxen eases joint pain.", url="vbscript:msgbox(1)"),
    {"id": "bad-heading", "sections": [{"id": "s1", "heading": 7, "text": "Wrongly typed heading."}]},
    "[" * 5000,  # deeper than the JSON parser's recursion limit
    _record("rec-b", "Cetirizine relieves hay fever.", url="data:text/html,<b>x</b>"),
    _record("bad-deep", "Nested meta.", extra=json.loads("[" * 40 + "]" * 40)),
    {"id": "bad-title", "title": 5, "sections": [{"id": "s1", "text": "A number for a title."}]},
    {"id": "bad-sections", "sections": {"id": "s1", "text": "Sections as an object."}},
    _record("rec-c", "Loratadine is a non-drowsy antihistamine.", url="https://dailymed.nlm.nih.gov/x"),
    _record("rec-d", "Omeprazole reduces stomach acid.", url="  javascript:alert(1)",
            references=[{"title": "A reference", "url": "javascript:alert(2)"},
                        {"title": "Kept", "url": "https://example.org/ref"}]),
    _record("bad-surrogate", "Half of a surrogate pair: \ud800."),  # valid JSON, not storable as UTF-8
)

MARKDOWN = """---
title: Aspirin and links
id: hostile-links
url: "JaVaScRiPt:alert(document.domain)"
references:
  - title: Data link
    url: "data:text/html,<script>alert(1)</script>"
  - title: Tab-split scheme
    url: "java\\tscript:alert(2)"
  - title: Relative junk
    url: "../../etc/passwd"
  - title: MedlinePlus aspirin
    url: https://medlineplus.gov/druginfo/meds/a682878.html
---
Aspirin thins the blood and eases pain; take it with food.
"""

HTML = """<html><head><title>Ibuprofen</title>
<link rel="canonical" href="javascript:alert('canonical')"></head>
<body><main><h1>Ibuprofen</h1><p>Ibuprofen is an anti-inflammatory painkiller taken with food.</p></main></body></html>
"""


def _article(title: str, text: str) -> str:
    return f"{title}\n\n{text}\n"


@pytest.fixture()
def hostile(tmp_path) -> tuple[Path, Path]:
    """A source folder with every kind of hostile entry, and the folder beside it that must stay unread."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"---\ntitle: Secret\n---\nThe {OUTSIDE_WORD} secret must not be indexed.\n")
    src = tmp_path / "src"
    (src / "notes").mkdir(parents=True)
    (src / "links.md").write_text(MARKDOWN, encoding="utf-8")
    (src / "page.html").write_text(HTML, encoding="utf-8")
    (src / "records.jsonl").write_text(RECORDS, encoding="utf-8")
    (src / "notes" / "real.txt").write_text(_article("Real notes", "Paracetamol lowers a fever."))
    (src / "alias.txt").symlink_to(Path("notes") / "real.txt")  # inside the tree: read (once)
    (src / "escape.md").symlink_to(outside / "secret.md")
    (src / "passwd.txt").symlink_to("/etc/passwd")
    (src / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(src / "pipe.md")
    (src / "huge.txt").write_text(_article("Huge", "Metformin. " * (LIMIT // 8)))
    folder = os.fsencode(src)
    with open(folder + b"/caf\xe9-notes.txt", "wb") as fh:  # Latin-1, not UTF-8
        fh.write(_article("Cafe notes", "Caffeine can raise blood pressure for a while.").encode())
    with open(folder + b"/\xff\xfe-broken.md", "wb") as fh:
        fh.write(b"\x00\x01binary")
    (src / "new\nline.txt").write_text(_article("Newline notes", "Antacids neutralise stomach acid."))
    (src / "bad\nskipped shadow: forged.md").write_text("")
    (src / "surrogate.md").write_text('---\ntitle: "Half \\ud800 of a pair"\n---\nText about aspirin.\n')
    return src, outside


def test_hostile_folder_builds_reports_each_entry_and_indexes_only_good_records(hostile, tmp_path):
    src, outside = hostile
    index_dir, report_file = tmp_path / "ix", tmp_path / "report.json"
    env = {**os.environ, "MEDSEARCH_MAX_SOURCE_BYTES": str(LIMIT), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "indexer", "build", str(src), "--index", str(index_dir),
                             "--report", str(report_file)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output

    report = json.loads(report_file.read_text())
    skipped = {item["path"].removeprefix(f"{src}/"): item["reason"] for item in report["skipped"]}
    assert "symbolic link to /etc/passwd, outside the folder" in skipped["passwd.txt"]
    assert "symbolic link to /dev/zero" in skipped["zero.txt"]
    assert f"symbolic link to {outside}/secret.md, outside the folder" in skipped["escape.md"]
    assert "a FIFO (named pipe), not a regular file" in skipped["pipe.md"]
    assert skipped["huge.txt"].startswith("too large") and "MEDSEARCH_MAX_SOURCE_BYTES" in skipped["huge.txt"]
    assert skipped[r"\xff\xfe-broken.md"].startswith("binary file")
    assert skipped[r"bad\nskipped shadow: forged.md"] == "empty file"
    assert "line 2" in skipped["records.jsonl:2"] and "heading is a number" in skipped["records.jsonl:2"]
    assert "line 3 is nested too deeply" in skipped["records.jsonl:3"]
    assert "nested more than 32 levels" in skipped["records.jsonl:5"]
    assert "title is a number" in skipped["records.jsonl:6"]
    assert "no sections list" in skipped["records.jsonl:7"]
    assert "half of a surrogate pair" in skipped["records.jsonl:10"]
    assert "half of a surrogate pair" in skipped["surrogate.md"]
    assert len(skipped) == 14, skipped

    # Each dropped link is a warning naming its file (and line), and the article is kept.
    warnings = [(w["path"].removeprefix(f"{src}/"), w["warning"]) for w in report["warnings"]]
    assert sorted(path for path, _ in warnings) == ["links.md"] * 4 + ["page.html"] + ["records.jsonl"] * 4
    assert all("dropped: only http and https links are kept" in w for _, w in warnings)
    assert any(w.startswith("line 9: reference 1 url 'javascript:alert(2)'") for _, w in warnings)

    # Every good article and record is indexed, nothing from outside the tree, nothing of the special files.
    build = index_dir / "current"
    ids = set(json.loads((build / "manifest.json").read_text())["articles"])
    assert ids == {"hostile-links", "page", "rec-a", "rec-b", "rec-c", "rec-d", "alias", "caf-notes",
                   "new-line"}
    for path in build.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert OUTSIDE_WORD.encode() not in data and b"root:x:0:0" not in data, path

    # No output line is forged by a file name, and names that are not UTF-8 are printed escaped.
    lines = output.splitlines()
    assert not any(line.startswith("skipped shadow") for line in lines)
    assert any(line.startswith(f"skipped {src}/bad\\nskipped shadow: forged.md: empty file") for line in lines)
    assert any(line.startswith(f"skipped {src}/\\xff\\xfe-broken.md: binary file") for line in lines)
    assert sum(line.startswith("warning ") for line in lines) == 9

    # The API returns no dangerous url either: the publisher's http(s) link, or the app's own page.
    from search_app import create_app

    client = create_app({"index": str(index_dir), "TESTING": True}).test_client()
    for article_id in sorted(ids):
        article = client.get(f"/api/v1/articles/{article_id}").get_json()["article"]
        urls = [article["url"], *(r["url"] for r in article["references"]), *(s["url"] for s in article["sections"])]
        assert all(u == "" or u.startswith("/articles/") or safe_http_url(u) == u for u in urls), urls
    rec_c = client.get("/api/v1/articles/rec-c").get_json()["article"]
    assert rec_c["url"] == "https://dailymed.nlm.nih.gov/x"
    assert client.get("/api/v1/articles/rec-a").get_json()["article"]["url"] == "/articles/rec-a"


def test_a_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "article.md"
    os.mkfifo(fifo)
    items: list = []
    worker = threading.Thread(target=lambda: items.extend(load_file(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # it opened the FIFO and waits for a writer: give it one, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_file opened a FIFO and blocked")
    (item,) = items
    assert isinstance(item, Skipped) and "FIFO" in item.reason


def test_a_device_named_on_its_own_is_refused_without_reading(tmp_path):
    (tmp_path / "zero.txt").symlink_to("/dev/zero")  # named on its own, a symlink is followed: to a device
    (item,) = load_file(tmp_path / "zero.txt")
    assert isinstance(item, Skipped) and "a character device, not a regular file" in item.reason


def test_the_size_limit_is_checked_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(_article("Big", "word " * 400))
    (item,) = load_file(path, max_bytes=1000)
    assert isinstance(item, Skipped) and item.reason.startswith("too large: 2006 bytes, over the limit of 1000 bytes")
    assert isinstance(next(iter(load_file(path, max_bytes=5000))), Article)


def test_a_symlink_inside_the_tree_is_read_and_one_out_of_it_is_not(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "real.md").write_text("---\nid: real\n---\nInside the tree.\n")
    (tmp_path / "other.md").write_text("---\nid: other\n---\nOutside the tree.\n")
    (src / "b-alias.md").symlink_to(src / "a" / "real.md")
    (src / "c-out.md").symlink_to(tmp_path / "other.md")
    items = list(iter_articles([src]))
    assert [a.id for a in items if isinstance(a, Article)] == ["real"]
    assert [s.path for s in items if isinstance(s, Skipped)] == [str(src / "c-out.md")]
    # Named on its own, a symlink is the operator's choice and is followed.
    (item,) = load_file(src / "c-out.md")
    assert isinstance(item, Article) and item.id == "other"


def test_bad_jsonl_records_are_reported_by_line_and_the_good_ones_kept(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(RECORDS)
    items = list(load_file(path))
    assert [a.id for a in items if isinstance(a, Article)] == ["rec-a", "rec-b", "rec-c", "rec-d"]
    reasons = {s.path.rsplit(":", 1)[1]: s.reason for s in items if isinstance(s, Skipped)}
    assert list(reasons) == ["2", "3", "5", "6", "7", "10"]
    assert reasons["2"] == "section 's1' of record 'bad-heading' on line 2: heading is a number, not a string"
    assert reasons["6"] == "record 'bad-title' on line 6: title is a number, not a string"
    assert reasons["10"].endswith("holds '\\ud800', half of a surrogate pair, which is not text")
    rec_d = next(a for a in items if isinstance(a, Article) and a.id == "rec-d")
    assert rec_d.url == "" and rec_d.meta["references"] == [{"title": "A reference", "url": ""},
                                                             {"title": "Kept", "url": "https://example.org/ref"}]


def test_the_template_test_renders_only_http_links(app):
    template = app.jinja_env.from_string("{% if u is http_url %}link{% else %}text{% endif %}")
    assert [template.render(u=u) for u in SAFE_URLS] == ["link"] * len(SAFE_URLS)
    assert {template.render(u=u) for u in DANGEROUS_URLS + [None, 7]} == {"text"}


def test_the_article_page_links_only_http_urls_even_from_an_older_index(app):
    """Indexes built before the load-time check may hold any url: the template itself refuses them."""
    import lxml.html
    from flask import render_template

    from indexer.models import Section

    references = [{"title": f"Reference {n}", "url": url} for n, url in enumerate(DANGEROUS_URLS)]
    article = Article(id="old", title="From an older build", url="javascript:alert(1)",
                      sections=(Section("s1", "About", "Aspirin eases pain."),),
                      meta={"references": [*references, "A bare citation", {"title": "Kept", "url": SAFE_URLS[0]}]})
    with app.test_request_context("/articles/old"):
        page = lxml.html.fromstring(render_template("article.html", article=article, q=""))
    hrefs = page.xpath("//@href")
    assert SAFE_URLS[0] in hrefs
    assert all(urlsplit(h.strip()).scheme in ("", "http", "https", "tel") for h in hrefs), hrefs
    assert not any(h.startswith(("/relative", "//", "../")) for h in hrefs), hrefs
    shown = page.xpath("//section[@id='references']//li")
    assert [li.text_content().strip() for li in shown][:2] == ["Reference 0", "Reference 1"]
    assert "A bare citation" in page.text_content()

"""The smaller hostile-input items of issue #18: hosts and base URLs, integer parameters, /suggest errors,
an error page that cannot fail, ids holding "/", `current` outside the index, unwritable folders,
a failed prune, and the load test's --index guard. The raw-HTTP side is tests/test_hostile_http.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexer.errors import IndexNotFound
from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.publishing import BUILDS, CURRENT
from search_app.web.errors import SECURITY_HEADERS, LastResort, error_response
from search_app.web.hostnames import BadHost, allowed, check_host, parse_allowed

from .conftest import CORPUS, ROOT


# -- hosts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("MedSearch.Example.org", "medsearch.example.org"), ("example.org.", "example.org"), ("127.0.0.1:8080", "127.0.0.1:8080"),
    ("[::1]", "[::1]"), ("[::1]:5000", "[::1]:5000"), ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a" * 63 + ".org", "a" * 63 + ".org"), ("localhost:05000", "localhost:5000"),
])
def test_well_formed_hosts_are_normalised(raw, expected):
    assert check_host(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("a" * 64 + ".org", "at most 63"), ("a..b", "empty label"), ("xn--zz", "punycode"), (".", "empty"),
    ("caf\u00e9.org", "ASCII"), ("under_score.org", "letters, digits"), ("-x.org", "letters, digits"),
    ("x:0", "port"), ("x:65536", "port"), ("x:", "port"), ("x:8٠", "port"), ("[::1", "closed"), ("[zz::1]", "IPv6"),
    ("a." * 127 + "org", "253"), ("", "empty"),
])
def test_malformed_hosts_are_refused_with_the_reason(raw, reason):
    with pytest.raises(BadHost, match=reason):
        check_host(raw)


def test_the_allow_list_matches_names_and_dotted_domains_without_ports():
    names = parse_allowed(" MedSearch.example.org , .example.net ")
    assert names == ("medsearch.example.org", ".example.net")
    assert allowed("medsearch.example.org:8443", names) and allowed("example.net", names)
    assert allowed("a.b.example.net", names)
    assert not allowed("example.org", names) and not allowed("badexample.net", names)
    assert not allowed("medsearch.example.org.evil.net", names)


def test_a_bad_host_gets_the_error_page_with_security_headers(client):
    # (werkzeug's test client cannot send "xn--zz" at all: tests/test_hostile_http.py sends it raw)
    for host in ("a" * 64 + ".org", "a..b", "bad_host.org"):
        page = client.get("/search?q=cramps", environ_overrides={"HTTP_HOST": host})
        assert page.status_code == 400 and page.mimetype == "text/html"
        assert b"is not a host name" in page.data and b"Back to search" in page.data
        assert page.headers["X-Frame-Options"] == "DENY"
        api = client.get("/api/v1/search?q=cramps", environ_overrides={"HTTP_HOST": host})
        assert api.status_code == 400 and api.get_json()["error"]["code"] == "bad_host"


def test_unlisted_hosts_are_refused_and_listed_ones_make_the_permalinks(index_dir):
    from search_app import create_app

    app = create_app({"index": str(index_dir), "allowed_hosts": "medsearch.example.org"})
    client = app.test_client()
    refused = client.get("/api/v1/search?q=ibuprofen&k=1", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and "does not answer for the host" in refused.get_json()["error"]["message"]
    top = client.get("/api/v1/search?q=ibuprofen+indigestion&k=1",
                     headers={"Host": "medsearch.example.org"}).get_json()["results"][0]
    assert top["permalink_url"].startswith("http://medsearch.example.org/articles/")


def test_without_public_url_or_allow_list_permalinks_use_the_listening_address(index_dir):
    from search_app import create_app

    app = create_app({"index": str(index_dir), "host": "0.0.0.0", "port": 8123})
    top = app.test_client().get("/api/v1/search?q=ibuprofen+indigestion&k=1",
                                headers={"Host": "evil.example"}).get_json()["results"][0]
    assert top["permalink_url"].startswith("http://127.0.0.1:8123/articles/")  # listening everywhere: the loopback
    docs = app.test_client().get("/api/docs", headers={"Host": "evil.example"})
    assert b"evil.example" not in docs.data and b"http://127.0.0.1:8123/api/v1/search" in docs.data


def test_a_bad_allow_list_is_a_one_line_setting_error():
    from indexer.settings import BadSetting, resolve

    with pytest.raises(BadSetting, match="allowed_hosts must be empty or comma-separated host names"):
        resolve({"allowed_hosts": "good.org, a..b"})


# -- parameters, /suggest, the error page ---------------------------------------------------------
@pytest.mark.parametrize("value", ["\u0665", "5_0", " 5", "+5", "1e3", "５", "9" * 5000, "0x5"])
def test_k_and_offset_take_ascii_digits_only(client, value):
    for name in ("k", "offset"):
        response = client.get("/api/v1/search", query_string={"q": "cramps", name: value})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == f"bad_{name}", value
    assert client.get("/api/v1/search?q=cramps&k=5&offset=0").status_code == 200


def test_suggest_errors_are_json(client):
    wrong_method = client.post("/suggest?q=ibu")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["code"] == "method_not_allowed"
    bad_host = client.get("/suggest?q=ibu", environ_overrides={"HTTP_HOST": "a..b"})
    assert bad_host.status_code == 400 and bad_host.get_json()["error"]["code"] == "bad_host"


def test_the_error_page_falls_back_to_a_plain_one_when_the_template_cannot_render(app):
    # Flask cannot route a request to a host it cannot encode: url_for in the template fails, as the
    # 500 page did before the Host check. The error page then comes without the template, never as a crash.
    with app.test_request_context("/search", environ_overrides={"HTTP_HOST": "a" * 64 + ".org"}):
        response, status = error_response(500, "internal_error", "something <went> wrong")
    assert status == 500 and response.mimetype == "text/html"
    assert b"something &lt;went&gt; wrong" in response.data and b"Back to search" in response.data


def test_an_exception_that_escapes_every_handler_is_still_the_error_shape():
    def broken_app(environ, start_response):
        raise RuntimeError("an error handler that failed")

    answers = []
    for path in ("/api/v1/search", "/search"):
        body = b"".join(LastResort(broken_app)({"PATH_INFO": path},
                                                lambda status, headers, exc_info=None: answers.append((status, headers))))
        status, headers = answers[-1]
        assert status.startswith("500") and set(SECURITY_HEADERS) <= {name for name, _ in headers}
        assert (json.loads(body)["error"]["code"] == "internal_error") if path.startswith("/api") else b"went wrong" in body


# -- ids holding "/" ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slash_app(tmp_path_factory, embedder):
    from search_app import create_app

    source = tmp_path_factory.mktemp("slash") / "guides.jsonl"
    source.write_text(json.dumps({"id": "guides/insulin-travel", "title": "Travelling with insulin", "sections": [
        {"id": "pack", "heading": "Packing insulin for a flight",
         "text": "Carry insulin in your hand luggage: the hold of a plane can get cold enough to freeze it."}]}) + "\n")
    index_dir = tmp_path_factory.mktemp("slash-index")
    build_index([source], index_dir, embedder, log=lambda line: None)
    return create_app({"index": str(index_dir), "TESTING": True})


def test_articles_whose_ids_hold_a_slash_work_in_api_v1(slash_app):
    client = slash_app.test_client()
    top = client.get("/api/v1/search?q=insulin+in+hand+luggage+on+a+plane&k=1").get_json()["results"][0]
    assert top["article_id"] == "guides/insulin-travel"
    for path in ("/api/v1/articles/guides/insulin-travel", "/api/v1/articles/guides%2Finsulin-travel"):
        article = client.get(path)
        assert article.status_code == 200 and article.get_json()["article"]["article_id"] == "guides/insulin-travel", path
    passage = client.get(f"/api/v1/passages/{top['passage_id']}")
    assert passage.status_code == 200 and passage.get_json()["passage"]["passage_id"] == top["passage_id"]
    assert client.get(top["permalink"].split("#")[0]).status_code == 200  # the reader's page too


# -- the index directory -------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "indexer", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"}, timeout=300)


def test_current_pointing_outside_the_index_is_refused(tmp_path, index_dir):
    mine = tmp_path / "mine"
    (mine / BUILDS).mkdir(parents=True)
    other_build = (index_dir / CURRENT).resolve()  # another index's build, complete and valid
    os.symlink(other_build, mine / CURRENT)
    with pytest.raises(IndexNotFound, match="not a build of this index"):
        SearchIndex.open(mine)
    result = _cli("verify", "--index", str(mine))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "not a build of this index" in result.stderr


@contextmanager
def unwritable(path: Path):
    """``path`` made unwritable for this user (chmod; for root, which ignores modes, the immutable flag)."""
    path.chmod(0o555)
    flagged = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        probe = path / ".probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip(f"cannot make {path} unwritable here (root without chattr)")
        yield path
    finally:
        if flagged:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o755)


def test_an_unwritable_index_or_cache_folder_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cases = [tmp_path / "a-file" / "index"]  # under a regular file: fails for every user
    locked = tmp_path / "locked"
    locked.mkdir()
    cache_index = tmp_path / "cache-locked"
    (cache_index / "cache").mkdir(parents=True)
    with unwritable(locked), unwritable(cache_index / "cache"):
        cases += [locked / "index", cache_index]
        for index in cases:
            result = _cli("build", str(CORPUS), "--index", str(index))
            assert result.returncode == 1, (index, result.stderr)
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
            assert "cannot write" in errors[0] or "Not a directory" in errors[0], errors[0]
        # The last case: the index is writable, its cache folder is not. The first cache a build writes there is
        # the source cache (what each source unit yielded), before the embedding cache: either is named.
        assert "source cache" in errors[0] or "embedding cache" in errors[0], errors[0]
        assert str(cache_index / "cache") in errors[0], errors[0]


def test_a_failed_prune_is_reported(tmp_path, embedder):
    index_dir = tmp_path / "index"
    first = build_index([CORPUS], index_dir, embedder, log=lambda line: None)
    oldest = index_dir / BUILDS / first.build_id
    with unwritable(oldest):
        report = build_index([CORPUS], index_dir, embedder, keep_builds=1, force=True, log=lambda line: None)
        assert report.published and oldest.is_dir()
        warned = [w for w in report.warnings if first.build_id in w.path]
        assert warned and "old build not removed" in warned[0].reason
    again = build_index([CORPUS], index_dir, embedder, keep_builds=1, force=True, log=lambda line: None)
    assert not oldest.exists()  # once it can be removed, it is
    assert not [w for w in again.warnings if "old build" in w.reason]


def test_load_test_refuses_to_rebuild_an_index_of_other_sources(tmp_path, index_dir):
    index_dir = Path(shutil.copytree(index_dir, tmp_path / "index", symlinks=True))  # someone's real index
    built = (index_dir / CURRENT).resolve().name
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("# Note\n\nA private note about something else entirely.\n")
    result = subprocess.run([sys.executable, "bench/load_test.py", "--index", str(index_dir), "--source", str(other)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "--rebuild" in result.stderr and "Traceback" not in result.stderr
    assert (index_dir / CURRENT).resolve().name == built  # untouched


def test_the_production_server_refuses_a_broken_index_in_one_line(tmp_path, index_dir):
    from .conftest import rewrite_manifest

    broken = Path(shutil.copytree(index_dir, tmp_path / "index", symlinks=True))
    manifest_path = (broken / CURRENT).resolve() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["counts"]["articles"] = "7"  # a wrongly typed field, under a digest that matches
    rewrite_manifest(manifest_path, manifest)
    result = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MEDSEARCH_INDEX": str(broken), "MEDSEARCH_PORT": "0"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {manifest_path}: field 'counts.articles' must be a int, it is a str; "
        "rebuild it with `python -m indexer build`"]

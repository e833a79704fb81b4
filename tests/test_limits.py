"""Limits: per-client rate limit (429 + Retry-After, shared by forked workers), body size, paths."""
import http.client
import os
from urllib.parse import urlsplit

import pytest

from search_app.web.limits import RateLimiter

from .serving import serving


@pytest.fixture(scope="module")
def limited_app(index_dir):
    from search_app import create_app

    return create_app({"index": str(index_dir), "rate_limit_per_minute": 2, "rate_limit_burst": 3})


def test_the_rate_limit_is_off_by_default(client):
    assert all(client.get("/api/v1/openapi.json").status_code == 200 for _ in range(40))


def test_a_client_over_its_rate_gets_429_with_retry_after(limited_app):
    client = limited_app.test_client()
    me = {"REMOTE_ADDR": "198.51.100.7"}
    statuses = [client.get("/api/v1/search?q=cramps&k=1", environ_base=me).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = client.get("/api/v1/search?q=cramps&k=1", environ_base=me)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 30  # a token every 30 s
    assert refused.headers["X-Medsearch-Build"] and refused.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get("/search?q=cramps", environ_base=me)  # pages count too, and say so in the page shape
    assert page.status_code == 429 and page.mimetype == "text/html" and page.headers["Retry-After"]
    # Another client is not held back, and health checks are never throttled.
    assert client.get("/api/v1/search?q=cramps&k=1", environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 200
    assert client.get("/healthz", environ_base=me).status_code == 200


def test_the_bucket_refills_at_the_configured_rate():
    limiter = RateLimiter(per_minute=60, burst=2)
    assert [limiter.take("a", now=10.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a", now=10.0) == pytest.approx(1.0)
    assert limiter.take("a", now=10.5) == pytest.approx(0.5)  # half a token back after half a second
    assert limiter.take("a", now=11.0) == 0.0
    assert limiter.take("b", now=11.0) == 0.0


def test_forked_workers_share_one_bucket_per_client():
    limiter = RateLimiter(per_minute=60, burst=4)
    assert limiter.take("c", now=5.0) == 0.0
    pid = os.fork()
    if pid == 0:  # a worker process spends two tokens of the same client
        os._exit(0 if [limiter.take("c", now=5.0) for _ in range(2)] == [0.0, 0.0] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert limiter.take("c", now=5.0) == 0.0
    assert limiter.take("c", now=5.0) > 0  # 1 + 2 + 1 tokens spent: the fifth request is over the burst of 4


def test_many_clients_fit_in_the_table():
    limiter = RateLimiter(per_minute=60, burst=1, slots=64)
    assert all(limiter.take(f"10.0.0.{i}", now=1.0) == 0.0 for i in range(200))  # old clients are evicted, not denied
    assert limiter.take("10.0.0.199", now=1.0) > 0


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(index_dir):
    from search_app import create_app

    app = create_app({"index": str(index_dir), "rate_limit_per_minute": 60, "rate_limit_burst": 1,
                      "trusted_proxies": 1})
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    first = client.get("/api/v1/openapi.json", headers={"X-Forwarded-For": "203.0.113.1"}, environ_base=proxy)
    second = client.get("/api/v1/openapi.json", headers={"X-Forwarded-For": "203.0.113.2"}, environ_base=proxy)
    again = client.get("/api/v1/openapi.json", headers={"X-Forwarded-For": "203.0.113.1"}, environ_base=proxy)
    assert (first.status_code, second.status_code, again.status_code) == (200, 200, 429)


def test_a_large_body_gets_413_in_the_error_shape(client):
    response = client.get("/api/v1/search?q=cramps", data=b"x" * 20000)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert client.get("/api/v1/search?q=cramps", data=b"x" * 100).status_code == 200


def test_an_endless_chunked_body_is_cut_off_with_413(app):
    with serving(app) as base:
        conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=30)
        chunks = (b"y" * 8192 for _ in range(64))  # 512 KiB, sent without a length
        conn.request("GET", "/api/v1/search?q=cramps", body=chunks, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
        assert b'"request_entity_too_large"' in response.read()
        conn.close()
        conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=30)
        conn.request("GET", "/api/v1/search?q=cramps", body=iter([b"small"]), encode_chunked=True)
        assert conn.getresponse().status == 200  # a small body without a length is read and ignored
        conn.close()


@pytest.mark.parametrize("path", ["/search/../healthz", "/api/v1/search%5c..", "/api/v1/se%01arch", "/" + "a" * 3000])
def test_odd_paths_are_refused_before_routing(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)

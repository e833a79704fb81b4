"""The Host header: checked before anything reads it, and never the source of an absolute URL by itself.

A request whose Host is not a host name (a label over 63 characters, an empty label, an
``xn--`` label that is not punycode, characters no name holds) or, when ``allowed_hosts`` is
set, not one of this server's names, is answered 400 in the one error shape. The check runs
as WSGI middleware in front of Flask, because Flask reads the Host to build its URL adapter
before any ``before_request``: the bad value is replaced by a safe one, so that routing and
the error page work, and the request is refused as the first thing the app does.

Absolute URLs (permalinks in citations, the API docs' example) start with ``public_url``; else,
with an allow-list, with the checked Host of the request; else with the address the server
listens on (``http://HOST:PORT`` of the settings), never with what a client wrote. Redirects
(werkzeug's, from ``//articles//x`` to ``/articles/x``) carry a relative ``Location``: werkzeug
builds them on the request's Host, which would hand a forged host back to the client (or a cache).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.routing import RequestRedirect

from indexer.errors import BadQuery

from .hostnames import BadHost, allowed, check_host
from .settings import ServerSettings, app_settings

BAD_HOST = "medsearch.bad_host"    # environ key: why the Host was refused
HOST = "medsearch.host"            # environ key: the checked host, lower case, as host[:port]
WILDCARDS = ("", "0.0.0.0", "::", "[::]")  # listening everywhere: absolute URLs use the loopback address


def listening_base(server: ServerSettings, server_port: str | None = None) -> str:
    """``http://HOST:PORT`` of the address the server listens on (the loopback one when it listens everywhere)."""
    host = server.host
    host = "127.0.0.1" if host in WILDCARDS else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = server.port or server_port or ""
    return f"http://{host}:{port}" if port else f"http://{host}"


def relative_location(url: str) -> str:
    """The path and query of a URL, as a Location that starts with exactly one ``/`` (never ``//host``)."""
    parts = urlsplit(url)
    return "/" + parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")


def base_url() -> str:
    """Where this request's absolute URLs start: ``public_url``, else an allowed Host, else the listening address."""
    server = app_settings().server
    if server.public_url:
        return server.public_url
    if server.allowed_hosts and request.environ.get(HOST):
        return f"{request.scheme}://{request.environ[HOST]}"
    return listening_base(server, request.environ.get("SERVER_PORT"))


class HostGuard:
    """WSGI middleware: a bad or unlisted Host is replaced by the listening address and marked for a 400."""

    def __init__(self, wsgi_app, server: ServerSettings):
        self.wsgi_app = wsgi_app
        self.names = server.allowed_hosts
        self.server = server

    def __call__(self, environ, start_response):
        raw = environ.get("HTTP_HOST")
        reason = None
        if raw is None:
            if environ.get("SERVER_PROTOCOL", "HTTP/1.1") != "HTTP/1.0":
                reason = "an HTTP/1.1 request must name its host in a Host header"
        else:
            try:
                host = check_host(raw)
            except BadHost as exc:
                reason = f"the Host header {raw[:80]!r} is not a host name: {exc}"
            else:
                if self.names and not allowed(host, self.names):
                    reason = f"this server does not answer for the host {host[:80]!r}"
                else:
                    environ[HOST] = host
        if reason is not None:
            environ[BAD_HOST] = reason
            environ["HTTP_HOST"] = listening_base(self.server, environ.get("SERVER_PORT")).removeprefix("http://")
        return self.wsgi_app(environ, start_response)


def install(app: Flask, server: ServerSettings) -> None:
    """Check the Host of every request before Flask reads it; refuse a bad one first thing."""
    app.wsgi_app = HostGuard(app.wsgi_app, server)  # type: ignore[method-assign]  # Flask's middleware hook

    @app.before_request
    def refuse_bad_host():
        reason = request.environ.get(BAD_HOST)
        if reason:
            raise BadQuery("bad_host", reason)

    @app.before_request
    def relative_redirect():
        # Routing has already built the redirect on the Host; it is raised after the other checks, as it was.
        found = request.routing_exception
        if isinstance(found, RequestRedirect):
            redirect = RequestRedirect(relative_location(found.new_url))
            redirect.code = found.code
            request.routing_exception = redirect

"""One error shape: JSON ``{"error": {"code", "message"}}`` for the API, one template for pages."""
from __future__ import annotations

import html
import json
import logging
import sys

from flask import Flask, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from indexer.errors import BadQuery, IndexNotFound

from ..core.label_changes import LabelNotFound
from ..core.search import BuildChanged
from .live import pinned_searcher

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


JSON_PATHS = ("/api/", "/healthz", "/suggest")
log = logging.getLogger("medsearch.errors")


def is_json_path(path: str) -> bool:
    """API routes, health checks and the suggestions the search box fetches answer JSON; everything else a page."""
    return path.startswith(JSON_PATHS[0]) or path in JSON_PATHS[1:]


def wants_json() -> bool:
    """Whether this request's errors are JSON."""
    return is_json_path(request.path)


def error_response(status: int, code: str, message: str):
    """The one error shape, as JSON or as the error page (a plain one if the template itself fails)."""
    if wants_json():
        return jsonify({"error": {"code": code, "message": message}}), status
    try:
        return render_template("error.html", status=status, code=code, message=message), status
    except Exception:  # the error page must never become an error of its own
        log.exception("the error page could not be rendered for %s", request.path)
        return Response(plain_error(status, code, message, json_shape=False), status, mimetype="text/html"), status


def plain_error(status: int, code: str, message: str, json_shape: bool) -> bytes:
    """The error shape without Flask or templates: for the server's own answers and a failed error page."""
    if json_shape:
        return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8") + b"\n"
    title = {404: "Page not found", 429: "Please wait a moment"}.get(
        status, "Please check your request" if status < 500 else "Something went wrong")
    return (f'<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n  <title>{status} – medsearch</title>\n'
            f'  <link rel="stylesheet" href="/static/style.css">\n</head>\n<body>\n'
            f'  <header class="site"><div class="site-inner"><a class="brand" href="/">medsearch</a></div></header>\n'
            f'  <main id="main">\n<h1 class="page-title">{title}</h1>\n<p class="error" role="alert">'
            f'{html.escape(message)}</p>\n<p><a href="/">Back to search</a></p>\n</main>\n</body>\n</html>\n'
            ).encode()


class LastResort:
    """WSGI middleware around the whole app: an exception that escapes Flask (an error handler that
    failed) is still answered with the one error shape and the security headers, never a bare 500."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        try:
            return self.wsgi_app(environ, start_response)
        except Exception:
            log.exception("unhandled error outside the app's handlers on %r", environ.get("PATH_INFO", "")[:200])
            as_json = is_json_path(environ.get("PATH_INFO", ""))
            body = plain_error(500, "internal_error", "something went wrong on our side; please try again", as_json)
            headers = [("Content-Type", "application/json" if as_json else "text/html; charset=utf-8"),
                       ("Content-Length", str(len(body))), *SECURITY_HEADERS.items()]
            start_response("500 INTERNAL SERVER ERROR", headers, sys.exc_info())
            return [body]


def register(app: Flask) -> None:
    """Install error handlers and security headers, and the last resort around everything (call it last)."""

    @app.errorhandler(BadQuery)
    def bad_query(exc: BadQuery):
        return error_response(400, exc.code, exc.message)

    @app.errorhandler(IndexNotFound)
    def index_unavailable(exc: IndexNotFound):
        # The build this process serves cannot be read (deleted or moved under it): 503, so that a load balancer
        # takes it out of rotation. The reason, with the paths, goes to the log (once), not to the client.
        app.extensions["medsearch_live"].probe()
        return error_response(503, "index_unavailable", "the search index cannot be read on this server right now; "
                                                        "please try again later")

    @app.errorhandler(LabelNotFound)
    def label_not_found(exc: LabelNotFound):
        return error_response(404, exc.code, exc.message)

    @app.errorhandler(BuildChanged)
    def build_changed(exc: BuildChanged):
        return error_response(409, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = make_response(error_response(exc.code or 500, code, exc.description or exc.name))
        for name, value in exc.get_headers():  # Retry-After of a 429, Allow of a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)  # the trace goes to the log, never the user
        return error_response(500, "internal_error", "something went wrong on our side; please try again")

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if "medsearch_live" in app.extensions:
            try:
                response.headers["X-Medsearch-Build"] = pinned_searcher().index.build_id
            except IndexNotFound:  # no build to name: it cannot be read (said once in the log already)
                pass
            except Exception:  # no build to name (it failed to open): the answer still goes out
                log.exception("no build id for the answer to %s", request.path)
        return response

    app.wsgi_app = LastResort(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented middleware hook

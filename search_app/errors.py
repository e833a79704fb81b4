"""One error shape: JSON ``{"error": {"code", "message"}}`` for the API, one template for pages."""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from indexer.errors import BadQuery

from .live import pinned_searcher
from .search import BuildChanged

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def wants_json() -> bool:
    """API routes and health checks answer JSON; everything else is a page."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, code: str, message: str):
    """The one error shape, as JSON or as the error page."""
    if wants_json():
        return jsonify({"error": {"code": code, "message": message}}), status
    return render_template("error.html", status=status, code=code, message=message), status


def register(app: Flask) -> None:
    """Install error handlers and security headers."""

    @app.errorhandler(BadQuery)
    def bad_query(exc: BadQuery):
        return error_response(400, exc.code, exc.message)

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
            response.headers["X-Medsearch-Build"] = pinned_searcher().index.build_id
        return response

"""Static files: a versioned URL, a year of caching for that URL, gzip, each file compressed once.

``url_for('static', filename=...)`` gets ``?v=`` and the first 12 hex digits of the file's sha256, so a
page always names the stylesheet and script it was written for: under that URL the answer never
changes and is ``immutable``; without it (or with an old version) the file is served ``no-cache``.
A file is read, hashed and gzipped when first asked for and again only when its size or mtime
changes (``serve --dev`` edits show on the next load). Flask-Compress was not used: it streams
``send_file`` responses with no gzip among its streaming encodings, and compresses on every request.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import threading
from dataclasses import dataclass

from flask import Flask, Response, abort, current_app, request
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
COMPRESSIBLE = frozenset({"text/css", "text/javascript", "application/javascript", "image/svg+xml",
                          "text/plain", "application/json"})


@dataclass(frozen=True)
class Asset:
    stamp: tuple[int, int]  # (size, mtime_ns) of the file these bytes were read from
    version: str
    mimetype: str
    body: bytes
    gzipped: bytes | None  # None: not worth compressing (an image, or no smaller)
    mtime: float


class Assets:
    """The static folder's files as served, loaded on first use."""

    def __init__(self, folder: str):
        self.folder = folder
        self._files: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, filename: str) -> Asset | None:
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        stamp = (stat.st_size, stat.st_mtime_ns)
        known = self._files.get(path)
        if known is not None and known.stamp == stamp:
            return known
        with open(path, "rb") as handle:
            body = handle.read()
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        packed = gzip.compress(body, compresslevel=9, mtime=0) if mimetype in COMPRESSIBLE else None
        asset = Asset(stamp, hashlib.sha256(body).hexdigest()[:12], mimetype, body,
                      packed if packed is not None and len(packed) < len(body) else None, stat.st_mtime)
        with self._lock:
            self._files[path] = asset
        return asset


def serve(filename: str):
    """The static view: the file, gzipped when the browser takes it, cached for a year under its version."""
    asset = current_app.extensions["medsearch_assets"].get(filename)
    if asset is None:
        abort(404, description="there is no such file")
    compressed = asset.gzipped is not None and request.accept_encodings["gzip"] > 0
    response = Response(asset.gzipped if compressed else asset.body, mimetype=asset.mimetype)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    if asset.gzipped is not None:
        response.vary.add("Accept-Encoding")
    response.set_etag(asset.version + ("-gzip" if compressed else ""))
    response.last_modified = asset.mtime
    if request.args.get("v") == asset.version:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def install(app: Flask) -> None:
    """Serve ``app``'s static folder through ``serve`` and version every ``url_for('static', ...)``."""
    assets = app.extensions["medsearch_assets"] = Assets(str(app.static_folder))
    app.view_functions["static"] = serve

    @app.url_defaults
    def add_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            found = assets.get(values["filename"])
            if found is not None:
                values["v"] = found.version

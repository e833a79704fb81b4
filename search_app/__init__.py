"""medsearch web app: HTML pages and a JSON API over one search call."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: settings resolved, model and index loaded once, blueprints registered."""
    from indexer import settings as settings_mod
    from indexer.embedding import load_embedder
    from indexer.index import SearchIndex

    from . import api, errors, pages
    from .ranking import Searcher

    app = Flask(__name__)
    config = dict(config or {})
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    conf = settings_mod.resolve({k: v for k, v in config.items() if not k.isupper()})
    app.config["MEDSEARCH"] = conf
    embedder = load_embedder(conf["model"], conf["batch_size"])
    index = SearchIndex.open(conf["index"], model=embedder.describe())
    app.extensions["medsearch"] = Searcher(index, embedder)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    errors.register(app)
    return app

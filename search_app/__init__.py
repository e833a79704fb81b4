"""medsearch web app: HTML pages and a JSON API over one search call."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: settings resolved, model and index loaded once, blueprints registered."""
    from indexer import settings as settings_mod

    from . import api, api_v1, errors, limits, pages
    from .live import LiveSearcher, RequestSearcher
    from .urgency import UrgencyRules

    app = Flask(__name__)
    config = dict(config or {})
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    conf = settings_mod.resolve({k: v for k, v in config.items() if not k.isupper()})
    app.config["MEDSEARCH"] = conf
    # Each request is pinned to the searcher of one build; a newly published build is swapped in live.
    app.extensions["medsearch_live"] = live = LiveSearcher(conf)
    app.extensions["medsearch"] = RequestSearcher(live)
    app.extensions["urgency"] = UrgencyRules.load()
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_v1.bp)
    limits.install(app, conf)
    errors.register(app)
    return app

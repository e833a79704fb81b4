"""medsearch web app: HTML pages and a JSON API over one search call."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: settings resolved, model and index loaded once, blueprints registered."""
    from indexer import settings as settings_mod

    from . import api, errors, pages
    from .ranking import open_searcher
    from .urgency import UrgencyRules

    app = Flask(__name__)
    config = dict(config or {})
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    conf = settings_mod.resolve({k: v for k, v in config.items() if not k.isupper()})
    app.config["MEDSEARCH"] = conf
    app.extensions["medsearch"] = open_searcher(conf)
    app.extensions["urgency"] = UrgencyRules.load()
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    errors.register(app)
    return app

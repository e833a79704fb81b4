"""The web layer over the search core: pages, the JSON APIs and their OpenAPI document, hot swap, limits, static
assets, errors, the server and its worker. It depends on ``search_app.core``; the core never imports it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: settings resolved, model and index loaded once, blueprints registered.

    Lower-case keys of ``config`` are medsearch settings (over the environment and config file),
    upper-case ones Flask's own; a bad setting raises ``BadSetting`` before anything is loaded.
    """
    # Flask is imported here, not above: the settings registry reads search_app.web.settings in every command,
    # the indexer's included, and importing it runs this file.
    from flask import Flask

    from indexer import settings as settings_mod

    from ..core import urgency
    from . import api, api_v1, assets, errors, limits, pages
    from .json_provider import OrjsonProvider
    from .live import LiveSearcher
    from .settings import AppSettings

    app = Flask(__name__)
    app.json = OrjsonProvider(app)  # every JSON answer (search answers are 25-30 kB)
    config = dict(config or {})
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    conf = settings_mod.resolve({k: v for k, v in config.items() if not k.isupper()}, source="create_app(config)")
    settings = AppSettings.from_conf(conf)
    app.config["MEDSEARCH"] = settings
    # Each request is pinned to the searcher of one build; a newly published build is swapped in live.
    app.extensions["medsearch_live"] = LiveSearcher(settings.search, settings.server.reload_interval_ms)
    app.extensions["urgency"] = urgency.load(settings.search)  # rules and detector, for the embedder the index uses
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_v1.bp)
    limits.install(app, settings.server)
    assets.install(app)  # versioned, cached, gzipped static files
    errors.register(app)
    return app

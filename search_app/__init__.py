"""medsearch's query side: the Flask-free search core (``search_app.core``) and the web layer over it
(``search_app.web``: views, presenters, templates, the JSON APIs, the server), which depends on the core, never
the other way.

``import search_app`` imports no Flask: ``create_app`` imports the web layer when it is called.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the web app (``search_app.web.create_app``, imported only now: Flask loads with it)."""
    from .web import create_app as create_web_app

    return create_web_app(config)

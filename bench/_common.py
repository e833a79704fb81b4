"""What the bench scripts share: where the repository and the shared data are, and the embedder and
searcher loaded from settings as `python -m search_app` loads them.

The packages come from the editable install (`make install`, `pip install -e .`); run a script as
``.venv/bin/python bench/NAME.py`` (its folder is on ``sys.path``, so ``import _common`` works).
Heavy imports happen inside the functions, so that ``--help`` stays instant.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.embedding import Embedder
    from search_app.core.ranking import Searcher
    from search_app.core.settings import SearchSettings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"  # the shared data sets (see its README)
OUT = ROOT / "bench" / "out"  # indexes and reports the scripts write
PY = Path(sys.executable)


def settings(explicit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every setting's value: defaults < config file < ``MEDSEARCH_*`` environment < ``explicit``."""
    from indexer import settings as registry

    return registry.resolve(explicit or {})


def search_settings(explicit: dict[str, Any] | None = None) -> SearchSettings:
    """The search core's view of ``settings(explicit)``, as `python -m search_app` reads it."""
    from search_app.core.settings import SearchSettings

    return SearchSettings.from_conf(settings(explicit))


def configured_embedder(backend: str | None = None, batch_size: int | None = None) -> Embedder:
    """The process-wide embedder the settings name (model, batch size, backend, model cache)."""
    from indexer.embedding import load_embedder

    configured = search_settings()
    return load_embedder(configured.model, batch_size or configured.batch_size, backend or configured.backend,
                         configured.model_cache)


def searcher_for(index: str | Path) -> Searcher:
    """The searcher of the live build in ``index``, as `python -m search_app eval --index` opens it."""
    from search_app.core.ranking import open_searcher

    return open_searcher(search_settings({"index": str(index)}))

"""Every setting, declared once: name, default, help.

Precedence: defaults < config file (``MEDSEARCH_CONFIG``, TOML or JSON) < ``MEDSEARCH_*``
environment variables < explicit values (CLI flags, ``create_app(config)``).
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str


SETTINGS: tuple[Setting, ...] = (
    Setting("index", str(REPO_ROOT / "var" / "index"), "Index directory (holds `current` and `builds/`)."),
    Setting("model", "all-MiniLM-L6-v2", "Embedding model: the bundled all-MiniLM-L6-v2 or a local sentence-transformers directory."),
    Setting("backend", "onnx-int8", "Embedding backend: onnx-int8 (ONNX Runtime, int8 weights: about 3x faster, R@10 within 0.003), "
                                    "onnx (ONNX Runtime, fp32) or torch (sentence-transformers); an index is served with the backend it was built with."),
    Setting("model_cache", "", "Directory for the ONNX exports of the model (made once, then reused); empty: "
                               "$XDG_CACHE_HOME/medsearch, else ~/.cache/medsearch."),
    Setting("chunk_tokens", 200, "Most model tokens of article text in one passage (the title and heading are added on top).", int),
    Setting("overlap_tokens", 32, "Most tokens of trailing sentences repeated at the start of the next passage.", int),
    Setting("batch_size", 16, "Passages embedded per model call while building.", int),
    Setting("embed_window", 1024, "Passages gathered before embedding: the model sorts each window by length; "
                                  "bounds build memory.", int),
    Setting("index_type", "auto", "Vector index: flat (exact), hnsw (approximate) or auto (hnsw from 200,000 sections)."),
    Setting("keep_builds", 3, "Published builds kept in `builds/` (the live one included).", int),
    Setting("default_k", 10, "Results returned when a search does not ask for `k`.", int),
    Setting("max_k", 50, "Largest `k` a search may ask for.", int),
    Setting("max_query_chars", 500, "Longest query accepted, in characters.", int),
    Setting("weight_lexical", 0.3, "Weight of the normalised BM25 score in hybrid ranking.", float),
    Setting("weight_name", 0.1, "Bonus for passages of an article about a medicine the query names.", float),
    Setting("weight_intent", 0.15, "Bonus for sections of the type the query asks about (side effects, dosage, ...).", float),
    Setting("host", "127.0.0.1", "Address the development server listens on."),
    Setting("port", 5000, "Port the development server listens on.", int),
    Setting("workers", 2, "Worker processes of the production server (`make serve-prod`); they share the preloaded model.", int),
    Setting("threads", 4, "Threads per production worker (requests one worker answers at once).", int),
    Setting("reload_interval_ms", 1000, "How often, at most, a serving process checks `INDEX/current` for a newly "
                                        "published build and swaps to it without a restart; 0 turns that off.", int),
    Setting("rate_limit_per_minute", 0, "Requests per minute one client address may make (a token bucket shared by all "
                                        "workers); 0 turns the limit off, as suits local use.", int),
    Setting("rate_limit_burst", 30, "Requests a client may make at once before the per-minute rate applies.", int),
    Setting("trusted_proxies", 0, "Reverse proxies in front of the server whose X-Forwarded-For names the client "
                                  "(for the rate limit); 0 uses the connecting address.", int),
    Setting("max_body_bytes", 16384, "Largest request body accepted (the API takes its parameters in the URL); "
                                     "larger ones get 413.", int),
    Setting("public_url", "", "Base URL put before permalinks in API citations (e.g. https://medsearch.example.org); "
                              "empty: the address the request came to."),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def _config_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {path} (from MEDSEARCH_CONFIG) does not exist")
    if p.suffix == ".toml":
        return tomllib.loads(p.read_text(encoding="utf-8"))
    return json.loads(p.read_text(encoding="utf-8"))


def resolve(explicit: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return every setting's value after applying config file, environment and explicit values."""
    environ = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}
    layers: list[Mapping[str, Any]] = []
    if environ.get("MEDSEARCH_CONFIG"):
        layers.append(_config_file(environ["MEDSEARCH_CONFIG"]))
    layers.append({s.name: environ[f"MEDSEARCH_{s.name.upper()}"] for s in SETTINGS if f"MEDSEARCH_{s.name.upper()}" in environ})
    layers.append({k: v for k, v in (explicit or {}).items() if v is not None})
    for layer in layers:
        for name, raw in layer.items():
            if name not in BY_NAME:
                continue  # unrelated keys (e.g. Flask's TESTING) pass through untouched
            setting = BY_NAME[name]
            try:
                values[name] = setting.type(raw) if isinstance(raw, str) else raw
            except ValueError:
                raise ValueError(f"setting {name!r}: {raw!r} is not a valid {setting.type.__name__}") from None
    return values

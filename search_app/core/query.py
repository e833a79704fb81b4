"""Query understanding: turn request parameters into a validated search request or a BadQuery."""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexer.errors import BadQuery

if TYPE_CHECKING:
    from .settings import SearchSettings

MAX_OFFSET = 1000  # deepest page start a search may ask for


@dataclass(frozen=True)
class SearchRequest:
    q: str
    k: int
    offset: int = 0
    drugs: tuple[str, ...] = ()
    section_types: tuple[str, ...] = ()
    mode: str = "hybrid"
    respell: bool = True
    fold: bool = True  # a medicine's other drug labels fold behind its best-matching one


def normalise(text: str) -> str:
    """NFC, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only (and a minus, refused by the range): int() also reads "٥" (an Arabic-Indic five),
    # "5_0", " 5" and "+5".
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise BadQuery(f"bad_{name}", f"{name} must be a whole number from {low} to {high}, not {raw[:20]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise BadQuery(f"bad_{name}", f"{name} must be from {low} to {high}, not {value}")
    return value


def parse(params, settings: SearchSettings, allowed: frozenset[str] | None = None) -> SearchRequest:
    """Validate the search parameters (and, for the API, refuse unknown ones).

    ``params`` is a mapping, or a werkzeug MultiDict whose ``drug`` and ``section_type``
    may repeat.
    """
    if allowed is not None:
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise BadQuery("unknown_parameter", f"unknown parameter(s): {', '.join(unknown)}; "
                                                f"allowed: {', '.join(sorted(allowed))}")
    raw = params.get("q", "")
    if len(raw) > settings.max_query_chars:
        raise BadQuery("query_too_long", f"the query is {len(raw)} characters long; "
                                         f"the limit is {settings.max_query_chars}")
    q = normalise(raw)
    if not q:
        raise BadQuery("empty_query", "type a question or some words to search for")
    k = _int(params, "k", settings.default_k, 1, settings.max_k)
    offset = _int(params, "offset", 0, 0, MAX_OFFSET)
    many = params.getlist if hasattr(params, "getlist") else (lambda name: [params[name]] if name in params else [])
    drugs = tuple(dict.fromkeys(v.strip() for v in many("drug") if v.strip()))
    section_types = tuple(dict.fromkeys(v.strip() for v in many("section_type") if v.strip()))
    mode = params.get("mode") or "hybrid"
    switches = {name: (params.get(name) or "on").lower() for name in ("spell", "fold")}
    for name, value in switches.items():
        if value not in ("on", "off"):
            raise BadQuery(f"bad_{name}", f"{name} must be 'on' or 'off', not {value[:20]!r}")
    return SearchRequest(q=q, k=k, offset=offset, drugs=drugs, section_types=section_types, mode=mode,
                         respell=switches["spell"] == "on", fold=switches["fold"] == "on")

"""Query understanding: turn request parameters into a validated search request or a BadQuery."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Mapping

from indexer.errors import BadQuery


@dataclass(frozen=True)
class SearchRequest:
    q: str
    k: int


def normalise(text: str) -> str:
    """NFC, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def parse(params: Mapping[str, str], settings: Mapping, allowed: frozenset[str] | None = None) -> SearchRequest:
    """Validate ``q`` and ``k`` from request parameters (and, for the API, refuse unknown ones)."""
    if allowed is not None:
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise BadQuery("unknown_parameter", f"unknown parameter(s): {', '.join(unknown)}; "
                                                f"allowed: {', '.join(sorted(allowed))}")
    raw = params.get("q", "")
    if len(raw) > settings["max_query_chars"]:
        raise BadQuery("query_too_long", f"the query is {len(raw)} characters long; "
                                         f"the limit is {settings['max_query_chars']}")
    q = normalise(raw)
    if not q:
        raise BadQuery("empty_query", "type a question or some words to search for")
    raw_k = params.get("k")
    if raw_k is None or raw_k == "":
        k = settings["default_k"]
    else:
        try:
            k = int(raw_k)
        except ValueError:
            raise BadQuery("bad_k", f"k must be a whole number from 1 to {settings['max_k']}, not {raw_k[:20]!r}") from None
        if not 1 <= k <= settings["max_k"]:
            raise BadQuery("bad_k", f"k must be from 1 to {settings['max_k']}, not {k}")
    return SearchRequest(q=q, k=k)

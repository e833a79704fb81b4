"""Label look-ups: a query that is a drug label's identifier finds that label first (issue 28).

Clinicians and pharmacists paste identifiers: an NDC from a package ("0006-3026", "0006-3026-01", with or
without dashes), a label's set id (a UUID), or an application number ("NDA022406", "BLA 125514"). None of
them means anything to the embedding or to BM25, so they are read here, from the labels' own metadata
(``set_id``, ``product_ndcs``, ``package_ndcs``, ``application_numbers``: ``indexer/sources/labels.py``),
and the search service puts the labels they name first.

The table of identifiers is made once per build, on first use, from every label's header, and kept with
that build's index object (a new build gets a new table).
"""
from __future__ import annotations

import re
import threading
import weakref
from typing import Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_APPLICATION = re.compile(r"(nda|anda|bla)[\s-]*0*(\d{3,7})")
# NDCs are 10 digits in three parts (4-4-2, 5-3-2, 5-4-1), the product code the first two; written with dashes
# or without, and in the 11-digit billing form with a leading zero padded into one part.
_NDC = re.compile(r"\d{4,5}-?\d{3,4}(?:-?\d{1,2})?")
_TABLES: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, ...]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _application_key(text: str) -> str | None:
    found = _APPLICATION.fullmatch(text.strip().lower())
    return f"{found.group(1)}{int(found.group(2))}" if found else None


def _keys(meta: dict[str, Any]) -> set[str]:
    """Every identifier a label answers to, normalised as a query is."""
    keys = set()
    if isinstance(meta.get("set_id"), str) and meta["set_id"]:
        keys.add("setid:" + meta["set_id"].lower())
    for number in meta.get("application_numbers") or ():
        key = _application_key(str(number))
        if key:
            keys.add("app:" + key)
    for ndc in list(meta.get("product_ndcs") or ()) + list(meta.get("package_ndcs") or ()):
        digits = re.sub(r"\D", "", str(ndc))
        if digits:
            keys.add("ndc:" + digits)
    return keys


def table(index: Any) -> dict[str, tuple[str, ...]]:
    """Identifier -> ids of the labels that carry it, for one build (made on first use, then kept with it)."""
    with _LOCK:
        found = _TABLES.get(index)
        if found is not None:
            return found
        gathered: dict[str, list[str]] = {}
        for article_id in index.titles():
            header = index.article_header(article_id)
            meta = header.meta if header is not None else {}
            if (meta or {}).get("kind") != "label":
                continue
            for key in _keys(meta):
                gathered.setdefault(key, []).append(article_id)
        found = {key: tuple(ids) for key, ids in gathered.items()}
        _TABLES[index] = found
        return found


def query_keys(query: str) -> list[str]:
    """The identifier keys a query is made of (all its words must be identifiers), or none."""
    text = query.strip().lower()
    if not text:
        return []
    if _UUID.fullmatch(text):
        return ["setid:" + text]
    application = _application_key(text)
    if application:
        return ["app:" + application]
    keys = []
    for word in text.replace(",", " ").split():
        if _UUID.fullmatch(word):
            keys.append("setid:" + word)
        elif _NDC.fullmatch(word):
            digits = word.replace("-", "")
            keys += ["ndc:" + digits] + (["ndc:" + digits[1:]] if len(digits) == 11 and digits[0] == "0" else [])
        else:
            return []
    return keys


def labels_named(query: str, index: Any) -> tuple[str, ...]:
    """The labels a query names by identifier, in the order it names them (none for any other query)."""
    keys = query_keys(query)
    if not keys:
        return ()
    known = table(index)
    return tuple(dict.fromkeys(article_id for key in keys for article_id in known.get(key, ())))

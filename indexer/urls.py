"""Which links may leave the index: http and https URLs with a host, nothing else.

Source files are not trusted: a ``javascript:``, ``data:`` or ``vbscript:`` URL in a front matter
``url``, a JSONL ``url``, an HTML ``rel=canonical`` or a reference would otherwise become a link
on an article page. Loaders keep a URL only when `safe_http_url` returns it, and the templates
render a link only when it passes the same check.
"""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
# Whitespace or control characters anywhere: browsers drop some (a tab inside "java\tscript:") and
# a real URL has none, so such a value is refused rather than repaired.
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")


def safe_http_url(value: object) -> str:
    """``value`` stripped, if it is an absolute http(s) URL with a host; else ``""``."""
    return _checked(value) if isinstance(value, str) else ""


@lru_cache(maxsize=4096)  # every result's links are checked again as it is shown: the same few URLs, mostly
def _checked(value: str) -> str:
    url = value.strip()
    if not url or _UNSAFE_CHARS.search(url):
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return ""
    if parts.scheme.lower() not in SCHEMES or not host:
        return ""
    return url


def describe_unsafe(value: object) -> str:
    """A short, escaped rendering of a refused URL for a warning (its scheme, or the first characters)."""
    text = value if isinstance(value, str) else repr(value)
    shown = text.strip()
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ascii(shown)

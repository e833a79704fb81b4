"""Who wrote an article and what it cites: its publisher, its references, and its citation text.

Our own articles (``corpus/``: Markdown with front matter and no publisher url) are credited to
``medsearch``, with the publishers they were written from as references; a third-party article to
its publisher (``publisher`` or ``source`` in its metadata, else the name of its url's site); an
article that says neither is credited to no one rather than to us. Names of sites come from
``search_app/data/publishers.tsv``. Nothing here knows about Flask or JSON (``serialise`` does).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from indexer.models import Article
from indexer.urls import safe_http_url

OWN = "medsearch"
UNKNOWN = "publisher unknown"
OWN_FORMATS = (".md", ".markdown")  # corpus/'s format: an article in it without a url is one we wrote
PUBLISHERS_FILE = Path(__file__).parent.parent / "data" / "publishers.tsv"
_TITLE_PUBLISHER = re.compile(r"^([^:]{2,40}):\s+\S")  # "MedlinePlus: Amitriptyline"


@dataclass(frozen=True)
class Reference:
    title: str
    url: str  # "" when the reference gives no http(s) link
    publisher: str


@dataclass(frozen=True)
class Credit:
    """An article's credit as every page and answer shows it."""

    publisher: str
    own: bool  # written by medsearch
    updated: str | None
    references: tuple[Reference, ...]

    def reference_publishers(self) -> tuple[tuple[str, str], ...]:
        """(publisher, first link) of each publisher the references cite, in their order."""
        seen: dict[str, str] = {}
        for ref in self.references:
            if ref.publisher and (ref.publisher not in seen or not seen[ref.publisher]):
                seen[ref.publisher] = ref.url
        return tuple(seen.items())


@lru_cache(maxsize=1)
def _publishers() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in PUBLISHERS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            host, name = line.split("\t")
            table[host.strip().lower()] = name.strip()
    return table


def known_site(url: str) -> str:
    """The name publishers.tsv gives a link's site ("NHS" for www.nhs.uk), else ''."""
    host = (urlsplit(url).hostname or "").lower() if safe_http_url(url) else ""
    parts = host.split(".")
    table = _publishers()
    for start in range(len(parts) - 1):  # the longest end first
        name = table.get(".".join(parts[start:]))
        if name:
            return name
    return ""


def site_name(url: str) -> str:
    """The publisher's name for a link's site, else its host without "www."; '' for no http(s) link."""
    return known_site(url) or ((urlsplit(url).hostname or "").removeprefix("www.") if safe_http_url(url) else "")


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def references_of(meta: dict) -> tuple[Reference, ...]:
    """An article's references (``[{title, url}]`` or plain strings in its metadata), each with its publisher."""
    refs = meta.get("references")
    out: list[Reference] = []
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict):
            title, url = _text(ref.get("title")) or "", _text(ref.get("url")) or ""
        elif isinstance(ref, str) and ref.strip():
            title, url = ref.strip(), ""
        else:
            continue
        url = url if safe_http_url(url) else ""
        named = _TITLE_PUBLISHER.match(title)
        # A known site's name, else the title's own "Publisher: ..." prefix, else the link's host.
        publisher = known_site(url) or (named.group(1).strip() if named else "") or site_name(url)
        if title or url:
            out.append(Reference(title or url, url, publisher))
    return tuple(out)


def credit_of(article: Article | None) -> Credit:
    """The publisher, updated date and references of an article (None: an article no longer in the build)."""
    if article is None:
        return Credit(UNKNOWN, False, None, ())
    meta = article.meta or {}
    named = _text(meta.get("publisher")) or _text(meta.get("source"))
    if named:
        publisher = named
    elif safe_http_url(article.url):
        publisher = site_name(article.url)
    elif article.source_path.lower().endswith(OWN_FORMATS):
        publisher = OWN
    else:
        publisher = UNKNOWN
    return Credit(publisher, publisher == OWN, _text(meta.get("updated")), references_of(meta))


def citation_text(title: str, heading: str, credit: Credit, url: str, permalink_url: str) -> str:
    """The plain-text citation: title and section, publisher and updated date, links, references."""
    def sentence(text: str) -> str:
        return text if text.endswith((".", "?", "!")) else text + "."

    parts = [sentence(f"{title}: {heading}" if heading else title),
             sentence(credit.publisher + (f", updated {credit.updated}" if credit.updated else ""))]
    # Links stand bare at the end of their part: a full stop after one would join the address.
    parts += [url, f"Permalink: {permalink_url}"] if safe_http_url(url) else [permalink_url]
    if credit.references:
        parts.append("References: " + "; ".join(f"{r.title} <{r.url}>" if r.url else r.title
                                                  for r in credit.references))
    return " ".join(parts)

"""Who wrote an article and what it cites: its publisher, its references, and its citation text.

Our own articles (``corpus/``: Markdown with front matter and no publisher url) are credited to
``medsearch``, with the publishers they were written from as references; a third-party article to
its publisher (``publisher`` or ``source`` in its metadata, else the name of its url's site); an
article that says neither is credited to no one rather than to us. A drug label is its labeler's
("Janssen Pharmaceuticals, Inc.", a repackager's own label the repackager's), distributed by DailyMed
(U.S. National Library of Medicine), and is cited with its set id, version, effective date and
application number (`LabelRecord`). Names of sites come from ``search_app/data/publishers.tsv``.
Nothing here knows about Flask or JSON (``serialise`` does).
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
UNKNOWN_LABELER = "labeler unknown"
DAILYMED = "DailyMed (U.S. National Library of Medicine)"  # distributes every label (indexer.sources.labels)
OWN_FORMATS = (".md", ".markdown")  # corpus/'s format: an article in it without a url is one we wrote
PUBLISHERS_FILE = Path(__file__).parent.parent / "data" / "publishers.tsv"
_TITLE_PUBLISHER = re.compile(r"^([^:]{2,40}):\s+\S")  # "MedlinePlus: Amitriptyline"


@dataclass(frozen=True)
class Reference:
    title: str
    url: str  # "" when the reference gives no http(s) link
    publisher: str


@dataclass(frozen=True)
class LabelRecord:
    """Which drug label an article is: its labeler, DailyMed's record of it, and the application it is approved under."""

    labeler: str
    product: str  # the title without its labeler: "XARELTO (rivaroxaban) tablet"
    set_id: str
    version: int | None
    effective: str | None  # YYYY-MM-DD
    application_numbers: tuple[str, ...]
    repackaged: bool  # a repackager's or relabeler's label
    spl_id: str = ""
    product_ndcs: tuple[str, ...] = ()
    package_ndcs: tuple[str, ...] = ()
    distributor: str = DAILYMED

    @property
    def applications(self) -> str:
        """The application numbers as one would write them ("NDA022406"), or ''."""
        return ", ".join(self.application_numbers)

    def record(self) -> str:
        """ "version 16, effective 2020-11-13, NDA009218, set id 3ebcb71e-...": what a citation names of it."""
        return ", ".join(part for part in (
            f"version {self.version}" if self.version is not None else "",
            f"effective {self.effective}" if self.effective else "", self.applications,
            f"set id {self.set_id}" if self.set_id else "") if part)


@dataclass(frozen=True)
class Credit:
    """An article's credit as every page and answer shows it."""

    publisher: str
    own: bool  # written by medsearch
    updated: str | None
    references: tuple[Reference, ...]
    label: LabelRecord | None = None  # a drug label: its publisher is its labeler

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


def _known_host(host: str) -> str:
    """The name publishers.tsv gives a (lowercase) host's site ("NHS" for www.nhs.uk), else ''."""
    parts = host.split(".")
    table = _publishers()
    for start in range(len(parts) - 1):  # the longest end first
        name = table.get(".".join(parts[start:]))
        if name:
            return name
    return ""


def _host(safe_url: str) -> str:
    """The host of a link already checked by ``safe_http_url`` ('' for no link), lowercase."""
    return (urlsplit(safe_url).hostname or "").lower() if safe_url else ""


def site_name(url: str) -> str:
    """The publisher's name for a link's site, else its host without "www."; '' for no http(s) link."""
    host = _host(url) if safe_http_url(url) else ""
    return _known_host(host) or host.removeprefix("www.")


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
        url = url if safe_http_url(url) else ""  # the one check of the link: what follows reads its host
        host = _host(url)
        named = _TITLE_PUBLISHER.match(title)
        # A known site's name, else the title's own "Publisher: ..." prefix, else the link's host.
        publisher = _known_host(host) or (named.group(1).strip() if named else "") or host.removeprefix("www.")
        if title or url:
            out.append(Reference(title or url, url, publisher))
    return tuple(out)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(s for s in (_text(v) for v in value) if s) if isinstance(value, list) else ()


def label_record(article: Article) -> LabelRecord | None:
    """The label an article is (labeler, set id, version, effective date, application numbers), or None."""
    meta = article.meta or {}
    if meta.get("kind") != "label":
        return None
    labeler = _text(meta.get("labeler")) or ""
    product = _text(meta.get("product")) or (article.title.removesuffix(f", {labeler}") if labeler else article.title)
    version = meta.get("version")
    return LabelRecord(
        labeler=labeler, product=product, set_id=_text(meta.get("set_id")) or article.id,
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        effective=_text(meta.get("updated")), application_numbers=_strings(meta.get("application_numbers")),
        repackaged=meta.get("repackaged") is True, spl_id=_text(meta.get("spl_id")) or "",
        product_ndcs=_strings(meta.get("product_ndcs")), package_ndcs=_strings(meta.get("package_ndcs")),
        distributor=_text(meta.get("distributor")) or DAILYMED)


def credit_of(article: Article | None) -> Credit:
    """The publisher, updated date and references of an article (None: an article no longer in the build)."""
    if article is None:
        return Credit(UNKNOWN, False, None, ())
    meta = article.meta or {}
    label = label_record(article)
    if label is not None:
        return Credit(label.labeler or UNKNOWN_LABELER, False, label.effective, references_of(meta), label)
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


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def citation_text(title: str, heading: str, credit: Credit, url: str, permalink_url: str) -> str:
    """The plain-text citation: title and section, publisher and updated date, links, references.

    A drug label's: "XARELTO (rivaroxaban) tablet. Janssen Pharmaceuticals, Inc. 2.5 Renal impairment. Drug label,
    version 3, effective 2023-02-17, NDA022406, set id .... Via DailyMed (U.S. National Library of Medicine):
    <its DailyMed page> Permalink: <this site>".
    """
    if credit.label is not None:
        return label_citation(credit.label, heading, url, permalink_url)
    parts = [_sentence(f"{title}: {heading}" if heading else title),
             _sentence(credit.publisher + (f", updated {credit.updated}" if credit.updated else ""))]
    # Links stand bare at the end of their part: a full stop after one would join the address.
    parts += [url, f"Permalink: {permalink_url}"] if safe_http_url(url) else [permalink_url]
    if credit.references:
        parts.append("References: " + "; ".join(f"{r.title} <{r.url}>" if r.url else r.title
                                                  for r in credit.references))
    return " ".join(parts)


def label_citation(label: LabelRecord, heading: str, url: str, permalink_url: str) -> str:
    """A drug label's citation: product, labeler, section, its record (version, date, application, set id), links."""
    labeler = label.labeler + (" (repackager)" if label.repackaged else "") if label.labeler else ""
    record = label.record()
    parts = [_sentence(p) for p in (label.product, labeler, heading, "Drug label" + (f", {record}" if record else ""))
             if p]
    if safe_http_url(url):
        parts += [f"Via {label.distributor}: {url}", f"Permalink: {permalink_url}"]
    else:
        parts += [_sentence(f"Via {label.distributor}"), permalink_url]
    return " ".join(parts)

"""The internal model of articles, sections and passages shared by every module."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass(frozen=True)
class Section:
    """One headed part of an article, as written by its publisher."""

    id: str
    heading: str
    text: str
    # The type the publisher's own structure gives (a drug label's LOINC code); "" reads it from the heading.
    section_type: str = ""


@dataclass(frozen=True)
class Article:
    """A medication article: the unit that is loaded, fingerprinted and indexed."""

    id: str
    title: str
    url: str
    sections: tuple[Section, ...]
    source_path: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    # What loading left out of it (an unsafe link), for the build's report; never indexed.
    warnings: tuple[str, ...] = field(default=(), compare=False, hash=False)


@dataclass(frozen=True)
class Passage:
    """A piece of one section small enough for the model, with the links that cite it."""

    id: str
    article_id: str
    section_id: str
    ordinal: int
    title: str
    heading: str
    text: str
    url: str
    permalink: str
    section_type: str = "other"

    @property
    def embed_text(self) -> str:
        """What the model sees: the text with its context, so equal headings of different drugs differ."""
        return context_prefix(self.title, self.heading) + self.text


def context_prefix(title: str, heading: str) -> str:
    """The article title and section heading put before a passage's text when embedding it."""
    head = f"{title}: {heading}" if heading else title
    return f"{head}\n\n" if head else ""


def passage_id(article_id: str, section_id: str, ordinal: int) -> str:
    """A passage id that stays the same across rebuilds while the section keeps its place."""
    return f"{article_id}:{section_id}:{ordinal}"


def article_permalink(article_id: str, anchor: str = "") -> str:
    """The app's own page for an article, optionally at a section anchor."""
    link = f"/articles/{_component(article_id)}"
    return f"{link}#{_component(anchor)}" if anchor else link


def section_link(article: Article, section_id: str) -> str:
    """Deep link to a section: the publisher's url with an anchor, else the app's article page."""
    if article.url:
        return f"{article.url.split('#', 1)[0]}#{_component(section_id)}"
    return article_permalink(article.id, section_id)


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch  # what quote() leaves as it is


def _component(text: str) -> str:
    """``quote(text, safe="")``, without its work for the usual id that needs no escaping (links of every result)."""
    return text if _UNRESERVED(text) else quote(text, safe="")


def make_passages(records: Iterable[tuple[str, str, str, int, str, str, str, str, str]]) -> list[Passage]:
    """Passages with their links, from what a catalog holds of each: (passage id, article id, section id, ordinal,
    text, article title, article url, heading, section type)."""
    made = []
    for passage_id, article_id, section_id, ordinal, text, title, url, heading, section_type in records:
        stub = Article(id=article_id, title=title, url=url, sections=())
        made.append(Passage(id=passage_id, article_id=article_id, section_id=section_id, ordinal=ordinal,
                            title=title, heading=heading, text=text, url=section_link(stub, section_id),
                            permalink=article_permalink(article_id, section_id), section_type=section_type))
    return made

"""A drug label's versions: what one version is, and how a build keeps the earlier ones as its history.

A build indexes the highest version of each set id. The versions below it that the build sees (in its
sources, or in the live build, as its indexed label or in its history) are kept in the catalog's
``history`` table, the newest ``keep_label_versions`` of each set id, so that the label's versions, an
earlier version's text and what changed between two versions can be read from the build. History is
never embedded nor searched; it is carried from build to build as passages are.

One version is a ``LabelVersion``: its set id, version number, effective date, the file it came from,
and each section's id, heading, LOINC code, openFDA field, type and text, with the label's own
"Recent Major Changes" list (LOINC 43683-2), which is not a section of the article.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .models import Article

RECENT_CHANGES = "recent_major_changes"  # the meta key of a label's "Recent Major Changes" (LOINC 43683-2)


@dataclass(frozen=True)
class VersionSection:
    """One section of one version of a label."""

    section_id: str
    heading: str
    code: str           # its LOINC section code ("34066-1"), "" when the label gave none we know
    field: str          # its openFDA field ("boxed_warning"), "" when none
    section_type: str
    text: str


@dataclass(frozen=True)
class LabelVersion:
    """One version of a drug label: the indexed one (``current``) or an earlier one from the build's history.

    ``sections`` is empty when only the version's header was read (a list of versions).
    """

    set_id: str
    version: int
    effective: str      # YYYY-MM-DD as the label gives it, or ""
    source_path: str    # the file it was loaded from
    title: str = ""
    current: bool = False
    sections: tuple[VersionSection, ...] = ()
    recent_changes: dict[str, str] | None = None  # {"code", "heading", "text"}: the label's own list

    def record(self) -> str:
        """What the catalog stores of a version besides its header: its sections and recent changes, as JSON."""
        return json.dumps({"sections": [[s.section_id, s.heading, s.code, s.field, s.section_type, s.text]
                                        for s in self.sections],
                           "recent_changes": self.recent_changes}, ensure_ascii=False)


def from_record(set_id: str, version: int, effective: str, source_path: str, title: str,
                record: str | None) -> LabelVersion:
    """A history row back as a version (its sections left out when ``record`` is None)."""
    data: dict[str, Any] = json.loads(record) if record else {}
    return LabelVersion(set_id=set_id, version=version, effective=effective, source_path=source_path, title=title,
                        sections=tuple(VersionSection(*row) for row in data.get("sections", ())),
                        recent_changes=data.get("recent_changes"))


def version_number(article: Article) -> int | None:
    """A drug label's version, or None for an article that is not a label or has no whole-number version."""
    meta = article.meta or {}
    version = meta.get("version")
    if meta.get("kind") != "label" or isinstance(version, bool) or not isinstance(version, int):
        return None
    return version


def recent_changes_of(meta: dict) -> dict[str, str] | None:
    """A label's "Recent Major Changes" from its meta, or None."""
    found = (meta or {}).get(RECENT_CHANGES)
    if not isinstance(found, dict) or not isinstance(found.get("text"), str) or not found["text"].strip():
        return None
    return {"code": str(found.get("code") or ""), "heading": str(found.get("heading") or ""), "text": found["text"]}


def label_version(article: Article, current: bool = False) -> LabelVersion | None:
    """A label article (as loaded, or as the catalog holds it) as one version; None when it is not a versioned label."""
    version = version_number(article)
    if version is None:
        return None
    meta = article.meta or {}
    found = meta.get("label_sections")
    codes: dict = found if isinstance(found, dict) else {}
    sections = []
    for s in article.sections:
        entry = codes.get(s.id)
        known: dict = entry if isinstance(entry, dict) else {}
        sections.append(VersionSection(s.id, s.heading, str(known.get("code") or ""), str(known.get("field") or ""),
                                       s.section_type or str(known.get("type") or ""), s.text))
    updated = meta.get("updated")
    return LabelVersion(set_id=article.id, version=version, effective=updated if isinstance(updated, str) else "",
                        source_path=article.source_path, title=article.title, current=current,
                        sections=tuple(sections), recent_changes=recent_changes_of(meta))

"""A drug label's versions and what changed between two of them, section by section (issue 28).

A build holds each label's indexed version and the earlier versions it kept as history
(``indexer/history.py``). Two versions are compared section by section: sections are matched by
LOINC code and heading (first both alike; then the heading without its number, so that "5.2
Bleeding" renumbered "5.3 Bleeding" is one section; then a code held by one unmatched section on
each side, so that a retitled boxed warning is one section), and a matched section whose heading or
text differs is changed, with its sentences compared (difflib over the chunker's sentences, a list
item or table row being one at least) into runs of equal, deleted and inserted text. The others are
added or removed. Flask-free: the API and the label's page both call it.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from indexer.chunking import split_sentences
from indexer.errors import BadQuery, MedsearchError
from indexer.history import LabelVersion, VersionSection

MAX_VERSION = 999_999_999
_NUMBER = re.compile(r"^\s*\d{1,3}(?:\.\d{1,3})*\.?\s+")


class LabelNotFound(MedsearchError):
    """No such label, or no such version of it, in the build (404)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Versions(Protocol):
    """What this module asks of a build (``indexer.index.SearchIndex``)."""

    @property
    def build_id(self) -> str: ...

    def label_versions(self, set_id: str) -> list[LabelVersion]: ...

    def label_version(self, set_id: str, version: int | None = None) -> LabelVersion | None: ...


@dataclass(frozen=True)
class DiffRun:
    """A run of sentences that both versions share (``equal``), the earlier one only (``delete``) or the later
    one only (``insert``)."""

    op: str
    text: str


@dataclass(frozen=True)
class SectionChange:
    """One section added, removed or changed: ``section`` as the later version has it (the earlier, if removed)."""

    section: VersionSection
    before: VersionSection | None = None  # a changed section as the earlier version has it
    diff: tuple[DiffRun, ...] = ()


@dataclass(frozen=True)
class LabelChanges:
    """What changed from one version of a label to another."""

    before: LabelVersion
    after: LabelVersion
    added: tuple[SectionChange, ...]
    removed: tuple[SectionChange, ...]
    changed: tuple[SectionChange, ...]
    unchanged: int

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)


def _bare(heading: str) -> str:
    """A heading without its number and case: "5.2 Bleeding Risk" -> "bleeding risk"."""
    return " ".join(_NUMBER.sub("", heading).lower().split())


def match_sections(before: tuple[VersionSection, ...],
                   after: tuple[VersionSection, ...]) -> dict[int, int]:
    """Which section of ``before`` each section of ``after`` is (after index -> before index)."""
    pairs: dict[int, int] = {}
    taken: set[int] = set()
    keys: list[Callable[[VersionSection], tuple[str, ...]]] = [
        lambda s: (s.code, " ".join(s.heading.lower().split())), lambda s: (s.code, _bare(s.heading))]
    for key in keys:
        free: dict[tuple[str, ...], list[int]] = {}
        for i, s in enumerate(before):
            if i not in taken:
                free.setdefault(key(s), []).append(i)
        for j, s in enumerate(after):
            if j not in pairs and free.get(key(s)):
                pairs[j] = free[key(s)].pop(0)
                taken.add(pairs[j])
    # A code held by one unmatched section on each side (the boxed warning retitled) is that section.
    left: dict[str, list[int]] = {}
    right: dict[str, list[int]] = {}
    for i, s in enumerate(before):
        if i not in taken and s.code:
            left.setdefault(s.code, []).append(i)
    for j, s in enumerate(after):
        if j not in pairs and s.code:
            right.setdefault(s.code, []).append(j)
    for code, js in right.items():
        if len(js) == 1 and len(left.get(code, ())) == 1:
            pairs[js[0]] = left[code][0]
    return pairs


def _same(a: str, b: str) -> bool:
    return a.split() == b.split()


def sentence_diff(old: str, new: str) -> tuple[DiffRun, ...]:
    """The sentences of ``old`` and ``new`` as runs of equal, deleted and inserted text, in reading order."""
    a, b = split_sentences(old), split_sentences(new)
    matcher = difflib.SequenceMatcher(None, [" ".join(s.split()) for s in a], [" ".join(s.split()) for s in b],
                                      autojunk=False)
    runs: list[DiffRun] = []

    def add(op: str, sentences: list[str]) -> None:
        if not sentences:
            return
        text = " ".join(sentences)
        if runs and runs[-1].op == op:
            runs[-1] = DiffRun(op, f"{runs[-1].text} {text}")
        else:
            runs.append(DiffRun(op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", a[i1:i2])
        else:  # a replaced run is said as the old sentences deleted, then the new ones inserted
            add("delete", a[i1:i2])
            add("insert", b[j1:j2])
    return tuple(runs)


def compare(before: LabelVersion, after: LabelVersion) -> LabelChanges:
    """The sections added, removed and changed from ``before`` to ``after``."""
    pairs = match_sections(before.sections, after.sections)
    added, changed = [], []
    unchanged = 0
    for j, section in enumerate(after.sections):
        if j not in pairs:
            added.append(SectionChange(section))
            continue
        old = before.sections[pairs[j]]
        if _same(old.heading, section.heading) and _same(old.text, section.text):
            unchanged += 1
        else:
            changed.append(SectionChange(section, old, sentence_diff(old.text, section.text)))
    matched = set(pairs.values())
    removed = [SectionChange(s) for i, s in enumerate(before.sections) if i not in matched]
    return LabelChanges(before, after, tuple(added), tuple(removed), tuple(changed), unchanged)


# -- what the API and the page ask ---------------------------------------------------------------
def parse_version(params: Mapping[str, str], name: str) -> int | None:
    """A version number given as a parameter (None when absent); BadQuery when it is not a whole number."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadQuery(f"bad_{name}", f"{name} must be a label's version, a whole number from 0 to {MAX_VERSION}, "
                                      f"not {raw[:20]!r}")
    return int(raw)


def versions(build: Versions, set_id: str) -> list[LabelVersion]:
    """Every version of a label in the build, newest first (the indexed one marked ``current``)."""
    found = build.label_versions(set_id)
    if not found:
        raise LabelNotFound("not_found", f"no drug label with set id {set_id[:80]!r} in build {build.build_id}")
    return found


def version(build: Versions, set_id: str, number: int | None = None) -> LabelVersion:
    """One version of a label with its sections: the indexed one, or ``number`` from the build's history."""
    found = build.label_version(set_id, number)
    if found is None:
        versions(build, set_id)  # an unknown label is said as such
        raise LabelNotFound("version_not_found", f"the drug label {set_id[:80]!r} has no version {number} in build "
                                                 f"{build.build_id}; its versions are listed at "
                                                 f"/api/v1/labels/{set_id}/versions")
    return found


def changes(build: Versions, set_id: str, before: int | None = None, after: int | None = None) -> LabelChanges:
    """What changed from version ``before`` to ``after`` of a label; by default between its two newest versions."""
    held = versions(build, set_id)
    if before is None and after is None:
        if len(held) < 2:
            raise LabelNotFound("no_earlier_version", f"the drug label {set_id[:80]!r} has no earlier version in "
                                                      f"build {build.build_id}, so nothing to compare")
        after, before = held[0].version, held[1].version
    elif after is None:
        after = held[0].version
    elif before is None:
        earlier = [v.version for v in held if v.version < after]
        if not earlier:
            version(build, set_id, after)  # an unknown version first
            raise LabelNotFound("no_earlier_version", f"the drug label {set_id[:80]!r} has no version before "
                                                      f"{after} in build {build.build_id}")
        before = earlier[0]
    return compare(version(build, set_id, before), version(build, set_id, after))


def latest_changes(build: Versions, set_id: str) -> LabelChanges | None:
    """What changed in a label's indexed version since the newest earlier one, or None when it has no history."""
    held = build.label_versions(set_id)
    if len(held) < 2 or not held[0].current:
        return None
    before, after = build.label_version(set_id, held[1].version), build.label_version(set_id)
    return compare(before, after) if before is not None and after is not None else None

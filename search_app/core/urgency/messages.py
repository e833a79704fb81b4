"""The messages file (``search_app/data/urgent_messages.yaml``): phrases and numbers per region, medicine groups,
and the message of each situation, filled in for the region and the medicine a query names."""
from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from indexer.errors import MedsearchError

from .notice import LEVELS, Call, Notice, Reason, normalise, read_yaml

DATA = Path(__file__).resolve().parents[2] / "data"
DEFAULT_MESSAGES = DATA / "urgent_messages.yaml"
REGIONS = ("uk", "us", "both")
DEFAULT_REGION = "both"
PHRASES = ("emergency", "a_and_e", "urgent_help", "advice_help", "poison_or_111", "poison_sentence", "crisis")
CALL_KINDS = ("emergency", "urgent", "poison", "crisis")


class MessagesError(MedsearchError, ValueError):
    """An urgency messages file that cannot be used; the message names the file and the entry."""


class Messages:
    """The messages file: phrases and calls per region, medicine groups, situation messages."""

    def __init__(self, regions: dict[str, dict[str, Any]], medicines: dict[str, dict[str, tuple[str, ...]]],
                 situations: dict[str, dict[str, Any]], levels: dict[str, str], situation_from: float = 0.0,
                 source: str = "<messages>"):
        self.regions = regions
        self.medicines = medicines
        self.situations = situations
        self.levels = levels              # each level's general message
        self.situation_from = situation_from
        self.source = source
        # Every alias of every medicine as a whole-word pattern, longest first ("ferrous sulfate" before "ferrous").
        self._aliases = sorted(((alias, group, name) for group, names in medicines.items()
                                for name, aliases in names.items() for alias in aliases),
                               key=lambda item: -len(item[0]))
        self._alias_re = re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(a) for a, _, _ in self._aliases)
                                    + r")(?![a-z0-9])") if self._aliases else None
        self._by_alias = {alias: (group, name) for alias, group, name in self._aliases}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MESSAGES) -> Messages:
        """Read and check a messages file; a broken one raises MessagesError saying which entry and why."""
        path = Path(path)
        return cls.from_data(read_yaml(path, "urgency messages", MessagesError), str(path))

    @classmethod
    def from_data(cls, data: Any, source: str = "<messages>") -> Messages:
        """Build the messages from a parsed document; every message is tried in every region."""
        if not isinstance(data, dict) or not {"regions", "levels", "situations"} <= set(data):
            raise MessagesError(f"{source}: expected a mapping with 'regions', 'medicines', 'levels' and 'situations'")
        unknown = sorted(set(data) - {"version", "regions", "medicines", "situation_from_similarity", "levels",
                                      "situations"})
        if unknown:
            raise MessagesError(f"{source}: unknown top-level key(s): {', '.join(unknown)}")
        regions = _check_regions(data["regions"], source)
        medicines = _check_medicines(data.get("medicines") or {}, source)
        situations: dict[str, dict[str, Any]] = {}
        if not isinstance(data["situations"], dict) or not data["situations"]:
            raise MessagesError(f"{source}: 'situations' must map names to their message")
        for name, raw in data["situations"].items():
            where = f"{source}: situation {name!r}"
            if not isinstance(raw, dict) or "message" not in raw or set(raw) - {"message", "calls", "by_medicine"}:
                raise MessagesError(f"{where}: expected message, and optionally calls and by_medicine")
            calls = raw.get("calls") or []
            if not isinstance(calls, list) or set(calls) - {"poison", "crisis"}:
                raise MessagesError(f"{where}: calls may list poison and crisis only, not {calls!r}")
            by_medicine = raw.get("by_medicine") or {}
            if not isinstance(by_medicine, dict) or set(by_medicine) - set(medicines):
                raise MessagesError(f"{where}: by_medicine must be keyed by medicine groups "
                                    f"({', '.join(medicines) or 'none listed'})")
            situations[name] = {"message": _check_message(raw["message"], where, regions),
                                "calls": tuple(calls),
                                "by_medicine": {group: _check_message(text, f"{where}, by_medicine {group}", regions,
                                                                      medicine=True)
                                                for group, text in by_medicine.items()}}
        levels = data.get("levels")
        if not isinstance(levels, dict) or set(levels) != set(LEVELS):
            raise MessagesError(f"{source}: 'levels' must give a general message for each of {', '.join(LEVELS)}")
        levels = {level: _check_message(text, f"{source}: levels {level}", regions) for level, text in levels.items()}
        situation_from = data.get("situation_from_similarity", 0.0)
        if not isinstance(situation_from, (int, float)) or isinstance(situation_from, bool) \
                or not 0 <= situation_from <= 1:
            raise MessagesError(f"{source}: situation_from_similarity must be a number from 0 to 1")
        return cls(regions, medicines, situations, levels, float(situation_from), source)

    def fill(self, template: str, region: str, medicine: str | None = None) -> str:
        """A message with its placeholders filled in for a region (and the medicine it names)."""
        phrases = dict(self.regions[region]["phrases"], medicine=medicine or "the medicine")
        return " ".join(template.format_map(phrases).split())

    def calls(self, level: str, region: str, extra: Iterable[str] = ()) -> tuple[Call, ...]:
        """The buttons of a notice: emergency first; the non-emergency line first for urgent; none for advice."""
        if level == "advice":
            return ()
        table = self.regions[region]["calls"]
        kinds = ["emergency"] if level == "emergency" else ["urgent", "emergency"]
        kinds += [k for k in ("poison", "crisis") if k in extra]
        if level == "urgent" and "poison" in extra:
            kinds = ["urgent", "poison", "emergency"]
        return tuple(call for kind in kinds for call in table[kind])

    def medicines_named(self, text: str, medicines: Sequence[str] = ()) -> list[tuple[str, str, str]]:
        """(group, name, word) for every grouped medicine in the normalised text or in ``medicines``, in query order."""
        found: list[tuple[str, str, str]] = []
        if self._alias_re is not None:
            for match in self._alias_re.finditer(text):
                group, name = self._by_alias[match.group(1)]
                found.append((group, name, match.group(1)))
            for medicine in medicines:
                key = normalise(medicine)
                if key in self._by_alias:
                    group, name = self._by_alias[key]
                    found.append((group, name, key))
        return list(dict.fromkeys(found))


def _check_regions(raw: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or set(raw) != set(REGIONS):
        raise MessagesError(f"{source}: 'regions' must define exactly {', '.join(REGIONS)}")
    regions: dict[str, dict[str, Any]] = {}
    for name in REGIONS:
        entry = raw[name]
        where = f"{source}: region {name!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                or not isinstance(entry.get("phrases"), dict) or set(entry["phrases"]) != set(PHRASES):
            raise MessagesError(f"{where}: needs a name and phrases for exactly {', '.join(PHRASES)}")
        if not all(isinstance(v, str) for v in entry["phrases"].values()):
            raise MessagesError(f"{where}: every phrase must be a string ('' for none)")
        regions[name] = {"name": entry["name"], "phrases": dict(entry["phrases"])}
        if "calls_from" in entry:
            continue
        calls = entry.get("calls")
        if not isinstance(calls, dict) or set(calls) != set(CALL_KINDS):
            raise MessagesError(f"{where}: calls must list {', '.join(CALL_KINDS)} (each a list, maybe empty)")
        table: dict[str, tuple[Call, ...]] = {}
        for kind, items in calls.items():
            if not isinstance(items, list) or not all(
                    isinstance(i, dict) and set(i) == {"label", "number"} and all(isinstance(v, str) and v
                                                                                   for v in i.values())
                    for i in items):
                raise MessagesError(f"{where}: calls {kind} must be a list of {{label, number}}")
            table[kind] = tuple(Call(kind, i["label"], i["number"], name) for i in items)
        regions[name]["calls"] = table
    for name in REGIONS:
        entry = raw[name]
        if "calls_from" in entry:
            parts = entry["calls_from"]
            if not isinstance(parts, list) or not parts or not all(p in regions and "calls" in regions[p]
                                                                   for p in parts):
                raise MessagesError(f"{source}: region {name!r}: calls_from must list regions with their own calls")
            regions[name]["calls"] = {
                kind: tuple(Call(c.kind, f"{c.label} ({regions[p]['name']})", c.number, c.region)
                            for p in parts for c in regions[p]["calls"][kind]) for kind in CALL_KINDS}
    return regions


def _check_medicines(raw: Any, source: str) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(raw, dict):
        raise MessagesError(f"{source}: 'medicines' must map groups to their names")
    groups: dict[str, dict[str, tuple[str, ...]]] = {}
    for group, names in raw.items():
        if not isinstance(names, dict) or not names:
            raise MessagesError(f"{source}: medicine group {group!r} must map names to lists of words")
        groups[group] = {}
        for name, aliases in names.items():
            if not isinstance(aliases, list) or not aliases or not all(
                    isinstance(a, str) and a == normalise(a) and a for a in aliases):
                raise MessagesError(f"{source}: medicine {name!r} of {group!r}: words must be a list of lower-case "
                                    "words without punctuation (write 'co codamol')")
            groups[group][name] = tuple(aliases)
    return groups


_PLACEHOLDER = string.Formatter()


def _check_message(text: Any, where: str, regions: Mapping[str, Any], medicine: bool = False) -> str:
    """A message template whose placeholders every region can fill; refused otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise MessagesError(f"{where}: missing message")
    try:
        names = {name for _, name, _, _ in _PLACEHOLDER.parse(text) if name is not None}
    except ValueError as exc:
        raise MessagesError(f"{where}: bad placeholder in {text!r} ({exc})") from None
    allowed = set(PHRASES) | ({"medicine"} if medicine else set())
    if names - allowed:
        raise MessagesError(f"{where}: unknown placeholder(s) {', '.join(sorted(names - allowed))} "
                            f"(allowed: {', '.join(sorted(allowed))})")
    return " ".join(text.split())


def notice_for(messages: Messages, region: str, text: str, medicines: Sequence[str], level: str,
            situation: str | None, message: str, decided_by: str, reasons: tuple[Reason, ...]) -> Notice:
    """The notice of a level: the message (the medicine's own where its guidance differs) and the calls."""
    entry = messages.situations.get(situation) if situation else None
    named = None
    if entry is not None:
        for group, name, _word in messages.medicines_named(text, medicines):
            if group in entry["by_medicine"]:
                message, named = entry["by_medicine"][group], name
                break
        message = message or entry["message"]
    message = message or messages.levels[level]
    return Notice(level, messages.fill(message, region, named), decided_by, reasons,
                  messages.calls(level, region, entry["calls"] if entry else ()), situation, named)

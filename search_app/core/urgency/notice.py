"""What an urgent-care notice is (its level, message, the judges that raised it, the numbers to call), how a
query is normalised before the rules and the messages read it, and how their data files are read."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Most severe first; a level's position is its rank.
LEVELS = ("emergency", "urgent", "advice")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
# Apostrophes vanish ("can't" -> "cant") so patterns never need to spell both forms.
_APOSTROPHES = str.maketrans("", "", "'\u2018\u2019\u02bc`\u00b4")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# A detector example may hold a slot ("{medicine}"): shown in words.
_SLOT = re.compile(r"\{([a-z]+)\}")
_SLOT_WORDS = {"medicine": "a medicine", "condition": "a condition"}


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """A data file's YAML; an unreadable or invalid file raises ``error`` with one line saying which and why."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from None


def normalise(query: str) -> str:
    """Lower case, accents and apostrophes dropped, every other non-alphanumeric run a single space."""
    text = unicodedata.normalize("NFKD", query)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.translate(_APOSTROPHES)
    return _NOT_WORD.sub(" ", text).strip()


def normalise_each(*texts: str) -> tuple[str, ...]:
    """``normalise`` of each text, in one call (the assessor reads the query and its respelled form)."""
    return tuple(normalise(text) for text in texts)


@dataclass(frozen=True)
class Call:
    """A number to tap: the emergency number, the non-emergency line, Poison Control or a crisis line."""

    kind: str       # emergency, urgent, poison or crisis
    label: str      # the button's words, e.g. "Call 999"
    number: str     # as shown, e.g. "1-800-222-1222"
    region: str     # uk or us

    @property
    def tel(self) -> str:
        """The ``tel:`` link: digits only."""
        return "tel:" + re.sub(r"[^0-9+]", "", self.number)

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "label": self.label, "number": self.number, "tel": self.tel,
                "region": self.region}


@dataclass(frozen=True)
class Reason:
    """What raised a notice: a rule (its id) or the detector (its nearest example's situation and similarity)."""

    source: str                        # "rule" or "detector"
    id: str                            # the rule's id, or "detector"
    level: str                         # the level this judge gave
    situation: str | None = None
    similarity: float | None = None    # detector: cosine similarity to the nearest example of its level
    probability: float | None = None   # detector: P(this level or a more severe one)
    example: str | None = None         # detector: that nearest example

    def explain(self) -> str:
        """One plain sentence saying why this judge raised a notice (the page's "why am I seeing this")."""
        if self.source == "rule":
            return f"Your search matches our written rule for {self.id.replace('-', ' ')}."
        example = _SLOT.sub(lambda m: _SLOT_WORDS.get(m.group(1), "something"), self.example or "")
        return (f"Your search reads like an example we wrote of a situation that needs this advice: "
                f"\u201c{example}\u201d (similarity {self.similarity:.2f}).")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("source", self.source), ("id", self.id), ("level", self.level),
                                  ("situation", self.situation), ("similarity", self.similarity),
                                  ("probability", self.probability), ("example", self.example)) if v is not None}


@dataclass(frozen=True)
class Notice:
    level: str
    message: str
    rule: str                                   # the rule whose verdict it is, or "detector"
    reasons: tuple[Reason, ...] = ()            # every judge that raised one, the deciding one first
    calls: tuple[Call, ...] = ()                # the buttons, most important first
    situation: str | None = None
    medicine: str | None = None                 # the medicine its message names, if one was chosen for it

    def to_json(self) -> dict[str, Any]:
        """The notice as the API shows it: level, message, why (``reasons``) and the numbers to call."""
        return {"level": self.level, "message": self.message, "reasons": [r.to_json() for r in self.reasons],
                "calls": [c.to_json() for c in self.calls]}

"""The search core's settings: a frozen, typed view of what a search reads, made once from resolved settings."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .matching import Thresholds
from .ranking import Weights


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """What searching reads: the index, the model that queries it, the limits of a request, ranking and verdicts."""

    index: str
    model: str
    backend: str
    model_cache: str
    batch_size: int
    default_k: int
    max_k: int
    max_query_chars: int
    weights: Weights
    thresholds: Thresholds
    emergency_region: str

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> SearchSettings:
        """The search core's view of resolved settings (``indexer.settings.resolve()``)."""
        weights = Weights(lexical=conf["weight_lexical"], name=conf["weight_name"], intent=conf["weight_intent"],
                          supporting=conf["weight_supporting"], heading=conf["weight_heading"],
                          section=conf["weight_section"], subject=conf["weight_subject"])
        thresholds = Thresholds(none_below=conf["match_none_below"], strong_from=conf["match_strong_from"],
                                known_below=conf["match_known_below"])
        return cls(index=conf["index"], model=conf["model"], backend=conf["backend"], model_cache=conf["model_cache"],
                   batch_size=conf["batch_size"], default_k=conf["default_k"], max_k=conf["max_k"],
                   max_query_chars=conf["max_query_chars"], weights=weights, thresholds=thresholds,
                   emergency_region=conf["emergency_region"])

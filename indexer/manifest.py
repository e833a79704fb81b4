"""manifest.json: how a build was made, and the checks that refuse a build that does not match."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .errors import IndexIncompatible
from .models import Article

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CATALOG = "passages.sqlite"
LEXICON = "lexicon.json"
BM25_DIR = "bm25"
REQUIRED_FILES = (VECTORS, CATALOG, LEXICON)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(article: Article) -> str:
    """Hash of everything about an article that reaches the index; equal hashes need no re-embedding."""
    payload = {"id": article.id, "title": article.title, "url": article.url,
               "sections": [asdict(s) for s in article.sections], "meta": article.meta}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def data_files(build_dir: Path) -> list[str]:
    """Every file of a build except the manifest, as paths relative to the build."""
    return sorted(str(p.relative_to(build_dir)) for p in build_dir.rglob("*") if p.is_file() and p.name != MANIFEST)


def write(build_dir: Path, manifest: dict[str, Any]) -> None:
    """Write manifest.json, adding the sha256 of every data file."""
    manifest = dict(manifest, format_version=FORMAT_VERSION,
                    files={name: sha256_file(build_dir / name) for name in data_files(build_dir)})
    (build_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")


def read(build_dir: Path) -> dict[str, Any]:
    """Read and parse manifest.json, refusing a missing or unreadable one."""
    path = build_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexIncompatible(f"{build_dir} has no {MANIFEST}; rebuild it with `python -m indexer build`") from None
    except (OSError, ValueError) as exc:
        raise IndexIncompatible(f"{path} is unreadable ({exc}); rebuild with `python -m indexer build`") from None
    if not isinstance(manifest, dict):
        raise IndexIncompatible(f"{path} is not a manifest object; rebuild with `python -m indexer build`")
    return manifest


def check(build_dir: Path, manifest: dict[str, Any], model: dict[str, Any] | None = None,
          checksums: bool = True) -> None:
    """Refuse a build whose format, model, dimension or files do not match, saying what to run."""
    def rebuild(flags: str = "") -> str:
        return f"rebuild it: `python -m indexer build SOURCE... --index {build_dir.parent.parent}{flags}`"

    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexIncompatible(f"index {build_dir} has format version {version}, this code reads "
                                f"{FORMAT_VERSION}; {rebuild()}")
    if model is not None:
        built = manifest.get("model", {})
        flags = f" --model {model['name']} --backend {model.get('backend')}"
        if built.get("dimension") != model["dimension"]:
            raise IndexIncompatible(f"index {build_dir} holds {built.get('dimension')}-dimensional vectors but the "
                                    f"model {model['name']} makes {model['dimension']}; {rebuild(flags)}")
        if built.get("fingerprint") != model["fingerprint"] or built.get("backend") != model.get("backend"):
            raise IndexIncompatible(f"index {build_dir} was built with model {built.get('name')} "
                                    f"({built.get('backend')}), not the configured {model['name']} "
                                    f"({model.get('backend')}); serve it with MEDSEARCH_MODEL={built.get('name')} "
                                    f"MEDSEARCH_BACKEND={built.get('backend')}, or {rebuild(flags)}")
    files = manifest.get("files", {})
    for name in sorted(set(REQUIRED_FILES) | set(files)):
        path = build_dir / name
        if not path.is_file():
            raise IndexIncompatible(f"index {build_dir} is missing {name}; {rebuild()}")
        if checksums and sha256_file(path) != files.get(name):
            raise IndexIncompatible(f"index {build_dir}: {name} does not match its checksum in {MANIFEST} "
                                    f"(corrupted or modified); {rebuild()}")

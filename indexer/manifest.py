"""manifest.json: how a build was made, written and read in this module only, and the checks that refuse a build.

A build's manifest is a typed ``Manifest``. Its ``recipe`` is what every component says of
itself (``describe()`` of the embedder, the chunker, the vector store, BM25 and the lexicon):
two builds with the same recipe and the same article fingerprints are the same index.
``manifest.sha256`` holds the digest of ``manifest.json`` and is written after it, so a
manifest edited or cut short after its build is refused like any other corrupted file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import IndexIncompatible
from .models import Article

# 4: headings.npz, the heading vectors of drug-label sections. 5: label tables as rectangular grids (merged
# cells filled in, empty cells kept, several header rows): a build of 4 shows dosing tables with values under
# the wrong columns, so it is refused until rebuilt. 6: a drug label's meta names its labeler (no longer the
# FDA as its publisher), repackaging, product, application numbers and NDCs: a build of 5 would credit its
# labels to the FDA and cite them without their application number. 7: the catalog's ``history`` table, the
# earlier versions of drug labels (`history.py`): a build of 6 has none, and its label pages would answer without.
# 8: passages of the same text stored once (`texts.py`): vectors and BM25 documents are numbered by distinct text,
# not by passage row, and the catalog's ``texts`` table maps one to the other; a build of 7 has no such table.
FORMAT_VERSION = 8
# What each format changed, said when an older build is refused.
FORMAT_CHANGES = {
    5: "drug-label tables as rectangular grids",
    6: "drug labels credited to their labeler, with application numbers and NDCs",
    7: "earlier versions of drug labels kept as history",
    8: "passages of the same text stored once: one vector and one BM25 document per distinct text",
}
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
VECTORS = "vectors.faiss"
CATALOG = "passages.sqlite"
LEXICON = "lexicon.json"
BM25_DIR = "bm25"
HEADINGS = "headings.npz"
REQUIRED_FILES = (VECTORS, CATALOG, LEXICON, HEADINGS)
NOT_DATA = (MANIFEST, MANIFEST_DIGEST)


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
               # ``vars``: ``asdict`` of a section of strings, without its deep copy of each (a cold build fingerprints
               # every label of a release).
               "sections": [vars(s) for s in article.sections], "meta": article.meta}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Counts:
    articles: int
    sections: int
    passages: int   # passage rows, each with its own article, section and position
    texts: int      # distinct texts among them (``texts.py``): the vectors and BM25 documents


@dataclass(frozen=True)
class Recipe:
    """What each component of a build says of itself; a change of any of them makes a new index."""

    model: dict[str, Any]        # Embedder.describe()
    chunking: dict[str, Any]     # ChunkSettings.describe()
    faiss_factory: str           # the vector store's factory string (chosen before the vectors exist)
    lexical: dict[str, Any]      # LexicalIndex.describe()
    lexicon: dict[str, Any]      # lexicon.describe(): recipe and name table

    def same_vectors(self, other: Recipe) -> bool:
        """True when passages and vectors of one build are valid in the other (same model and chunking)."""
        return self.model == other.model and self.chunking == other.chunking


@dataclass(frozen=True)
class Manifest:
    """One build: its recipe, what went in (article fingerprints), what came out (counts, files)."""

    build_id: str
    created: str
    code_version: str
    recipe: Recipe
    vector_index: dict[str, Any]             # VectorStore.describe() of the written store
    counts: Counts
    articles: dict[str, str]                 # article id -> fingerprint
    sources: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    engine: str = "local"                    # how vectors were computed; never part of the recipe
    normalized: bool = True
    metric: str = "inner_product"
    files: dict[str, str] = field(default_factory=dict)  # data file -> sha256, filled by ``write``
    format_version: int = FORMAT_VERSION

    @property
    def model(self) -> dict[str, Any]:
        return self.recipe.model

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str) -> Manifest:
        """A manifest from its JSON, refusing wrong or missing fields with a message naming them."""
        def bad(what: str) -> IndexIncompatible:
            return IndexIncompatible(f"{where}: {what}; rebuild it with `python -m indexer build`")

        if not isinstance(data, dict):
            raise bad("not a manifest object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:  # checked first: older builds have other fields
            since = [FORMAT_CHANGES[v] for v in sorted(FORMAT_CHANGES)
                     if isinstance(version, int) and not isinstance(version, bool) and version < v <= FORMAT_VERSION]
            raise bad(f"format version {version!r}, this code reads {FORMAT_VERSION}"
                      + (f" (since then: {'; '.join(since)})" if since else ""))
        _expect(data, {"build_id": str, "created": str, "code_version": str, "recipe": dict, "vector_index": dict,
                       "counts": dict, "articles": dict, "sources": list, "skipped": list, "engine": str,
                       "normalized": bool, "metric": str, "files": dict}, bad)
        recipe = data["recipe"]
        _expect(recipe, {"model": dict, "chunking": dict, "faiss_factory": str, "lexical": dict, "lexicon": dict},
                bad, "recipe.")
        _expect(recipe["model"], {"name": str, "dimension": int, "fingerprint": str, "backend": str}, bad,
                "recipe.model.")
        _expect(data["counts"], {"articles": int, "sections": int, "passages": int, "texts": int}, bad, "counts.")
        for name, mapping in (("articles", data["articles"]), ("files", data["files"])):
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
                raise bad(f"field {name!r} must map names to strings")
        if not all(isinstance(s, str) for s in data["sources"]):
            raise bad("field 'sources' must be a list of strings")
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known},
                      "recipe": Recipe(**{f.name: recipe[f.name] for f in fields(Recipe)}),
                      "counts": Counts(**{f.name: data["counts"][f.name] for f in fields(Counts)})})


def _expect(data: dict, types: dict[str, type], bad, prefix: str = "") -> None:
    for name, kind in types.items():
        value = data.get(name)
        if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            got = "missing" if name not in data else f"a {type(value).__name__}"
            raise bad(f"field {prefix + name!r} must be a {kind.__name__}, it is {got}")


def data_files(build_dir: Path) -> list[str]:
    """Every file of a build except the manifest and its digest, as paths relative to the build."""
    return sorted(str(p.relative_to(build_dir)) for p in build_dir.rglob("*")
                  if p.is_file() and p.name not in NOT_DATA)


def write(build_dir: Path, manifest: Manifest) -> Manifest:
    """Write manifest.json with the sha256 of every data file, then its own digest; returns what was written."""
    manifest = replace(manifest, format_version=FORMAT_VERSION,
                       files={name: sha256_file(build_dir / name) for name in data_files(build_dir)})
    (build_dir / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1, sort_keys=True), encoding="utf-8")
    (build_dir / MANIFEST_DIGEST).write_text(sha256_file(build_dir / MANIFEST) + "\n", encoding="ascii")
    return manifest


def read(build_dir: Path) -> Manifest:
    """Read, digest-check and parse manifest.json, refusing a missing, altered or ill-typed one."""
    path = build_dir / MANIFEST
    rebuild = "rebuild with `python -m indexer build`"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IndexIncompatible(f"{build_dir} has no {MANIFEST}; {rebuild}") from None
    except OSError as exc:
        raise IndexIncompatible(f"{path} is unreadable ({exc.strerror or exc}); {rebuild}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise IndexIncompatible(f"{path} is not valid JSON ({exc}); {rebuild}") from None
    if isinstance(data, dict) and data.get("format_version") == FORMAT_VERSION:
        try:
            recorded = (build_dir / MANIFEST_DIGEST).read_text(encoding="ascii").strip()
        except (OSError, UnicodeError):
            raise IndexIncompatible(f"{build_dir} has no readable {MANIFEST_DIGEST}; {rebuild}") from None
        if recorded != hashlib.sha256(raw).hexdigest():
            raise IndexIncompatible(f"{path} does not match its digest in {MANIFEST_DIGEST} "
                                    f"(edited or corrupted after the build); {rebuild}")
    return Manifest.from_json(data, str(path))


def check(build_dir: Path, manifest: Manifest, model: dict[str, Any] | None = None,
          checksums: bool = True) -> None:
    """Refuse a build whose model, dimension or files do not match, saying what to run."""
    def rebuild(flags: str = "") -> str:
        return f"rebuild it: `python -m indexer build SOURCE... --index {build_dir.parent.parent}{flags}`"

    if model is not None:
        built = manifest.model
        flags = f" --model {model['name']} --backend {model.get('backend')}"
        if built.get("dimension") != model["dimension"]:
            raise IndexIncompatible(f"index {build_dir} holds {built.get('dimension')}-dimensional vectors but the "
                                    f"model {model['name']} makes {model['dimension']}; {rebuild(flags)}")
        if built.get("fingerprint") != model["fingerprint"] and built.get("backend") == model.get("backend") \
                and built.get("name") == model["name"]:
            # The same settings, other vectors: other model files, or a medsearch that runs the backend otherwise.
            raise IndexIncompatible(f"index {build_dir} was built with model {model['name']} ({model.get('backend')}) "
                                    f"but by another version of medsearch or of the model files, whose vectors "
                                    f"differ (fingerprint {str(built.get('fingerprint'))[:12]}; this version makes "
                                    f"{str(model['fingerprint'])[:12]}); {rebuild()} (every passage is embedded "
                                    "again)")
        if built.get("fingerprint") != model["fingerprint"] or built.get("backend") != model.get("backend"):
            raise IndexIncompatible(f"index {build_dir} was built with model {built.get('name')} "
                                    f"({built.get('backend')}), not the configured {model['name']} "
                                    f"({model.get('backend')}); serve it with MEDSEARCH_MODEL={built.get('name')} "
                                    f"MEDSEARCH_BACKEND={built.get('backend')}, or {rebuild(flags)}")
    for name in sorted(set(REQUIRED_FILES) | set(manifest.files)):
        path = build_dir / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise IndexIncompatible(f"index {build_dir}: {MANIFEST} names a file outside the build ({name!r}); "
                                    f"{rebuild()}")
        if not path.is_file():
            raise IndexIncompatible(f"index {build_dir} is missing {name}; {rebuild()}")
        if checksums and sha256_file(path) != manifest.files.get(name):
            raise IndexIncompatible(f"index {build_dir}: {name} does not match its checksum in {MANIFEST} "
                                    f"(corrupted or modified); {rebuild()}")


def check_counts(build_dir: Path, manifest: Manifest, vectors: int, dimension: int, catalog: dict[str, int]) -> None:
    """Refuse a build whose vector store or catalog holds other counts than its manifest says."""
    rebuild = "rebuild it with `python -m indexer build`"
    expected = manifest.counts
    if catalog["passages"] != expected.passages:
        raise IndexIncompatible(f"index {build_dir}: manifest says {expected.passages} passages, the catalog "
                                f"holds {catalog['passages']}; {rebuild}")
    if vectors != expected.texts or catalog["texts"] != expected.texts:
        raise IndexIncompatible(f"index {build_dir}: manifest says {expected.texts} distinct texts, the vector "
                                f"store holds {vectors} and the catalog {catalog['texts']}; {rebuild}")
    if catalog["articles"] != expected.articles:
        raise IndexIncompatible(f"index {build_dir}: manifest says {expected.articles} articles, the catalog "
                                f"holds {catalog['articles']}; {rebuild}")
    if dimension != manifest.model.get("dimension"):
        raise IndexIncompatible(f"index {build_dir}: vectors have dimension {dimension}, manifest says "
                                f"{manifest.model.get('dimension')}; {rebuild}")

"""Build an index from article sources: load, chunk, embed, write a new build, publish it atomically."""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from . import __version__, builds
from . import lexicon as lexicons
from . import manifest as manifests
from .cache import EmbeddingCache
from .catalog import CatalogWriter
from .chunking import ChunkSettings, passages_for
from .embedding import Embedder
from .lexical import LexicalIndex
from .models import Article, Passage
from .sources import Skipped, iter_articles
from .store import DEFAULT_FACTORY, VectorStore

EMBED_GROUP = 256  # passages handed to the model at a time: bounds memory and paces progress
LEXICAL_RECIPE = {"kind": "bm25s", "method": "lucene", "k1": 1.2, "b": 0.75, "tokens": "english stopwords, snowball",
                  "document": "title: heading, text", "version": 1}


@dataclass
class BuildReport:
    """What a build did, for the CLI summary and exit status."""

    index_dir: str
    build_id: str = ""
    published: bool = False
    up_to_date: bool = False
    articles: int = 0
    sections: int = 0
    passages: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    error: str = ""

    @property
    def exit_code(self) -> int:
        """0 all indexed, 3 published (or already current) with skipped files, 1 nothing published."""
        if not (self.published or self.up_to_date):
            return 1
        return 3 if self.skipped else 0

    @property
    def passages_per_second(self) -> float:
        """Passages the model embedded per second (vectors reused from the cache not counted)."""
        return self.embedded / self.embed_seconds if self.embed_seconds else 0.0


def _load(sources: Sequence[str | Path], report: BuildReport) -> list[Article]:
    articles: list[Article] = []
    first_seen: dict[str, str] = {}
    for item in iter_articles(sources):
        if isinstance(item, Skipped):
            report.skipped.append(item)
        elif item.id in first_seen:
            report.skipped.append(Skipped(item.source_path, f"duplicate article id {item.id!r} "
                                                            f"(first loaded from {first_seen[item.id]})"))
        else:
            first_seen[item.id] = item.source_path
            articles.append(item)
    return articles


def _is_current(index_dir: Path, recipe: dict) -> str:
    """The live build id if it was made from exactly this recipe, else ''."""
    live = builds.live_build_or_none(index_dir)
    if live is None:
        return ""
    try:
        manifest = manifests.read(live)
        manifests.check(live, manifest, checksums=False)
    except Exception:
        return ""
    same = all(manifest.get(key) == value for key, value in recipe.items())
    return str(manifest.get("build_id", live.name)) if same else ""


def build_index(sources: Sequence[str | Path], index_dir: str | Path, embedder: Embedder,
                chunking: ChunkSettings | None = None, keep_builds: int = 3, force: bool = False,
                log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
                progress: bool | None = None) -> BuildReport:
    """Build and publish a new index of ``sources``; the live build is untouched unless this succeeds."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    report = BuildReport(index_dir=str(index_dir))
    chunking = chunking or ChunkSettings(max_seq_length=embedder.max_seq_length)
    lock = builds.lock(index_dir)
    try:
        builds.discard_staging(index_dir)
        articles = _load(sources, report)
        if not articles:
            report.error = "no article could be loaded from the sources"
            return report
        fingerprints = {a.id: manifests.fingerprint(a) for a in articles}
        recipe = {"model": embedder.describe(), "chunking": chunking.describe(), "articles": fingerprints,
                  "faiss_factory": DEFAULT_FACTORY, "lexical": LEXICAL_RECIPE,
                  "name_table": manifests.sha256_file(lexicons.BRANDS_FILE)}
        current = "" if force else _is_current(index_dir, recipe)
        if current:
            report.up_to_date, report.build_id = True, current
            report.articles = len(articles)
            report.sections = sum(len(a.sections) for a in articles)
            return report
        report.build_id = builds.new_build_id()
        staging = builds.staging_dir(index_dir, report.build_id)
        cache = EmbeddingCache(index_dir / "cache" / "embeddings.sqlite", embedder.fingerprint, embedder.dimension)
        try:
            _write_build(staging, articles, fingerprints, embedder, chunking, cache, report, log, progress)
            manifests.write(staging, {
                **recipe, "build_id": report.build_id, "code_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "normalized": True, "metric": "inner_product",
                "counts": {"articles": report.articles, "sections": report.sections, "passages": report.passages},
                "sources": [str(s) for s in sources],
                "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
            })
            builds.publish(index_dir, staging, report.build_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # the live build was never touched
            raise
        finally:
            cache.close()
        report.published = True
        builds.prune(index_dir, keep_builds)
        return report
    finally:
        lock.release()
        report.seconds = time.perf_counter() - started


def _write_build(staging: Path, articles: list[Article], fingerprints: dict[str, str], embedder: Embedder,
                 chunking: ChunkSettings, cache: EmbeddingCache, report: BuildReport, log: Callable[[str], None],
                 progress: bool | None) -> None:
    catalog = CatalogWriter(staging / manifests.CATALOG)
    vectors = VectorStore.create(embedder.dimension, DEFAULT_FACTORY)
    passages: list[Passage] = []
    for article in articles:
        catalog.add_article(article, fingerprints[article.id])
        passages.extend(passages_for(article, chunking, embedder.count_tokens))
    report.articles = len(articles)
    report.sections = sum(len(a.sections) for a in articles)
    report.passages = len(passages)
    log(f"embedding {len(passages)} passages from {len(articles)} articles")
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(passages), unit="passage", disable=not show, file=sys.stderr)
    embed_started = time.perf_counter()
    for start in range(0, len(passages), EMBED_GROUP):
        group = passages[start:start + EMBED_GROUP]
        vectors.add(_vectors_for(group, embedder, cache, report))
        catalog.add_passages(group)
        bar.update(len(group))
        if not show and (start // EMBED_GROUP) % 20 == 19:
            log(f"embedded {start + len(group)}/{len(passages)} passages")
    bar.close()
    report.embed_seconds = time.perf_counter() - embed_started
    vectors.save(staging / manifests.VECTORS)
    catalog.close()
    LexicalIndex.build(p.embed_text for p in passages).save(staging / manifests.BM25_DIR)
    lexicons.save(lexicons.build(articles), staging / manifests.LEXICON)


def _vectors_for(group: list[Passage], embedder: Embedder, cache: EmbeddingCache, report: BuildReport):
    """Vectors of a group of passages: from the cache where present, else embedded and cached."""
    keys = [cache.key(p.embed_text) for p in group]
    found = cache.get_many(keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing:
        fresh = embedder.encode([group[i].embed_text for i in missing])
        cache.put_many([keys[i] for i in missing], fresh)
        found.update({keys[i]: v for i, v in zip(missing, fresh)})
    report.embedded += len(missing)
    report.reused += len(group) - len(missing)
    return np.stack([found[key] for key in keys])

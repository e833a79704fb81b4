"""Build an index from article sources: load, chunk, embed, write a new build, publish it atomically.

Two streaming passes over the sources keep memory bounded by a window of passages, not by
the corpus: the first only fingerprints articles (to see what changed), the second writes
the build. Sources are read a unit at a time (a file, or one label's zip of a DailyMed zip),
each hashed from its bytes first: a unit the source cache knows (``source_cache.py``) is not
parsed by the first pass, nor by the second unless one of its articles is written anew or kept
as history. Articles whose fingerprint matches the live build carry their passages and
vectors over (unread ones copied row for row, ``carry.py``); new and changed ones are chunked
and embedded, reusing any vector in the embedding cache. The earlier versions of drug labels that the build sees, in its sources or
in the live build, are kept as its history (`history.py`), never embedded. The live build
is never touched; the new one is published by a pointer swap.
"""
from __future__ import annotations

import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import __version__, diskspace, headings, publishing, texts
from . import history as histories
from . import lexicon as lexicons
from . import manifest as manifests
from .cache import EmbeddingCache
from .carry import BuildCatalog
from .catalog import Catalog
from .chunking import Chunker, ChunkSettings
from .embedding import Embedder
from .engines import Engine, LocalEngine
from .errors import MedsearchError
from .lexical import LexicalIndex
from .models import Article, Passage
from .parsed_units import ParsedUnits
from .settings import default
from .source_cache import FILE as SOURCE_CACHE
from .source_cache import Seen, SourceCache, Yielded
from .sources import Skipped
from .sources.files import iter_units
from .sources.units import Unit
from .store import VectorStore, choose_factory
from .windows import Windows


@dataclass
class BuildReport:
    """What a build did, for the CLI summary, the JSON report and the exit status."""

    index_dir: str
    build_id: str = ""
    published: bool = False
    up_to_date: bool = False
    articles: int = 0
    sections: int = 0
    passages: int = 0
    texts: int = 0  # distinct texts among the passages: each embedded, stored and BM25-indexed once
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    from_cache: int = 0
    carried: int = 0
    shared: int = 0  # new passages whose text the build already stored: neither embedded nor looked up
    tokens_embedded: int = 0
    headings: int = 0           # drug-label section headings given a vector (headings.npz) ...
    headings_embedded: int = 0  # ... of which embedded by this build (the others were in the cache)
    skipped: list[Skipped] = field(default_factory=list)
    respelt: dict[str, dict[str, str]] = field(default_factory=dict)  # article id -> {title word: medicine}
    # Older versions of an article (a drug label's set id) that a newer one replaced:
    # {"id", "version", "path", "by_version", "by_path"}; not skipped, the build is complete.
    replaced: list[dict] = field(default_factory=list)
    history: int = 0  # earlier versions of drug labels kept in the build's history (never searched)
    # What loading left out of an article that was kept (a link that is not http or https).
    warnings: list[Skipped] = field(default_factory=list)
    units: int = 0                # parts of the sources read on their own (a file, a label's zip): ``sources/units.py``
    units_reused: int = 0         # ... whose articles the scan took from the source cache, unparsed
    units_parsed: int = 0         # ... parsed by the scan
    units_parsed_to_write: int = 0  # ... parsed again to write their new or changed articles (or history)
    articles_copied: int = 0      # unchanged articles whose rows the write copied from the live build, unparsed
    stages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    error: str = ""

    @property
    def exit_code(self) -> int:
        """0 all indexed, 3 published (or already current) with skipped files, 1 nothing published."""
        if not (self.published or self.up_to_date):
            return 1
        return 3 if self.skipped else 0

    @property
    def reused(self) -> int:
        return self.from_cache + self.carried

    @property
    def passages_per_second(self) -> float:
        """Passages the model embedded per second (reused vectors not counted)."""
        return self.embedded / self.embed_seconds if self.embed_seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_embedded / self.embed_seconds if self.embed_seconds else 0.0


@dataclass
class _Chosen:
    ordinal: int             # place among the articles of the sources, in stream order
    version: int | None      # ``meta["version"]`` when it is an integer (drug labels)
    path: str
    fingerprint: str
    sections: int
    label: bool = False      # a drug label: its earlier versions are kept as history
    # Every whole-number version of its id below ``version`` that the sources hold -> the place of its first copy.
    earlier: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Earlier:
    """An earlier version of a label that the build keeps as history, and where it is read from."""

    version: int
    ordinal: int | None = None  # its place among the articles of the sources; None: from the live build
    live: str = ""              # "current": the live build's indexed label; "history": the live build's history


def _yielded(unit: Unit, cache: SourceCache | None, reuse: bool, report: BuildReport,
             kept: tuple[ParsedUnits, int] | None = None) -> list[Seen | Skipped]:
    """What a unit yields, from the source cache when its bytes are known there (``reuse``), else by parsing it;
    ``kept``: where to keep what a parse yielded for the write, and the unit's place among the units."""
    report.units += 1
    if reuse and cache is not None and unit.digest is not None:
        known = cache.get(unit.path, unit.digest)
        if known is not None and unit.reuse(known.unpacked):
            report.units_reused += 1
            return known.items
    report.units_parsed += 1
    # A unit with a digest is a file or a label's zip, bounded in size; one without (a streamed openFDA file) is
    # neither held nor kept.
    parsed: list[Article | Skipped] = []
    held = parsed.append if kept is not None and unit.digest is not None else None
    items: list[Seen | Skipped] = []
    for item in unit.items():
        if held is not None:
            held(item)
        items.append(item if isinstance(item, Skipped) else Seen.of(item, manifests.fingerprint(item)))
    if unit.digest is not None and unit.cacheable:
        if cache is not None:
            cache.put(unit.path, unit.digest, Yielded(items, unit.unpacked))
        if kept is not None:
            kept[0].put(kept[1], unit.digest, parsed, unit.unpacked)
    return items


def _choose(sources: Sequence[str | Path], report: BuildReport, max_source_bytes: int,
            cache: SourceCache | None = None, reuse: bool = False,
            parsed: ParsedUnits | None = None) -> tuple[dict[str, _Chosen], list[str | None]]:
    """First pass: which occurrence of each article id goes into the build, and the digest of each unit read.

    The first occurrence of an id wins and later ones are skipped as duplicates, except between
    versions of one article (drug labels: one set id, integer ``meta["version"]``), where the
    highest version replaces the others wherever they come in the sources, and a copy with a
    version replaces one without; each replaced one goes to ``report.replaced``. A unit whose bytes
    the source cache knows is not parsed (``reuse``); every unit parsed is recorded there, and in ``parsed``
    for the write.
    """
    chosen: dict[str, _Chosen] = {}
    versions: dict[str, dict[int, int]] = {}  # label id -> every whole-number version seen -> its first place
    digests: list[str | None] = []
    ordinal = -1
    for unit in iter_units(sources, max_source_bytes):
        digests.append(unit.digest)
        kept = (parsed, len(digests) - 1) if parsed is not None else None
        for item in _yielded(unit, cache, reuse, report, kept):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            report.warnings += [Skipped(item.path, warning) for warning in item.warnings]
            ordinal += 1
            seen, version = chosen.get(item.id), item.version
            if version is not None and item.label:  # a label's version
                versions.setdefault(item.id, {}).setdefault(version, ordinal)
            # A copy without a readable version never beats one with a version, wherever it comes.
            if seen is not None and seen.version is None and version is not None:
                seen = None
                report.replaced.append({"id": item.id, "version": None, "path": chosen[item.id].path,
                                        "by_version": version, "by_path": item.path})
            if seen is not None and (version is None or seen.version is None or version == seen.version):
                report.skipped.append(Skipped(item.path, f"duplicate article id {item.id!r} "
                                                         f"(first loaded from {seen.path})"))
            elif seen is not None and version is not None and seen.version is not None and version < seen.version:
                report.replaced.append({"id": item.id, "version": version, "path": item.path,
                                        "by_version": seen.version, "by_path": seen.path})
            else:
                if seen is not None:
                    report.replaced.append({"id": item.id, "version": seen.version, "path": seen.path,
                                            "by_version": version, "by_path": item.path})
                chosen[item.id] = _Chosen(ordinal, version, item.path, item.fingerprint, item.sections, label=item.label)
    for article_id, seen_versions in versions.items():
        top = chosen[article_id]
        if top.label and top.version is not None:
            top.earlier.update({v: o for v, o in seen_versions.items() if v < top.version})
    return chosen, digests


def _plan_history(chosen: dict[str, _Chosen], live: Path | None, keep: int) -> dict[str, tuple[_Earlier, ...]]:
    """Which earlier versions of each label the build keeps, newest first, at most ``keep`` of them.

    Only versions below the one indexed are history. A version in the sources is read from them; one the sources
    lack, from the live build (its indexed label, else its history), so history survives incremental builds.
    """
    live_current: dict[str, int] = {}
    live_history: dict[str, list[int]] = {}
    if live is not None and keep:
        catalog = Catalog(live / manifests.CATALOG)
        try:
            live_current, live_history = catalog.label_current_versions(), catalog.history_versions()
        finally:
            catalog.close()
    plan: dict[str, tuple[_Earlier, ...]] = {}
    for article_id, top in chosen.items():
        if not top.label or top.version is None or not keep:
            continue
        found = {v: _Earlier(v, ordinal=o) for v, o in top.earlier.items()}
        old = live_current.get(article_id)
        if old is not None and old < top.version:
            found.setdefault(old, _Earlier(old, live="current"))
        for old in live_history.get(article_id, ()):
            if old < top.version:
                found.setdefault(old, _Earlier(old, live="history"))
        if found:
            plan[article_id] = tuple(found[v] for v in sorted(found, reverse=True)[:keep])
    return plan


def _same_history(plan: dict[str, tuple[_Earlier, ...]], live: Path) -> bool:
    """Whether the live build's history holds the planned versions, no more and no fewer (a version is a version,
    wherever it is read from)."""
    catalog = Catalog(live / manifests.CATALOG)
    try:
        held = catalog.history_versions()
    finally:
        catalog.close()
    return {a: [e.version for e in kept] for a, kept in plan.items()} == held


def _chosen_articles(plan: BuildPlan, earlier: Callable[[Article], None] | None = None,
                     report: BuildReport | None = None) -> Iterator[Article | Seen]:
    """Second pass: the occurrences ``_choose`` picked, in source order; ``earlier`` gets the earlier versions
    of labels that the plan keeps as history from the sources.

    A unit the source cache knows, none of whose articles is to be written anew or kept as history, is not
    parsed: its chosen articles come as ``Seen``, to be copied from the live build (``plan.can_carry``). A unit
    the scan parsed is read back from ``plan.parsed`` rather than parsed again.
    """
    ordinal, chosen = -1, plan.chosen
    kept = {e.ordinal for versions in plan.history.values() for e in versions} if earlier is not None else set()

    def needed(article_id: str, at: int) -> bool:
        """Whether the article at this place must be read: to be written anew, or kept as history."""
        top = chosen.get(article_id)
        return (top is not None and top.ordinal == at and not plan.can_carry(article_id)) or at in kept

    units = 0
    for unit in iter_units(plan.sources, plan.max_source_bytes):
        units += 1
        if units > len(plan.digests) or unit.digest != plan.digests[units - 1]:
            raise MedsearchError(f"{unit.path} changed while the build was reading it; nothing was published: "
                                 "run the build again once the sources are complete")
        known = (plan.cache.get(unit.path, unit.digest) if plan.reuse and plan.cache is not None
                 and unit.digest is not None else None)
        if known is not None:
            seen = [item for item in known.items if isinstance(item, Seen)]
            if not any(needed(item.id, ordinal + 1 + i) for i, item in enumerate(seen)) and unit.reuse(known.unpacked):
                for item in seen:
                    ordinal += 1
                    if item.id in chosen and chosen[item.id].ordinal == ordinal:
                        yield item
                continue
        again = plan.parsed.get(units - 1, unit.digest) if plan.parsed is not None else None
        if again is not None and unit.reuse(again[1]):
            items: Iterable[Article | Skipped] = again[0]
        else:
            items = unit.items()
            if report is not None:
                report.units_parsed_to_write += 1
        for parsed in items:
            if isinstance(parsed, Skipped):
                continue
            ordinal += 1
            if parsed.id in chosen and chosen[parsed.id].ordinal == ordinal:
                yield parsed
            elif earlier is not None and ordinal in kept:
                earlier(parsed)
    if units != len(plan.digests):
        raise MedsearchError("the sources changed while the build was reading them; nothing was published: "
                             "run the build again once the sources are complete")


def _replaced_in_live(live: Path, changed: list[str], chosen: dict[str, _Chosen]) -> list[dict]:
    """Versions of the live build that this build's newer (or older) versions of the same ids replace."""
    found = []
    catalog = Catalog(live / manifests.CATALOG)
    try:
        for article_id in changed:
            header = catalog.article_header(article_id)
            old = header.meta.get("version") if header is not None else None
            new = chosen[article_id].version
            if isinstance(old, int) and new is not None and old != new:
                found.append({"id": article_id, "version": old, "path": f"live build {live.name}",
                              "by_version": new, "by_path": chosen[article_id].path})
    finally:
        catalog.close()
    return found


def _live_manifest(index_dir: Path) -> tuple[Path, manifests.Manifest] | None:
    """The live build and its manifest, if there is a readable one."""
    live = publishing.live_build_or_none(index_dir)
    if live is None:
        return None
    try:
        manifest = manifests.read(live)
        manifests.check(live, manifest, checksums=False)
    except MedsearchError:
        return None
    return live, manifest


@dataclass(frozen=True)
class BuildPlan:
    """What one build writes: its sources, what each article is, where unchanged ones come from, how to embed."""

    sources: Sequence[str | Path]
    fingerprints: dict[str, str]           # article id -> fingerprint, for every article of the sources
    recipe: manifests.Recipe
    embedder: Embedder
    chunking: ChunkSettings
    window: int                            # passages gathered before embedding
    carry_from: Path | None = None         # a build whose passages and vectors are still valid
    carried: dict[str, str] = field(default_factory=dict)  # its article fingerprints
    chosen: dict[str, _Chosen] = field(default_factory=dict)  # which occurrence of each id is built
    history: dict[str, tuple[_Earlier, ...]] = field(default_factory=dict)  # earlier label versions kept
    history_from: Path | None = None       # the live build, where history the sources lack is read
    max_source_bytes: int = default("max_source_bytes")  # as in the first pass, so both read the same
    digests: list[str | None] = field(default_factory=list)  # of each unit, as the first pass read it
    cache: SourceCache | None = None       # what units yielded: units it knows are parsed only when needed
    parsed: ParsedUnits | None = None      # what the scan parsed, read back by the write
    reuse: bool = False                    # whether to trust it (not under --force)

    def can_carry(self, article_id: str) -> bool:
        return self.carry_from is not None and self.carried.get(article_id) == self.fingerprints[article_id]


def build_index(sources: Sequence[str | Path], index_dir: str | Path, embedder: Embedder,
                chunking: ChunkSettings | None = None, keep_builds: int = default("keep_builds"),
                force: bool = False, log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
                progress: bool | None = None, window: int = default("embed_window"),
                index_type: str = default("index_type"), engine: Engine | None = None,
                max_source_bytes: int = default("max_source_bytes"),
                report: BuildReport | None = None,
                keep_label_versions: int = default("keep_label_versions")) -> BuildReport:
    """Build and publish a new index of ``sources``; the live build is untouched unless this succeeds.

    ``engine`` computes the missing vectors (default: this process's embedder, window by window).
    ``keep_label_versions``: how many earlier versions of each drug label the build keeps as history.
    ``report`` is filled in as the build goes, so that a caller who passes one has it when the build fails.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    report = report if report is not None else BuildReport(index_dir=str(index_dir))
    chunking = chunking or ChunkSettings(max_seq_length=embedder.max_seq_length)
    engine = engine or LocalEngine(embedder)
    lock = publishing.lock(index_dir)
    sources_cache: SourceCache | None = None
    parsed: ParsedUnits | None = None
    try:
        publishing.discard_staging(index_dir)
        sources_cache = SourceCache(index_dir / "cache" / SOURCE_CACHE)
        try:
            parsed = ParsedUnits(index_dir / "cache")
        except OSError:  # nothing kept: the write parses again
            parsed = None
        chosen, digests = _choose(sources, report, max_source_bytes, sources_cache, reuse=not force, parsed=parsed)
        sources_cache.commit()
        fingerprints = {article_id: c.fingerprint for article_id, c in chosen.items()}
        sections = sum(c.sections for c in chosen.values())
        report.stages["scan"] = time.perf_counter() - started
        report.articles, report.sections = len(fingerprints), sections
        if not fingerprints:
            report.error = "no article could be loaded from the sources"
            return report
        # The passage count is known only after chunking; sections (one passage or more each) decide "auto".
        recipe = manifests.Recipe(model=embedder.describe(), chunking=chunking.describe(),
                                  faiss_factory=choose_factory(index_type, sections),
                                  lexical=LexicalIndex.describe(), lexicon=lexicons.describe())
        live = _live_manifest(index_dir)
        old_fingerprints = live[1].articles if live else {}
        report.added = sum(1 for a in fingerprints if a not in old_fingerprints)
        report.changed = sum(1 for a, f in fingerprints.items() if a in old_fingerprints and old_fingerprints[a] != f)
        report.removed = sum(1 for a in old_fingerprints if a not in fingerprints)
        report.unchanged = len(fingerprints) - report.added - report.changed
        if live is not None:
            report.replaced += _replaced_in_live(live[0], [a for a, f in fingerprints.items()
                                                           if a in old_fingerprints and old_fingerprints[a] != f], chosen)
        for item in report.replaced:
            log(f"article {item['id']}: version {item['version'] if item['version'] is not None else '(none)'} ({item['path']}) replaced by version "
                f"{item['by_version']} ({item['by_path']})")
        history = _plan_history(chosen, live[0] if live else None, keep_label_versions)
        if live is not None and live[1].recipe == recipe and not force and old_fingerprints == fingerprints \
                and _same_history(history, live[0]):
            report.up_to_date, report.build_id = True, live[1].build_id
            return report
        # Vectors and passages can be carried over from any build with the same model and chunking.
        carry = live is not None and live[1].recipe.same_vectors(recipe) and not force
        plan = BuildPlan(sources, fingerprints, recipe, embedder, chunking, window,
                         carry_from=live[0] if carry and live is not None else None, carried=old_fingerprints if carry else {},
                         chosen=chosen, max_source_bytes=max_source_bytes, history=history,
                         history_from=live[0] if live is not None else None, digests=digests,
                         cache=sources_cache, reuse=not force, parsed=parsed)
        report.build_id = publishing.new_build_id()
        cache = EmbeddingCache(index_dir / "cache" / "embeddings.sqlite", embedder.fingerprint, embedder.dimension)
        try:
            staging = publishing.staging_dir(index_dir, report.build_id)
        except BaseException:
            cache.close()
            raise
        try:
            # An engine may embed every missing passage ahead of the write (Ray: one job); the write then
            # finds those vectors in the cache and counts them as embedded.
            ahead = engine.prepare((p.embed_text for p in _fresh_passages(plan)), cache, report)
            vector_index = _write_build(staging, plan, cache, report, log, progress, engine, ahead)
            manifests.write(staging, manifests.Manifest(
                build_id=report.build_id, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                code_version=__version__, recipe=recipe, vector_index=vector_index,
                counts=manifests.Counts(report.articles, report.sections, report.passages, report.texts), articles=fingerprints,
                sources=[str(s) for s in sources],
                skipped=[{"path": s.path, "reason": s.reason} for s in report.skipped], engine=engine.name))
            publishing.publish(index_dir, staging, report.build_id)
        except BaseException as exc:
            written = diskspace.size_of(staging)
            shutil.rmtree(staging, ignore_errors=True)  # the live build was never touched
            if diskspace.is_full(exc, index_dir):  # whichever library was writing (SQLite, FAISS, numpy): one line
                raise diskspace.build_disk_full(index_dir, exc, written, live[0] if live else None) from None
            raise
        finally:
            cache.close()
        report.published = True
        pruned = publishing.prune(index_dir, keep_builds)
        for name, reason in pruned.failed.items():  # the build is live; an old one left behind is said, not hidden
            report.warnings.append(Skipped(str(index_dir / publishing.BUILDS / name), f"old build not removed: {reason}"))
        return report
    finally:
        try:
            if sources_cache is not None:
                sources_cache.close()
        finally:
            if parsed is not None:
                parsed.close()
            lock.release()
        report.seconds = time.perf_counter() - started
        report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _carry_history(plan: BuildPlan, catalog: BuildCatalog) -> None:
    """Write the history versions the sources lack from the live build."""
    from_live = [(article_id, e) for article_id, kept in plan.history.items() for e in kept if e.ordinal is None]
    if from_live and plan.history_from is not None:
        old = Catalog(plan.history_from / manifests.CATALOG)
        try:
            for article_id, e in from_live:
                if e.live == "current":
                    version = old.label_version(article_id)
                    if version is not None:
                        catalog.add_history(version)
                else:
                    row = old.history_row(article_id, e.version)
                    if row is not None:
                        catalog.copy_history(row)
        finally:
            old.close()


def _fresh_passages(plan: BuildPlan) -> Iterator[Passage]:
    """The passages the write will chunk anew (articles not carried over) and embed: each the first of its text,
    as the write will chunk them."""
    seen: set[bytes] = set()
    chunker, keys = Chunker(plan.chunking, plan.embedder.count_tokens), texts.remembering()
    old = Catalog(plan.carry_from / manifests.CATALOG) if plan.carry_from is not None else None
    try:
        for article in _chosen_articles(plan):
            if old is not None and plan.can_carry(article.id):  # carried texts come first where they come first
                header = old.article_header(article.id)
                medicine = texts.subject(header.meta) if header is not None else ""
                seen.update(texts.key(medicine, p.heading, p.text) for p, _ in old.passages_to_carry(article.id))
                continue
            if isinstance(article, Seen):  # never: an article is left unread only when it is carried
                raise MedsearchError(f"article {article.id} was not read from {article.path}")
            medicine = texts.subject(article.meta)
            for passage in chunker.passages(article):
                text_key = keys(medicine, passage.heading, passage.text)[0]
                if text_key not in seen:
                    seen.add(text_key)
                    yield passage
    finally:
        if old is not None:
            old.close()


def _write_build(staging: Path, plan: BuildPlan, cache: EmbeddingCache, report: BuildReport,
                 log: Callable[[str], None], progress: bool | None, engine: Engine | None = None,
                 ahead: int = 0) -> dict:
    """Write the catalog, vectors, BM25 and lexicon of ``plan`` into ``staging``; returns the vector store's description."""
    stage = time.perf_counter()
    embedder = plan.embedder
    carry_from = plan.carry_from
    catalog = BuildCatalog(staging / manifests.CATALOG, carry_from / manifests.CATALOG if carry_from else None)
    vectors = VectorStore.create(embedder.dimension, plan.recipe.faiss_factory)
    old_vectors = VectorStore.load(carry_from / manifests.VECTORS, "") if carry_from else None
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=report.articles, unit="article", disable=not show, file=sys.stderr)
    done = {"passages": 0, "articles": 0}

    def on_flush(count: int) -> None:
        done["passages"] += count
        if not show:  # no progress bar off a terminal: one plain line per window instead
            log(f"indexed {done['passages']} passages ({report.embedded} embedded, {report.reused} reused), "
                f"{done['articles']}/{report.articles} articles, {time.perf_counter() - stage:.0f}s")

    pending = Windows(vectors, catalog, embedder, cache, report, on_flush, plan.window, engine, ahead, old_vectors)
    chunker = Chunker(plan.chunking, embedder.count_tokens)
    names: dict[str, set[str]] = {}
    log(f"indexing {report.articles} articles: {report.added} new, {report.changed} changed, "
        f"{report.unchanged} unchanged, {report.removed} removed")

    def keep_earlier(article: Article) -> None:
        version = histories.label_version(article)
        if version is not None:
            catalog.add_history(version)

    try:
        for item in _chosen_articles(plan, keep_earlier, report):
            if isinstance(item, Seen):  # unchanged, its source unread: copied from the live build
                if carry_from is None or not plan.can_carry(item.id):
                    raise MedsearchError(f"article {item.id} was not read from {item.path}, yet the live build cannot "
                                         "give it")
                article = catalog.copy_article(item.id, item.path)
                if article is None:
                    raise MedsearchError(f"article {item.id} is missing from the live build's catalog {carry_from}; "
                                         "rebuild with --force")
            else:
                article = item
                catalog.add_article(article, plan.fingerprints[article.id])
            for name in lexicons.article_names(article):
                names.setdefault(name, set()).add(article.id)
            respelt = lexicons.respellings(article)
            if respelt:
                report.respelt[article.id] = respelt
                log(f"article {article.id}: title read as naming " + ", ".join(
                    f"{right} (spelt {wrong!r})" for wrong, right in respelt.items()))
            medicine = texts.subject(article.meta)
            if carry_from is not None and plan.can_carry(article.id):
                # Each passage brings its text's vector along, whichever copy it was embedded from: a label whose
                # repackaged copy is removed (or came first) is not embedded again.
                for carried in catalog.live_passages(article.id, article.title):
                    pending.add(carried, medicine)
            else:
                for passage in chunker.passages(article):
                    pending.add(passage, medicine)
            done["articles"] += 1
            bar.update(1)
        pending.finish()
    finally:  # the embedding thread stops with the write, whatever ends it
        pending.close()
    bar.close()
    _carry_history(plan, catalog)
    report.history = catalog.history
    report.passages, report.texts = catalog.rows, len(vectors)
    report.stages["chunk_embed_write"] = time.perf_counter() - stage
    stage = time.perf_counter()
    vectors.save(staging / manifests.VECTORS)
    report.articles_copied = catalog.copied
    catalog.close()
    LexicalIndex.build_from_tokens(pending.lexical_docs).save(staging / manifests.BM25_DIR)
    lexicons.save({"names": {n: sorted(ids) for n, ids in sorted(names.items())}}, staging / manifests.LEXICON)
    report.stages["lexical_and_save"] = time.perf_counter() - stage
    stage = time.perf_counter()
    report.headings, report.headings_embedded = headings.write(staging, staging / manifests.CATALOG, embedder, cache)
    report.stages["headings"] = time.perf_counter() - stage
    return vectors.describe()

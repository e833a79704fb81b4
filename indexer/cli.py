"""`python -m indexer`: a thin click layer turning flags into calls of the core."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import settings as settings_mod
from .embedding import BACKENDS
from .errors import MedsearchError


def _settings(**explicit) -> dict:
    return settings_mod.resolve(explicit)


@click.group()
def main() -> None:
    """Build and check medsearch indexes."""


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=settings_mod.BY_NAME["index"].help)
@click.option("--model", help=settings_mod.BY_NAME["model"].help)
@click.option("--backend", type=click.Choice(BACKENDS), help=settings_mod.BY_NAME["backend"].help)
@click.option("--chunk-tokens", type=int, help=settings_mod.BY_NAME["chunk_tokens"].help)
@click.option("--overlap-tokens", type=int, help=settings_mod.BY_NAME["overlap_tokens"].help)
@click.option("--batch-size", type=int, help=settings_mod.BY_NAME["batch_size"].help)
@click.option("--keep-builds", type=int, help=settings_mod.BY_NAME["keep_builds"].help)
@click.option("--embed-window", type=int, help=settings_mod.BY_NAME["embed_window"].help)
@click.option("--index-type", type=click.Choice(["auto", "flat", "hnsw"]), help=settings_mod.BY_NAME["index_type"].help)
@click.option("--force", is_flag=True, help="Rebuild even when the live build already matches the sources.")
@click.option("--report", "report_file", type=click.Path(path_type=Path), help="Also write the summary as JSON here.")
def build(sources, index_dir, model, backend, chunk_tokens, overlap_tokens, batch_size, keep_builds, embed_window,
          index_type, force, report_file):
    """Index SOURCES (files or folders) into a new build and publish it.

    Exit status: 0 all sources indexed, 3 published but some files skipped, 1 nothing published.
    """
    from .pipeline import build_index
    from .chunking import ChunkSettings
    from .embedding import Embedder

    conf = _settings(index=index_dir, model=model, backend=backend, chunk_tokens=chunk_tokens,
                     overlap_tokens=overlap_tokens, batch_size=batch_size, keep_builds=keep_builds,
                     embed_window=embed_window, index_type=index_type)
    try:
        embedder = Embedder(conf["model"], batch_size=conf["batch_size"], backend=conf["backend"],
                            model_cache=conf["model_cache"])
        chunking = ChunkSettings(conf["chunk_tokens"], conf["overlap_tokens"], embedder.max_seq_length)
        report = build_index(sources, conf["index"], embedder, chunking, keep_builds=conf["keep_builds"],
                             force=force, window=conf["embed_window"], index_type=conf["index_type"])
    except FileNotFoundError as exc:
        _fail(str(exc))
    except MedsearchError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted: nothing was published and the live index is untouched", code=130)
    _summarise(report)
    if report_file:
        report_file.write_text(json.dumps(_report_json(report), indent=1), encoding="utf-8")
    sys.exit(report.exit_code)


def _report_json(report) -> dict:
    return {"index": report.index_dir, "build_id": report.build_id, "published": report.published,
            "up_to_date": report.up_to_date, "articles": report.articles, "sections": report.sections,
            "passages": report.passages,
            "articles_added": report.added, "articles_changed": report.changed, "articles_removed": report.removed,
            "articles_unchanged": report.unchanged,
            "passages_embedded": report.embedded, "passages_from_cache": report.from_cache,
            "passages_carried_over": report.carried,
            "seconds": round(report.seconds, 3), "stages": {k: round(v, 3) for k, v in report.stages.items()},
            "embed_seconds": round(report.embed_seconds, 3),
            "passages_per_second": round(report.passages_per_second, 2),
            "tokens_per_second": round(report.tokens_per_second, 1),
            "peak_rss_mb": round(report.peak_rss_mb, 1),
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
            "respelt_titles": report.respelt,
            "error": report.error, "exit_code": report.exit_code}


def _summarise(report) -> None:
    out = click.echo
    for item in report.skipped:
        out(f"skipped {item.path}: {item.reason}", err=True)
    if report.up_to_date:
        out(f"index {report.index_dir} is up to date (build {report.build_id}, {report.articles} articles); "
            "nothing to do")
    elif report.published:
        out(f"published build {report.build_id} to {report.index_dir}: {report.articles} articles, "
            f"{report.sections} sections, {report.passages} passages ({report.embedded} embedded, "
            f"{report.from_cache} from the cache, {report.carried} carried over; articles {report.added} new, "
            f"{report.changed} changed, {report.removed} removed), {len(report.skipped)} skipped files, "
            f"{report.seconds:.1f}s ({report.passages_per_second:.1f} passages/s embedding)")
    else:
        out(f"nothing published: {report.error or 'build failed'}; the live index is untouched", err=True)


@main.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=settings_mod.BY_NAME["index"].help)
def verify(index_dir):
    """Check the live build's manifest, checksums and counts; exit 1 with the reason if anything is off."""
    from .index import SearchIndex

    conf = _settings(index=index_dir)
    try:
        index = SearchIndex.open(Path(conf["index"]))
    except MedsearchError as exc:
        _fail(str(exc))
    click.echo(f"ok: build {index.build_id}, {len(index)} passages, {index.manifest['counts']['articles']} articles")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)

"""`python -m search_app`: serve the site or evaluate retrieval quality."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from indexer import settings as settings_mod
from indexer.embedding import BACKENDS
from indexer.errors import MedsearchError


@click.group()
def main() -> None:
    """Serve and evaluate medsearch."""


@main.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=settings_mod.BY_NAME["index"].help)
@click.option("--model", help=settings_mod.BY_NAME["model"].help)
@click.option("--backend", type=click.Choice(BACKENDS), help=settings_mod.BY_NAME["backend"].help)
@click.option("--host", help=settings_mod.BY_NAME["host"].help)
@click.option("--port", type=int, help=settings_mod.BY_NAME["port"].help)
def serve(index_dir, model, backend, host, port):
    """Serve the search site (development server, threaded)."""
    from . import create_app

    try:
        app = create_app({"index": index_dir, "model": model, "backend": backend})
    except MedsearchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    conf = settings_mod.resolve({"host": host, "port": port})
    app.run(host=conf["host"], port=conf["port"], debug=False, threaded=True)


@main.command("eval")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=settings_mod.BY_NAME["index"].help)
@click.option("--queries", "queries_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Queries JSONL: id, query, relevant [{article_id, section_id}].")
@click.option("--model", help=settings_mod.BY_NAME["model"].help)
@click.option("--backend", type=click.Choice(BACKENDS), help=settings_mod.BY_NAME["backend"].help)
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 100), help="Results retrieved per query.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True,
              help="Ranking to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate_cmd(index_dir, queries_file, model, backend, k, mode, as_json):
    """Section-level recall@1/5/10, MRR@10 and nDCG@10 of the search over a queries file."""
    from .evaluation import evaluate, load_queries
    from .ranking import open_searcher

    conf = settings_mod.resolve({"index": index_dir, "model": model, "backend": backend})
    try:
        queries = load_queries(queries_file)
        searcher = open_searcher(conf)
    except MedsearchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    metrics = evaluate(queries, lambda q, n: [(h.passage.article_id, h.passage.section_id)
                                              for h in searcher.search(q, n, mode=mode).hits], k=k)
    if as_json:
        click.echo(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            click.echo(f"{name:<10} {value}")

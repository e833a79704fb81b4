"""`python -m search_app`: serve the site or evaluate retrieval quality."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from indexer.cli import Group, resolve_flags, setting_options
from indexer.errors import MedsearchError

from .core.evaluation import DEPTH
from .core.ranking import MODES


@click.group(cls=Group)
def main() -> None:
    """Serve and evaluate medsearch."""


@main.command()
@setting_options("index", "model", "backend", "host", "port", "threads")
@click.option("--dev", is_flag=True, help="Flask's development server with its reloader (restarts on code changes).")
def serve(dev, **flags):
    """Serve the search site: gunicorn, one worker (the production server), or Flask's with --dev."""
    conf = resolve_flags(flags)
    from .web import server

    try:
        (server.run_dev if dev else server.run)(conf)
    except MedsearchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command("eval")
@setting_options("index")
@click.option("--queries", "queries_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Queries JSONL: id, query, relevant [{article_id, section_id}].")
@setting_options("model", "backend")
@click.option("--k", default=DEPTH, show_default=True, type=click.IntRange(1, 100),
              help="Depth of the metrics: results retrieved per query; metrics go to rank k at most.")
@click.option("--mode", type=click.Choice(MODES), default=MODES[0], show_default=True, help="Ranking to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate_cmd(queries_file, k, mode, as_json, **flags):
    """Section-level recall@1/5/10, MRR@10 and nDCG@10 of the search over a queries file (to depth k)."""
    conf = resolve_flags(flags)
    from .core.evaluation import evaluate, load_queries
    from .core.ranking import open_searcher
    from .core.settings import SearchSettings

    try:
        queries = load_queries(queries_file)
        searcher = open_searcher(SearchSettings.from_conf(conf))
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

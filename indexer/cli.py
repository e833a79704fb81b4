"""`python -m indexer`: a thin click layer turning flags into calls of the core.

Options that set a setting are generated from the registry (``indexer.settings``): its flag,
help, default and allowed values are declared there once. Every mistake on the command line
or in the settings is one line, ``error: ...``, and exit status 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import settings as settings_mod
from .errors import MedsearchError
from .settings import BadSetting, BuildSettings


class Group(click.Group):
    """A click group whose usage errors and bad settings print one line, ``error: ...``, and exit 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.exceptions.NoArgsIsHelpError as exc:  # the group alone: its help, as click prints it
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # usage errors: missing argument, unknown option, bad flag value
            click.echo(f"error: {exc.format_message()} (see --help)", err=True)
            sys.exit(exc.exit_code)
        except BadSetting as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        if standalone_mode:
            sys.exit(code or 0)
        return code


def setting_options(*names: str):
    """Click options for these settings: flag, help and allowed values from the registry; unset flags stay None.

    Values are checked by the registry, not by click, so that a bad flag reads like a bad environment variable.
    """
    def decorate(command):
        for name in reversed(names):
            s = settings_mod.setting(name)
            shown = s.shown_default if s.shown_default is not None else s.default
            help_text = f"{s.help} [{s.env}; default: {shown if shown != '' else '(empty)'}]"
            command = click.option(s.flag, name, default=None, metavar=s.metavar(), help=help_text)(command)
        return command
    return decorate


def resolve_flags(flags: dict) -> dict:
    """All settings, with the flags given on the command line over the environment and config file."""
    return settings_mod.resolve(flags, source="flag")


@click.group(cls=Group)
def main() -> None:
    """Build and check medsearch indexes."""


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@setting_options("index", "model", "backend", "chunk_tokens", "overlap_tokens", "batch_size", "keep_builds",
                 "keep_label_versions", "embed_window", "index_type", "max_source_bytes", "engine", "ray_address",
                 "ray_actors")
@click.option("--force", is_flag=True, help="Rebuild even when the live build already matches the sources.")
@click.option("--report", "report_file", type=click.Path(path_type=Path), help="Also write the summary as JSON here.")
def build(sources, force, report_file, **flags):
    """Index SOURCES (files or folders) into a new build and publish it.

    Exit status: 0 all sources indexed, 3 published but some files skipped, 1 nothing published,
    2 a bad flag or setting.
    """
    settings = BuildSettings.from_conf(resolve_flags(flags))
    from . import diskspace
    from .chunking import ChunkSettings
    from .embedding import Embedder
    from .engines import check_engine, open_engine
    from .pipeline import BuildReport, build_index

    report = BuildReport(index_dir=settings.index)
    try:
        check_engine(settings.engine, settings.backend)  # before the model loads: a missing Ray is said at once
        embedder = Embedder(settings.model, batch_size=settings.batch_size, backend=settings.backend,
                            model_cache=settings.model_cache)
        chunking = ChunkSettings(settings.chunk_tokens, settings.overlap_tokens, embedder.max_seq_length)
        with open_engine(settings.engine, embedder, settings.ray_address, settings.ray_actors,
                         log=lambda line: click.echo(line, err=True)) as engine:
            build_index(sources, settings.index, embedder, chunking, keep_builds=settings.keep_builds,
                        force=force, window=settings.embed_window, index_type=settings.index_type,
                        max_source_bytes=settings.max_source_bytes, engine=engine, report=report,
                        keep_label_versions=settings.keep_label_versions)
    except KeyboardInterrupt:
        _fail("interrupted: nothing was published and the live index is untouched", code=130)
    except (MedsearchError, OSError) as exc:  # a folder that cannot be written, a full disk: one line, no traceback
        if isinstance(exc, OSError) and diskspace.is_full(exc):  # outside the index: the model cache, the sources' disk
            exc = diskspace.disk_full(exc.filename or settings.index, exc, "the build needs more room there than is "
                                      "left", f"free some space and build again; {diskspace.UNTOUCHED}")
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        else:
            message = str(exc)
        report.error = message
        click.echo(f"error: {message}", err=True)
        if report_file:  # what the build did before it failed, with the reason
            _write_report(report, report_file)
        sys.exit(1)
    _summarise(report)
    if report_file:
        _write_report(report, report_file)
    sys.exit(report.exit_code)


def _write_report(report, path: Path) -> None:
    """The JSON report, to ``path``; to stderr, on one line, when it cannot be written there (a full disk)."""
    text = json.dumps(_report_json(report), indent=1)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        try:
            path.unlink(missing_ok=True)  # no half-written report left behind
        except OSError:
            pass
        click.echo(f"warning: the report could not be written to {path} ({exc.strerror or exc}); here it is:",
                   err=True)
        click.echo(json.dumps(_report_json(report)), err=True)


def _report_json(report) -> dict:
    return {"index": report.index_dir, "build_id": report.build_id, "published": report.published,
            "up_to_date": report.up_to_date, "articles": report.articles, "sections": report.sections,
            "passages": report.passages, "texts": report.texts,
            "articles_added": report.added, "articles_changed": report.changed, "articles_removed": report.removed,
            "articles_unchanged": report.unchanged,
            "passages_embedded": report.embedded, "passages_from_cache": report.from_cache,
            "passages_carried_over": report.carried, "passages_sharing_a_text": report.shared,
            "label_headings": report.headings, "label_headings_embedded": report.headings_embedded,
            "source_units": report.units, "source_units_reused": report.units_reused,
            "source_units_parsed": report.units_parsed, "source_units_parsed_to_write": report.units_parsed_to_write,
            "articles_copied": report.articles_copied,
            "seconds": round(report.seconds, 3), "stages": {k: round(v, 3) for k, v in report.stages.items()},
            "embed_seconds": round(report.embed_seconds, 3),
            "passages_per_second": round(report.passages_per_second, 2),
            "tokens_per_second": round(report.tokens_per_second, 1),
            "peak_rss_mb": round(report.peak_rss_mb, 1),
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
            "warnings": [{"path": w.path, "warning": w.reason} for w in report.warnings],
            "respelt_titles": report.respelt,
            "replaced_versions": report.replaced,
            "label_versions_kept": report.history,
            "error": report.error, "exit_code": report.exit_code}


def _summarise(report) -> None:
    out = click.echo
    for item in report.skipped:
        out(f"skipped {item.path}: {item.reason}", err=True)
    for item in report.warnings:
        out(f"warning {item.path}: {item.reason}", err=True)
    if report.up_to_date:
        out(f"index {report.index_dir} is up to date (build {report.build_id}, {report.articles} articles; "
            f"{report.units_parsed} of {report.units} source files or label zips parsed, the others known "
            "unchanged); nothing to do")
    elif report.published:
        out(f"published build {report.build_id} to {report.index_dir}: {report.articles} articles, "
            f"{report.sections} sections, {report.passages} passages of {report.texts} distinct texts "
            f"({report.embedded} embedded, {report.from_cache} from the cache, {report.carried} carried over, "
            f"{report.shared} sharing a stored text; articles {report.added} new, "
            f"{report.changed} changed, {report.removed} removed; {report.articles_copied} copied unread from the "
            f"live build), {len(report.skipped)} skipped files, "
            f"{report.seconds:.1f}s ({report.passages_per_second:.1f} passages/s embedding)")
    else:
        out(f"nothing published: {report.error or 'build failed'}; the live index is untouched", err=True)


@main.command()
@setting_options("index")
def verify(**flags):
    """Check the live build's manifest, checksums and counts; exit 1 with the reason if anything is off."""
    settings = BuildSettings.from_conf(resolve_flags(flags))
    from .index import SearchIndex

    try:
        index = SearchIndex.open(Path(settings.index))
    except MedsearchError as exc:
        _fail(str(exc))
    click.echo(f"ok: build {index.build_id}, {len(index)} passages, {index.manifest.counts.articles} articles")


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table of settings of docs/settings.md instead.")
def settings_cmd(markdown):
    """List every setting with its value here (after config file and environment) and where it came from."""
    if markdown:
        click.echo(settings_mod.markdown_table(), nl=False)
        return
    values = settings_mod.resolve()
    for s in settings_mod.every_setting():
        click.echo(f"{s.env:<34} {values[s.name]!s:<24} {s.allowed()}")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)

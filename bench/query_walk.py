"""The walk of one query through the code (issue 27): which modules of this project it stays in, in order.

    .venv/bin/python bench/query_walk.py [--index var/index] [--q "can amitriptyline cause cramps"] [--web]

Traces one search (after a warm-up search, so that nothing is loaded on the way) with ``sys.setprofile``: every
call and return in a file of ``indexer/`` or ``search_app/`` moves the walk into that file's module; consecutive
moves within one module are one stay. Prints the stays in order, how many there are, how many modules, how
many stays return to a module already left, and how often each module is entered (called from another module:
the issue's target is one entry each, one way down and one way up). ``--web`` asks through the Flask test client (GET /api/v1/search),
so the walk starts in the view; without it, it starts at ``search.run``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import ROOT

PACKAGES = (str(ROOT / "indexer") + "/", str(ROOT / "search_app") + "/")


def module_of(filename: str) -> str | None:
    if not filename.startswith(PACKAGES):
        return None
    return str(Path(filename).relative_to(ROOT).with_suffix("")).replace("/", ".")


def walk(ask) -> tuple[list[str], dict[str, int]]:
    """The stays of one call of ``ask``, in order, and how often each module was entered: called from another
    module of the project (its way down; each entry has one way up)."""
    stays: list[str] = []
    entries: dict[str, int] = {}

    def profile(frame, event, arg):
        if event not in ("call", "return"):
            return
        module = module_of(frame.f_code.co_filename)
        caller = frame.f_back
        calling = module_of(caller.f_code.co_filename) if caller is not None else None
        if event == "call" and module and calling and calling != module:
            entries[module] = entries.get(module, 0) + 1
        if event == "return":  # back in the caller's module
            module = calling
        if module and (not stays or stays[-1] != module):
            stays.append(module)

    sys.setprofile(profile)
    try:
        ask()
    finally:
        sys.setprofile(None)
    return stays, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=str(ROOT / "var" / "index"))
    parser.add_argument("--q", default="can amitriptyline cause cramps")
    parser.add_argument("--web", action="store_true", help="ask through the Flask app's /api/v1/search")
    parser.add_argument("--path", action="store_true", help="print every stay, in order")
    args = parser.parse_args()
    if args.web:
        from search_app import create_app

        client = create_app({"index": args.index, "TESTING": True}).test_client()

        def ask():
            assert client.get("/api/v1/search", query_string={"q": args.q}).status_code == 200
    else:
        from indexer import settings
        from search_app.core import search, urgency
        from search_app.core.query import parse
        from search_app.core.ranking import open_searcher
        from search_app.core.settings import SearchSettings

        conf = SearchSettings.from_conf(settings.resolve({"index": args.index}))
        searcher = open_searcher(conf)
        notices = urgency.load(conf, searcher.embedder)

        def ask():
            search.run(parse({"q": args.q}, conf), searcher, notices)
    ask()  # warm-up: caches filled, lazy imports done
    stays, entries = walk(ask)
    seen: set[str] = set()
    returns = 0
    for n, module in enumerate(stays):
        if module in seen and stays[n - 1] != module:
            returns += 1
        seen.add(module)
    if args.path:
        print(" -> ".join(stays))
    counts: dict[str, int] = {}
    for module in stays:
        counts[module] = counts.get(module, 0) + 1
    for module, n in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {n:5} stays in {module}, entered {entries.get(module, 0)} times")
    again = {m: n for m, n in entries.items() if n > 1}
    print(f"{len(stays)} stays in {len(seen)} modules, {returns} returns to a module already left; "
          f"{len(again)} modules entered more than once ({sum(again.values())} entries)")


if __name__ == "__main__":
    main()

"""Duplicates stored and shown once (issue 29): how much a build shrinks, and what a page shows, against another checkout.

    .venv/bin/python bench/dailymed_like.py --labels 50 --seed 1 --out bench/out/dailymed-like-50
    git worktree add /tmp/dedup-base <commit before issue 29>; ln -s $PWD/.venv /tmp/dedup-base/.venv
    .venv/bin/python bench/dedup.py bench/out/dailymed-like-50/release --base /tmp/dedup-base

Builds the sources with this checkout's code and, with ``--base``, with another checkout's (each with its own
code on ``PYTHONPATH``, this virtualenv, a fresh index under ``--out``), then prints for each build: passage
rows, vectors, BM25 documents, the share of rows that point at a text stored for another row, the size of each
file of the build, and, for a few label queries with ``fold=off`` and ``fold=on``, how many of the top 10
results are distinct texts (heading and text once normalised, ``indexer/texts.py``), how many name other labels
in ``also_in``, and how many of the base's top-10 (article, section) pairs are shown or listed. Figures go to
``--out``/dedup.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import OUT, PY, ROOT

QUERIES = ("warfarin bleeding risk", "ibuprofen boxed warning", "metformin lactic acidosis",
           "atorvastatin dose", "pregnancy", "overdose symptoms", "drug interactions", "kidney impairment dosing")

# Asked inside each checkout's own code: the answers of its API for each query and fold.
ASK = r"""
import json, sys
from search_app import create_app
client = create_app({"index": sys.argv[1], "TESTING": True}).test_client()
out = {}
for q in json.loads(sys.argv[2]):
    for fold in ("off", "on"):
        body = client.get("/api/v1/search", query_string={"q": q, "k": 10, "fold": fold}).get_json()
        out[f"{fold}:{q}"] = [{"article_id": r["article_id"], "section_id": r["section_id"], "heading": r["heading"],
                               "text": r["text"], "also_in": [c["article_id"] for c in r.get("also_in", [])],
                               "also_in_count": r.get("also_in_count", 0)} for r in body["results"]]
print(json.dumps(out))
"""
COUNT = r"""
import json, sys
from pathlib import Path
from indexer.lexical import LexicalIndex
from indexer.store import VectorStore
build = Path(sys.argv[1]).resolve()
lexical = LexicalIndex.load(build / "bm25")
print(json.dumps({"vectors": len(VectorStore.load(build / "vectors.faiss", "")), "bm25_documents": lexical._num_docs}))
"""


def run_in(checkout: Path, args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(checkout), "TQDM_DISABLE": "1"}
    done = subprocess.run([str(PY), *args], cwd=checkout, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        sys.exit(f"error: {' '.join(args[:3])} in {checkout} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def build(name: str, checkout: Path, sources: list[str], out: Path) -> dict:
    index = out / f"{name}-index"
    started = time.perf_counter()
    run_in(checkout, ["-m", "indexer", "build", *sources, "--index", str(index), "--force",
                      "--report", str(out / f"{name}-report.json")])
    seconds = time.perf_counter() - started
    live = (index / "current").resolve()
    manifest = json.loads((live / "manifest.json").read_text())
    sizes = {p.name: p.stat().st_size for p in live.iterdir() if p.is_file()}
    sizes["bm25"] = sum(p.stat().st_size for p in (live / "bm25").rglob("*") if p.is_file())
    counted = json.loads(run_in(checkout, ["-c", COUNT, str(live)]))
    rows = manifest["counts"]["passages"]
    answers = json.loads(run_in(checkout, ["-c", ASK, str(live), json.dumps(QUERIES)]))
    return {"checkout": str(checkout), "build_seconds": round(seconds, 1), "articles": manifest["counts"]["articles"],
            "rows": rows, **counted, "rows_sharing_a_text": round(1 - counted["vectors"] / rows, 4) if rows else 0.0,
            "bytes": sizes, "total_bytes": sum(sizes.values()), "answers": answers}


def normalised(result: dict) -> str:
    from indexer.texts import normalise

    return normalise(result["heading"] + "\n" + result["text"])


def page_figures(found: dict, base: dict | None) -> dict:
    """Per query and fold: distinct texts in the top 10, hits listing copies, and the base's pairs still named."""
    figures = {}
    for key, results in found["answers"].items():
        row = {"results": len(results), "distinct_texts": len({normalised(r) for r in results}),
               "with_also_in": sum(1 for r in results if r["also_in_count"])}
        if base is not None:
            theirs = {(r["article_id"], r["section_id"]) for r in base["answers"][key]}
            named = {(r["article_id"], r["section_id"]) for r in results}
            named_articles = {r["article_id"] for r in results} | {a for r in results for a in r["also_in"]}
            row["base_pairs_shown"] = len(theirs & named)
            row["base_articles_named"] = len({a for a, _ in theirs} & named_articles)
            row["base_distinct_texts"] = len({normalised(r) for r in base["answers"][key]})
        figures[key] = row
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", help="files and folders to build, as `python -m indexer build` takes")
    parser.add_argument("--base", type=Path, help="another checkout to compare with (its code on PYTHONPATH)")
    parser.add_argument("--out", type=Path, default=OUT / "dedup")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sources = [str(Path(s).resolve()) for s in args.sources]
    builds = {"this": build("this", ROOT, sources, args.out)}
    if args.base is not None:
        builds["base"] = build("base", args.base.resolve(), sources, args.out)
    base = builds.get("base")
    pages = page_figures(builds["this"], base)
    if base is not None:
        pages_base = page_figures(base, None)
    print(f"{'':<10}{'rows':>8}{'vectors':>9}{'BM25 docs':>11}{'shared':>8}{'total MiB':>11}  "
          "vectors.faiss / passages.sqlite / bm25 (MiB)  build s")
    for name, b in builds.items():
        mib = {k: v / 2**20 for k, v in b["bytes"].items()}
        print(f"{name:<10}{b['rows']:>8}{b['vectors']:>9}{b['bm25_documents']:>11}{b['rows_sharing_a_text']:>8.1%}"
              f"{b['total_bytes'] / 2**20:>11.2f}  {mib.get('vectors.faiss', 0):.2f} / "
              f"{mib.get('passages.sqlite', 0):.2f} / {mib.get('bm25', 0):.2f}  {b['build_seconds']}")
    print("\ntop 10 per query: distinct texts this (base), hits with also_in, base's (article, section) pairs shown "
          "here, base's articles named here (shown or in also_in)")
    for key, row in pages.items():
        extra = (f"  ({row['base_distinct_texts']}/{pages_base[key]['results']})  base pairs shown "
                 f"{row['base_pairs_shown']}, base articles named {row['base_articles_named']}/"
                 f"{len({r['article_id'] for r in base['answers'][key]})}") if base is not None else ""
        print(f"  {key:<40} {row['distinct_texts']}/{row['results']}{extra}  also_in {row['with_also_in']}")
    (args.out / "dedup.json").write_text(json.dumps({"builds": {n: {k: v for k, v in b.items() if k != "answers"}
                                                                for n, b in builds.items()}, "pages": pages},
                                                    indent=1))


if __name__ == "__main__":
    main()

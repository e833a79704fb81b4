"""Median query latency of this checkout against an earlier commit, timed side by side in one run.

    .venv/bin/python bench/latency_compare.py                 # against the commit before the match verdict
    .venv/bin/python bench/latency_compare.py --base REV --rounds 3

The earlier commit is checked out as a git worktree under ``bench/out/`` and gets its own index of
``corpus/`` (the index format may differ between the two). Each round starts one process per side,
which answers every query once through the real Flask app (``/api/v1/search``, the path a client
takes) after a warm-up, and reports its median; the sides take turns, and the figure is the median
of the rounds' medians, with the ratio this checkout / base.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from _common import OUT, PY, ROOT

DEFAULT_BASE = "5a79107"  # the last commit before the seams and match-verdict work
WORKER = r"""
import json, statistics, sys, time
from search_app import create_app
app = create_app({"index": sys.argv[1]})
client = app.test_client()
queries = json.load(open(sys.argv[2]))
for q in queries[:20]:
    client.get("/api/v1/search", query_string={"q": q})
times = []
for q in queries:
    t0 = time.perf_counter()
    response = client.get("/api/v1/search", query_string={"q": q})
    times.append((time.perf_counter() - t0) * 1000)
    assert response.status_code == 200, (q, response.status_code)
print(json.dumps({"median_ms": statistics.median(times), "p95_ms": sorted(times)[int(0.95 * len(times))]}))
"""


def checkout(rev: str) -> Path:
    """A worktree of ``rev`` under bench/out (made once)."""
    path = OUT / f"base-{rev}"
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def build(tree: Path, index: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([str(PY), "-m", "indexer", "build", str(ROOT / "corpus"), "--index", str(index)], cwd=tree,
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def time_side(tree: Path, index: Path, queries: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    done = subprocess.run([str(PY), "-c", WORKER, str(index), str(queries)], cwd=tree, env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=DEFAULT_BASE, help="The commit to compare against.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    base = checkout(args.base)
    sides = {"base": (base, OUT / f"base-{args.base}-index"), "this": (ROOT, OUT / "corpus-index")}
    for tree, index in sides.values():
        build(tree, index)
    texts = [json.loads(line)["query"] for name in ("match_queries.jsonl", "corpus_questions.jsonl")
             for line in (ROOT / "bench" / name).open() if line.strip()]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(texts, fh)
    medians: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, (tree, index) in sides.items():
            medians[name].append(time_side(tree, index, Path(fh.name))["median_ms"])
    os.unlink(fh.name)
    report = {"base": args.base, "queries": len(texts), "rounds": args.rounds,
              "median_ms": {name: round(statistics.median(v), 2) for name, v in medians.items()},
              "per_round_ms": {name: [round(x, 2) for x in v] for name, v in medians.items()}}
    report["ratio_this_to_base"] = round(report["median_ms"]["this"] / report["median_ms"]["base"], 3)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

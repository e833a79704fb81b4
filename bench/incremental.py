"""Incremental rebuild times on a large index: nothing changed, then 1% of the articles changed.

    .venv/bin/python bench/incremental.py --index bench/out/mixed-index \\
        ../shared/data/medicationqa/corpus.jsonl ../shared/data/medquad/articles.jsonl

The index must already hold a build of exactly these sources. Runs `python -m indexer build`
as a subprocess (what a batch job runs) three times: unchanged sources; the same sources with
1% of the articles of the last file edited (a sentence appended to one section, written to
bench/out/changed-1pct.jsonl); and the original sources again (restoring the index).
Prints wall time and the JSON report of each.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT


def run_build(sources: list[str], index: Path, report: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "indexer", "build", *sources, "--index", str(index),
                           "--report", str(report)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(proc.stderr)
    data = json.loads(report.read_text())
    return {"wall_seconds": round(wall, 1), "exit": proc.returncode,
            **{k: data[k] for k in ("up_to_date", "articles_changed", "passages_embedded", "passages_from_cache",
                                    "passages_carried_over", "seconds", "stages", "peak_rss_mb")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--fraction", type=float, default=0.01)
    args = parser.parse_args()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    results = {"unchanged": run_build(args.sources, args.index, out / "report-unchanged.json")}
    lines = Path(args.sources[-1]).read_text(encoding="utf-8").splitlines()
    chosen = set(random.Random(0).sample(range(len(lines)), max(1, int(len(lines) * args.fraction))))
    changed = out / "changed-1pct.jsonl"
    with open(changed, "w", encoding="utf-8") as fh:
        for i, line in enumerate(lines):
            if i in chosen:
                record = json.loads(line)
                record["sections"][0]["text"] += " This section was revised in the latest update."
                line = json.dumps(record)
            fh.write(line + "\n")
    results["changed_fraction"] = args.fraction
    results["changed"] = run_build([*args.sources[:-1], str(changed)], args.index, out / "report-changed.json")
    results["restored"] = run_build(args.sources, args.index, out / "report-restored.json")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

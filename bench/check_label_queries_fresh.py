"""Checks bench/label_queries_fresh.jsonl against the labels as the indexer loads them (no model, no index).

Every line must be {"id", "query", "relevant"} with 1 to 3 relevant sections of one label, and every
(article_id, section_id) must be a section that indexer.sources.files.load_file makes from the label
files under data/drug-labels (openfda/*.json and spl/*.xml). Prints the number of checked pairs; exits 1
and names the bad lines otherwise.

    .venv/bin/python bench/check_label_queries_fresh.py [--data /work/shared/data/drug-labels]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from indexer.sources.files import load_file

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "label_queries_fresh.jsonl"
DATA = Path("/work/shared/data/drug-labels")


def sections_by_article(data: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(data.glob("openfda/*.json")) + sorted(data.glob("spl/*.xml")):
        for item in load_file(path):
            if hasattr(item, "sections"):
                found.setdefault(item.id, set()).update(s.id for s in item.sections)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    args = parser.parse_args()
    known = sections_by_article(args.data)
    problems: list[str] = []
    pairs = 0
    ids: set[str] = set()
    queries: set[str] = set()
    lines = [line for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, line in enumerate(lines, 1):
        row = json.loads(line)
        where = f"line {n} ({row.get('id')})"
        if list(row) != ["id", "query", "relevant"]:
            problems.append(f"{where}: keys {list(row)}")
            continue
        if row["id"] in ids or row["query"] in queries:
            problems.append(f"{where}: repeated id or query")
        ids.add(row["id"])
        queries.add(row["query"])
        relevant = row["relevant"]
        if not 1 <= len(relevant) <= 3:
            problems.append(f"{where}: {len(relevant)} relevant sections")
        if len({r["article_id"] for r in relevant}) != 1:
            problems.append(f"{where}: sections of more than one label")
        for r in relevant:
            pairs += 1
            if r["article_id"] not in known:
                problems.append(f"{where}: no label {r['article_id']}")
            elif r["section_id"] not in known[r["article_id"]]:
                problems.append(f"{where}: label {r['article_id']} has no section {r['section_id']}")
    labels = {r["article_id"] for line in lines for r in json.loads(line)["relevant"]}
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(lines)} questions, {len(labels)} labels, {pairs} (article_id, section_id) pairs checked, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

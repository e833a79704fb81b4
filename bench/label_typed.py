"""The first result on the 305-label index for what people type, with the label weights before (weight_section
0.4, weight_heading 0.1) and as configured (issue 28):

    .venv/bin/python bench/label_typed.py [--index bench/out/labels/index]

Bare names (each label's first brand name and its drug), the 1-3-word queries of bench/traffic_queries.jsonl, and
100 strings of random letters (seed 3): how many keep their first result, the first results' section types, and,
for bare names, how many put a label of the named medicine first.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

from _common import ROOT
from label_intent import INDEX, _labels, _searcher


def _names_of(article) -> set[str]:
    meta = article.meta
    return {n.lower() for n in (meta.get("brand_names") or []) + [meta.get("drug") or ""] if n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX)
    args = parser.parse_args()
    searcher = _searcher(args.index)
    names = sorted({n.lower() for a in _labels(searcher.index)
                    for n in (a.meta.get("brand_names") or [])[:1] + [a.meta.get("drug") or ""] if n})
    lines = (ROOT / "bench" / "traffic_queries.jsonl").read_text().splitlines()
    short = [q for q in (json.loads(line)["query"] for line in lines if line.strip()) if len(q.split()) <= 3]
    rng = random.Random(3)
    noise = ["".join(rng.choice("asdfghjklqwertyuiopzxcvbnm ") for _ in range(rng.randint(3, 12))).strip() or "x"
             for _ in range(100)]
    configured = searcher.weights
    for label, queries in (("bare names", names), ("1-3 words (traffic)", short), ("keyboard noise", noise)):
        tops = {}
        for when, weights in (("before", replace(configured, section=0.4, heading=0.1)), ("now", configured)):
            searcher.weights = weights
            tops[when] = [hits[0].passage if (hits := searcher.search(q, 1).hits) else None for q in queries]
        same = sum((a and a.id) == (b and b.id) for a, b in zip(tops["before"], tops["now"]))
        print(f"{label}: {len(queries)} queries, the first result the same for {same}")
        for when, found in tops.items():
            print(f"  {when}: first section types {Counter(p.section_type for p in found if p).most_common(5)}")
            if label == "bare names":
                own = sum(1 for q, p in zip(queries, found) if p and q in _names_of(searcher.index.article(p.article_id)))
                print(f"  {when}: a label of the named medicine first for {own} of {len(queries)}")


if __name__ == "__main__":
    main()

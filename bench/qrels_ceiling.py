"""How high section-level recall@1 can go on a queries file, whatever the ranking.

    .venv/bin/python bench/qrels_ceiling.py [--corpus ../shared/data/medicationqa/corpus.jsonl]
                                            [--queries ../shared/data/medicationqa/queries-dev.jsonl]

Two things cap R@1 before any ranking is tried:
- the same question (same words, case and punctuation aside) asked several times with a
  different answering section each time: one ranking puts one section first, so a group of
  n such queries scores at most the count of its most frequent answer;
- answering sections whose text is a near copy (cosine ≥ --near) of another section of the
  corpus: the two tie, and which one is "right" is a coin toss no signal can call.
Prints the first as a hard ceiling and counts the second.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.embedding import load_embedder  # noqa: E402
from search_app.evaluation import load_queries  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "medicationqa" / "corpus.jsonl")
    parser.add_argument("--queries", type=Path, default=SHARED / "medicationqa" / "queries-dev.jsonl")
    parser.add_argument("--near", type=float, default=0.97)
    args = parser.parse_args()

    queries = load_queries(args.queries)
    groups: dict[str, list] = defaultdict(list)
    for q in queries:
        groups[re.sub(r"\W+", " ", q.query.lower()).strip()].append(q)
    ceiling = sum(max(Counter(key for q in group for key in q.relevant).values()) for group in groups.values())

    keys, texts = [], []
    with open(args.corpus, encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            for section in article["sections"]:
                keys.append((article["id"], section["id"]))
                texts.append(" ".join(section["text"].split()))
    vectors = load_embedder().encode(texts)
    position = {key: i for i, key in enumerate(keys)}
    similar = vectors @ vectors.T
    np.fill_diagonal(similar, 0)
    near_copy = {keys[i] for i in np.flatnonzero(similar.max(axis=1) >= args.near)}
    print(json.dumps({
        "queries": len(queries),
        "distinct_questions": len(groups),
        "questions_asked_more_than_once": sum(len(g) > 1 for g in groups.values()),
        "recall@1_ceiling_from_repeated_questions": round(ceiling / len(queries), 4),
        f"queries_whose_answer_has_a_near_copy_(cos>={args.near})":
            sum(1 for q in queries if any(k in near_copy for k in q.relevant if k in position)),
    }, indent=1))


if __name__ == "__main__":
    main()

"""How high section-level recall@1 can go on a queries file, whatever the ranking.

    .venv/bin/python bench/qrels_ceiling.py [--corpus ../shared/data/medicationqa/corpus.jsonl]
                                            [--queries ../shared/data/medicationqa/queries-dev.jsonl]

Two things cap R@1 before any ranking is tried:
- the same question (same words, case and punctuation aside) asked several times with a
  different answering section each time: one ranking puts one section first, so a group of
  n such queries scores at most the count of its most frequent answer;
- answering sections whose text is a near copy (cosine ≥ --near) of another section of the
  corpus: the two tie, and which one is "right" is a coin toss no signal can call.
- placeholder answers ("No answers", "Unanswerable"): one short section (under --placeholder
  characters) given as the answer to several different questions, which only chance finds.
Prints the first as a hard ceiling and counts the others. With --index, also sorts the
configured ranking's first-place misses: another section of an article with the same title
(another page about the same medicine), with or without the same heading, or another article.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from _common import SHARED, configured_embedder, searcher_for

from search_app.core.evaluation import load_queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "medicationqa" / "corpus.jsonl")
    parser.add_argument("--queries", type=Path, default=SHARED / "medicationqa" / "queries-dev.jsonl")
    parser.add_argument("--near", type=float, default=0.97)
    parser.add_argument("--placeholder", type=int, default=30, help="answers shorter than this many characters")
    parser.add_argument("--index", type=Path, help="an index of --corpus: sort its first-place misses")
    args = parser.parse_args()

    queries = load_queries(args.queries)
    groups: dict[str, list] = defaultdict(list)
    for q in queries:
        groups[re.sub(r"\W+", " ", q.query.lower()).strip()].append(q)
    ceiling = sum(max(Counter(key for q in group for key in q.relevant).values()) for group in groups.values())

    keys, texts, about = [], [], {}
    with open(args.corpus, encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            for section in article["sections"]:
                keys.append((article["id"], section["id"]))
                texts.append(" ".join(section["text"].split()))
                about[keys[-1]] = (article["title"].strip().lower(), section["heading"].strip().lower())
    vectors = configured_embedder().encode(texts)
    position = {key: i for i, key in enumerate(keys)}
    similar = vectors @ vectors.T
    np.fill_diagonal(similar, 0)
    near_copy = {keys[i] for i in np.flatnonzero(similar.max(axis=1) >= args.near)}
    answers = Counter(key for group in groups.values() for key in {k for q in group for k in q.relevant})
    short = {key for key, text in zip(keys, texts) if len(text) < args.placeholder}
    placeholder = {key for key, n in answers.items() if n > 1 and key in short}
    unfindable = sum(1 for q in queries if q.relevant <= placeholder)
    report = {
        "queries": len(queries),
        "distinct_questions": len(groups),
        "questions_asked_more_than_once": sum(len(g) > 1 for g in groups.values()),
        "recall@1_ceiling_from_repeated_questions": round(ceiling / len(queries), 4),
        f"queries_whose_answer_has_a_near_copy_(cos>={args.near})":
            sum(1 for q in queries if any(k in near_copy for k in q.relevant if k in position)),
        f"queries_answered_by_a_placeholder_(<{args.placeholder}_chars)": unfindable,
        "recall@k_ceiling_from_placeholders": round(1 - unfindable / len(queries), 4),
    }
    if args.index:
        report["first_place_misses"] = sort_misses(args.index, queries, about)
    print(json.dumps(report, indent=1))


def sort_misses(index: Path, queries: list, about: dict) -> dict[str, int]:
    """Where the configured ranking's first result goes when it is not an answer."""
    searcher = searcher_for(index)
    kinds: Counter[str] = Counter()
    for q in queries:
        top = searcher.search(q.query, 1).hits[0].passage
        key = (top.article_id, top.section_id)
        if key in q.relevant:
            continue
        title, heading = about.get(key, ("", ""))
        golds = [about[k] for k in q.relevant if k in about]
        if any(t == title and h == heading for t, h in golds):
            kinds["same title, same heading"] += 1
        elif any(t == title for t, _ in golds):
            kinds["same title, other heading"] += 1
        else:
            kinds["another article"] += 1
    return dict(kinds.most_common())


if __name__ == "__main__":
    main()

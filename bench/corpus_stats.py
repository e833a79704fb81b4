"""Statistics of the bundled corpus and the 30-question spot check of its search.

    .venv/bin/python bench/corpus_stats.py [--index var/index]

Prints articles (medicines / topics), sections, passages and words, then searches each
question of bench/corpus_questions.jsonl and reports how many rank a passage from the
expected article first. The index must have been built from corpus/ (`make index`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import ROOT, searcher_for

from indexer.sources import Skipped, iter_articles
from search_app.core.ranking import Searcher


def spot_check(searcher: Searcher, questions_file: Path) -> list[dict]:
    """Each question with the article that ranked first and whether it is the expected one."""
    rows = []
    for line in questions_file.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        top = searcher.search(item["query"], 1).hits[0].passage
        rows.append({**item, "top_article": top.article_id, "top_section": top.section_id,
                     "ok": top.article_id == item["article"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index")
    args = parser.parse_args()
    items = list(iter_articles([ROOT / "corpus"]))
    articles = [a for a in items if not isinstance(a, Skipped)]
    kinds = [a.meta.get("kind") for a in articles]
    searcher = searcher_for(args.index)
    index = searcher.index
    rows = spot_check(searcher, ROOT / "bench" / "corpus_questions.jsonl")
    for row in rows:
        print(f"{'ok  ' if row['ok'] else 'MISS'} {row['query']!r} -> {row['top_article']}#{row['top_section']}")
    print(json.dumps({
        "articles": len(articles), "medicines": kinds.count("medicine"), "topics": kinds.count("topic"),
        "skipped": len(items) - len(articles),
        "sections": sum(len(a.sections) for a in articles), "passages": len(index),
        "words": sum(len(s.text.split()) for a in articles for s in a.sections),
        "spot_check": f"{sum(r['ok'] for r in rows)}/{len(rows)} first result from the expected article",
    }, indent=1))


if __name__ == "__main__":
    main()

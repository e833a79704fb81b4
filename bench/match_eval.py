"""How well the match verdict tells answerable queries from nonsense, off-topic and uncovered ones.

    .venv/bin/python bench/match_eval.py               # figures with the configured thresholds
    .venv/bin/python bench/match_eval.py --calibrate   # choose thresholds on the tuning parts, then score
    .venv/bin/python bench/match_eval.py --json

Queries: ``bench/match_queries.jsonl`` (written for this, apart from the ranking; kinds nonsense,
off_topic, uncovered, covered, comparison, general; a seeded tune/check split) searched on an index
of ``corpus/``; the MedicationQA dev questions (``../shared``, split by
``bench/splits/medicationqa-dev.json``) on ``bench/out/medicationqa-index``; and
``bench/corpus_questions.jsonl``. Thresholds are only ever chosen on the "tune" parts:

- ``match_none_below``: the highest nearest-passage cosine that leaves at most 1 % of the tuning
  positives (MedicationQA tune questions and the covered, general and comparison tune queries)
  that name no covered medicine under it;
- ``match_strong_from``: the lowest cosine from which, in every 0.05-wide cosine bucket up, at
  least 90 % of the MedicationQA tune questions have their answer in the top 10.

Reported per part: "none" for nonsense and off-topic queries, every uncovered medicine named,
false "none" on answerable queries, the share of the top three results about the medicine a
query names (covered queries that compare nothing), the answering article first.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import replace
from pathlib import Path

from _common import OUT, PY, ROOT, SHARED, searcher_for

from search_app.core import search as service
from search_app.core.matching import Thresholds
from search_app.core.query import SearchRequest

POSITIVE_KINDS = ("covered", "general", "comparison")


def corpus_index(path: Path) -> Path:
    """The index of corpus/ at ``path``, built (or brought up to date) first."""
    subprocess.run([str(PY), "-m", "indexer", "build", str(ROOT / "corpus"), "--index", str(path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def run(searcher, text: str, limits: Thresholds | None = None):
    return service.run(SearchRequest(q=text, k=10), searcher, limits=limits)


def same_medicines(expected: list[str], named: tuple[str, ...]) -> bool:
    """Every expected medicine is named, under any of its names (valaciclovir is valacyclovir)."""
    from indexer.lexicon import synonym_table

    table = synonym_table()
    return all(any(n == e or n in table.get(e, ()) for n in named) for e in expected)


def share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def calibrate(positives: list[tuple[float, bool]], mqa: list[tuple[float, bool]], base: Thresholds) -> Thresholds:
    """Thresholds from tuning data: (cosine, names a covered medicine) of positives; (cosine, answer in top 10)."""
    exposed = sorted(c for c, covered in positives if not covered)  # only these can be called "none"
    allowed = int(0.01 * len(positives))
    none_below = round(exposed[allowed] - 0.005, 3) if len(exposed) > allowed else base.none_below
    strong_from = base.strong_from
    # Cosine buckets 0.05 wide: "strong" from the lowest bucket from which every bucket up has the answer in the
    # top 10 for at least 90 % of its questions.
    buckets = {}
    for c, hit in mqa:
        buckets.setdefault(int(c / 0.05), []).append(hit)
    good = [b for b in sorted(buckets) if sum(buckets[b]) / len(buckets[b]) >= 0.9]
    for b in sorted(buckets, reverse=True):
        if b not in good:
            break
        strong_from = round(b * 0.05, 2)
    return replace(base, none_below=none_below, strong_from=max(strong_from, none_below))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-index", type=Path, default=OUT / "corpus-index")
    parser.add_argument("--mqa-index", type=Path, default=OUT / "medicationqa-index")
    parser.add_argument("--calibrate", action="store_true", help="Choose the thresholds on the tuning parts first.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    corpus = searcher_for(corpus_index(args.corpus_index))
    queries = [json.loads(line) for line in (ROOT / "bench" / "match_queries.jsonl").open() if line.strip()]
    mqa_rows = [json.loads(line) for line in (SHARED / "medicationqa" / "queries-dev.jsonl").open() if line.strip()]
    split = json.loads((ROOT / "bench" / "splits" / "medicationqa-dev.json").read_text())
    part_of = {qid: part for part in ("tune", "check") for qid in split[part]}
    mqa = searcher_for(args.mqa_index) if args.mqa_index.exists() else None

    limits = corpus.thresholds
    if args.calibrate:
        positives = []
        for q in queries:
            if q["split"] == "tune" and q["kind"] in POSITIVE_KINDS:
                o = run(corpus, q["query"])
                positives.append((o.closeness, any(m.covered for m in o.analysis.medicines)))
        answered = []
        for q in mqa_rows if mqa is not None else []:
            if part_of.get(q["id"]) == "tune":
                o = run(mqa, q["query"])
                gold = {(r["article_id"], r["section_id"]) for r in q["relevant"]}
                positives.append((o.closeness, any(m.covered for m in o.analysis.medicines)))
                answered.append((o.closeness, any((h.passage.article_id, h.passage.section_id) in gold
                                                       for h in o.hits)))
        limits = calibrate(positives, answered, limits)

    report: dict = {"thresholds": limits.__dict__}
    for part in ("tune", "check"):
        rows = [q for q in queries if q["split"] == part]
        got = {q["id"]: run(corpus, q["query"], limits) for q in rows}
        kinds = {kind: [q for q in rows if q["kind"] == kind] for kind in
                 ("nonsense", "off_topic", "uncovered", *POSITIVE_KINDS)}
        negatives = kinds["nonsense"] + kinds["off_topic"]
        medicine_first = [q for q in kinds["covered"] if got[q["id"]].analysis.constraining]
        answer_first = [q for q in kinds["covered"] + kinds["general"] if q["answer_articles"]]
        report[part] = {
            "none_nonsense": share([got[q["id"]].match.level == "none" for q in kinds["nonsense"]]),
            "none_off_topic": share([got[q["id"]].match.level == "none" for q in kinds["off_topic"]]),
            "none_negatives": share([got[q["id"]].match.level == "none" for q in negatives]),
            "uncovered_all_named": share([same_medicines(q["uncovered"], got[q["id"]].match.uncovered)
                                          for q in kinds["uncovered"]]),
            "uncovered_none": share([got[q["id"]].match.level == "none" for q in kinds["uncovered"]]),
            "false_none_positives": sum(got[q["id"]].match.level == "none"
                                        for kind in POSITIVE_KINDS for q in kinds[kind]),
            "positives": sum(len(kinds[kind]) for kind in POSITIVE_KINDS),
            "covered_medicine_detected": share([bool(got[q["id"]].analysis.constraining or
                                                     got[q["id"]].analysis.comparison) for q in kinds["covered"]
                                                if q["medicines"]]),
            "top3_about_the_medicine": share([h.about_asked for q in medicine_first for h in got[q["id"]].hits[:3]]),
            "answer_article_first": share([bool(got[q["id"]].hits) and got[q["id"]].hits[0].passage.article_id
                                           in q["answer_articles"] for q in answer_first]),
            "misses": [(q["kind"], q["query"], got[q["id"]].match.level, list(got[q["id"]].match.uncovered))
                       for q in rows
                       if (q["kind"] in ("nonsense", "off_topic")) != (got[q["id"]].match.level == "none")
                       or not same_medicines(q["uncovered"], got[q["id"]].match.uncovered)],
        }
    if mqa is not None:
        for part in ("tune", "check"):
            levels = [run(mqa, q["query"], limits).match.level for q in mqa_rows if part_of.get(q["id"]) == part]
            report[f"medicationqa_{part}"] = {"questions": len(levels), "false_none": levels.count("none"),
                                              "false_none_rate": share([lv == "none" for lv in levels]),
                                              "strong": share([lv == "strong" for lv in levels])}
    corpus_questions = [json.loads(line) for line in (ROOT / "bench" / "corpus_questions.jsonl").open()]
    report["corpus_questions"] = {"questions": len(corpus_questions), "false_none": sum(
        run(corpus, q["query"], limits).match.level == "none" for q in corpus_questions)}
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"thresholds: {limits}")
    for part in ("tune", "check"):
        r = report[part]
        print(f"[{part}] none: nonsense {r['none_nonsense']}, off-topic {r['none_off_topic']}, both "
              f"{r['none_negatives']} | uncovered all named {r['uncovered_all_named']} (called none "
              f"{r['uncovered_none']}) | false none {r['false_none_positives']}/{r['positives']} | medicine "
              f"detected {r['covered_medicine_detected']} | top-3 about it {r['top3_about_the_medicine']} | "
              f"answer article first {r['answer_article_first']}")
        for miss in r["misses"] if part == "tune" else []:  # the check part's failures are not read while tuning
            print("   miss:", *miss)
    for part in ("tune", "check"):
        if f"medicationqa_{part}" in report:
            print(f"[medicationqa {part}]", report[f"medicationqa_{part}"])
    print("[corpus questions]", report["corpus_questions"])


if __name__ == "__main__":
    main()

"""How well the urgency notices label the benchmark queries: the rules and the learned detector.

    .venv/bin/python bench/urgency_eval.py [--split NAME] [--rules-only] [--final] [--rules FILE]
                                           [--queries FILE] [--json]

Runs the assessor the app uses (search_app/data/urgent_rules.yaml, or --rules, and the trained
detector search_app/data/urgent_detector.npz, the more urgent verdict winning; --rules-only: the
rules alone) over bench/urgent_queries.jsonl (or --queries; one {"query", "level", "split"} object
a line, level null for routine questions) and prints, for the chosen split (default: each split,
then all):

  - "notice shown": precision and recall of showing any notice (level not null);
  - the issue's targets: emergency recall, urgent queries given urgent or emergency, routine
    queries given urgent or emergency;
  - per level: precision, recall and F1 of the exact level (emergency, urgent, advice, none);
  - exact-level accuracy, the confusion matrix (rows: expected, columns: given) and every
    mistake with what raised it (a rule id, or "detector:" and the nearest example's situation).

--json prints the same figures, without the mistakes' wording, as one JSON object keyed by split.
Each query is embedded alone with the configured embedder, as the search service embeds it
(the int8 backend's vectors depend on their batch), so the detector sees the vectors the app would.

Splits, in the order they were written (each query's "split" field):

  tune      145  written first; the rules were written against these.
  held_out   72  written with "tune", before the rules. Its first score was perfect, but
                 the same person wrote both and remembered its wording while writing
                 patterns, so that score is not an honest estimate.
  fresh1     63  written after the rules were frozen (checksummed), scored once:
                 notice shown precision 1.000, recall 0.744; emergency recall 0.588
                 (7 of 17 missed); exact level accuracy 0.841.
  fresh2     50  written after the rules were frozen again, scored once:
                 notice shown precision 0.957, recall 0.710; emergency precision 0.900,
                 recall 0.643 (5 of 14 missed); exact level accuracy 0.780.
  fresh3     64  written with fresh4 for issue #15 before any change, scored once with the
                 rules frozen (emergency recall 0.684); then the split the detector's examples
                 were tuned on (their wording never copied: a test checks).
  fresh4     64  written with fresh3, scored once with the rules frozen (emergency recall
                 0.684), then left alone as the final split and scored once more at the end
                 with rules, examples and thresholds frozen (commit de4deb6: emergency recall
                 0.947, urgent or higher 1.000, routine flagged 9.5%, emergency precision
                 0.720). Now a tuning split.
  fresh5     70  written with fresh6 by someone who never saw the rules or examples, scored
                 once frozen (commit 6f0fc3c: emergency recall 0.90, routine flagged 20%);
                 now the tuning split: its mistakes may be read.
  fresh6     70  written with fresh5, scored once frozen at commit 6f0fc3c, then left alone:
                 the final split, scored once more at the end with rules, examples and
                 thresholds frozen. It is left out of the default run and of --split all;
                 --final (or --split fresh6) includes it.

Thresholds are chosen by bench/urgency_thresholds.py on tune, held_out and fresh1 .. fresh5,
never fresh6. Every split but fresh6 has now been used for tuning something, so
perfect scores on them say only that nothing has regressed.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import ROOT, configured_embedder

from search_app.core.urgency import DEFAULT_RULES, LEVELS, UrgencyRules, load
from search_app.core.urgency.detector import embed_each

QUERIES = ROOT / "bench" / "urgent_queries.jsonl"
FINAL = "fresh6"
NONE = "none"
CLASSES = (*LEVELS, NONE)


def load_queries(path: Path) -> list[dict]:
    """The benchmark records; a bad line stops the run with its line number."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record["query"], str) or record["level"] not in (*LEVELS, None):
                raise ValueError(f"level must be one of {', '.join(LEVELS)} or null")
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a query record ({exc})") from None
        records.append(record)
    return records


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return round(numerator / denominator, 3) if denominator else None


def score(records: list[dict], assessor, vectors=None) -> dict:
    """Precision, recall, the issue's targets, confusion matrix and mistakes for one set of records."""
    rows = []
    for i, record in enumerate(records):
        notice = assessor.assess(record["query"], vector=None if vectors is None else vectors[i])
        why = ", ".join(r.id if r.source == "rule" else f"detector:{r.situation}" for r in notice.reasons) \
            if notice else None
        rows.append({"query": record["query"], "expected": record["level"] or NONE,
                     "given": notice.level if notice else NONE, "rule": why})
    shown_tp = sum(r["expected"] != NONE and r["given"] != NONE for r in rows)
    shown_given = sum(r["given"] != NONE for r in rows)
    shown_expected = sum(r["expected"] != NONE for r in rows)
    per_level = {}
    for level in CLASSES:
        tp = sum(r["expected"] == level and r["given"] == level for r in rows)
        given = sum(r["given"] == level for r in rows)
        expected = sum(r["expected"] == level for r in rows)
        precision, recall = ratio(tp, given), ratio(tp, expected)
        f1 = round(2 * precision * recall / (precision + recall), 3) if precision and recall else None
        per_level[level] = {"support": expected, "precision": precision, "recall": recall, "f1": f1}
    serious = ("emergency", "urgent")
    of = {level: [r for r in rows if r["expected"] == level] for level in CLASSES}
    targets = {
        "emergency_recall": ratio(sum(r["given"] == "emergency" for r in of["emergency"]), len(of["emergency"])),
        "urgent_or_higher_on_urgent": ratio(sum(r["given"] in serious for r in of["urgent"]), len(of["urgent"])),
        "routine_flagged_urgent_or_emergency": ratio(sum(r["given"] in serious for r in of[NONE]), len(of[NONE])),
        "advice_any_notice": ratio(sum(r["given"] != NONE for r in of["advice"]), len(of["advice"])),
    }
    return {
        "queries": len(rows),
        "notice_shown": {"precision": ratio(shown_tp, shown_given), "recall": ratio(shown_tp, shown_expected),
                         "false_alarms": shown_given - shown_tp, "missed": shown_expected - shown_tp},
        "targets": targets,
        "exact_level_accuracy": ratio(sum(r["expected"] == r["given"] for r in rows), len(rows)),
        "levels": per_level,
        "confusion": {e: {g: sum(r["expected"] == e and r["given"] == g for r in rows) for g in CLASSES}
                      for e in CLASSES},
        "mistakes": [r for r in rows if r["expected"] != r["given"]],
    }


def fmt(value: float | None) -> str:
    """A figure for the table: three decimals, or a dash when undefined."""
    return "  -  " if value is None else f"{value:.3f}"


def report(name: str, figures: dict) -> None:
    """Print one split's figures as tables."""
    shown = figures["notice_shown"]
    print(f"== {name}: {figures['queries']} queries")
    print(f"notice shown    precision {fmt(shown['precision'])}  recall {fmt(shown['recall'])}  "
          f"({shown['false_alarms']} false alarms, {shown['missed']} missed)")
    t = figures["targets"]
    print(f"targets         emergency recall {fmt(t['emergency_recall'])} (>= 0.9)   urgent given urgent or "
          f"emergency {fmt(t['urgent_or_higher_on_urgent'])} (>= 0.85)   routine given urgent or emergency "
          f"{fmt(t['routine_flagged_urgent_or_emergency'])} (<= 0.05)")
    print(f"exact level     accuracy  {fmt(figures['exact_level_accuracy'])}")
    print(f"{'level':<10} {'support':>7} {'precision':>9} {'recall':>7} {'f1':>6}")
    for level, row in figures["levels"].items():
        print(f"{level:<10} {row['support']:>7} {fmt(row['precision']):>9} {fmt(row['recall']):>7} {fmt(row['f1']):>6}")
    print("confusion (rows expected, columns given)")
    print(f"{'':<10}" + "".join(f"{c:>10}" for c in CLASSES))
    for expected, row in figures["confusion"].items():
        print(f"{expected:<10}" + "".join(f"{row[g]:>10}" for g in CLASSES))
    print(f"mistakes ({len(figures['mistakes'])})")
    for m in figures["mistakes"]:
        print(f"  expected {m['expected']:<9} given {m['given']:<9} {m['rule'] or '':<36} {m['query']!r}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--split", help=f"only this split (tune, held_out, fresh1 .. fresh5; {FINAL} only to record its final score) or all")
    parser.add_argument("--rules-only", action="store_true", help="the rules alone, without the detector")
    parser.add_argument("--final", action="store_true", help=f"include {FINAL}, the final split, in the default run")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    records = load_queries(args.queries)
    splits = list(dict.fromkeys(r["split"] for r in records if r.get("split", "all") != "all"))
    if not args.final and args.split != FINAL:
        # The final split is scored once, on purpose: neither the default run nor --split all sees it.
        splits = [s for s in splits if s != FINAL]
        records = [r for r in records if r.get("split") != FINAL]
    wanted = [args.split] if args.split else [*splits, "all"]
    if args.rules_only:
        assessor, vectors = UrgencyRules.load(args.rules), None
    else:
        embedder = configured_embedder()
        assessor = load(embedder=embedder, rules=args.rules)
        vectors = embed_each(embedder, [r["query"] for r in records])
    results = {}
    for name in wanted:
        rows = [i for i, r in enumerate(records) if name == "all" or r.get("split") == name]
        if not rows:
            raise SystemExit(f"{args.queries}: no queries in split {name!r}")
        results[name] = score([records[i] for i in rows], assessor, None if vectors is None else vectors[rows])
    if args.json:
        for figures in results.values():
            figures["mistakes"] = len(figures["mistakes"])
        print(json.dumps({"assessor": "rules" if args.rules_only else "rules+detector", **results}, indent=1))
    else:
        print(f"assessor: {'rules only' if args.rules_only else 'rules + detector (the more urgent verdict)'}\n")
        for name, figures in results.items():
            report(name, figures)


if __name__ == "__main__":
    main()

"""Choose the urgency detector's L2 penalty and thresholds on held-apart queries (never the final split).

    .venv/bin/python bench/urgency_thresholds.py [--splits tune,held_out,fresh1,...,fresh5] [--l2 1e-4,3e-4,...]
                                                 [--budget 0.02] [--escalation 0.15] [--json]

Embeds the examples (search_app/data/urgent_examples.yaml) and the chosen splits of
bench/urgent_queries.jsonl once, refits the detector for each L2 penalty, and for every threshold triple (emergency, urgent, advice;
each 0.15..0.95 in steps of 0.05) scores the detector alone and combined with the rules (the
more urgent verdict; as in the app, the detector is not asked about a query the rules file
calls a general question):

  E     emergency recall             U   urgent queries given urgent or emergency
  A     advice queries given any notice
  R!    routine queries given urgent or emergency (the false alarm that matters)
  R     routine queries given any notice
  O     urgent and advice queries given a more urgent level than theirs (over-escalation: an
        ambulance for a reaction a doctor should see today, or either for a pharmacist's question)

The pick: the highest E + U (+ A / 10) of the detector alone whose combined R! stays within
--budget, whose combined R stays within 3 x budget and whose combined O stays within
--escalation; ties go to the higher thresholds. The detector alone is what counts because the
rules were written on these splits and catch nearly all of them; on wordings no rule has, the
detector is what is left. The table prints,
for each L2 penalty, the best triple at each emergency threshold. fresh6 is the final
split: it is refused here (and never read), so thresholds can never be chosen on it.
"""
from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from _common import ROOT, configured_embedder

from search_app.core.urgency import UrgencyRules
from search_app.core.urgency.detector import CLASSES, FLAGGED, embed_each, fit, load_examples

QUERIES = ROOT / "bench" / "urgent_queries.jsonl"
FINAL = "fresh6"
HELD_APART = ("tune", "held_out", "fresh1", "fresh2", "fresh3", "fresh4", "fresh5")
THRESHOLDS = [round(t, 2) for t in np.arange(0.15, 0.951, 0.05)]
COLUMNS = ("E", "U", "A", "R!", "R", "O")


def figures(given: np.ndarray, expected: np.ndarray) -> dict[str, float]:
    """The six rates above, for verdicts and labels as class indexes (0 emergency .. 3 none)."""
    def rate(mask: np.ndarray, hit: np.ndarray) -> float:
        return round(float(hit[mask].mean()), 3) if mask.any() else float("nan")
    return {"E": rate(expected == 0, given == 0), "U": rate(expected == 1, given <= 1),
            "A": rate(expected == 2, given <= 2), "R!": rate(expected == 3, given <= 1),
            "R": rate(expected == 3, given <= 2), "O": rate((expected == 1) | (expected == 2), given < expected)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", default=",".join(HELD_APART), help="comma-separated splits to choose on")
    parser.add_argument("--show", default="fresh4,fresh5", help="comma-separated splits also shown on their own (chosen on or not)")
    parser.add_argument("--l2", default="1e-4,2e-4,3e-4,5e-4", help="comma-separated L2 penalties to try")
    parser.add_argument("--budget", type=float, default=0.02, help="most routine queries flagged urgent/emergency")
    parser.add_argument("--escalation", type=float, default=0.15,
                        help="most urgent and advice queries given a more urgent level")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    splits = [s for s in args.splits.split(",") if s]
    shown = [s for s in args.show.split(",") if s]
    if FINAL in splits or FINAL in shown:
        raise SystemExit(f"{FINAL} is the final split, scored once with everything frozen: choose on others")
    records = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if r.get("split") in (*splits, *shown)]
    embedder = configured_embedder()
    examples = load_examples()
    # One at a time, as training and the app embed them (the int8 backend's vectors depend on their batch).
    vectors = embed_each(embedder, examples.texts)
    queries = embed_each(embedder, [r["query"] for r in records])
    expected = np.array([CLASSES.index(r["level"] or "none") for r in records])
    rules = UrgencyRules.load()
    by_rules = np.array([CLASSES.index(n.level) if (n := rules.assess(r["query"])) else 3 for r in records])
    # As the app: the detector is not asked about a general question (the rules file's general_question).
    in_general = np.array([rules.asks_in_general(r["query"]) for r in records])
    choose = np.array([r["split"] in splits for r in records])
    labels = np.array([CLASSES.index(level) for level in examples.levels])
    rows, best = [], None
    per_t: dict[float, tuple] = {}
    for l2 in (float(v) for v in args.l2.split(",")):
        weights, bias = fit(vectors, labels, l2, examples.template)
        z = queries @ weights + bias
        p = np.exp(z - z.max(axis=1, keepdims=True))
        cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)[:, :len(FLAGGED)]
        for t_e, t_u, t_a in itertools.product(THRESHOLDS, repeat=3):
            thresholds = np.array([t_e, t_u, t_a])
            over = cumulative >= thresholds
            alone = np.where(over.any(axis=1) & ~in_general, over.argmax(axis=1), 3)
            both = np.minimum(alone, by_rules)
            row = {"l2": l2, "t": (t_e, t_u, t_a),
                   "alone": figures(alone[choose], expected[choose]),
                   "combined": figures(both[choose], expected[choose])}
            for name in shown:
                mask = np.array([r["split"] == name for r in records])
                row[name] = figures(both[mask], expected[mask])
            ok = (row["combined"]["R!"] <= args.budget and row["combined"]["R"] <= 3 * args.budget
                  and row["combined"]["O"] <= args.escalation)
            key = (row["alone"]["E"] + row["alone"]["U"] + 0.1 * row["alone"]["A"], (t_e, t_u, t_a))
            if ok and (best is None or key > best[0]):
                best = (key, row)
            if ok and (t_e not in per_t or key > per_t[t_e][0]):
                per_t[t_e] = (key, row)
        rows.extend(row for _, row in sorted(per_t.values(), key=lambda item: item[1]["t"]))
        per_t = {}
    if args.json:
        print(json.dumps({"splits": splits, "rows": rows, "pick": best[1] if best else None}, indent=1))
        return
    print(f"chosen on {', '.join(splits)} ({int(choose.sum())} queries); shown: {', '.join(shown) or '-'}")
    head = "  ".join(f"{k:>5}" for k in COLUMNS)
    print(f"{'l2':>8} {'t (e/u/a)':>14} | alone {head} | rules+detector {head}" + "".join(f" | {s} (combined) {head}" for s in shown))
    for row in rows:
        cells = [row["alone"], row["combined"], *(row[s] for s in shown)]
        print(f"{row['l2']:>8g} {'/'.join(f'{t:.2f}' for t in row['t']):>14} | " + " | ".join(
            "      " * (i > 0) + "  ".join(f"{c[k]:>5.3f}" for k in COLUMNS)
            for i, c in enumerate(cells)))
    if best:
        row = best[1]
        print(f"pick: l2 {row['l2']:g}, thresholds emergency {row['t'][0]:.2f}, urgent {row['t'][1]:.2f}, "
              f"advice {row['t'][2]:.2f} "
              f"(alone E {row['alone']['E']:.3f} U {row['alone']['U']:.3f}; combined R! {row['combined']['R!']:.3f}, "
              f"O {row['combined']['O']:.3f})")
    else:
        print(f"no threshold keeps routine false alarms within {args.budget} and over-escalation within "
              f"{args.escalation}")


if __name__ == "__main__":
    main()

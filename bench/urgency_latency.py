"""What the urgency detector adds to a query when it reuses the query vector the search already computed.

    .venv/bin/python bench/urgency_latency.py [--rounds 5] [--json]

Embeds the queries of bench/urgent_queries.jsonl and bench/traffic_queries.jsonl once (as the search
service does for each query), then times, per query and in turns within each round so that machine
noise hits all alike: the rules alone (`UrgencyRules.assess`), the assessor the app uses with the
vector given (`Urgency.assess(text, vector)`: gate, rules, detector, message and calls), the same
assessor without the gate (issue 25), the detector's `classify(vector)` alone, and, for scale,
embedding one query (`encode_query`, every 10th query). Prints the median and 95th percentile of
each in microseconds, the detector's added median (assessor minus rules) and the gate's (assessor
minus the assessor without it).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import ROOT, configured_embedder

from search_app.core.urgency import UrgencyRules, load

QUERIES = (ROOT / "bench" / "urgent_queries.jsonl", ROOT / "bench" / "traffic_queries.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    texts = [json.loads(line)["query"] for path in QUERIES
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    embedder = configured_embedder()
    assessor = load(embedder=embedder)
    ungated = load(embedder=embedder)
    ungated.rules.gate = None
    rules = UrgencyRules.load()
    detector = assessor.detector
    vectors = embedder.encode(texts)
    timings: dict[str, list[float]] = {"rules": [], "rules+detector": [], "no gate": [], "classify": [],
                                       "encode_query": []}
    clock = time.perf_counter
    for _ in range(args.rounds):
        for i, (text, vector) in enumerate(zip(texts, vectors)):
            t0 = clock()
            rules.assess(text)
            t1 = clock()
            assessor.assess(text, vector)
            t2 = clock()
            detector.classify(vector)
            t3 = clock()
            ungated.assess(text, vector)
            timings["no gate"].append(clock() - t3)
            timings["rules"].append(t1 - t0)
            timings["rules+detector"].append(t2 - t1)
            timings["classify"].append(t3 - t2)
            if i % 10 == 0:
                t4 = clock()
                embedder.encode_query(text)
                timings["encode_query"].append(clock() - t4)
    figures = {name: {"median_us": round(float(np.median(v)) * 1e6, 1), "p95_us": round(float(np.percentile(v, 95)) * 1e6, 1),
                      "n": len(v)} for name, v in timings.items()}
    added = figures["rules+detector"]["median_us"] - figures["rules"]["median_us"]
    figures["detector_added_median_us"] = round(added, 1)
    gate = figures["rules+detector"]["median_us"] - figures["no gate"]["median_us"]
    figures["gate_added_median_us"] = round(gate, 1)
    if args.json:
        print(json.dumps(figures, indent=1))
        return
    print(f"{len(texts)} queries x {args.rounds} rounds; detector: {len(detector)} examples, "
          f"{detector.weights.shape[0]}-d, {detector.embedder['backend']}")
    for name in timings:
        f = figures[name]
        print(f"{name:<16} median {f['median_us']:>9.1f} us   p95 {f['p95_us']:>9.1f} us   (n={f['n']})")
    print(f"detector adds a median {added:.1f} us per query (assessor with the vector minus the rules alone)")
    print(f"the gate adds a median {gate:.1f} us per query (assessor minus the same assessor without its gate)")


if __name__ == "__main__":
    main()

"""The first result on the 305-label index for what people type, the label weights before (weight_section 0.4,
weight_heading 0.1) and as configured (issue 28):

    .venv/bin/python bench/label_typed.py

Bare names (each label's first brand name and its drug), the 1-3-word queries of bench/traffic_queries.jsonl, and
100 strings of random letters (seed 3): how many keep their first result, the first results' section types, and,
for bare names, how many put a label of the named medicine first.
"""
import sys, json, random
from dataclasses import replace
from collections import Counter
sys.path.insert(0, "/work/main/bench")
from pathlib import Path
from label_intent import _searcher, _labels
s = _searcher(Path("/work/main/bench/out/labels/index"))
labels = _labels(s.index)
names = sorted({n.lower() for a in labels for n in (a.meta.get("brand_names") or [])[:1] + [a.meta.get("drug") or ""] if n})
traffic = [json.loads(l)["query"] for l in open("/work/main/bench/traffic_queries.jsonl") if l.strip()]
short = [q for q in traffic if len(q.split()) <= 3]
rng = random.Random(3)
noise = ["".join(rng.choice("asdfghjklqwertyuiopzxcvbnm ") for _ in range(rng.randint(3, 12))).strip() or "x" for _ in range(100)]
sets = {"bare names": names, "1-3 words (traffic)": short, "keyboard noise": noise}
base = s.weights
for label, qs in sets.items():
    tops = {}
    for w in ("before", "after"):
        s.weights = replace(base, section=0.4, heading=0.1) if w == "before" else base
        tops[w] = [(h[0].passage.article_id, h[0].passage.section_type) if (h := s.search(q, 1).hits) else None for q in qs]
    same = sum(a == b for a, b in zip(tops["before"], tops["after"]))
    print(f"{label}: {len(qs)} queries, top result the same for {same}; first section types before "
          f"{Counter(t[1] for t in tops['before'] if t).most_common(4)}, after {Counter(t[1] for t in tops['after'] if t).most_common(4)}")
    if label == "bare names":
        def own(w):
            return sum(1 for q, t in zip(qs, tops[w]) if t and q in {n.lower() for n in (s.index.article(t[0]).meta.get("brand_names") or []) + [s.index.article(t[0]).meta.get("drug") or ""]})
        print(f"  a label of the named medicine first: before {own('before')}, after {own('after')} of {len(qs)}")

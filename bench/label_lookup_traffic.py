"""How often the label look-up judgment (a query that names a kind of label section is never "no match") fires
on what people type, on a label build: by kind of query, with the queries it fires on (issue 28).

    .venv/bin/python bench/label_lookup_traffic.py INDEX     # e.g. a build of bench/dailymed_like.py's corpus

Queries: bench/traffic_queries.jsonl (by kind), bench/match_queries.jsonl, every name of indexer/data/brands.tsv,
and 500 strings of random letters and spaces (keyboard noise, seed 7).
"""
import csv
import json
import random
import string
import sys
from collections import defaultdict

from _common import ROOT

from indexer import settings  # noqa: E402
from search_app.core.ranking import open_searcher  # noqa: E402
from search_app.core.settings import SearchSettings  # noqa: E402

s = open_searcher(SearchSettings.from_conf(settings.resolve({"index": sys.argv[1]})))
u = s.understander
kinds = defaultdict(list)
for line in open(ROOT / "bench" / "traffic_queries.jsonl"):
    q = json.loads(line)
    kinds["traffic:" + q["kind"]].append(q["query"])
for line in open(ROOT / "bench" / "match_queries.jsonl"):
    q = json.loads(line)
    kinds["match:" + q["kind"]].append(q["query"])
names = [row[0] for row in csv.reader(open(ROOT / "indexer" / "data" / "brands.tsv"), delimiter="\t") if row and not row[0].startswith("#")]
kinds["bare names (brands.tsv)"] = names
rng = random.Random(7)
kinds["keyboard noise"] = ["".join(rng.choice(string.ascii_lowercase + "  ") for _ in range(rng.randint(2, 14))).strip() or "x"
                           for _ in range(500)]
for kind, qs in sorted(kinds.items()):
    fired = [q for q in qs if u.analyse(q).sections.lookup]
    print(f"{kind:32} {len(fired):4}/{len(qs):4}  {fired[:8]}")

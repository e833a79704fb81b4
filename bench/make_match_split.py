"""Assign the tune / check split of bench/match_queries.jsonl: one third "check", at random, seed 13.

The split is drawn per kind (nonsense, off_topic, uncovered, covered, comparison, general) so that
every kind has its third in the check part, and it depends only on the ids, never on results:
rerunning the script gives the same split. Run it once after adding queries, before looking at
any result; tune on "tune", report "check" untouched.

    .venv/bin/python bench/make_match_split.py            # rewrite the file's "split" fields
    .venv/bin/python bench/make_match_split.py --verify   # exit 1 if the file's split differs
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

QUERIES = Path(__file__).resolve().parent / "match_queries.jsonl"
SEED = 13
CHECK_SHARE = 1 / 3


def splits(rows: list[dict], seed: int = SEED) -> dict[str, str]:
    """id -> "tune" | "check": round(n / 3) of each kind's ids, shuffled with one seeded generator."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row["id"])
    rng = random.Random(seed)
    chosen: dict[str, str] = {}
    for kind in sorted(by_kind):
        ids = sorted(by_kind[kind])
        rng.shuffle(ids)
        n_check = round(len(ids) * CHECK_SHARE)
        chosen.update({id_: "check" if i < n_check else "tune" for i, id_ in enumerate(ids)})
    return chosen


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=QUERIES, help="the JSONL file (default: %(default)s)")
    parser.add_argument("--verify", action="store_true", help="only check that the file's split is the seeded one")
    args = parser.parse_args(argv)
    try:
        rows = read(args.queries)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read {args.queries}: {exc}", file=sys.stderr)
        return 2
    chosen = splits(rows)
    if args.verify:
        wrong = [row["id"] for row in rows if row.get("split") != chosen[row["id"]]]
        if wrong:
            print(f"error: {len(wrong)} queries differ from the seeded split (first: {wrong[0]}); "
                  f"run bench/make_match_split.py", file=sys.stderr)
            return 1
        print(f"ok: {len(rows)} queries, split as seed {SEED} draws it")
        return 0
    with open(args.queries, "w", encoding="utf-8") as fh:
        for row in rows:
            row["split"] = chosen[row["id"]]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    n_check = sum(1 for v in chosen.values() if v == "check")
    print(f"{len(rows)} queries: {len(rows) - n_check} tune, {n_check} check (seed {SEED}, per kind)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

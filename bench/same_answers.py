"""Are the answers of /api/v1/search byte for byte what they were? Save them once, compare after a change.

    .venv/bin/python bench/same_answers.py --save bench/out/answers-before.json
    ... change the code ...
    .venv/bin/python bench/same_answers.py --against bench/out/answers-before.json
    .venv/bin/python bench/same_answers.py --index bench/out/medquad-index --queries ../shared/data/medicationqa/queries-dev.jsonl \
        --save bench/out/answers-medquad.json      # the load test's index, with its questions too

Every query of ``bench/match_queries.jsonl`` and ``bench/corpus_questions.jsonl`` (327), and of any
``--queries`` file, is asked
through the real Flask app (the path a client takes); a fixed sample of them is asked again with
the other parameters a request can carry (dense and lexical modes, a second page, spelling off,
a drug filter, a section-type filter, a small k), so that every branch of the search path is
compared. The bodies are compared as bytes; a difference is shown as the first JSON path where the
two answers part. The index is built once from ``corpus/`` if missing and never rebuilt here (a
rebuild with changed loader code would change the answers for reasons that are not the change).
Exit status 0 when every answer is the same, 1 when one differs.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import OUT, PY, ROOT

DEFAULT_INDEX = OUT / "same-answers-index"
VARIANTS: tuple[dict[str, Any], ...] = (
    {"mode": "dense"}, {"mode": "lexical"}, {"offset": 10}, {"spell": "off"}, {"k": 3},
    {"drug": "metformin"}, {"section_type": "side_effects"}, {"drug": "ibuprofen", "section_type": "dosage"},
)
SAMPLE = 25  # queries asked again with each variant


QUERIES = (ROOT / "bench" / "match_queries.jsonl", ROOT / "bench" / "corpus_questions.jsonl")


def requests(files: list[Path]) -> list[dict[str, Any]]:
    """The query strings to ask: every query plainly, then a seeded sample with each variant."""
    texts = [json.loads(line)["query"] for path in files
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    asked = [{"q": q, "k": 10} for q in texts]
    sample = random.Random(12).sample(texts, SAMPLE)
    asked += [{"q": q, "k": 10, **variant} for variant in VARIANTS for q in sample]
    return asked


def ensure_index(index: Path) -> None:
    if (index / "current").exists():
        return
    print(f"building {index} from corpus/ (once)", file=sys.stderr)
    subprocess.run([str(PY), "-m", "indexer", "build", str(ROOT / "corpus"), "--index", str(index)], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})


def answers(index: Path, files: list[Path]) -> tuple[list[dict[str, Any]], float]:
    """(params, status, body) of every request, and the median seconds per request."""
    from search_app import create_app

    client = create_app({"index": str(index)}).test_client()
    out, times = [], []
    for params in requests(files):
        t0 = time.perf_counter()
        response = client.get("/api/v1/search", query_string=params)
        times.append(time.perf_counter() - t0)
        out.append({"params": params, "status": response.status_code, "body": response.get_data(as_text=True)})
    times.sort()
    return out, times[len(times) // 2]


def first_difference(a: Any, b: Any, path: str = "$") -> str:
    """The first JSON path where ``a`` and ``b`` differ, with the two values."""
    if type(a) is not type(b):
        return f"{path}: {a!r:.120} != {b!r:.120}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            if a[key] != b[key] or json.dumps(a[key]) != json.dumps(b[key]):
                return first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if json.dumps(x) != json.dumps(y):
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r:.120} != {b!r:.120}"


def compare(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> int:
    """Print every request whose answer changed; the number of them."""
    if [r["params"] for r in before] != [r["params"] for r in now]:
        print("the saved answers are of other requests (queries or variants changed): save them again")
        return len(now)
    changed = 0
    for old, new in zip(before, now):
        if old["status"] == new["status"] and old["body"] == new["body"]:
            continue
        changed += 1
        if changed <= 10:
            where = (f"status {old['status']} != {new['status']}" if old["status"] != new["status"]
                     else first_difference(json.loads(old["body"]), json.loads(new["body"])))
            print(f"differs: {json.dumps(old['params'])}\n  {where}")
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index to ask (built from corpus/ if missing)")
    parser.add_argument("--queries", type=Path, action="append", default=[],
                        help="another JSONL file of {\"query\": ...} lines to ask (repeatable)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--save", type=Path, help="write the answers here")
    what.add_argument("--against", type=Path, help="compare with answers saved earlier")
    args = parser.parse_args()
    if args.against and not args.against.is_file():
        raise SystemExit(f"error: no saved answers at {args.against}; run with --save first")
    if args.index == DEFAULT_INDEX:
        ensure_index(args.index)
    elif not (args.index / "current").exists():
        raise SystemExit(f"error: no index at {args.index} (bench/load_test.py says how to build the MedQuAD one)")
    for path in args.queries:
        if not path.is_file():
            raise SystemExit(f"error: no query file {path}")
    now, median = answers(args.index, [*QUERIES, *args.queries])
    build = {json.loads(r["body"]).get("build_id") for r in now if r["status"] == 200}
    print(f"{len(now)} requests, median {median * 1000:.1f} ms each, build {', '.join(sorted(build))}")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(now, ensure_ascii=False))
        print(f"saved to {args.save}")
        return
    changed = compare(json.loads(args.against.read_text()), now)
    print(f"{changed} of {len(now)} answers differ" if changed else f"all {len(now)} answers are byte-identical")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()

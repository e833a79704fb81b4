"""False alarms of the urgent-care notice on what a medicine site's search box really receives (issue 25).

    .venv/bin/python bench/urgency_traffic.py [--index var/index] [--labels-index bench/out/labels60-index]
                                              [--kinds name,typo,...] [--final] [--show] [--json FILE]

Every query goes through the search service (``search.run``) on a real build, as ``/api/v1/search``
answers it, so the notice sees the match verdict and the medicine names the search found. Kinds:

  name          every name of ``indexer/data/brands.tsv`` (brand and generic), bare; corpus index
  typo          each of those names of 5 letters or more with one slip of the finger (a letter dropped,
                doubled, swapped with the next, or replaced by a neighbour on the keyboard); corpus index
  noise         single characters, digits, 2-4-letter strings, keyboard runs and mashes; corpus index
  short, offtopic, clinician, urgent_short, sentence
                written by hand for this benchmark, apart from the rules and examples
                (``bench/traffic_queries.jsonl``, each labelled with the level it should get); corpus index
  label_lookup  "<name> overdose management", "<name> boxed warning", "<name> renal dosing",
                "<name> hepatic impairment", "<name> pregnancy" for the brand and the generic name of
                every label of ``--labels-index`` (60 openFDA labels of ``../shared``, every fifth file)
  consumer      the MedicationQA dev questions of ``../shared`` (real consumer questions, nearly all
                routine; unlabelled: only the share flagged is read); corpus index
  issue15       ``bench/urgent_queries.jsonl`` (the earlier splits, fresh6 left out), for recall per level

Splits: each kind has a frozen part, decided before any failure was read and scored only with
``--final``: for the generated kinds the queries whose sha256 is 0 modulo 3, for the written ones
the file's ``split`` field, for ``consumer`` the ``check`` part of ``bench/splits/medicationqa-dev.json``.
The default run scores the tuning parts; ``--show`` prints their false alarms (never the frozen ones').

For each kind and split: how many queries got each level and any notice; for the labelled kinds
also emergency recall, urgent queries given urgent or emergency, and routine queries given any notice.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from _common import OUT, ROOT, SHARED, search_settings

WRITTEN = ROOT / "bench" / "traffic_queries.jsonl"
ISSUE15 = ROOT / "bench" / "urgent_queries.jsonl"
WRITTEN_KINDS = ("short", "offtopic", "clinician", "urgent_short", "sentence")
KINDS = ("name", "typo", "noise", *WRITTEN_KINDS, "label_lookup", "consumer", "issue15")
LABEL_TEMPLATES = ("{} overdose management", "{} boxed warning", "{} renal dosing", "{} hepatic impairment",
                   "{} pregnancy")
LEVELS = ("emergency", "urgent", "advice")
KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def frozen(text: str) -> bool:
    """The frozen part of a generated kind: fixed by the query's text alone, before anything was scored."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 3 == 0


def split_of(text: str) -> str:
    return "frozen" if frozen(text) else "tune"


def brand_names() -> list[str]:
    """Every distinct name of the brand table, both columns."""
    names: dict[str, None] = {}
    for line in (ROOT / "indexer" / "data" / "brands.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        for name in line.split("\t"):
            if name.strip():
                names[name.strip()] = None
    return list(names)


def _neighbour(ch: str, rng: random.Random) -> str:
    for row in KEYBOARD:
        i = row.find(ch)
        if i >= 0:
            return row[max(i - 1, 0)] if (rng.random() < 0.5 and i > 0) or i == len(row) - 1 else row[i + 1]
    return ch


def typo(name: str) -> str:
    """One slip of the finger, chosen by the name's own hash (deterministic)."""
    rng = random.Random(hashlib.sha256(name.encode("utf-8")).hexdigest())
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    i = rng.choice(letters[1:-1] or letters)
    kind = rng.randrange(4)
    if kind == 0:
        return name[:i] + name[i + 1:]
    if kind == 1:
        return name[:i] + name[i] + name[i:]
    if kind == 2 and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return name[:i] + _neighbour(name[i], rng) + name[i + 1:]


def noise() -> list[str]:
    """Stray keystrokes: characters, digits, short strings, keyboard runs and mashes (seeded)."""
    rng = random.Random(25)
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = list(letters) + list("0123456789") + ["?", ".", "!!", "...", "-", "+", "/", "#", "*"]
    out += [str(rng.randrange(10, 100000)) for _ in range(30)]
    for length in (2, 3, 4):
        out += ["".join(rng.choice(letters) for _ in range(length)) for _ in range(60)]
    for row in KEYBOARD:
        out += [row[i:i + n] for n in (3, 4, 5, 6) for i in range(0, len(row) - n + 1, 2)]
    out += [ch * n for ch in "ajkxz" for n in (2, 4, 8)]
    out += ["".join(rng.choice(KEYBOARD[1]) for _ in range(rng.randrange(5, 12))) for _ in range(30)]
    return list(dict.fromkeys(out))


def written() -> list[dict]:
    """The hand-written kinds, with their labels."""
    if not WRITTEN.exists():
        return []
    return [json.loads(line) for line in WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]


def label_names(index: Path) -> list[str]:
    """The brand and generic names of every label of a label build (from its articles' metadata)."""
    from indexer.index import SearchIndex

    found: dict[str, None] = {}
    opened = SearchIndex.open(index)
    for article_id in opened.titles():
        meta = opened.article_header(article_id).meta or {}
        for key in ("brand_names", "generic_names"):
            value = meta.get(key)
            for name in value if isinstance(value, list) else [value]:
                if isinstance(name, str) and name.strip():
                    found[" ".join(name.split()).lower()] = None
    return list(found)


def consumer_questions() -> list[dict]:
    split = json.loads((ROOT / "bench" / "splits" / "medicationqa-dev.json").read_text())
    check = set(split["check"])
    rows = []
    for line in (SHARED / "medicationqa" / "queries-dev.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        rows.append({"query": q["query"], "level": None, "kind": "consumer",
                     "split": "frozen" if q["id"] in check else "tune", "labelled": False})
    return rows


def queries(kinds: list[str], label_index: Path) -> list[dict]:
    """Every query of the chosen kinds: {query, level, kind, split, labelled, index}."""
    rows: list[dict] = []
    names = brand_names()
    if "name" in kinds:
        rows += [{"query": n, "level": None, "kind": "name", "split": split_of(n)} for n in names]
    if "typo" in kinds:
        slips = dict.fromkeys(typo(n) for n in names if sum(ch.isalpha() for ch in n) >= 5)
        rows += [{"query": t, "level": None, "kind": "typo", "split": split_of(t)} for t in slips]
    if "noise" in kinds:
        rows += [{"query": t, "level": None, "kind": "noise", "split": split_of(t)} for t in noise()]
    rows += [{**r, "labelled": True} for r in written() if r["kind"] in kinds]
    if "consumer" in kinds and (SHARED / "medicationqa").is_dir():
        rows += consumer_questions()
    if "issue15" in kinds:
        for line in ISSUE15.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["split"] != "fresh6":
                rows.append({"query": r["query"], "level": r["level"], "kind": "issue15", "split": "tune",
                             "labelled": True})
    for r in rows:
        r.setdefault("labelled", False)
        r["index"] = "corpus"
    if "label_lookup" in kinds:
        for name in label_names(label_index):
            for template in LABEL_TEMPLATES:
                q = template.format(name)
                rows.append({"query": q, "level": None, "kind": "label_lookup", "split": split_of(name),
                             "labelled": False, "index": "labels"})
    return rows


def ensure_label_index(index: Path) -> None:
    """Build the 60-label index from ``../shared`` (every fifth openFDA file) when it is missing."""
    if (index / "current").exists():
        return
    import shutil

    source = OUT / "labels60-src"
    source.mkdir(parents=True, exist_ok=True)
    for path in sorted((SHARED / "drug-labels" / "openfda").glob("*.json"))[::5][:60]:
        shutil.copy(path, source / path.name)
    subprocess.run([sys.executable, "-m", "indexer", "build", str(source), "--index", str(index)], check=False)


def assess_all(rows: list[dict], indexes: dict[str, Path]) -> None:
    """Run each query through the search service and record the notice's level and why."""
    from _common import searcher_for

    from search_app.core import search as service
    from search_app.core import urgency
    from search_app.core.query import parse

    for which, path in indexes.items():
        mine = [r for r in rows if r["index"] == which]
        if not mine:
            continue
        searcher = searcher_for(path)
        configured = search_settings({"index": str(path)})
        assessor = urgency.load(configured, searcher.embedder)
        started = time.perf_counter()
        for r in mine:
            outcome = service.run(parse({"q": r["query"]}, configured), searcher, assessor)
            notice = outcome.notice
            r["given"] = notice.level if notice else None
            r["match"] = outcome.match.level
            r["why"] = ", ".join(x.id if x.source == "rule" else f"detector:{x.situation}:{x.similarity}"
                                 for x in notice.reasons) if notice else ""
        print(f"{which}: {len(mine)} queries in {time.perf_counter() - started:.0f}s", file=sys.stderr)


def pct(n: int, d: int) -> str:
    return "   -  " if not d else f"{100 * n / d:5.1f}%"


def figures(rows: list[dict]) -> dict:
    """Shares given each level; for labelled rows, recall per level and routine flagged."""
    n = len(rows)
    out: dict = {"n": n, **{level: sum(r["given"] == level for r in rows) for level in LEVELS}}
    out["any"] = sum(r["given"] is not None for r in rows)
    labelled = [r for r in rows if r["labelled"]]
    if labelled:
        of = {level: [r for r in labelled if r["level"] == level] for level in (*LEVELS, None)}
        out["emergency_expected"] = len(of["emergency"])
        out["emergency_found"] = sum(r["given"] == "emergency" for r in of["emergency"])
        out["urgent_expected"] = len(of["urgent"])
        out["urgent_or_higher"] = sum(r["given"] in ("emergency", "urgent") for r in of["urgent"])
        out["advice_expected"] = len(of["advice"])
        out["advice_any"] = sum(r["given"] is not None for r in of["advice"])
        out["routine"] = len(of[None])
        out["routine_flagged"] = sum(r["given"] is not None for r in of[None])
        out["routine_urgent_plus"] = sum(r["given"] in ("emergency", "urgent") for r in of[None])
    return out


def table(results: dict) -> None:
    print(f"{'kind':<13} {'split':<7} {'n':>5} {'emergency':>9} {'urgent':>7} {'advice':>7} {'any':>7}   "
          f"{'emerg. recall':>13} {'urgent+ on urgent':>17} {'routine flagged':>15}")
    for (kind, split), f in results.items():
        line = (f"{kind:<13} {split:<7} {f['n']:>5} {pct(f['emergency'], f['n']):>9} {pct(f['urgent'], f['n']):>7} "
                f"{pct(f['advice'], f['n']):>7} {pct(f['any'], f['n']):>7}")
        if "routine" in f:
            line += (f"   {f['emergency_found']:>4}/{f['emergency_expected']:<4} {pct(f['emergency_found'], f['emergency_expected'])}"
                     f"  {f['urgent_or_higher']:>4}/{f['urgent_expected']:<4} {pct(f['urgent_or_higher'], f['urgent_expected'])}"
                     f"  {f['routine_flagged']:>4}/{f['routine']:<4} {pct(f['routine_flagged'], f['routine'])}")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index", help="the corpus build")
    parser.add_argument("--labels-index", type=Path, default=OUT / "labels60-index", help="a drug-label build")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--final", action="store_true", help="also score the frozen parts (once, at the end)")
    parser.add_argument("--show", action="store_true", help="print the tuning parts' mistakes")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise SystemExit(f"unknown kind(s) {', '.join(unknown)}; expected {', '.join(KINDS)}")
    if "label_lookup" in kinds:
        ensure_label_index(args.labels_index)
    rows = queries(kinds, args.labels_index)
    if not args.final:
        rows = [r for r in rows if r["split"] != "frozen"]
    assess_all(rows, {"corpus": args.index, "labels": args.labels_index})
    results = {}
    for kind in kinds:
        for split in ("tune", "frozen"):
            part = [r for r in rows if r["kind"] == kind and r["split"] == split]
            if part:
                results[(kind, split)] = figures(part)
    table(results)
    if args.show:
        print("\nmistakes (tuning parts only)")
        for r in rows:
            if r["split"] == "tune" and r["given"] != r["level"] and (r["labelled"] or r["given"] is not None):
                print(f"  {r['kind']:<12} expected {str(r['level']):<9} given {str(r['given']):<9} "
                      f"match {r['match']:<6} {r['why']:<40} {r['query']!r}")
    if args.json:
        args.json.write_text(json.dumps({f"{k}/{s}": f for (k, s), f in results.items()}, indent=1) + "\n")


if __name__ == "__main__":
    main()

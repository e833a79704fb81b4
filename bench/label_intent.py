"""Clinician intent on drug labels (issue 28): a look-up naming a part of a label ranks that part of the
named medicine's label first, and a bare look-up of a part the build's labels have is never "no match".

    .venv/bin/python bench/label_intent.py templates [--index bench/out/labels/index]  # template look-ups
    .venv/bin/python bench/label_intent.py queries [--fresh]     # bench/label_queries*.jsonl, right section and label
    .venv/bin/python bench/label_intent.py bare                   # bare look-ups ("boxed warning") and off-topic noise
    .venv/bin/python bench/label_intent.py typos                  # template look-ups with one slip of the finger
    .venv/bin/python bench/label_intent.py tune [--heading-grid ...] [--subject-grid ...]  # label weights, tuning parts
    .venv/bin/python bench/label_intent.py identifiers             # NDCs, set ids, application numbers as queries
    .venv/bin/python bench/label_intent.py all [--fresh]          # all of the above but tune, one index load

**Template look-ups** are written from the structure of the build's labels, never from questions: for
each label and each kind of section below that the label has (by LOINC code), the look-ups of
``TEMPLATES`` with its brand or generic name ("Xarelto boxed warning", "rivaroxaban dosage renal
impairment"); the answering sections are the sections with that code (for renal and hepatic dosing,
the dosage sections whose heading names the kidney or the liver) of every label of the build that the
typed name names. The labels are split by a hash of their set id, decided before any scoring: a third
(``sha256(set id) % 3 == 0``) is kept apart, never tuned on; a look-up made from several labels goes
with the smallest set id. Measures: the answering section first, the right label first (a label the
typed name names), R@10. ``tune`` scores every combination of ``--grid`` (weight_section),
``--heading-grid``, ``--supporting-grid`` and ``--subject-grid`` on the tuning parts (the template look-ups', label_queries.jsonl's
and label_queries_tune2.jsonl's) and chooses, by a rule fixed before it ran, of the combinations whose mean first
share over the tuning parts is within 0.005 of the best, the one nearest the configured weights; the kept-apart
parts and the fresh sets are scored for the chosen weights only (``all --fresh``).

**Slips** (``typos``): each template look-up with one slip of the finger in one of its own words of four letters or
more (not the medicine's name), seeded: a letter dropped, doubled, swapped with the next, replaced by or preceded by
a neighbour on the keyboard; the same tune and kept parts.

Scores go through the search core (``Searcher.search``, folded labels, k 10; the verdict by
``matching.judge``), as the API does. Run under ``PYTHONPATH=<a copy of the tree before this change>``
to score the code before it: the script uses nothing the change added.
Figures go to ``bench/out/label-intent/*.json`` and are printed.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from _common import OUT, ROOT, search_settings
from labels_bench import _label_queries

INDEX = OUT / "labels" / "index"
RESULTS = OUT / "label-intent"
MATCH_QUERIES = ROOT / "bench" / "match_queries.jsonl"

# (what is asked, the LOINC codes of the answering sections, a heading they must match or None, look-ups)
TEMPLATES: tuple[tuple[str, tuple[str, ...], str | None, tuple[str, ...]], ...] = (
    ("boxed warning", ("34066-1",), None, ("{brand} boxed warning", "{generic} black box warning")),
    ("overdose", ("34088-5",), None, ("{brand} overdose", "{generic} overdosage")),
    ("pregnancy", ("42228-7", "34077-8", "34078-6"), None, ("{brand} pregnancy", "{generic} use in pregnancy")),
    ("lactation", ("77290-5", "34080-2"), None, ("{brand} breastfeeding", "{generic} lactation")),
    ("interactions", ("34073-7",), None, ("{brand} drug interactions", "{generic} interactions")),
    ("contraindications", ("34070-3",), None, ("{brand} contraindications", "{generic} contraindicated")),
    ("storage", ("44425-7", "34069-5"), None, ("{brand} storage", "{generic} storage and handling")),
    ("mechanism", ("43679-0",), None, ("{generic} mechanism of action", "{brand} mechanism")),
    ("dosage", ("34068-7",), None, ("{generic} dose", "{brand} dosing")),
    ("renal dosing", ("34068-7",), r"renal|creatinine|kidney (impairment|disease|function|failure)",
     ("{generic} dosage renal impairment", "{brand} dose in severe renal impairment")),
    ("hepatic dosing", ("34068-7",), r"hepatic|liver (impairment|disease|function|failure)",
     ("{generic} dosing hepatic impairment", "{brand} dose in liver impairment")),
    ("adverse reactions", ("34084-4",), None, ("{brand} adverse reactions", "{generic} side effects")),
    ("pediatric use", ("34081-0",), None, ("{brand} pediatric use", "{generic} use in children")),
    ("geriatric use", ("34082-8",), None, ("{brand} geriatric use", "{generic} use in elderly patients")),
    ("indications", ("34067-9",), None, ("{brand} indications", "{generic} indications and usage")),
    # Older labels split it into Warnings, Precautions and General Precautions.
    ("warnings and precautions", ("43685-7", "34071-1", "42232-9", "34072-9"), None,
     ("{brand} warnings and precautions",)),
)
# Bare look-ups: the template look-ups without a medicine, each with the codes that answer it.
BARE = tuple((text.replace("{brand} ", "").replace("{generic} ", ""), codes)
             for _, codes, _, phrasings in TEMPLATES for text in phrasings)


@dataclass
class Lookup:
    query: str
    kind: str
    part: str
    set_id: str
    labels: set[str] = field(default_factory=set)          # labels the typed name names
    relevant: set[tuple[str, str]] = field(default_factory=set)  # their answering sections


def part_of(set_id: str) -> str:
    """tune, or kept (a third, by a hash of the set id, decided before any scoring)."""
    return "kept" if int(hashlib.sha256(set_id.encode()).hexdigest(), 16) % 3 == 0 else "tune"


def _labels(index) -> list:
    """Every drug-label article of the build."""
    found = []
    for article_id in sorted(index.titles()):
        article = index.article(article_id)
        if article is not None and (article.meta or {}).get("kind") == "label":
            found.append(article)
    return found


def template_lookups(index) -> list[Lookup]:
    """The template look-ups of every label of the build, with their answering sections."""
    labels = _labels(index)
    names_of = {}
    for label in labels:
        meta = label.meta
        names_of[label.id] = {n.casefold() for n in meta.get("brand_names", []) + meta.get("generic_names", [])
                              + [meta.get("drug", "")] if n}
    made: dict[str, Lookup] = {}
    for label in labels:
        meta = label.meta
        generic = str(meta.get("drug") or "").lower()
        brand = (meta.get("brand_names") or [generic])[0]
        if not generic or not brand:
            continue
        codes = {sid: d.get("code") for sid, d in (meta.get("label_sections") or {}).items()}
        for kind, wanted, heading, phrasings in TEMPLATES:
            if not any(codes.get(s.id) in wanted and (heading is None or re.search(heading, s.heading, re.I))
                       for s in label.sections):
                continue
            for phrasing in phrasings:
                typed = brand if "{brand}" in phrasing else generic
                query = phrasing.format(brand=brand, generic=generic)
                look = made.get(query.casefold())
                if look is None:
                    look = made[query.casefold()] = Lookup(query, kind, part_of(meta["set_id"]), meta["set_id"])
                elif meta["set_id"] < look.set_id:
                    look.set_id, look.part = meta["set_id"], part_of(meta["set_id"])
                for other in labels:
                    if typed.casefold() in names_of[other.id]:
                        look.labels.add(other.id)
                        other_codes = {sid: d.get("code") for sid, d in (other.meta.get("label_sections") or {}).items()}
                        look.relevant.update((other.id, s.id) for s in other.sections if other_codes.get(s.id) in wanted
                                             and (heading is None or re.search(heading, s.heading, re.I)))
    return sorted(made.values(), key=lambda look: look.query)


def _first(searcher, query: str, relevant: set[tuple[str, str]], labels: set[str]) -> tuple[int | None, bool]:
    hits = searcher.search(query, 10).hits
    ranks = [n for n, h in enumerate(hits, 1) if (h.passage.article_id, h.passage.section_id) in relevant]
    return (ranks[0] if ranks else None), bool(hits) and hits[0].passage.article_id in labels


def _summary(rows: list[dict]) -> dict:
    n = len(rows)
    if not n:
        return {"queries": 0}
    return {"queries": n, "first": sum(r["rank"] == 1 for r in rows),
            "first_share": round(sum(r["rank"] == 1 for r in rows) / n, 3),
            "label_first": round(sum(r["label"] for r in rows) / n, 3),
            "recall_at_10": round(sum(r["rank"] is not None for r in rows) / n, 3)}


def score_templates(searcher, lookups: list[Lookup], parts=("tune", "kept")) -> tuple[list[dict], dict]:
    rows = []
    for look in lookups:
        if look.part not in parts:
            continue
        rank, label = _first(searcher, look.query, look.relevant, look.labels)
        rows.append({"query": look.query, "kind": look.kind, "part": look.part, "rank": rank, "label": label})
    summary = {part: _summary([r for r in rows if r["part"] == part]) for part in parts}
    summary["by_kind"] = {kind: {part: _summary([r for r in rows if r["kind"] == kind and r["part"] == part])
                                 for part in parts} for kind, *_ in TEMPLATES}
    return rows, summary


def score_queries(searcher, fresh: bool, parts=("tune", "check", "tune2", "fresh", "fresh2")) -> tuple[list[dict], dict]:
    rows = []
    for q in _label_queries(fresh):
        if q["part"] not in parts:
            continue
        relevant = {(r["article_id"], r["section_id"]) for r in q["relevant"]}
        rank, label = _first(searcher, q["query"], relevant, {a for a, _ in relevant})
        rows.append({"id": q["id"], "query": q["query"], "part": q["part"], "rank": rank, "label": label})
    return rows, {part: _summary([r for r in rows if r["part"] == part]) for part in parts
                  if any(r["part"] == part for r in rows)}


def score_bare(searcher, index) -> dict:
    """Bare look-ups: the verdict and whether the first result is a section of the kind named; off-topic noise."""
    from search_app.core.matching import judge

    code_of = {}
    for label in _labels(index):
        for sid, d in (label.meta.get("label_sections") or {}).items():
            code_of[(label.id, sid)] = d.get("code")
    held = set(code_of.values())
    rows = []
    for text, codes in BARE:
        if not held & set(codes):
            continue
        result = searcher.search(text, 10)
        level = judge(result.analysis, result.best_cosine, searcher.thresholds).level
        top = result.hits[0].passage if result.hits else None
        rows.append({"query": text, "level": level,
                     "first_of_kind": top is not None and code_of.get((top.article_id, top.section_id)) in codes})
    noise = [json.loads(line) for line in MATCH_QUERIES.read_text().splitlines() if line.strip()]
    noise = [q for q in noise if q["kind"] in ("nonsense", "off_topic")]
    judged = []
    for q in noise:
        result = searcher.search(q["query"], 10)
        judged.append(judge(result.analysis, result.best_cosine, searcher.thresholds).level)
    return {"bare": rows, "bare_none": sum(r["level"] == "none" for r in rows),
            "bare_first_of_kind": sum(r["first_of_kind"] for r in rows), "bare_count": len(rows),
            "noise_none": sum(level == "none" for level in judged), "noise_count": len(judged)}


def identifier_lookups(index) -> list[tuple[str, str, str, set[str]]]:
    """(query, kind, part, labels that carry it) for every identifier of every label of the build: its set id, each
    product NDC with and without dashes, its first package NDC, each application number as "NDA022406" and as
    "NDA 22406". An identifier several labels carry (an application number a repackager shares) is answered by any."""
    carriers: dict[tuple[str, str], set[str]] = {}
    parts: dict[tuple[str, str], str] = {}

    def add(query: str, kind: str, label) -> None:
        key = (query.casefold(), kind)
        carriers.setdefault(key, set()).add(label.id)
        parts[key] = min(parts.get(key, "~"), label.meta["set_id"])

    for label in _labels(index):
        meta = label.meta
        add(meta["set_id"], "set id", label)
        for ndc in meta.get("product_ndcs") or ():
            add(str(ndc), "product NDC", label)
            add(str(ndc).replace("-", ""), "product NDC, no dashes", label)
        for ndc in (meta.get("package_ndcs") or ())[:1]:
            add(str(ndc), "package NDC", label)
        for number in meta.get("application_numbers") or ():
            found = re.fullmatch(r"([A-Za-z]+)0*(\d+)", str(number).strip())
            add(str(number), "application number", label)
            if found:
                add(f"{found.group(1)} {found.group(2)}", "application number, spaced", label)
    return [(query, kind, part_of(parts[(query, kind)]), labels)
            for (query, kind), labels in sorted(carriers.items())]


KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours(ch: str) -> list[str]:
    """The keys beside a letter on a QWERTY keyboard (left, right, above, below)."""
    for r, row in enumerate(KEYBOARD):
        if ch in row:
            c = row.index(ch)
            return ([row[c + d] for d in (-1, 1) if 0 <= c + d < len(row)]
                    + [KEYBOARD[o][c] for o in (r - 1, r + 1) if 0 <= o < len(KEYBOARD) and c < len(KEYBOARD[o])])
    return [ch]


def slip(word: str, rng: random.Random) -> str:
    """One slip of the finger inside a word (its first and last letters kept)."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice("dtsir")
    if kind == "d":
        return word[:i] + word[i + 1:]
    if kind == "t":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "r":
        return word[:i] + word[i] + word[i:]
    near = rng.choice(_neighbours(word[i].lower()))
    return word[:i] + near + (word[i:] if kind == "i" else word[i + 1:])


def slipped_lookups(lookups: list[Lookup], seed: int = 11) -> list[Lookup]:
    """Each template look-up with one slip in one of its own words of four letters or more (the name's aside)."""
    own = {w for _, _, _, phrasings in TEMPLATES for p in phrasings
           for w in p.replace("{brand}", "").replace("{generic}", "").split() if len(w) >= 4}
    rng = random.Random(seed)
    out = []
    for look in lookups:
        words = look.query.split()
        at = [i for i, w in enumerate(words) if w in own]
        if at:
            i = rng.choice(at)
            words[i] = slip(words[i], rng)
            out.append(replace(look, query=" ".join(words)))
    return out


def cmd_typos(args, searcher=None) -> dict:
    searcher = searcher or _searcher(args.index)
    lookups = slipped_lookups(template_lookups(searcher.index))
    rows, summary = score_templates(searcher, lookups)
    print(f"template look-ups with one slip ({len(lookups)}):")
    for part in ("tune", "kept"):
        _print_part(part, summary[part])
    if args.misses:
        for r in [r for r in rows if r["part"] == "tune" and r["rank"] != 1][:args.misses]:
            print(f"    miss (tune): {r['query']!r} rank {r['rank']} label first {r['label']}")
    _save("typos", {"summary": summary, "rows": [r for r in rows if r["part"] == "tune"]})
    return summary


def cmd_identifiers(args, searcher=None) -> dict:
    from search_app.core import query as search_query
    from search_app.core.search import run

    searcher = searcher or _searcher(args.index)
    lookups = identifier_lookups(searcher.index)
    by: dict[str, dict[str, list[int]]] = {}
    misses = []
    for text, kind, part, labels in lookups:
        hits = run(search_query.SearchRequest(q=text, k=10), searcher).hits
        first = bool(hits) and hits[0].passage.article_id in labels
        by.setdefault(kind, {}).setdefault(part, [0, 0])
        by[kind][part][0] += first
        by[kind][part][1] += 1
        if not first:
            misses.append({"query": text, "kind": kind, "part": part})
    print(f"identifier look-ups on {args.index} ({len(lookups)}): the label first (tune | kept)")
    for kind, parts in by.items():
        t, k = parts.get("tune", [0, 0]), parts.get("kept", [0, 0])
        print(f"    {kind:28} {t[0]}/{t[1]} | {k[0]}/{k[1]}")
    total = [sum(p.get(part, [0, 0])[i] for p in by.values()) for part in ("tune", "kept") for i in (0, 1)]
    print(f"  all: tune {total[0]}/{total[1]}, kept {total[2]}/{total[3]}; misses: {misses[:10]}")
    found = {"by_kind": by, "misses": misses}
    _save("identifiers", found)
    return found


def _searcher(index_dir: Path):
    """The searcher of the build at ``index_dir``, with the configured model and weights."""
    from search_app.core.ranking import open_searcher

    return open_searcher(search_settings({"index": str(index_dir)}))


def _print_part(name: str, s: dict) -> None:
    if s.get("queries"):
        print(f"  {name:6} {s['first']}/{s['queries']} = {s['first_share']} answering section first; right label "
              f"first {s['label_first']}; R@10 {s['recall_at_10']}")


def cmd_templates(args, searcher=None) -> dict:
    searcher = searcher or _searcher(args.index)
    lookups = template_lookups(searcher.index)
    started = time.perf_counter()
    rows, summary = score_templates(searcher, lookups)
    print(f"template look-ups on {args.index} ({len(lookups)}, {time.perf_counter() - started:.0f} s):")
    for part in ("tune", "kept"):
        _print_part(part, summary[part])
    print("  by kind (tune | kept: answering first / look-ups):")
    for kind, parts in summary["by_kind"].items():
        t, k = parts["tune"], parts["kept"]
        if t.get("queries") or k.get("queries"):
            print(f"    {kind:26} {t.get('first', 0)}/{t.get('queries', 0)} | {k.get('first', 0)}/{k.get('queries', 0)}")
    misses = [r for r in rows if r["part"] == "tune" and r["rank"] != 1]
    if args.misses:
        for r in misses[:args.misses]:
            print(f"    miss (tune): {r['query']!r} rank {r['rank']} label first {r['label']}")
    _save("templates", {"summary": summary, "rows": [r for r in rows if r["part"] == "tune"]})
    return summary


def cmd_queries(args, searcher=None) -> dict:
    searcher = searcher or _searcher(args.index)
    rows, summary = score_queries(searcher, args.fresh)
    print("label questions (bench/label_queries.jsonl; fresh, fresh2: label_queries_fresh*.jsonl, their score only):")
    for part, s in summary.items():
        _print_part(part, s)
    if args.misses:
        for r in rows:
            if r["part"] in ("tune", "tune2") and r["rank"] != 1:
                print(f"    miss (tune): {r['id']} {r['query']!r} rank {r['rank']} label first {r['label']}")
    _save("queries", {"summary": summary, "rows": [r for r in rows if not r["part"].startswith("fresh")]})
    return summary


def cmd_bare(args, searcher=None) -> dict:
    searcher = searcher or _searcher(args.index)
    found = score_bare(searcher, searcher.index)
    print(f"bare look-ups: {found['bare_none']}/{found['bare_count']} judged 'none', "
          f"{found['bare_first_of_kind']}/{found['bare_count']} with a section of that kind first; off-topic and "
          f"nonsense (bench/match_queries.jsonl): {found['noise_none']}/{found['noise_count']} judged 'none'")
    for row in found["bare"]:
        print(f"    {row['query']!r}: {row['level']}, first of its kind {row['first_of_kind']}")
    _save("bare", found)
    return found


def cmd_all(args) -> None:
    searcher = _searcher(args.index)
    print(f"weights: {searcher.weights}")
    cmd_templates(args, searcher)
    cmd_typos(args, searcher)
    cmd_queries(args, searcher)
    cmd_bare(args, searcher)
    cmd_identifiers(args, searcher)


def _keep_query_work(searcher) -> None:
    """Keep each query's analysis and retrieval between weight settings (the label weights change neither)."""
    analyses: dict = {}
    found: dict = {}
    analyse, signals = searcher.understander.analyse, searcher.signals

    def kept_analysis(text, respell=True):
        if (text, respell) not in analyses:
            analyses[(text, respell)] = analyse(text, respell=respell)
        return analyses[(text, respell)]

    def kept_signals(analysis, mode, allowed):
        key = (analysis.text, analysis.corrected, mode, None if allowed is None else allowed.tobytes())
        if key not in found:
            found[key] = signals(analysis, mode, allowed)
        return found[key]

    searcher.understander.analyse, searcher.signals = kept_analysis, kept_signals


def cmd_tune(args) -> None:
    """The label-only weights chosen on the tuning parts: every combination of the grids, scored by the mean first
    share of the template look-ups' tuning part and the label questions' tuning parts (tune, and tune2 when
    ``bench/label_queries_tune2.jsonl`` exists); of the combinations within 0.005 of the best mean, the one nearest
    the configured weights (sum of the differences; then the smaller weights) is chosen, so that a change needs
    evidence. Only the tuning parts are scored."""
    searcher = _searcher(args.index)
    _keep_query_work(searcher)
    base = searcher.weights
    lookups = template_lookups(searcher.index)
    table = []
    print("| weight_section | weight_heading | weight_supporting | weight_subject | templates tune | questions tune "
          "| tune2 | mean |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for section, heading, supporting, subject in itertools.product(
            args.grid, args.heading_grid or [base.heading], args.supporting_grid or [base.supporting],
            args.subject_grid or [base.subject]):
        searcher.weights = replace(base, section=section, heading=heading, supporting=supporting, subject=subject)
        _, t = score_templates(searcher, lookups, parts=("tune",))
        _, q = score_queries(searcher, False, parts=("tune", "tune2"))
        parts = [t["tune"], q["tune"]] + ([q["tune2"]] if "tune2" in q else [])
        mean = sum(p["first_share"] for p in parts) / len(parts)
        table.append({"section": section, "heading": heading, "supporting": supporting, "subject": subject,
                      "templates": t["tune"],
                      "queries": q["tune"], "tune2": q.get("tune2"), "mean": round(mean, 4)})
        shown = " | ".join(f"{p['first']}/{p['queries']}" for p in parts)
        print(f"| {section} | {heading} | {supporting} | {subject} | {shown}{' | -' if len(parts) < 3 else ''} | {mean:.4f} |",
              flush=True)
    best = max(row["mean"] for row in table)
    chosen = min((row for row in table if row["mean"] >= best - 0.005),
                 key=lambda r: (round(abs(r["section"] - base.section) + abs(r["heading"] - base.heading)
                                      + abs(r["supporting"] - base.supporting) + abs(r["subject"] - base.subject), 6),
                                r["section"], r["heading"], r["supporting"], r["subject"]))
    print(f"chosen on the tuning parts: weight_section = {chosen['section']}, weight_heading = {chosen['heading']}, "
          f"weight_supporting = {chosen['supporting']}, weight_subject = {chosen['subject']} (best mean {best:.4f}; configured: {base})")
    _save("tune", {"grid": table, "chosen": chosen})


def _save(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("templates", "typos", "queries", "bare", "identifiers", "tune", "all"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--index", type=Path, default=INDEX)
        cmd.add_argument("--misses", type=int, default=0, help="print up to this many misses of the tuning parts")
        if name in ("queries", "all"):
            cmd.add_argument("--fresh", action="store_true",
                             help="also score label_queries_fresh.jsonl and label_queries_fresh2.jsonl (score only)")
        if name == "tune":
            cmd.add_argument("--grid", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7],
                             help="weight_section values")
            cmd.add_argument("--heading-grid", type=float, nargs="+", help="weight_heading values (default: as set)")
            cmd.add_argument("--subject-grid", type=float, nargs="+", help="weight_subject values (default: as set)")
            cmd.add_argument("--supporting-grid", type=float, nargs="+",
                             help="weight_supporting values (default: as set)")
    args = parser.parse_args()
    if not hasattr(args, "fresh"):
        args.fresh = False
    commands: dict[str, Callable[[argparse.Namespace], object]] = {
        "templates": cmd_templates, "typos": cmd_typos, "queries": cmd_queries, "bare": cmd_bare, "identifiers": cmd_identifiers,
        "tune": cmd_tune, "all": cmd_all}
    commands[args.cmd](args)


if __name__ == "__main__":
    main()

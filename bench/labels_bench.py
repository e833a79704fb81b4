"""Drug-label benchmarks (issue #16): build, verify, rebuild, throughput beside MedQuAD, streaming memory, retrieval.

    .venv/bin/python bench/labels_bench.py build            # a cold build of all labels: 15 min to an hour on 2 cores
    .venv/bin/python bench/labels_bench.py throughput       # label and MedQuAD samples built in turns, tokens/s
    .venv/bin/python bench/labels_bench.py stream           # bulk .json.zip of repeated labels, up to ~1 GB of JSON
    .venv/bin/python bench/labels_bench.py queries          # bench/label_queries.jsonl against the build's index

``build`` runs the real CLI in child processes (each build's peak RSS is its own): a cold build
of all 303 openFDA files and 3 SPL documents into a fresh index, ``verify``, and the same build
again ``--again`` times with nothing changed (wall time, process start included). ``throughput``
builds the first ``--labels`` openFDA files and the first ``--medquad`` MedQuAD articles (about
as many passages), cold, in turns, ``--rounds`` times: tokens/s with the same backend, and the
median ratio (the machine is shared, so only side-by-side figures compare).
``stream`` writes ``.json.zip`` files holding the 303 labels repeated ``--copies`` times, each copy
with new set ids, and reads each in a child process through the loader (``load_file``), reporting
its peak RSS: the loader holds one label at a time, so RSS should not follow the file size. Then it
builds ``--build-copies`` repeats of the first ``--subset`` labels, to show how a whole build's RSS
grows (with the index it writes: vectors and BM25 tokens, not with the file). ``queries`` scores
the questions of ``bench/label_queries.jsonl`` (the answering section of each, written by hand
from the labels) on the index of ``build``: the share whose first result is an answering section,
for the tuning part and for the check part (a third, drawn with seed 16 before any result was seen).
Figures go to ``bench/out/labels/*.json`` and are printed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
LABELS = DATA / "drug-labels"
OUT = ROOT / "bench" / "out" / "labels"
QUERIES = ROOT / "bench" / "label_queries.jsonl"
PY = sys.executable


def _run(args: list[str], **kw) -> tuple[int, float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, **kw)
    return done.returncode, time.perf_counter() - started, done.stderr


def _build(sources: list[Path], index: Path, report: Path, fresh: bool = True) -> dict:
    if fresh:
        shutil.rmtree(index, ignore_errors=True)
    rc, wall, err = _run([PY, "-m", "indexer", "build", *map(str, sources), "--index", str(index),
                          "--report", str(report)])
    data = json.loads(report.read_text()) if report.exists() else {}
    data.update(wall_seconds=round(wall, 2), exit_code=rc)
    if rc not in (0, 3):
        print(err[-3000:], file=sys.stderr)
    return data


def _summary(name: str, r: dict) -> str:
    return (f"{name}: exit {r.get('exit_code')}, {r.get('articles')} articles, {r.get('sections')} sections, "
            f"{r.get('passages')} passages ({r.get('passages_embedded')} embedded), {r.get('wall_seconds')} s wall, "
            f"{r.get('tokens_per_second')} tokens/s, {r.get('passages_per_second')} passages/s, "
            f"peak RSS {r.get('peak_rss_mb')} MB, skipped {len(r.get('skipped') or [])}, "
            f"replaced {len(r.get('replaced_versions') or [])}")


def cmd_build(args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    index = OUT / "index"
    results["labels"] = _build([LABELS / "openfda", LABELS / "spl"], index, OUT / "labels-build.json")
    print(_summary("labels, cold", results["labels"]), flush=True)
    rc, wall, err = _run([PY, "-m", "indexer", "verify", "--index", str(index)])
    results["verify"] = {"exit_code": rc, "wall_seconds": round(wall, 2), "message": err.strip()[-500:]}
    print(f"verify: exit {rc}, {wall:.1f} s", flush=True)
    results["again"] = []
    for n in range(args.again):
        again = _build([LABELS / "openfda", LABELS / "spl"], index, OUT / f"labels-again-{n}.json", fresh=False)
        results["again"].append(again)
        print(f"build again, nothing changed: exit {again['exit_code']}, up to date {again.get('up_to_date')}, "
              f"{again['wall_seconds']} s wall (scan {again.get('stages', {}).get('scan')} s, "
              f"load average {os.getloadavg()[0]:.1f})", flush=True)
    (OUT / "build.json").write_text(json.dumps(results, indent=1))


def cmd_throughput(args) -> None:
    """Cold builds of a label sample and a MedQuAD sample of about the same size, taking turns."""
    OUT.mkdir(parents=True, exist_ok=True)
    labels = OUT / "throughput-labels"
    shutil.rmtree(labels, ignore_errors=True)
    labels.mkdir()
    for file in sorted((LABELS / "openfda").glob("*.json"))[:args.labels]:
        shutil.copy(file, labels / file.name)
    sample = OUT / "throughput-medquad.jsonl"
    with open(DATA / "medquad" / "articles.jsonl", encoding="utf-8") as src, open(sample, "w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n >= args.medquad:
                break
            dst.write(line)
    rounds = []
    for n in range(args.rounds):
        row = {}
        for name, source in (("labels", labels), ("medquad", sample)):
            report = _build([source], OUT / f"throughput-{name}-index", OUT / f"throughput-{name}-{n}.json")
            row[name] = {k: report.get(k) for k in ("passages", "tokens_per_second", "passages_per_second",
                                                     "embed_seconds", "wall_seconds", "peak_rss_mb", "exit_code")}
        row["ratio"] = round(row["labels"]["tokens_per_second"] / row["medquad"]["tokens_per_second"], 3)
        rounds.append(row)
        print(f"round {n + 1}: labels {row['labels']['passages']} passages {row['labels']['tokens_per_second']} "
              f"tokens/s, MedQuAD {row['medquad']['passages']} passages {row['medquad']['tokens_per_second']} "
              f"tokens/s, ratio {row['ratio']} (load {os.getloadavg()[0]:.1f})", flush=True)
    ratios = sorted(r["ratio"] for r in rounds)
    median = ratios[len(ratios) // 2] if len(ratios) % 2 else sum(ratios[len(ratios) // 2 - 1:len(ratios) // 2 + 1]) / 2
    print(f"median ratio of labels tokens/s to MedQuAD tokens/s: {median:.3f} over {len(rounds)} rounds")
    (OUT / "throughput.json").write_text(json.dumps({"rounds": rounds, "median_ratio": median}, indent=1))


# --------------------------------------------------------------------------- streaming


def _write_zip(path: Path, copies: int) -> dict:
    """A bulk-style zip: one JSON member, the 303 labels ``copies`` times, each copy with new set ids."""
    files = sorted((LABELS / "openfda").glob("*.json"))
    raw = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("drug-label-0001-of-0001.json", "w", force_zip64=True) as out:
            def put(text: str) -> None:
                nonlocal raw
                data = text.encode("utf-8")
                raw += len(data)
                out.write(data)

            put('{"meta": {"results": {"skip": 0}}, "results": [')
            first = True
            for copy in range(copies):
                for file in files:
                    label = json.loads(file.read_text(encoding="utf-8"))["results"][0]
                    if copy:
                        for key in ("set_id", "id"):
                            label[key] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{label[key]}/{copy}"))
                        label.get("openfda", {}).pop("spl_set_id", None)
                    put(("" if first else ",") + json.dumps(label))
                    first = False
            put("]}")
    return {"labels": copies * len(files), "json_mb": round(raw / 1e6, 1), "zip_mb": round(path.stat().st_size / 1e6, 1)}


def cmd_scan(args) -> None:
    """(child) Read a file through the loader; print labels, seconds, RSS before and at peak."""
    from indexer.sources import load_file

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, labels, skipped = time.perf_counter(), 0, 0
    for item in load_file(Path(args.path)):
        if hasattr(item, "sections"):
            labels += 1
        else:
            skipped += 1
    print(json.dumps({"labels": labels, "skipped": skipped, "seconds": round(time.perf_counter() - started, 1),
                      "rss_after_import_mb": round(before, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def cmd_stream(args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"scan": [], "build": []}
    for copies in [int(c) for c in args.copies.split(",")]:
        path = OUT / f"bulk-{copies}x.json.zip"
        made = _write_zip(path, copies)
        done = subprocess.run([PY, __file__, "_scan", str(path)], cwd=ROOT, capture_output=True, text=True)
        scan = json.loads(done.stdout.strip().splitlines()[-1])
        results["scan"].append({"copies": copies, **made, **scan})
        print(f"loader over {copies}x: {made['labels']} labels, {made['json_mb']} MB of JSON in a "
              f"{made['zip_mb']} MB zip: read in {scan['seconds']} s, peak RSS {scan['peak_rss_mb']} MB "
              f"({scan['rss_after_import_mb']} MB after imports)", flush=True)
        path.unlink()
    subset = sorted((LABELS / "openfda").glob("*.json"))[:args.subset]
    for copies in [int(c) for c in args.build_copies.split(",")]:
        path = OUT / f"subset-{copies}x.json.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            labels = []
            for copy in range(copies):
                for file in subset:
                    label = json.loads(file.read_text(encoding="utf-8"))["results"][0]
                    for key in ("set_id", "id"):
                        label[key] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{label[key]}/{copy}"))
                    labels.append(label)
            archive.writestr("drug-label-0001-of-0001.json", json.dumps({"results": labels}))
        report = _build([path], OUT / "subset-index", OUT / f"subset-{copies}x.json")
        results["build"].append({"copies": copies, "labels": len(labels), "passages": report.get("passages"),
                                 "peak_rss_mb": report.get("peak_rss_mb"), "wall_seconds": report.get("wall_seconds"),
                                 "exit_code": report.get("exit_code")})
        print(f"build of {copies}x {len(subset)} labels: {report.get('passages')} passages, "
              f"peak RSS {report.get('peak_rss_mb')} MB, {report.get('wall_seconds')} s", flush=True)
        path.unlink()
    shutil.rmtree(OUT / "subset-index", ignore_errors=True)
    (OUT / "stream.json").write_text(json.dumps(results, indent=1))


# --------------------------------------------------------------------------- retrieval


def check_part(queries: list[dict], seed: int = 16) -> set[str]:
    """The ids of the check third, drawn once with a fixed seed (never tuned on)."""
    ids = sorted(q["id"] for q in queries)
    return set(random.Random(seed).sample(ids, len(ids) // 3))


def cmd_queries(args) -> None:
    from search_app import create_app

    queries = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    check = check_part(queries)
    client = create_app({"index": str(args.index), "TESTING": True}).test_client()
    rows, parts = [], {"tune": [0, 0], "check": [0, 0]}
    for q in queries:
        data = client.get("/api/v1/search", query_string={"q": q["query"], "k": 10}).get_json()
        results = data.get("results", [])
        relevant = {(r["article_id"], r["section_id"]) for r in q["relevant"]}
        ranks = [n for n, r in enumerate(results, 1) if (r["article_id"], r["section_id"]) in relevant]
        part = "check" if q["id"] in check else "tune"
        parts[part][0] += bool(ranks and ranks[0] == 1)
        parts[part][1] += 1
        top = results[0] if results else {}
        rows.append({"id": q["id"], "part": part, "query": q["query"], "rank": ranks[0] if ranks else None,
                     "top": f"{top.get('title', '')[:40]} | {top.get('heading', '')}"})
    for row in rows:
        if row["rank"] != 1:
            print(f"  {row['part']:5} {row['id']}: {row['query']!r} -> rank {row['rank']}; first: {row['top']}")
    summary = {part: {"first": hit, "queries": n, "share": round(hit / n, 3) if n else None}
               for part, (hit, n) in parts.items()}
    total = sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values())
    summary["all"] = {"first": total[0], "queries": total[1], "share": round(total[0] / total[1], 3)}
    for part, s in summary.items():
        print(f"{part}: answering section first for {s['first']}/{s['queries']} = {s['share']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "queries.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    build = sub.add_parser("build")
    build.add_argument("--again", type=int, default=3, help="builds with nothing changed, after the cold one")
    stream = sub.add_parser("stream")
    stream.add_argument("--copies", default="1,4,12,24", help="repeats of the 303 labels, one zip each")
    stream.add_argument("--subset", type=int, default=20, help="labels repeated for the build-memory part")
    stream.add_argument("--build-copies", default="1,2,4")
    throughput = sub.add_parser("throughput")
    throughput.add_argument("--labels", type=int, default=40, help="openFDA files in the label sample")
    throughput.add_argument("--medquad", type=int, default=700, help="MedQuAD articles in its sample")
    throughput.add_argument("--rounds", type=int, default=3)
    scan = sub.add_parser("_scan")
    scan.add_argument("path")
    queries = sub.add_parser("queries")
    queries.add_argument("--index", type=Path, default=OUT / "index")
    args = parser.parse_args()
    if args.cmd != "_scan" and not LABELS.exists():
        sys.exit(f"{LABELS} is absent: the benchmark needs ../shared/data beside the checkout")
    {"build": cmd_build, "throughput": cmd_throughput, "stream": cmd_stream, "_scan": cmd_scan, "queries": cmd_queries}[args.cmd](args)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()

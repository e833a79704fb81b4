"""Ray engine against the local build on openFDA labels: wall time, start-up, CPU, memory, vectors.

    .venv/bin/python bench/ray_bench.py [--passages 2000] [--rounds 3] [--backend onnx-int8] \
        [--actors 1 2] [--compare-backend onnx] [--baseline-tree DIR] [--no-extras] [--keep-work] [--json FILE]

The corpus is whole openFDA labels (``../shared/data/drug-labels/openfda/*.json``, in file-name
order) until their distinct passage texts, chunked as the indexer chunks them, reach --passages
(a build embeds each distinct text once). Each contestant is the real command, ``python -m indexer
build LABELS --index FRESH --engine ...``, in a fresh index (so with an empty embedding cache:
every text is embedded), run as a subprocess; contestants take turns, round after round, each
round started by the next contestant, so that load from other work on the machine falls on all
alike. Contestants: ``local``, ``ray-N`` (a local Ray of this machine's cores, N actors) for each
--actors, and with --baseline-tree, ``local@baseline``: the same local build run from another
checkout (e.g. ``git archive <commit> | tar -x -C DIR``) to check that the default path kept its speed.

Per contestant, medians over the rounds: wall seconds (process start to exit, model load included),
passages per second of wall time, Ray's start-up (``ray.init`` and the model put into the object
store; then from the job's start until the first actor is ready: its process, imports, model load),
ratio of wall time to local's, the load average when it started, peak RSS of the driver (the
build's own ru_maxrss) and of each actor and of Ray's own processes, and CPU seconds of the driver,
the actors and Ray's own processes (both sampled every 0.25 s with psutil over the command's
process tree). Vectors: per row (the builds hold the same passages in the same rows, checked), the
mean and least cosine between each Ray build and the local build of the same round. Unless
--no-extras: two local builds whose windows differ (--window and a quarter of it), for the cosine
between batchings; the single writer alone (the local build again with --force, every vector from
the cache, as after a Ray job); and with --compare-backend, one more round of local and ray-(largest
N) with that backend, for its cosines only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import PY, ROOT, SHARED


def pick_labels(folder: Path, passages: int, backend: str) -> tuple[list[Path], int, int]:
    """Label files, in name order, until their distinct texts reach ``passages``; their passages and texts."""
    from indexer import texts
    from indexer.chunking import ChunkSettings, passages_for
    from indexer.embedding import load_embedder
    from indexer.sources import Skipped, iter_articles

    embedder = load_embedder(backend=backend)
    chunking = ChunkSettings(max_seq_length=embedder.max_seq_length)
    picked, total, distinct = [], 0, set()
    for path in sorted(folder.glob("*.json")):
        count = 0
        for article in iter_articles([path]):
            if isinstance(article, Skipped):
                continue
            medicine = texts.subject(article.meta)
            for passage in passages_for(article, chunking, embedder.count_tokens):
                distinct.add(texts.key(medicine, passage.heading, passage.text))
                count += 1
        if count:
            picked.append(path)
            total += count
        if len(distinct) >= passages:
            break
    return picked, total, len(distinct)


class TreeSampler:
    """Peak RSS of a process's descendants, by kind (Ray actor, Ray's own processes), sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.25):
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.actors: dict[int, float] = {}
        self.ray_system: dict[int, float] = {}
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds when last seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                children = self.root.children(recursive=True)
            except psutil.Error:
                break
            for child in [self.root, *children]:
                try:
                    name = " ".join(child.cmdline()[:1]) or child.name()
                    rss = child.memory_info().rss / 2**20
                    times = child.cpu_times()
                except psutil.Error:
                    continue
                actor = "MapWorker" in name or "_EmbedActor" in name
                kind = "driver" if child is self.root else "actors" if actor else "ray_system"
                self.cpu[child.pid] = (kind, times.user + times.system)
                if child is self.root:
                    continue
                target = self.actors if actor else self.ray_system
                target[child.pid] = max(target.get(child.pid, 0.0), rss)
            self._stop.wait(self.every)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=5)
        cpu = {kind: round(sum(seconds for k, seconds in self.cpu.values() if k == kind), 1)
               for kind in ("driver", "actors", "ray_system")}
        return {"actor_peak_rss_mb": round(max(self.actors.values(), default=0.0), 1),
                "actors_seen": len(self.actors),
                "ray_system_rss_mb": round(sum(self.ray_system.values()), 1),
                **{f"cpu_{kind}_s": seconds for kind, seconds in cpu.items()}}


def run_build(name: str, labels: list[str], index: Path, backend: str, window: int, tree: Path | None,
              *extra: str) -> dict:
    """One contestant's build as a subprocess; its figures."""
    engine, _, actors = name.partition("-")
    args = [str(PY), "-m", "indexer", "build", *labels, "--index", str(index), "--backend", backend,
            "--embed-window", str(window), "--report", str(index.parent / f"{index.name}.json"), *extra]
    env = dict(os.environ)
    if engine == "ray":
        args += ["--engine", "ray", "--ray-actors", actors]
    if tree is not None:  # the other checkout's code, run the same way
        env["PYTHONPATH"] = str(tree)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=tree or ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sampler = TreeSampler(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    memory = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}\n{stdout}\n{stderr}")
    report = json.loads((index.parent / f"{index.name}.json").read_text())
    stages = report["stages"]
    return {"name": name, "wall_s": round(wall, 2), "passages": report["passages"], "texts": report.get("texts"),
            "embedded": report["passages_embedded"], "passages_per_s": round(report["passages"] / wall, 1),
            "embed_s": report["embed_seconds"], "ray_start_s": stages.get("ray_start", 0.0),
            "ray_actor_start_s": stages.get("ray_actor_start", 0.0), "driver_peak_rss_mb": report["peak_rss_mb"],
            "build_s": report["seconds"], "load_at_start": round(load, 2), "stages": stages, **memory,
            "stderr_lines": len(stderr.splitlines())}


def rows(build: Path) -> tuple[list[str], np.ndarray]:
    """Passage ids in row order and each row's vector (that of its text) in a published build."""
    from indexer import manifest as manifests
    from indexer.catalog import Catalog
    from indexer.store import VectorStore

    manifest = manifests.read(build)
    count = manifest.counts.passages
    catalog = Catalog(build / manifests.CATALOG)
    try:
        passages = catalog.passages(range(count))
        ids = [passages[r].id for r in range(count)]
        text_of_row = np.asarray(catalog.row_texts(), dtype=np.int64)
    finally:
        catalog.close()
    return ids, VectorStore.load(build / manifests.VECTORS, manifest.recipe.faiss_factory).vectors(text_of_row)


def cosines(a: Path, b: Path) -> dict:
    ids_a, va = rows(a / "current")
    ids_b, vb = rows(b / "current")
    if ids_a != ids_b:
        raise SystemExit(f"{a} and {b} do not hold the same passages in the same rows")
    cos = np.sum(va * vb, axis=1)
    return {"mean": round(float(cos.mean()), 6), "least": round(float(cos.min()), 6), "rows": len(ids_a)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=SHARED / "drug-labels" / "openfda")
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--actors", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--compare-backend", default="", help="One more round of local and ray with this backend.")
    parser.add_argument("--baseline-tree", type=Path, help="Another checkout whose local build runs too.")
    parser.add_argument("--no-extras", action="store_true",
                        help="Only the contestants: no window comparison, writer alone or --compare-backend round.")
    parser.add_argument("--keep-work", action="store_true", help="Leave the builds (and their caches) in place.")
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    args = parser.parse_args()

    picked, total, distinct = pick_labels(args.labels, args.passages, args.backend)
    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    labels = [str(p) for p in picked]  # named on the command line, as an operator would
    print(f"{len(picked)} labels, {total} passages, {distinct} distinct texts; {os.cpu_count()} CPUs; work in {work}",
          file=sys.stderr)
    names = ["local"] + [f"ray-{n}" for n in args.actors] + (["local@baseline"] if args.baseline_tree else [])
    runs: dict[str, list[dict]] = {n: [] for n in names}
    vectors: dict[str, list[dict]] = {}
    writer: dict = {}
    writer_s = 0.0
    try:
        for round_no in range(args.rounds):
            order = names[round_no % len(names):] + names[:round_no % len(names)]  # each goes first in turn
            for name in order:
                index = work / f"{name}-{round_no}"
                tree = args.baseline_tree if name.endswith("@baseline") else None
                result = run_build(name.split("@")[0], labels, index, args.backend, args.window, tree)
                runs[name].append(result)
                print(json.dumps({"round": round_no, **result}), file=sys.stderr)
            for name in names:
                if name.startswith("ray-"):
                    vectors.setdefault(f"{name} vs local ({args.backend})", []).append(
                        cosines(work / f"local-{round_no}", work / f"{name}-{round_no}"))
            for name in names:  # keep disk use small: only this round's comparisons needed the builds
                if not args.keep_work:
                    shutil.rmtree(work / f"{name}-{round_no}", ignore_errors=True)
        if not args.no_extras:
            small = max(1, args.window // 4)
            run_build("local", labels, work / "local-small-window", args.backend, small, None)
            run_build("local", labels, work / "local-again", args.backend, args.window, None)
            vectors[f"local window {args.window} vs {small} ({args.backend})"] = [
                cosines(work / "local-again", work / "local-small-window")]
            # The single writer alone: the same build again (--force: nothing carried over), every vector from
            # the cache, as after a Ray job: chunking, cache reads, FAISS, catalog, BM25, manifest, publish.
            writer = run_build("local", labels, work / "local-again", args.backend, args.window, None, "--force")
            writer_s = writer["stages"].get("chunk_embed_write", 0.0) + writer["stages"].get("lexical_and_save", 0.0)
            print(json.dumps({"writer": writer}), file=sys.stderr)
            if args.compare_backend:
                top = f"ray-{max(args.actors)}"
                local = run_build("local", labels, work / "cmp-local", args.compare_backend, args.window, None)
                ray = run_build(top, labels, work / "cmp-ray", args.compare_backend, args.window, None)
                print(json.dumps({"compare": args.compare_backend, "local": local, "ray": ray}), file=sys.stderr)
                vectors[f"{top} vs local ({args.compare_backend})"] = [cosines(work / "cmp-local", work / "cmp-ray")]
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    local_wall = median("local", "wall_s")
    summary = []
    for name in names:
        summary.append({
            "contestant": name, "rounds": len(runs[name]), "passages": runs[name][0]["passages"],
            "wall_s": median(name, "wall_s"), "wall_ratio_to_local": round(median(name, "wall_s") / local_wall, 3),
            "passages_per_s": median(name, "passages_per_s"), "ray_start_s": round(median(name, "ray_start_s"), 2),
            "ray_actor_start_s": round(median(name, "ray_actor_start_s"), 2),
            "driver_peak_rss_mb": median(name, "driver_peak_rss_mb"),
            **{key: median(name, key) for key in ("cpu_driver_s", "cpu_actors_s", "cpu_ray_system_s")},
            "loads_at_start": [r["load_at_start"] for r in runs[name]],
            "actor_peak_rss_mb": median(name, "actor_peak_rss_mb"),
            "ray_system_rss_mb": median(name, "ray_system_rss_mb"),
            "walls": [r["wall_s"] for r in runs[name]]})
    # Per round, Ray's wall time over the local one of the same round: the ratio least bent by load.
    for entry in summary:
        name = entry["contestant"]
        entry["median_round_ratio"] = round(statistics.median(
            r["wall_s"] / base["wall_s"] for r, base in zip(runs[name], runs["local"])), 3)
    out = {"labels": len(picked), "passages": total, "distinct_texts": distinct, "backend": args.backend, "window": args.window,
           "cpus": os.cpu_count(), "summary": summary,
           "writer": {"wall_s": writer["wall_s"], "write_s": round(writer_s, 2),
                      "passages_per_s": round(writer["passages"] / writer_s, 1) if writer_s else 0.0,
                      "from_cache": writer["passages"] - writer["embedded"]} if writer else {},
           "vectors": {k: {"mean": min(v["mean"] for v in vs), "least": min(v["least"] for v in vs),
                           "rows": vs[0]["rows"], "rounds": len(vs)} for k, vs in vectors.items()},
           "runs": runs}
    print(json.dumps({k: out[k] for k in ("labels", "passages", "distinct_texts", "backend", "cpus", "summary", "writer",
                                          "vectors")},
                     indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

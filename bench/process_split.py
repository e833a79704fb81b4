"""Embedding throughput of one process of N threads against N processes of one thread, outside Ray.

    .venv/bin/python bench/process_split.py [--index bench/out/medquad-index] [--texts 800] [--rounds 2]

The same passages (every few rows of a built index's catalog) are embedded by the build's ONNX model
(``--backend``, fp32 ``onnx`` by default, as the Ray bench's figures) in fresh processes, taking turns:
``1xN`` is one process whose ONNX session has N intra-op threads (the local engine's layout); ``Nx1``
is N processes of one thread, each given every N-th text (the Ray engine's default layout: one
single-threaded actor per CPU), started together. Wall time of the slowest process and CPU seconds
of all are printed per round. The difference is what splitting the work across processes costs on
this machine before Ray adds anything (each process holds and streams its own copy of the weights).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

from _common import OUT, configured_embedder


def texts_of(index: Path, count: int) -> list[str]:
    """``count`` passage texts spread over the live build's catalog."""
    from indexer import manifest as manifests
    from indexer import publishing
    from indexer.catalog import Catalog

    catalog = Catalog(publishing.live_build(index) / manifests.CATALOG)
    total = catalog.counts()["passages"]
    rows = range(0, total, max(1, total // count))[:count]
    texts = catalog.passage_texts(rows)  # row -> (passage id, ordinal, text)
    return [texts[row][2] for row in rows]


def _embed(threads: int, backend: str, texts: list[str], out: mp.Queue) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # ONNX Runtime's intra-op threads, read when the session is made
    embedder = configured_embedder(backend)
    embedder.encode(texts[:8])  # the first call's set-up is not the throughput
    wall, cpu = time.perf_counter(), time.process_time()
    embedder.encode(texts)
    out.put((time.perf_counter() - wall, time.process_time() - cpu))


def run(processes: int, threads: int, backend: str, texts: list[str]) -> tuple[float, float]:
    """(wall of the slowest, CPU of all) seconds with ``processes`` processes of ``threads`` threads."""
    out: mp.Queue = mp.Queue()
    workers = [mp.Process(target=_embed, args=(threads, backend, texts[i::processes], out)) for i in range(processes)]
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return max(w for w, _ in results), sum(c for _, c in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=OUT / "medquad-index")
    parser.add_argument("--texts", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--cpus", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    texts = texts_of(args.index, args.texts)
    print(f"{len(texts)} passages of {args.index}, backend {args.backend}, {args.cpus} CPUs")
    layouts = {f"1x{args.cpus}": (1, args.cpus), f"{args.cpus}x1": (args.cpus, 1)}
    walls: dict[str, list[float]] = {name: [] for name in layouts}
    for n in range(args.rounds):
        for name, (processes, threads) in layouts.items():
            wall, cpu = run(processes, threads, args.backend, texts)
            walls[name].append(wall)
            print(f"round {n + 1} {name}: {wall:.2f} s wall, {cpu:.2f} CPU-s, {len(texts) / wall:.1f} passages/s")
    one, split = (statistics.median(walls[name]) for name in layouts)
    print(f"median wall {'/'.join(layouts)}: {one:.2f} / {split:.2f} s -> split over processes costs {split / one - 1:+.1%}")


if __name__ == "__main__":
    mp.set_start_method("spawn")
    main()

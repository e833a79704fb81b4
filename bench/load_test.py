"""Load test of the production server (gunicorn, as `make serve-prod` runs it) on 127.0.0.1 only.

Starts gunicorn on a free local port over an index, then, bounded in time:
1. the query embedding + vector search + BM25 scoring alone (the retrievers the default runs), in this
   process, on the same queries (the floor); beside it, in the same turns, the same app answering the
   same requests through Flask's test client in this process (no HTTP server: the most any server could
   reach), and a /healthz round trip through the server (what the server and Flask cost a request alone);
2. throughput and p50/p95/p99 latency of /api/v1/search at each concurrency level;
3. a soak at one concurrency level, sampling the memory of the master and every worker;
4. the levels again while the index is rebuilt (with --force) beside the server, which swaps
   to each new build live.
Every response must be a 200 carrying a build id: anything else counts as an error.

    .venv/bin/python bench/load_test.py                       # medquad index, short soak
    .venv/bin/python bench/load_test.py --soak 600            # the 10-minute soak
    .venv/bin/python bench/load_test.py --index var/index --source corpus --levels 1,4 --duration 5 --soak 10

Memory: RSS counts shared pages in every process; PSS divides them between the processes
that share them, so the sum of PSS is the real total. USS is what a worker holds alone.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import psutil
from _common import PY, ROOT, SHARED, settings

OUT = ROOT / "bench" / "out" / "load"
ROUNDS = 4  # turns of (floor, concurrency 1)


# -- queries --------------------------------------------------------------------------------
def load_queries() -> list[str]:
    """Real consumer questions (MedicationQA dev) when ../shared is here, else our spot-check questions."""
    path = SHARED / "medicationqa" / "queries-dev.jsonl"
    if not path.exists():
        path = ROOT / "bench" / "corpus_questions.jsonl"
    queries = [json.loads(line)["query"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(7).shuffle(queries)
    return queries


# -- the server -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn started with the project's gunicorn.conf.py; stopped with SIGTERM."""

    def __init__(self, index: Path, workers: int, threads: int, reload_ms: int | None = None, tree: Path = ROOT,
                 extra_env: dict[str, str] | None = None, log: str = "server-error.log"):
        """gunicorn of ``tree``'s code and gunicorn.conf.py over ``index``; its log (stderr) in ``OUT / log``."""
        OUT.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {**os.environ, "MEDSEARCH_INDEX": str(index), "MEDSEARCH_HOST": "127.0.0.1",
               "MEDSEARCH_PORT": str(self.port), "MEDSEARCH_WORKERS": str(workers), "MEDSEARCH_THREADS": str(threads),
               **({"MEDSEARCH_RELOAD_INTERVAL_MS": str(reload_ms)} if reload_ms is not None else {}),
               **({"PYTHONPATH": str(tree)} if tree != ROOT else {}), **(extra_env or {})}
        self.err = OUT / log
        started = time.perf_counter()
        self.process = subprocess.Popen([str(PY.parent / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=tree, env=env,
                                        stdout=subprocess.DEVNULL, stderr=self.err.open("w"))
        self._wait_ready(workers)
        self.startup_s = time.perf_counter() - started

    def _wait_ready(self, workers: int) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {self.err.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.workers()) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not become ready in 300 s")

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def cpu_seconds(self) -> float:
        """User + system CPU time of every worker so far."""
        return sum(sum(p.cpu_times()[:2]) for p in self.workers())

    def memory(self) -> dict:
        """RSS, PSS and USS in MiB of the master and each worker, and the PSS total."""
        def mib(value: int) -> float:
            return round(value / 2**20, 1)

        procs = [("master", psutil.Process(self.process.pid))] + [("worker", p) for p in self.workers()]
        rows = []
        for role, proc in procs:
            info = proc.memory_full_info()
            rows.append({"role": role, "pid": proc.pid, "rss": mib(info.rss), "pss": mib(info.pss), "uss": mib(info.uss)})
        return {"processes": rows, "total_pss": round(sum(r["pss"] for r in rows), 1),
                "total_rss": round(sum(r["rss"] for r in rows), 1)}

    def swaps(self) -> list[dict]:
        """The workers' log lines about swapping to a new build (or refusing one)."""
        lines = [json.loads(line) for line in self.err.read_text().splitlines() if line.startswith("{")]
        return [{"pid": line["pid"], "time": line["time"], "message": line["message"]}
                for line in lines if line.get("logger") == "medsearch.live"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # quick shutdown
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the load -------------------------------------------------------------------------------
class Load:
    """``concurrency`` client threads, each with one keep-alive connection, sending searches back to back."""

    def __init__(self, port: int, queries: list[str], k: int = 10):
        self.port = port
        self.paths = [f"/api/v1/search?{urlencode({'q': q, 'k': k})}" for q in queries]

    def run(self, concurrency: int, seconds: float, warmup: float = 2.0) -> dict:
        latencies: list[float] = []
        errors: list[str] = []
        builds: set[str] = set()
        lock = threading.Lock()
        sent = [0]  # answers received, warm-up included (for the server's CPU time per request)
        counter = itertools.count(random.randrange(len(self.paths)))
        started = time.perf_counter()
        measure_from, stop_at = started + warmup, started + warmup + seconds

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            mine, mine_errors, mine_builds, answered = [], [], set(), 0
            while True:
                begin = time.perf_counter()
                if begin >= stop_at:
                    break
                path = self.paths[next(counter) % len(self.paths)]
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    body = response.read()
                    build = response.headers.get("X-Medsearch-Build")
                    if response.status != 200 or not build or not body.startswith(b'{"build_id":'):
                        mine_errors.append(f"{response.status} {body[:120]!r}")
                except (OSError, http.client.HTTPException) as exc:
                    mine_errors.append(repr(exc))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    continue
                end = time.perf_counter()
                answered += 1
                if begin >= measure_from:
                    mine.append(end - begin)
                    mine_builds.add(build)
            conn.close()
            with lock:
                latencies.extend(mine)
                errors.extend(mine_errors)
                builds.update(mine_builds)
                sent[0] += answered

        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result = summarise(concurrency, seconds, latencies, errors, builds)
        result["_raw"] = (latencies, errors, builds)
        result["answered"] = sent[0]
        return result


def merge(runs: list[dict], seconds: float) -> dict:
    """One summary of several runs at the same concurrency."""
    latencies = [v for r in runs for v in r["_raw"][0]]
    errors = [e for r in runs for e in r["_raw"][1]]
    builds = set().union(*(r["_raw"][2] for r in runs))
    merged = summarise(runs[0]["concurrency"], seconds, latencies, errors, builds)
    merged["_raw"] = (latencies, errors, builds)
    return merged


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarise(concurrency: int, seconds: float, latencies: list[float], errors: list[str], builds: set[str]) -> dict:
    ms = [v * 1000 for v in latencies]
    return {"concurrency": concurrency, "requests": len(ms), "errors": len(errors), "error_samples": errors[:3],
            "throughput": round(len(ms) / seconds, 1),
            "p50_ms": round(percentile(ms, 0.50), 1) if ms else None,
            "p95_ms": round(percentile(ms, 0.95), 1) if ms else None,
            "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
            "builds_seen": len(builds)}


@contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """OMP_NUM_THREADS set to ``n`` for the block: an ONNX session made in it takes that many threads."""
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = saved


# -- the floor: embedding + vector search alone -------------------------------------------
class Floor:
    """The query embedding + FAISS search + BM25 scoring alone, in this process, on the same queries.

    BM25 scores the query's own tokens (the search adds the expansions of names and lay words to them).

    One embedder per thread count: ONNX Runtime fixes its threads (from OMP_NUM_THREADS, as the
    workers do) when its session is made, and torch and FAISS are set per measurement.
    """

    def __init__(self, index: Path, queries: list[str], threads: tuple[int, ...] = (1, 2)):
        from indexer.embedding import DEFAULT_MODEL, Embedder
        from indexer.index import SearchIndex

        self.embedders = {}
        for n in threads:
            with omp_threads(n):
                self.embedders[n] = Embedder(DEFAULT_MODEL, model_cache=settings()["model_cache"])
        first = self.embedders[threads[0]]
        self.index = SearchIndex.open(index, model=first.describe(), checksums=False)
        self.queries = itertools.cycle(queries)
        self.samples: dict[int, list[tuple[float, float, float]]] = {}
        self.cpu: dict[int, list[float]] = {}  # CPU time of the three, ms (less disturbed by other jobs)

    def measure(self, threads: int, n: int) -> None:
        """Time ``n`` queries with ``threads`` embedding and FAISS threads (after a short warm-up)."""
        import faiss  # only to set its OpenMP threads, as OMP_NUM_THREADS does in the server
        import torch

        from indexer.lexical import tokens

        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
        embedder = self.embedders[threads]
        for q in itertools.islice(self.queries, 10):
            self.index.nearest(embedder.encode_query(q)[0], 100)
            self.index.lexical_scores(tokens(q))
        for q in itertools.islice(self.queries, n):
            c0, t0 = time.thread_time(), time.perf_counter()
            vector = embedder.encode_query(q)[0]
            t1 = time.perf_counter()
            self.index.nearest(vector, 100)
            t2 = time.perf_counter()
            self.index.lexical_scores(tokens(q))
            t3, c3 = time.perf_counter(), time.thread_time()
            self.cpu.setdefault(threads, []).append((c3 - c0) * 1000)
            self.samples.setdefault(threads, []).append(((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000))

    def summary(self) -> list[dict]:
        return [{"threads": threads, "queries": len(times),
                 "embed_p50_ms": round(statistics.median(e for e, _, _ in times), 2),
                 "vector_search_p50_ms": round(statistics.median(v for _, v, _ in times), 2),
                 "bm25_p50_ms": round(statistics.median(b for _, _, b in times), 3),
                 "core_p50_ms": round(statistics.median(sum(t) for t in times), 2),
                 "core_cpu_p50_ms": round(statistics.median(self.cpu[threads]), 2), "passages": len(self.index)}
                for threads, times in sorted(self.samples.items())]


class InProcess:
    """The app answering the same /api/v1/search requests through Flask's test client, in this process.

    No HTTP server, no sockets: its p50 against the floor is the ratio no server in front of this app
    can go below. One thread for ONNX Runtime and FAISS, as in the workers.
    """

    def __init__(self, index: Path, queries: list[str], k: int = 10):
        from search_app import create_app

        with omp_threads(1):
            app = create_app({"index": str(index), "reload_interval_ms": 0})
        self.client = app.test_client()
        self.paths = itertools.cycle([f"/api/v1/search?{urlencode({'q': q, 'k': k})}" for q in queries])
        self.ms: list[float] = []

    def measure(self, n: int) -> None:
        import faiss

        faiss.omp_set_num_threads(1)
        for path in itertools.islice(self.paths, 10):
            self.client.get(path)
        for path in itertools.islice(self.paths, n):
            began = time.perf_counter()
            response = self.client.get(path)
            self.ms.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"in process: {path} answered {response.status_code}")

    def summary(self) -> dict:
        return {"requests": len(self.ms), "p50_ms": round(statistics.median(self.ms), 2)}


def healthz_round_trips(port: int, n: int) -> list[float]:
    """Milliseconds of ``n`` /healthz requests on one kept-alive connection (after a short warm-up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    ms = []
    try:
        for i in range(n + 20):
            began = time.perf_counter()
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            if i >= 20:
                ms.append((time.perf_counter() - began) * 1000)
    finally:
        conn.close()
    return ms


# -- a rebuild beside the server --------------------------------------------------------------
class Rebuilder:
    """Rebuilds the index with --force, one build after another, until stopped."""

    def __init__(self, index: Path, sources: list[str]):
        self.index, self.sources = index, sources
        self.builds: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._process: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self._process = subprocess.Popen(
                [str(PY), "-m", "indexer", "build", *self.sources, "--index", str(self.index), "--force"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "TQDM_DISABLE": "1"})
            _, err = self._process.communicate()
            if self._process.returncode in (0, 3):
                self.builds.append(time.perf_counter() - started)
            elif not self._stop.is_set():
                self.failures.append(err[-500:])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the build in progress is finished (a killed build would only be discarded)."""
        self._stop.set()
        self._thread.join()


# -- main -----------------------------------------------------------------------------------
def ensure_index(index: Path, sources: list[str], rebuild: bool = False) -> None:
    """Build the index if it is missing (the indexer does nothing when it is current).

    An index that exists and was built from other sources is never rebuilt without ``rebuild``:
    ``--index`` may name someone's real index, and the load test would replace it.
    """
    from indexer import manifest as manifests
    from indexer import publishing
    from indexer.errors import IndexNotFound, MedsearchError

    try:
        held = manifests.read(publishing.live_build(index)).sources
    except IndexNotFound:
        held = None  # nothing published there yet: build it
    except MedsearchError as exc:
        held = [f"an index this script cannot read ({exc})"]
    if held is not None and not rebuild and sorted(_absolute(s) for s in held) != sorted(_absolute(s) for s in sources):
        sys.exit(f"error: {index} holds an index of {', '.join(held)}; this run would rebuild it from "
                 f"{', '.join(sources)}. Pass --rebuild to do that, or give --index a new directory.")
    subprocess.run([str(PY), "-m", "indexer", "build", *sources, "--index", str(index)], cwd=ROOT, check=True,
                   env={**os.environ, "TQDM_DISABLE": "1"}, stdout=subprocess.DEVNULL)


def _absolute(source: str) -> str:
    path = Path(source)
    return str(path if path.is_absolute() else (ROOT / path).resolve())


def table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print("| concurrency | requests | req/s | p50 ms | p95 ms | p99 ms | errors | builds seen |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['concurrency']} | {r['requests']} | {r['throughput']} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['p99_ms']} | {r['errors']} | {r['builds_seen']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "bench" / "out" / "medquad-index")
    parser.add_argument("--source", action="append", help="sources to index (default: ../shared medquad articles)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--levels", default="1,4,16,64", help="concurrency levels")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per level")
    parser.add_argument("--soak", type=float, default=60, help="soak seconds (600 for the 10-minute figure; 0 skips)")
    parser.add_argument("--soak-concurrency", type=int, default=16)
    parser.add_argument("--no-rebuild", action="store_true", help="skip the run with a rebuild beside the server")
    parser.add_argument("--rebuilds", type=int, default=2, help="builds to publish under load in the rebuild run")
    parser.add_argument("--rebuild-limit", type=float, default=900, help="most seconds to wait for them")
    parser.add_argument("--json", type=Path, default=OUT / "load.json", help="where to write every figure")
    parser.add_argument("--as-built", action="store_true",
                        help="serve --index as it is, without running the indexer on it first (it may be stale)")
    parser.add_argument("--rebuild", "--yes", action="store_true",
                        help="rebuild --index from --source even when it holds an index of other sources")
    args = parser.parse_args()
    sources = [str(Path(s).resolve()) for s in args.source] if args.source else [str(SHARED / "medquad" / "articles.jsonl")]
    levels = [int(x) for x in args.levels.split(",")]
    queries = load_queries()
    report: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                    "config": {"workers": args.workers, "threads": args.threads, "index": str(args.index),
                               "sources": sources, "duration_s": args.duration, "soak_s": args.soak}}

    if not args.as_built:
        ensure_index(args.index, sources, rebuild=args.rebuild)
    server = Gunicorn(args.index, args.workers, args.threads, reload_ms=1000)
    try:
        report["startup_s"] = round(server.startup_s, 1)
        report["memory_idle"] = server.memory()
        load = Load(server.port, queries)
        # The floor and concurrency 1 are measured in turns, so that both see the same machine.
        floor = Floor(args.index, queries)
        in_process = InProcess(args.index, queries) if 1 in levels else None
        c1_runs, c1_cpu, healthz = [], [], []
        for _ in range(ROUNDS if 1 in levels else 0):
            floor.measure(1, 100)
            floor.measure(2, 100)
            in_process.measure(100)
            healthz += healthz_round_trips(server.port, 100)
            before = server.cpu_seconds()
            c1_runs.append(load.run(1, args.duration / ROUNDS))
            c1_cpu.append((server.cpu_seconds() - before, c1_runs[-1]["answered"]))
        report["core"] = floor.summary()
        report["levels"] = [merge(c1_runs, args.duration)] if c1_runs else []
        report["levels"] += [load.run(c, args.duration) for c in levels if c != 1]
        table(report["levels"], f"/api/v1/search, {args.workers} workers x {args.threads} threads")
        best = max(r["throughput"] for r in report["levels"])
        by_level = {r["concurrency"]: r for r in report["levels"]}
        if 1 in by_level:
            core1 = report["core"][0]["core_p50_ms"]
            report["p50_c1_over_core"] = round(by_level[1]["p50_ms"] / core1, 2)
            print(f"\np50 at concurrency 1: {by_level[1]['p50_ms']} ms; embedding + vector search + BM25 alone "
                  f"(1 thread, as in the workers): {core1} ms -> ratio {report['p50_c1_over_core']}")
            report["in_process"] = in_process.summary()
            report["in_process"]["over_core"] = round(report["in_process"]["p50_ms"] / core1, 2)
            report["healthz_p50_ms"] = round(statistics.median(healthz), 3)
            print(f"  the app in process (Flask's test client, no HTTP server): p50 {report['in_process']['p50_ms']} ms "
                  f"-> ratio {report['in_process']['over_core']}; a /healthz round trip through the server: "
                  f"p50 {report['healthz_p50_ms']} ms")
            fastest = min(c["core_p50_ms"] for c in report["core"])
            report["p50_c1_over_fastest_core"] = round(by_level[1]["p50_ms"] / fastest, 2)
            print(f"  floor with 1 / 2 threads: {report['core'][0]['core_p50_ms']} / "
                  f"{report['core'][1]['core_p50_ms']} ms; ratio to the faster: {report['p50_c1_over_fastest_core']}")
            # CPU time is less disturbed than wall time by other jobs on the machine: the workers' CPU per
            # answer (HTTP, app and every thread of the worker) against the floor's CPU per query.
            cpu_ms = 1000 * sum(c for c, _ in c1_cpu) / max(1, sum(n for _, n in c1_cpu))
            core_cpu = report["core"][0]["core_cpu_p50_ms"]
            report["cpu_per_request_ms"] = round(cpu_ms, 2)
            report["cpu_c1_over_core"] = round(cpu_ms / core_cpu, 2)
            print(f"  CPU per request at concurrency 1 (all workers): {cpu_ms:.2f} ms; floor CPU {core_cpu} ms -> "
                  f"ratio {report['cpu_c1_over_core']}")
        if 16 in by_level:
            report["c16_over_best"] = round(by_level[16]["throughput"] / best, 2)
            print(f"throughput at 16 / best level: {report['c16_over_best']}")

        if args.soak > 0:
            soak_start = server.memory()
            samples = []
            soak_result: dict = {}

            def soak() -> None:
                soak_result.update(load.run(args.soak_concurrency, args.soak, warmup=0))

            runner = threading.Thread(target=soak)
            runner.start()
            while runner.is_alive():
                runner.join(timeout=min(30.0, max(1.0, args.soak / 10)))
                samples.append(server.memory()["total_pss"])
            report["soak"] = {**soak_result, "memory_before": soak_start, "memory_after": server.memory(),
                              "total_pss_samples": samples}
            print(f"\nsoak {args.soak:.0f} s at concurrency {args.soak_concurrency}: {soak_result['requests']} requests, "
                  f"{soak_result['errors']} errors, p50 {soak_result['p50_ms']} ms, p99 {soak_result['p99_ms']} ms")
            print_memory("before soak", soak_start)
            print_memory("after soak", report["soak"]["memory_after"])

        if not args.no_rebuild:
            rebuilder = Rebuilder(args.index, sources)
            rebuilder.start()
            time.sleep(3)  # the rebuild is under way before the measurement starts
            report["rebuild_levels"] = [load.run(c, args.duration) for c in levels]
            table(report["rebuild_levels"], "the same while the index is rebuilt beside the server")
            # Keep the load on until builds have been published and swapped in under it.
            deadline = time.monotonic() + args.rebuild_limit
            report["swap_runs"] = []
            while len(rebuilder.builds) < args.rebuilds and time.monotonic() < deadline:
                report["swap_runs"].append(load.run(16, args.duration, warmup=0))
            report["swap_runs"].append(load.run(16, args.duration, warmup=0))  # after the last swap too
            published = len(rebuilder.builds)
            rebuilder.stop()  # lets the build in progress finish; it is published after the load stopped
            swap = merge(report["swap_runs"], args.duration * len(report["swap_runs"]))
            report["swap_total"] = {**swap, "builds_published_under_load": published}
            report["swaps"] = server.swaps()
            print(f"\nconcurrency 16 held while {published} rebuilds were published: {swap['requests']} "
                  f"requests, {swap['errors']} errors, p50 {swap['p50_ms']} ms, p99 {swap['p99_ms']} ms, "
                  f"{swap['builds_seen']} builds answered")
            for line in report["swaps"]:
                print(f"  worker {line['pid']}: {line['message']}")
            report["rebuilds"] = {"finished": len(rebuilder.builds), "seconds": [round(s, 1) for s in rebuilder.builds],
                                  "failures": rebuilder.failures}
            report["memory_after_rebuilds"] = server.memory()
            print(f"rebuilds took {[round(s) for s in rebuilder.builds]} s; failures: {len(rebuilder.failures)}")
            print_memory("after the rebuilds", report["memory_after_rebuilds"])
    finally:
        server.stop()
    errors = sum(r["errors"] for r in report.get("levels", []) + report.get("rebuild_levels", [])) + \
        report.get("soak", {}).get("errors", 0)
    print(f"\nerrors in all runs: {errors}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(strip(report), indent=2))
    print(f"every figure: {args.json}")


def strip(value):
    """The report without the raw samples kept for merging runs."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def print_memory(label: str, memory: dict) -> None:
    workers = [p for p in memory["processes"] if p["role"] == "worker"]
    master = memory["processes"][0]
    print(f"memory {label}: total PSS {memory['total_pss']} MiB (sum of RSS {memory['total_rss']} MiB); "
          f"master RSS {master['rss']} MiB; workers RSS " + ", ".join(f"{w['rss']}" for w in workers)
          + " MiB, PSS " + ", ".join(f"{w['pss']}" for w in workers)
          + " MiB, USS " + ", ".join(f"{w['uss']}" for w in workers) + " MiB")


if __name__ == "__main__":
    main()

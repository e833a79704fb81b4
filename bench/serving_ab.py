"""Two production servers side by side: p50 of /api/v1/search at concurrency 1 against the floor, request by request.

    git worktree add --detach bench/out/before HEAD
    git -C bench/out/before revert --no-commit COMMIT...      # the change to measure, undone
    .venv/bin/python bench/serving_ab.py --before bench/out/before --index bench/out/medquad-index

Starts gunicorn (``gunicorn.conf.py``, 2 workers x 4 threads) from each tree on the same index, and from one
client sends the same question to one server and then the other, the order swapped at every question, so
that both see the same machine; after every 20 questions the floor (query embedding + vector search + BM25
scoring of the query's tokens, as ``load_test.py`` times it, one thread as in the workers) is timed on the
next 10 questions in this process. On a 2-core machine shared with other jobs a load test's figures drift
with the load from minute to minute; the ratios here are taken from samples interleaved a few ms apart.
Also the workers' CPU time per answer (user + system, all threads), against the floor's CPU time.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from _common import OUT, ROOT
from load_test import Floor, Gunicorn, load_queries, percentile


class Server(Gunicorn):
    """gunicorn started from ``tree`` with its own gunicorn.conf.py, 2 workers x 4 threads, asked one question at a time."""

    def __init__(self, name: str, tree: Path, index: Path, extra_env: dict[str, str]):
        super().__init__(index, workers=2, threads=4, tree=tree, extra_env=extra_env, log=f"serving-ab-{name}.log")
        self.name = name
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.times: list[float] = []
        self.bodies: dict[str, bytes] = {}

    def ask(self, query: str, keep: bool) -> None:
        path = f"/api/v1/search?{urlencode({'q': query, 'k': 10})}"
        t0 = time.perf_counter()
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t0
        if response.status != 200:
            raise SystemExit(f"error: {self.name} answered {response.status} to {query!r}: {body[:200]!r}")
        if keep:
            self.times.append(elapsed * 1000)
            # Absolute links name the address asked, so the two servers' answers differ by their port alone.
            self.bodies.setdefault(query, body.replace(f"127.0.0.1:{self.port}".encode(), b"SERVER"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code before the change")
    parser.add_argument("--after", type=Path, default=ROOT, help="the code after it (default: this checkout)")
    parser.add_argument("--index", type=Path, default=OUT / "medquad-index")
    parser.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the before server only, e.g. GUNICORN_CMD_ARGS='-k gthread'")
    parser.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--questions", type=int, default=1312, help="questions asked of each server (after 40 to warm up)")
    parser.add_argument("--json", type=Path, default=OUT / "serving-ab.json")
    args = parser.parse_args()
    for tree in (args.before, args.after):
        if not (tree / "gunicorn.conf.py").is_file():
            raise SystemExit(f"error: {tree} is not a checkout of this project (no gunicorn.conf.py)")
    if not (args.index / "current").exists():
        raise SystemExit(f"error: no index at {args.index} (bench/load_test.py says how to build the MedQuAD one)")
    envs = []
    for pairs in (args.before_env, args.after_env):
        if any("=" not in pair for pair in pairs):
            raise SystemExit("error: --before-env and --after-env take NAME=VALUE")
        envs.append(dict(pair.split("=", 1) for pair in pairs))
    queries = load_queries()
    servers = [Server("before", args.before.resolve(), args.index, envs[0]),
               Server("after", args.after.resolve(), args.index, envs[1])]
    try:
        floor = Floor(args.index, queries, threads=(1,))
        cpu_start: list[float] = []
        for n in range(40 + args.questions):
            if n == 40:
                cpu_start = [s.cpu_seconds() for s in servers]
            query = queries[n % len(queries)]
            for server in (servers if n % 2 else servers[::-1]):
                server.ask(query, keep=n >= 40)
            if n >= 40 and n % 20 == 0:
                floor.measure(1, 10)
        cpu = [(s.cpu_seconds() - c0) * 1000 / args.questions for s, c0 in zip(servers, cpu_start)]
    finally:
        for server in servers:
            server.stop()
    core = floor.summary()[0]
    same = sum(servers[0].bodies[q] == servers[1].bodies[q] for q in servers[0].bodies)
    report = {"index": str(args.index), "questions": args.questions, "floor": core, "env": envs,
              "machine_load": os.getloadavg(), "same_answers": f"{same} of {len(servers[0].bodies)}", "sides": {}}
    print(f"floor (embedding + vector search + BM25, 1 thread): p50 {core['core_p50_ms']} ms "
          f"(embedding {core['embed_p50_ms']}, vector search {core['vector_search_p50_ms']}, BM25 {core['bm25_p50_ms']}), "
          f"CPU {core['core_cpu_p50_ms']} ms")
    print("| server | p50 ms | p95 ms | p50 / floor | worker CPU per answer ms | CPU / floor CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for server, cpu_ms in zip(servers, cpu):
        p50 = statistics.median(server.times)
        side = {"p50_ms": round(p50, 2), "p95_ms": round(percentile(server.times, 0.95), 2),
                "ratio": round(p50 / core["core_p50_ms"], 2), "cpu_ms": round(cpu_ms, 2),
                "cpu_ratio": round(cpu_ms / core["core_cpu_p50_ms"], 2)}
        report["sides"][server.name] = side
        print(f"| {server.name} | {side['p50_ms']} | {side['p95_ms']} | {side['ratio']} | {side['cpu_ms']} | "
              f"{side['cpu_ratio']} |")
    paired = [a - b for a, b in zip(servers[1].times, servers[0].times)]
    report["paired_difference_p50_ms"] = round(statistics.median(paired), 2)
    print(f"after - before, median of {len(paired)} paired differences: {report['paired_difference_p50_ms']} ms; "
          f"identical answers: {report['same_answers']}; load average {os.getloadavg()[0]:.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

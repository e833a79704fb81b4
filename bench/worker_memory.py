"""Memory of each production worker under one gunicorn config or another, side by side in one run.

Starts gunicorn (as `make serve-prod` does, on 127.0.0.1) with each config in turn, sends the
same searches to it, then reads every worker's RSS, PSS and USS and whether torch is mapped in
it; repeats in rounds (config A, B, A, B, ...) and prints medians. Written to compare today's
gunicorn.conf.py with the one before it, whose post_fork imported torch in every worker:

    git show c73e84f^:gunicorn.conf.py > bench/out/gunicorn-before.conf.py
    .venv/bin/python bench/worker_memory.py --conf before=bench/out/gunicorn-before.conf.py --conf now=gunicorn.conf.py

RSS counts shared pages in every process; PSS divides them between the processes sharing
them; USS is what a worker holds alone.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil
from _common import OUT, PY, ROOT, SHARED
from load_test import free_port, load_queries


def mib(value: int) -> float:
    return round(value / 2**20, 1)


def measure(conf: Path, index: Path, workers: int, threads: int, queries: list[str]) -> dict:
    """One gunicorn start with ``conf``: each worker's memory after answering ``queries``."""
    port = free_port()
    env = {**os.environ, "MEDSEARCH_INDEX": str(index), "MEDSEARCH_HOST": "127.0.0.1", "MEDSEARCH_PORT": str(port),
           "MEDSEARCH_WORKERS": str(workers), "MEDSEARCH_THREADS": str(threads)}
    log = OUT / "worker-memory-server.log"
    process = subprocess.Popen([str(PY.parent / "gunicorn"), "-c", str(conf)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        deadline = time.monotonic() + 300
        while len(psutil.Process(process.pid).children()) < workers or not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        for q in queries:  # spread over the workers by the kernel's accept; every worker answers some
            _get(port, f"/api/v1/search?{urlencode({'q': q, 'k': 10})}")
        time.sleep(1)
        rows = []
        for proc in psutil.Process(process.pid).children():
            info = proc.memory_full_info()
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
            rows.append({"pid": proc.pid, "rss": mib(info.rss), "pss": mib(info.pss), "uss": mib(info.uss),
                         "torch_loaded": "libtorch" in maps})
        master = psutil.Process(process.pid).memory_full_info()
        return {"workers": rows, "master_rss": mib(master.rss), "master_pss": mib(master.pss),
                "total_pss": round(mib(master.pss) + sum(r["pss"] for r in rows), 1)}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(port: int) -> bool:
    try:
        return _get(port, "/healthz") == 200
    except OSError:
        return False


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conf", action="append", metavar="LABEL=PATH",
                        help="a gunicorn config to measure (repeat; default: now=gunicorn.conf.py)")
    parser.add_argument("--index", type=Path, default=OUT / "medicationqa-index")
    parser.add_argument("--source", default=str(SHARED / "medicationqa" / "corpus.jsonl"),
                        help="what to index when --index is missing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=40, help="searches sent before measuring")
    parser.add_argument("--json", type=Path, default=OUT / "worker_memory.json")
    args = parser.parse_args()
    confs = dict(c.split("=", 1) for c in (args.conf or ["now=gunicorn.conf.py"]))
    if not (args.index / "current").exists():
        subprocess.run([str(PY), "-m", "indexer", "build", args.source, "--index", str(args.index)], cwd=ROOT,
                       check=True, env={**os.environ, "TQDM_DISABLE": "1"}, stdout=subprocess.DEVNULL)
    queries = load_queries()[:args.queries]
    runs: dict[str, list[dict]] = {label: [] for label in confs}
    for round_number in range(args.rounds):
        for label, path in confs.items():
            runs[label].append(measure(Path(path).resolve(), args.index, args.workers, args.threads, queries))
            print(f"round {round_number + 1} {label}: " + json.dumps(runs[label][-1]), flush=True)
    summary = {}
    for label, results in runs.items():
        workers = [w for r in results for w in r["workers"]]
        summary[label] = {
            "worker_rss_median": round(statistics.median(w["rss"] for w in workers), 1),
            "worker_pss_median": round(statistics.median(w["pss"] for w in workers), 1),
            "worker_uss_median": round(statistics.median(w["uss"] for w in workers), 1),
            "total_pss_median": statistics.median(r["total_pss"] for r in results),
            "master_rss_median": statistics.median(r["master_rss"] for r in results),
            "workers_with_torch": f"{sum(w['torch_loaded'] for w in workers)}/{len(workers)}",
        }
    print(f"\n{args.workers} workers x {args.threads} threads, {args.rounds} rounds, medians in MiB")
    print(f"{'config':<10} {'worker RSS':>10} {'worker PSS':>10} {'worker USS':>10} {'total PSS':>10} "
          f"{'master RSS':>10}  torch in workers")
    for label, s in summary.items():
        print(f"{label:<10} {s['worker_rss_median']:>10} {s['worker_pss_median']:>10} {s['worker_uss_median']:>10} "
              f"{s['total_pss_median']:>10} {s['master_rss_median']:>10}  {s['workers_with_torch']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"config": vars(args) | {"index": str(args.index), "json": str(args.json)},
                                     "runs": runs, "summary": summary}, indent=1, default=str))


if __name__ == "__main__":
    main()

"""Slow clients against the production server: does /healthz (and a search) still answer while they hold connections?

Starts gunicorn from `gunicorn.conf.py` on a free 127.0.0.1 port, opens ``--clients`` slow
connections and keeps that many open (a client the server drops reconnects at once), in three
kinds, a third each:

- half-open: connects and sends nothing;
- slow head: sends a request line, then one header line a second, never the blank line;
- slow body: sends a whole head with ``Content-Length: 10000``, then one body byte a second.

While they are held, it asks for /healthz and a search, one after another, for ``--seconds``,
each with a 30 s timeout, and samples how many slow connections are open. With ``--compare``
the same run is made against gunicorn's stock ``gthread`` worker (``--worker-class gthread``
over the same config), side by side.

    .venv/bin/python bench/slow_clients.py --compare               # fixture index, 100 clients, 20 s each
    .venv/bin/python bench/slow_clients.py --index var/index --clients 300
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

from _common import OUT, PY, ROOT

WORK = OUT / "slow-clients"
KINDS = ("half-open", "slow head", "slow body")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fixture_index() -> Path:
    """An index of the test fixture corpus (built once; the indexer does nothing when it is current)."""
    index = WORK / "index"
    subprocess.run([str(PY), "-m", "indexer", "build", str(ROOT / "tests" / "fixtures" / "corpus"), "--index",
                    str(index)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})
    return index


class Server:
    """gunicorn from gunicorn.conf.py; ``extra`` flags override it (``--worker-class gthread``)."""

    def __init__(self, index: Path, workers: int, threads: int, extra: list[str]):
        WORK.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {**os.environ, "MEDSEARCH_INDEX": str(index), "MEDSEARCH_HOST": "127.0.0.1",
               "MEDSEARCH_PORT": str(self.port), "MEDSEARCH_WORKERS": str(workers), "MEDSEARCH_THREADS": str(threads)}
        self.log = WORK / "server-error.log"
        self.process = subprocess.Popen([str(PY.parent / "gunicorn"), "-c", "gunicorn.conf.py", *extra], cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            booted = len(re.findall(r"Booting worker", self.log.read_text()))
            if booted >= workers and get(self.port, "/healthz", 5)[0] == 200:
                return
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.3)
        raise SystemExit("gunicorn did not start within 180 s")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def get(port: int, path: str, timeout: float) -> tuple[int, float]:
    """Status and seconds of one GET (status 0: no answer within ``timeout``)."""
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException):
        return 0, time.perf_counter() - started


class SlowClients:
    """``count`` slow connections kept open until ``stop()``, each in its own thread."""

    def __init__(self, port: int, count: int):
        self.port, self.stopping = port, threading.Event()
        self.open = 0
        self.reconnects = 0
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(KINDS[i % 3],), daemon=True) for i in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self, kind: str) -> None:
        first = True
        while not self.stopping.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                time.sleep(0.2)
                continue
            with self._lock:
                self.open += 1
                self.reconnects += 0 if first else 1
            first = False
            try:
                self._hold(sock, kind)
            except OSError:
                pass
            finally:
                sock.close()
                with self._lock:
                    self.open -= 1

    def _hold(self, sock: socket.socket, kind: str) -> None:
        """Trickle bytes until the server closes the connection or the run stops."""
        if kind == "slow head":
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        elif kind == "slow body":
            sock.sendall(b"POST /api/v1/search?q=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n")
        sock.settimeout(1.0)
        sent = 0
        while not self.stopping.is_set():
            try:
                if not sock.recv(4096):
                    return  # closed by the server
            except TimeoutError:
                pass
            if kind == "slow head":
                sock.sendall(f"X-Slow-{sent}: 1\r\n".encode())
            elif kind == "slow body":
                sock.sendall(b"x")
            sent += 1

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(index: Path, label: str, extra: list[str], args) -> dict:
    server = Server(index, args.workers, args.threads, extra)
    try:
        baseline = [get(server.port, "/healthz", 30)[1] for _ in range(20)]
        clients = SlowClients(server.port, args.clients)
        time.sleep(2)  # let them connect and start trickling
        held: list[int] = []
        health: list[tuple[int, float]] = []
        search: list[tuple[int, float]] = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            held.append(clients.open)
            health.append(get(server.port, "/healthz", 30))
            search.append(get(server.port, "/api/v1/search?q=missed+dose&k=3", 30))
            time.sleep(0.1)
        held.append(clients.open)
        reconnects = clients.reconnects
        clients.stop()
    finally:
        server.stop()
    answered = [s for s, _ in health if s == 200]
    return {"server": label, "clients": args.clients, "held_median": statistics.median(held), "held_min": min(held),
            "reconnects": reconnects, "healthz_idle_p50_ms": round(statistics.median(baseline) * 1000, 1),
            "healthz_requests": len(health), "healthz_answered": len(answered),
            "healthz_p50_ms": round(statistics.median(t for _, t in health) * 1000, 1),
            "healthz_p99_ms": round(percentile([t for _, t in health], 0.99) * 1000, 1),
            "healthz_max_ms": round(max(t for _, t in health) * 1000, 1),
            "search_answered": sum(1 for s, _ in search if s == 200), "search_requests": len(search),
            "search_p99_ms": round(percentile([t for _, t in search], 0.99) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an existing index (default: the test fixture corpus, built here)")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per server")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--compare", action="store_true", help="also run gunicorn's stock gthread worker")
    parser.add_argument("--json", type=Path, default=WORK / "slow_clients.json")
    args = parser.parse_args()
    index = args.index or fixture_index()
    runs = [measure(index, "RequestWorker (gunicorn.conf.py)", [], args)]
    if args.compare:
        runs.append(measure(index, "stock gthread", ["--worker-class", "gthread"], args))
    print(f"\n{args.clients} slow clients ({', '.join(KINDS)}), {args.workers} workers x {args.threads} threads, "
          f"{args.seconds:.0f} s each")
    print("| server | held (median / min) | reconnects | /healthz answered | /healthz p50 / p99 / max ms "
          "| idle p50 ms | searches answered | search p99 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in runs:
        print(f"| {r['server']} | {r['held_median']:.0f} / {r['held_min']} | {r['reconnects']} | "
              f"{r['healthz_answered']}/{r['healthz_requests']} | {r['healthz_p50_ms']} / {r['healthz_p99_ms']} / "
              f"{r['healthz_max_ms']} | {r['healthz_idle_p50_ms']} | {r['search_answered']}/{r['search_requests']} | "
              f"{r['search_p99_ms']} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()

"""Slow clients against the production server: does /healthz (and a search) still answer while they hold connections?

Starts a server over an index on a free 127.0.0.1 port and, one phase after another:

- slow senders: ``--clients`` connections kept open (a client the server drops reconnects at once),
  a third each half-open (connects and sends nothing), slow head (a request line, then one header
  line a second, never the blank line), slow body (a whole head with ``Content-Length: 10000``,
  then one body byte a second);
- non-readers, ``--non-readers`` of them (8 and 200 by default): each sets a small receive buffer
  (``SO_RCVBUF`` 4 KiB), sends 100 pipelined ``k=50`` searches and one more a second, and never
  reads an answer; a connection the server closes is opened again at once;

and while each phase holds its clients it asks for /healthz and a search, one after another, each
with a ``--probe-timeout``, and samples how many connections are held and the memory (PSS and RSS) of every
process of the server. Then, with no hostile client, it runs the load test's clients
(``bench/load_test.py``) at ``--load-levels``.

``--servers`` names the servers, measured one after another in one run, side by side:
``worker`` (gunicorn.conf.py as ``make serve-prod`` runs it), ``gthread`` (the same with gunicorn's
stock gthread worker), ``waitress`` (waitress-serve over the same app, one process of workers x
threads threads; ``pip install waitress`` where the bench's Python finds it, e.g. on ``PYTHONPATH``),
``nginx+worker`` and ``nginx+gthread`` (Debian's ``nginx`` in front, buffering requests and answers,
with the timeouts of the README's reverse-proxy advice). ``NAME@DIR`` runs the code of another
checkout (``git worktree add DIR HEAD~1``), for a before-and-after in one run.

    .venv/bin/python bench/slow_clients.py --compare               # worker and gthread, slow senders only
    .venv/bin/python bench/slow_clients.py --servers worker,waitress,nginx+worker --non-readers 8,200 --load-levels 1,4,16
    .venv/bin/python bench/slow_clients.py --index var/index --clients 300
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import psutil
from _common import OUT, PY, ROOT

WORK = OUT / "slow-clients"
KINDS = ("half-open", "slow head", "slow body")
NON_READER_REQUEST = b"GET /api/v1/search?q=missed+dose&k=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
SERVERS = ("worker", "gthread", "waitress", "nginx+worker", "nginx+gthread")
# nginx as the README advises: whole requests within 10 s, answers buffered from gunicorn at once.
NGINX_CONF = """daemon off;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    client_header_timeout 10s; client_body_timeout 10s; send_timeout 20s; keepalive_timeout 5s;
    upstream medsearch {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port} sndbuf=64k;
        location / {{
            proxy_pass http://medsearch;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


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
    """One of ``SERVERS`` (``name@DIR``: the code of DIR), started on a free port; ``stop()`` ends every process."""

    def __init__(self, spec: str, index: Path, workers: int, threads: int):
        name, _, tree_dir = spec.partition("@")
        if name not in SERVERS:
            raise SystemExit(f"unknown server {name!r}; one of {', '.join(SERVERS)}")
        tree = Path(tree_dir).resolve() if tree_dir else ROOT
        self.label = spec
        self.dir = WORK / re.sub(r"[^\w.+-]", "_", spec)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []
        env = {**os.environ, "MEDSEARCH_INDEX": str(index), "MEDSEARCH_HOST": "127.0.0.1",
               "MEDSEARCH_WORKERS": str(workers), "MEDSEARCH_THREADS": str(threads), "OMP_NUM_THREADS": "1",
               "TQDM_DISABLE": "1"}
        if tree != ROOT:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
        app_port = free_port() if name.startswith("nginx") else self.port
        if name == "waitress":
            command = [str(PY), "-m", "waitress", "--host=127.0.0.1", f"--port={app_port}",
                       f"--threads={workers * threads}", "--connection-limit=1000", "--channel-timeout=10",
                       "--call", "search_app.web.worker:production_app"]
        else:
            command = [str(PY.parent / "gunicorn"), "-c", "gunicorn.conf.py",
                       *(["--worker-class", "gthread"] if name.endswith("gthread") else [])]
        env["MEDSEARCH_PORT"] = str(app_port)
        self.log = self.dir / "server-error.log"
        self.processes.append(subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL,
                                               stderr=self.log.open("w")))
        self._wait(app_port, workers if name != "waitress" else 0)
        if name.startswith("nginx"):
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            conf = self.dir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(workers=workers, dir=self.dir, upstream=app_port, port=self.port,
                                              user="user root;" if os.geteuid() == 0 else ""))
            self.processes.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(self.dir)],
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self._wait(self.port, 0)

    def _wait(self, port: int, workers: int) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            booted = len(re.findall(r"Booting worker", self.log.read_text()))
            if booted >= workers and get(port, "/healthz", 5)[0] == 200:
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"{self.label} exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.3)
        raise SystemExit(f"{self.label} did not start within 180 s")

    def memory_mib(self) -> tuple[float, float]:
        """PSS and RSS summed over every process of the server (nginx, gunicorn's master and workers), MiB.

        The PSS sum is the real total; the RSS sum counts the pages the processes share once in each.
        """
        pss = rss = 0
        for process in self.processes:
            try:
                root = psutil.Process(process.pid)
                for proc in [root, *root.children(recursive=True)]:
                    info = proc.memory_full_info()
                    pss, rss = pss + info.pss, rss + info.rss
            except psutil.Error:
                pass
        return round(pss / 2**20, 1), round(rss / 2**20, 1)

    def stop(self) -> None:
        for process in reversed(self.processes):  # the proxy first
            process.send_signal(signal.SIGINT if process is self.processes[0] else signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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


class Clients:
    """``count`` hostile connections kept open until ``stop()``, each in its own thread; reopened when dropped."""

    def __init__(self, port: int, count: int, kinds: tuple[str, ...]):
        self.port, self.stopping = port, threading.Event()
        self.open = 0
        self.reconnects = 0
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(kinds[i % len(kinds)],), daemon=True)
                        for i in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self, kind: str) -> None:
        first = True
        while not self.stopping.is_set():
            sock = socket.socket()
            if kind == "non-reader":  # before connecting: the window it announces is then small from the start
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                sock.settimeout(5)
                sock.connect(("127.0.0.1", self.port))
            except OSError:
                sock.close()
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
        """Trickle bytes (or pipeline searches, never reading) until the server closes the connection or the run stops."""
        if kind == "non-reader":
            return self._never_read(sock)
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

    def _never_read(self, sock: socket.socket) -> None:
        """100 pipelined searches, then one more a second; the answers are never read.

        The server's close is seen without reading: poll asks for hang-ups only, not for data.
        """
        sock.setblocking(False)
        poller = select.poll()
        poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        pending = NON_READER_REQUEST * 100
        while not self.stopping.is_set():
            try:
                pending = pending[sock.send(pending):] if pending else pending
            except BlockingIOError:
                pass
            if poller.poll(1000):
                return
            pending += NON_READER_REQUEST

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def under_clients(server: Server, count: int, kinds: tuple[str, ...], args) -> dict:
    """Probe /healthz and a search for ``args.seconds`` while ``count`` clients of ``kinds`` are held."""
    clients = Clients(server.port, count, kinds)
    time.sleep(2)  # let them connect and start
    held: list[int] = []
    health: list[tuple[int, float]] = []
    search: list[tuple[int, float]] = []
    memory: list[tuple[float, float]] = []
    deadline = time.monotonic() + args.seconds
    next_sample = 0.0
    while time.monotonic() < deadline:
        held.append(clients.open)
        if time.monotonic() >= next_sample:
            memory.append(server.memory_mib())
            next_sample = time.monotonic() + 2
        health.append(get(server.port, "/healthz", args.probe_timeout))
        search.append(get(server.port, "/api/v1/search?q=missed+dose&k=3", args.probe_timeout))
        time.sleep(0.1)
    held.append(clients.open)
    reconnects = clients.reconnects
    clients.stop()
    time.sleep(2)  # the server notices the closed connections before the next phase
    return {"clients": count, "kinds": list(kinds), "held_median": statistics.median(held), "held_min": min(held),
            "reconnects": reconnects, "healthz_requests": len(health),
            "healthz_answered": sum(1 for s, _ in health if s == 200),
            "healthz_p50_ms": round(statistics.median(t for _, t in health) * 1000, 1),
            "healthz_p99_ms": round(percentile([t for _, t in health], 0.99) * 1000, 1),
            "healthz_max_ms": round(max(t for _, t in health) * 1000, 1),
            "search_answered": sum(1 for s, _ in search if s == 200), "search_requests": len(search),
            "search_p50_ms": round(statistics.median(t for _, t in search) * 1000, 1),
            "search_p99_ms": round(percentile([t for _, t in search], 0.99) * 1000, 1),
            "pss_max_mib": max(m[0] for m in memory), "rss_max_mib": max(m[1] for m in memory)}


def measure(spec: str, index: Path, args) -> dict:
    server = Server(spec, index, args.workers, args.threads)
    try:
        pss, rss = server.memory_mib()
        result: dict = {"server": spec, "load_average_start": round(os.getloadavg()[0], 2),
                        "pss_idle_mib": pss, "rss_idle_mib": rss,
                        "healthz_idle_p50_ms": round(statistics.median(
                            get(server.port, "/healthz", 30)[1] for _ in range(20)) * 1000, 1)}
        if args.clients:
            result["slow_senders"] = under_clients(server, args.clients, KINDS, args)
        result["non_readers"] = [under_clients(server, n, ("non-reader",), args) for n in args.non_readers]
        if args.load_levels:
            from load_test import Load, load_queries

            load = Load(server.port, load_queries())
            result["load"] = [{k: v for k, v in load.run(c, args.load_seconds).items() if not k.startswith("_")}
                              for c in args.load_levels]
            result["pss_after_load_mib"], result["rss_after_load_mib"] = server.memory_mib()
        result["load_average_end"] = round(os.getloadavg()[0], 2)
    finally:
        server.stop()
    return result


def report(runs: list[dict], args) -> None:
    def probes(r: dict) -> str:
        return (f"{r['held_median']:.0f} / {r['held_min']} | {r['reconnects']} | {r['healthz_answered']}/"
                f"{r['healthz_requests']} | {r['healthz_p50_ms']} / {r['healthz_p99_ms']} / {r['healthz_max_ms']} | "
                f"{r['search_answered']}/{r['search_requests']}, {r['search_p99_ms']} | {r['pss_max_mib']} / "
                f"{r['rss_max_mib']} |")

    head = ("| server | clients | held (median / min) | reconnects | /healthz answered | /healthz p50 / p99 / max ms "
            "| searches answered, p99 ms | PSS / RSS max MiB |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"\n{args.workers} workers x {args.threads} threads, {args.seconds:.0f} s a phase, probes time out at "
          f"{args.probe_timeout:.0f} s")
    if args.clients:
        print(f"\nSlow senders ({', '.join(KINDS)})\n{head}")
        for r in runs:
            print(f"| {r['server']} | {r['slow_senders']['clients']} | {probes(r['slow_senders'])}")
    if args.non_readers:
        print(f"\nNon-readers (SO_RCVBUF 4 KiB, 100 pipelined k=50 searches then one a second, never read)\n{head}")
        for r in runs:
            for phase in r["non_readers"]:
                print(f"| {r['server']} | {phase['clients']} | {probes(phase)}")
    print("\n| server | load average at start / end | PSS / RSS idle MiB | /healthz idle p50 ms" +
          "".join(f" | c{c} req/s, p50 / p95 / p99 ms" for c in args.load_levels) +
          (" | PSS / RSS after load MiB |" if args.load_levels else " |"))
    print("| --- | ---: | ---: | ---: |" + " ---: |" * (len(args.load_levels) + bool(args.load_levels)))
    for r in runs:
        levels = "".join(f" | {x['throughput']}, {x['p50_ms']} / {x['p95_ms']} / {x['p99_ms']}"
                         + (f" ({x['errors']} errors)" if x["errors"] else "") for x in r.get("load", []))
        after = f" | {r['pss_after_load_mib']} / {r['rss_after_load_mib']} |" if "load" in r else " |"
        print(f"| {r['server']} | {r['load_average_start']} / {r['load_average_end']} | {r['pss_idle_mib']} / "
              f"{r['rss_idle_mib']} | {r['healthz_idle_p50_ms']}{levels}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an existing index (default: the test fixture corpus, built here)")
    parser.add_argument("--servers", default="worker", help=f"comma-separated, of {', '.join(SERVERS)} (NAME@DIR: "
                                                            "the code of another checkout)")
    parser.add_argument("--compare", action="store_true", help="also run gunicorn's stock gthread worker")
    parser.add_argument("--clients", type=int, default=100, help="slow senders (0 skips them)")
    parser.add_argument("--non-readers", default="", help="comma-separated counts of non-reading clients, e.g. 8,200")
    parser.add_argument("--load-levels", default="", help="load test concurrency levels afterwards, e.g. 1,4,16")
    parser.add_argument("--load-seconds", type=float, default=10, help="measured seconds per load level")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per phase and server")
    parser.add_argument("--probe-timeout", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", type=Path, default=WORK / "slow_clients.json")
    args = parser.parse_args()
    args.non_readers = [int(n) for n in args.non_readers.split(",") if n]
    args.load_levels = [int(n) for n in args.load_levels.split(",") if n]
    servers = args.servers.split(",") + (["gthread"] if args.compare else [])
    index = args.index or fixture_index()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    runs = [measure(spec, index, args) for spec in servers]
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    report(runs, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()

"""The Ray engine: the passages a build must embed go to a pool of Ray actors, one model load per actor.

``prepare`` reads the text of every passage the build will embed, as the build plans them, and
keeps those the embedding cache lacks. The first it lacks starts Ray and the pool (one single-
threaded actor per CPU of the cluster, spread over its nodes); the actors load the model while the
driver reads on, and embed each call of texts as it is handed over, so that reading the plan and
embedding overlap. The model is the ONNX export the driver's ``Embedder`` already made (once, in
the model cache): its files are put into the object store once and every actor loads its session
from those bytes, so no actor exports, downloads or reads the model cache. Vectors come back to the
driver call by call and go into the embedding cache, committed as they come: a job that dies keeps
what came back, and the next run embeds only the rest. The build then finds every vector in the
cache and writes cache, store, catalog, BM25 and manifest, and publishes, exactly as a local build
does.

Plain actors, not Ray Data: the job is one flat map over texts the driver holds, which Ray Data
served with a scheduling loop in the driver and three actors of its own, taking CPU from the actors
on the cores they share, and with a list that had to be complete before its job could start
(figures in bench/README.md, `bench/ray_bench.py`).

Without an address a local Ray limited to this machine's cores is started (no dashboard, worker
logs kept in Ray's session directory, not on the terminal) and shut down by ``close``; with one,
the engine joins that cluster and only disconnects. Actors that die are restarted and their
calls retried by Ray (``MAX_RESTARTS``, ``MAX_TASK_RETRIES``); a job that still fails raises
``EngineFailed`` with the reason, before anything is published.
"""
from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray

from .. import offline
from . import EngineFailed, check_engine

if TYPE_CHECKING:
    from ..cache import EmbeddingCache
    from ..embedding import Embedder

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # indexer/, shipped to the workers as a py_module
BATCH_ROWS = 64           # texts per actor call: seconds of one CPU, so that the job's tail (one call) is short
QUEUED = 2                # calls an actor holds: one running, the next waiting, so it never waits on the driver
PENDING_ROWS = 100_000    # texts the driver holds for the actors before it stops reading the plan (its memory)
CHECK_ROWS = 256          # texts looked up in the cache at once (and how often the driver hands calls out)
MAX_RESTARTS = 3          # an actor that dies is started again this often ...
MAX_TASK_RETRIES = 3      # ... and the call it held is retried this often, before the job fails
LOCAL_OBJECT_STORE = 1 << 30  # bytes of the object store of a local Ray (spills to disk beyond)
_RAY_LOGGERS = ("ray",)


def _cpus_here() -> int:
    return len(os.sched_getaffinity(0))


def _reason(exc: BaseException) -> str:
    """One line saying why Ray failed (its messages carry tracebacks and banners)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    cause = exc.__cause__ or exc.__context__
    for line in lines:
        if not line.startswith(("Traceback", "File ", "^", "~")):
            text = line
            break
    else:
        text = repr(cause) if cause is not None else type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what Ray's C++ core writes to file descriptor 2; Python's own stderr stays the terminal.

    Ray's core worker prints some lines of its own straight to descriptor 2 (for instance that a
    restartable actor has constructor arguments in the object store, as every actor of a job has);
    they are in its log file in Ray's session directory (``/tmp/ray/session_*/logs``) as well.
    """
    saved_fd = os.dup(2)
    python_stderr = sys.stderr
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    target = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 2)
        if getattr(python_stderr, "fileno", None) is not None and _fileno(python_stderr) == 2:
            # The terminal, for what Python writes (the build's log lines, its progress bar).
            sys.stderr = os.fdopen(os.dup(saved_fd), "w", buffering=1, encoding=python_stderr.encoding or "utf-8",
                                   errors="backslashreplace")
        yield
    finally:
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(target)


def _fileno(stream) -> int:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return -1


def connect(address: str = "", cpus: int | None = None) -> bool:
    """Join the Ray cluster at ``address``, or start a local Ray of ``cpus`` CPUs; False if one is already connected.

    A local Ray is quiet: no dashboard, workers' output left in Ray's session logs, Ray's loggers at
    ERROR. Its workers import this package from where the driver does (``PYTHONPATH``), so the ones Ray
    starts with it serve the job at once; a cluster's workers get the package as a ``py_module`` instead,
    so its nodes need only the same Python packages.
    """
    if ray.is_initialized():
        return False
    # No usage statistics (RAY_USAGE_STATS_ENABLED=0), and a local Ray's workers inherit it all. Importing indexer
    # set it already; not offline.apply(), which would warn that the driver's own model imported onnxruntime.
    os.environ.update(offline.ENVIRONMENT)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address:  # a cluster's workers were started elsewhere: they are told to keep quiet too
        options["runtime_env"] = {"py_modules": [str(PACKAGE_DIR)], "env_vars": dict(offline.ENVIRONMENT)}
    else:  # "local": a new Ray of its own, never one that `ray start` left running on this machine
        options.update(num_cpus=cpus or _cpus_here(), object_store_memory=LOCAL_OBJECT_STORE)
    where = f"join the Ray cluster at {address}" if address else "start a local Ray"
    for name in _RAY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if address:
        _probe(address, where)
        _token_auth_as_ray_start_does()
    saved_path = os.environ.get("PYTHONPATH")
    if not address:  # inherited by the local Ray's processes as they start, then put back
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_DIR.parent), saved_path) if p)
    try:
        with _quiet_native_stderr():
            ray.init(address=address or "local", **options)
    except Exception as exc:  # ConnectionError, a bad address, a version mismatch ...
        raise EngineFailed(f"could not {where}: {_reason(exc)}; nothing was published and the live index "
                           "is untouched") from None
    finally:
        if saved_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_path
    return True


def _token_auth_as_ray_start_does() -> None:
    """Authenticate to a cluster as `ray start` on this machine would have started it.

    With RAY_AUTH_MODE unset, `ray start` turns token authentication on when a token is configured
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token), but a driver joining by address does
    not, and is refused; Ray's own rule is applied here (RAY_AUTH_MODE, when set, decides instead).
    """
    if "RAY_AUTH_MODE" in os.environ:
        return
    try:  # Ray's function (not public API: pinned with Ray in requirements-ray.txt)
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _probe(address: str, where: str, timeout: float = 10.0) -> None:
    """Fail at once when nothing listens at a host:port address (Ray itself would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", ray:// client addresses: left to Ray
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EngineFailed(f"could not {where}: nothing answers there ({exc.strerror or exc}); start its head with "
                           f"`ray start --head --port {port}` or check --ray-address; nothing was published and the "
                           "live index is untouched") from None


class _EmbedActor:
    """One actor: the model loaded once from the bytes the driver shipped, then call after call."""

    def __init__(self, model: dict[str, bytes], export: dict[str, Any], threads: int, batch_size: int,
                 crash_file: str | None = None):
        os.environ["OMP_NUM_THREADS"] = str(threads)  # ONNX Runtime's threads: the CPUs this actor reserved
        from indexer.embedding.runtimes import OnnxModel

        with tempfile.TemporaryDirectory(prefix="medsearch-model-") as directory:
            for name, data in model.items():
                (Path(directory) / name).write_bytes(data)
            self.model = OnnxModel(Path(directory), export)  # session and tokenizer now live in memory
        self.batch_size = batch_size
        self.crash_file = crash_file
        self.node = ray.get_runtime_context().get_node_id()
        self.loaded_at = time.time()  # wall clock: when this actor was ready (the driver measures its start-up)

    def embed(self, texts: list[str]) -> tuple[np.ndarray, int, float, float, str]:
        """The texts' vectors, their tokens as the report counts them, and for the driver's figures: when this
        actor was ready, how long this call kept it busy, and its node."""
        began = time.time()
        if self.crash_file:
            _maybe_crash(self.crash_file, texts)
        vectors = self.model.encode(texts, self.batch_size)
        tokens = sum(min(n + 2, self.model.max_seq_length) for n in self.model.count_tokens(texts))
        return vectors, tokens, self.loaded_at, time.time() - began, self.node


def _maybe_crash(path: str, texts: Sequence[str]) -> None:
    """Fault injection for the tests: the actor process dies as a crashed or killed one would.

    The file holds ``once`` (the first actor to read it removes it and dies) or a text: every
    call with a passage containing that text kills its actor (an empty file: every call).
    """
    try:
        mode = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    if mode == "once":
        try:
            os.unlink(path)
        except FileNotFoundError:
            return  # another actor took it
        os._exit(1)
    if any(mode in text for text in texts):
        os._exit(1)


class _Job:
    """A pool of actors embedding texts as the driver hands them over; every call's vectors go into the cache.

    The actors are created first and load the model while the driver goes on reading the build's plan.
    Each actor holds ``QUEUED`` calls (one running, the next waiting), so it never waits on the driver;
    texts are handed out in calls of ``batch_rows``, and once the plan is read, the rest is shared out in
    smaller calls so that the actors end together.
    """

    def __init__(self, engine: RayEngine, cache: EmbeddingCache, report):
        self.engine, self.cache, self.report = engine, cache, report
        self.started, self.started_at = time.perf_counter(), time.time()
        actors, threads = engine._plan_pool()
        engine.pool = (actors, threads)
        options = {"num_cpus": threads, "max_restarts": MAX_RESTARTS, "max_task_retries": MAX_TASK_RETRIES,
                   "scheduling_strategy": "SPREAD"}  # on a cluster, actors on every node before two on one
        actor_class: Any = ray.remote(_EmbedActor).options(**options)
        # The model's files go as an object reference: each actor (and each restart) reads them from the object store.
        self.actors: list[Any] = [
            actor_class.remote(engine._model_ref, engine._export, threads, engine.embedder.batch_size, engine.crash_file)
            for _ in range(actors)]
        self.queued = [0] * actors
        self.waiting: deque[tuple[bytes, str]] = deque()
        self.running: dict[Any, tuple[int, list[bytes]]] = {}  # object ref of a call -> (actor, its keys)
        self.handed = self.done = self.tokens = 0
        self.ready, self.busy = math.inf, 0.0
        self.nodes: Counter[str] = Counter()
        self.last_log = self.started
        engine.log(f"ray: embedding on {actors} actor{'s' * (actors > 1)} of {threads} CPU{'s' * (threads > 1)}, "
                   "as the build finds the passages to embed")

    def add(self, rows: Sequence[tuple[bytes, str]]) -> None:
        """Texts to embed; handed out at once where an actor has room, waited for when too many are held."""
        self.waiting.extend(rows)
        self.handed += len(rows)
        self._send(final=False)
        self._receive(timeout=0)
        while len(self.waiting) >= self.engine.pending_rows:  # the driver's memory stays bounded
            self._receive(timeout=None)
            self._send(final=False)

    def finish(self) -> None:
        """Every text handed over embedded and in the cache."""
        while self.waiting or self.running:
            self._send(final=True)
            self._receive(timeout=None)

    def _send(self, final: bool) -> None:
        """Hand calls to the actors with room; a call is whole (``batch_rows``) until the last texts are read."""
        for actor in range(len(self.actors)):
            while self.queued[actor] < QUEUED and self.waiting:
                size = self.engine.batch_rows
                if final:  # the last texts: an equal share for every actor, so that none is left waiting
                    size = max(1, min(size, math.ceil(len(self.waiting) / len(self.actors))))
                elif len(self.waiting) < size:
                    return  # more texts are coming: wait for a whole call
                rows = [self.waiting.popleft() for _ in range(min(size, len(self.waiting)))]
                ref = self.actors[actor].embed.remote([text for _, text in rows])
                self.running[ref] = (actor, [key for key, _ in rows])
                self.queued[actor] += 1

    def _receive(self, timeout: float | None = None) -> None:
        """Store every call that came back (first waiting for one when ``timeout`` is None); fail on one that failed."""
        if not self.running:
            return
        if timeout is None:
            ray.wait(list(self.running), num_returns=1)
        ready, _ = ray.wait(list(self.running), num_returns=len(self.running), timeout=0)
        failure: BaseException | None = None
        for ref in ready:
            actor, keys = self.running.pop(ref)
            self.queued[actor] -= 1
            try:
                vectors, tokens, loaded_at, busy, node = ray.get(ref)
            except Exception as exc:  # an actor that died too often, a lost node, an error in the model
                failure = failure or exc
                continue
            self.cache.put_many(keys, np.asarray(vectors, dtype=np.float32))
            self.done += len(keys)
            self.tokens += tokens
            self.ready = min(self.ready, loaded_at)
            self.busy += busy
            self.nodes[node] += len(keys)
        if failure is not None:
            raise EngineFailed(f"the Ray embedding job failed ({_reason(failure)}); the {self.done} of {self.handed} "
                               "passages that came back are in the embedding cache, so the next run embeds only "
                               "the rest; nothing was published and the live index is untouched") from None
        if time.perf_counter() - self.last_log >= 10:
            self.last_log = time.perf_counter()
            self.engine.log(f"ray: {self.done}/{self.handed} passages embedded, {self.last_log - self.started:.0f}s")

    def close(self) -> None:
        """Stop the actors (a joined cluster keeps none of them) and put the job's figures in the report."""
        for actor in self.actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone with its node: nothing left to stop
                pass
        seconds = time.perf_counter() - self.started
        stages, report = self.report.stages, self.report
        stages["ray_embed"] = stages.get("ray_embed", 0.0) + seconds
        report.embed_seconds += seconds
        report.tokens_embedded += self.tokens
        self.engine.nodes = dict(self.nodes)
        share = None
        if self.ready < math.inf:  # job start to the first actor ready (process, imports, model): its start-up
            stages["ray_actor_start"] = stages.get("ray_actor_start", 0.0) + self.ready - self.started_at
            # Of the actors' time from the first one ready to the job's end, the share spent embedding.
            span = len(self.actors) * max(time.time() - self.ready, 1e-9)
            stages["ray_actor_busy"] = stages.get("ray_actor_busy", 0.0) + self.busy
            share = stages["ray_actor_busy_share"] = round(min(self.busy / span, 1.0), 3)
        nodes = ", ".join(f"{node[:8]} {count}" for node, count in sorted(self.nodes.items()))
        self.engine.log(f"ray: {self.done} passages embedded in {seconds:.1f}s ({self.done / max(seconds, 1e-9):.1f}/s)"
                        f" on {len(self.nodes)} node{'s' * (len(self.nodes) != 1)} ({nodes or 'none'})"
                        + (f", actors busy {share:.0%} of the time after the first was ready" if share is not None
                           else ""))


class RayEngine:
    """Embeds a build's missing passages on Ray actors; the build writes and publishes as it always does."""

    name = "ray"

    def __init__(self, embedder: Embedder, address: str = "", actors: int = 0,
                 log: Callable[[str], None] = lambda line: None, cpus: int | None = None,
                 batch_rows: int = BATCH_ROWS, pending_rows: int = PENDING_ROWS, _crash_file: str | None = None):
        check_engine(self.name, embedder.backend)
        if actors < 0:
            raise EngineFailed(f"--ray-actors must be 0 (automatic: one actor per CPU) or more, not {actors}")
        self.embedder = embedder
        self.address = address
        self.actors = actors
        self.log = log
        self.cpus = cpus or _cpus_here()
        self.batch_rows = batch_rows
        self.pending_rows = pending_rows
        self.crash_file = _crash_file
        self._started = False      # a session this engine started (and must shut down)
        self._connected = False
        self._model_ref: Any = None  # the export's files in Ray's object store, once connected
        self._export: dict[str, Any] = {}
        self.start_seconds = 0.0
        self.pool: tuple[int, int] = (0, 0)  # (actors, CPUs each) of the last job
        self.nodes: dict[str, int] = {}      # node id -> passages its actors embedded, in the last job

    # -- the Ray session ---------------------------------------------------------------------------------------
    def _connect(self, report) -> None:
        if self._connected:
            return
        started = time.perf_counter()
        self._started = connect(self.address, self.cpus)
        directory = self.embedder.export_dir
        if directory is None:  # refused before any work (the ray engine takes the onnx backends); kept as a guard
            raise EngineFailed("the ray engine needs an ONNX backend (onnx or onnx-int8)")
        self._export = json.loads((directory / "export.json").read_text(encoding="utf-8"))
        # The export's own files, read once by the driver and put into the object store once for every actor.
        self._model_ref = ray.put({name: (directory / name).read_bytes() for name in self._export["files"]})
        self._connected = True
        self.start_seconds = time.perf_counter() - started
        report.stages["ray_start"] = report.stages.get("ray_start", 0.0) + self.start_seconds
        self.log(f"ray: {'joined ' + self.address if self.address else 'started a local Ray'} "
                 f"({int(ray.cluster_resources().get('CPU', 0))} CPUs) in {self.start_seconds:.1f}s")

    def _plan_pool(self) -> tuple[int, int]:
        """(actors, CPUs per actor): the number asked for, or one single-threaded actor per CPU of the cluster.

        An actor's CPUs are an equal share of the cluster's, but never more than its smallest node has, so that
        every actor fits on a node (Ray would wait for ever for a node big enough). One actor per CPU beat one
        actor per two CPUs on the drug-label bench (bench/README.md).
        """
        total = int(ray.cluster_resources().get("CPU", 0))
        if total < 1:
            raise EngineFailed("the Ray cluster has no CPUs to run the embedding actors on")
        actors = self.actors or total
        if actors > total:
            raise EngineFailed(f"--ray-actors {actors} asks for more actors than the Ray cluster has CPUs ({total}); "
                               f"use at most {total}")
        nodes = [int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node.get("Alive")]
        smallest = min((cpus for cpus in nodes if cpus >= 1), default=1)
        return actors, max(1, min(total // actors, smallest))

    def close(self) -> None:
        """Shut down the local Ray this engine started; a joined cluster is only disconnected from."""
        self._model_ref = None
        if self._started and ray.is_initialized():
            with _quiet_native_stderr():
                ray.shutdown()
        self._started = self._connected = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the work ----------------------------------------------------------------------------------------------
    def prepare(self, texts: Iterable[str], cache: EmbeddingCache, report) -> int:
        """Embed on Ray every text the cache lacks, filling the cache as vectors come back; returns how many.

        ``texts`` is read as the build plans it (each text once): the first that the cache lacks starts
        Ray and the actors, which embed while the rest is read. The build counts that many of its cache
        hits as embedded; ``report`` gets the time and tokens.
        """
        job: _Job | None = None
        checking: dict[bytes, str] = {}

        def check() -> None:
            nonlocal job
            found = cache.get_many(list(checking))
            missing = [(key, text) for key, text in checking.items() if key not in found]
            checking.clear()
            if missing:
                if job is None:
                    self._connect(report)
                    job = _Job(self, cache, report)
                job.add(missing)

        started = time.perf_counter()
        try:
            with _quiet_native_stderr():  # Ray's core writes notices (an actor restarted) to descriptor 2
                for text in texts:
                    checking[cache.key(text)] = text
                    if len(checking) >= CHECK_ROWS:
                        check()
                check()
                # Reading the build's plan (chunking every passage to find its text) while the actors embed.
                report.stages["ray_plan"] = report.stages.get("ray_plan", 0.0) + time.perf_counter() - started
                if job is None:
                    return 0
                job.finish()
                return job.done
        finally:
            if job is not None:
                job.close()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts the cache still lacks when the build reaches them (none after ``prepare``): embedded here."""
        if texts:
            self.log(f"ray: {len(texts)} passages were not embedded on Ray; embedding them here")
        return self.embedder.encode(texts)

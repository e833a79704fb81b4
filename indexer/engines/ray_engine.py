"""The Ray engine: the passages a build must embed go through a Ray Data job, one model load per actor.

``prepare`` reads the text of every passage the build will embed, keeps those the embedding
cache lacks (each text once) and runs them through ``map_batches`` over ``_EmbedActor`` in a
fixed pool of actors. The model is the ONNX export the driver's ``Embedder`` already made (once,
in the model cache): its files are put into the object store once and every actor loads its
session from those bytes, so no actor exports, downloads or reads the model cache. Vectors stream
back to the driver (``iter_batches``) and go into the embedding cache, committed batch by batch:
a job that dies keeps what came back, and the next run embeds only the rest. The build then finds
every vector in the cache and writes cache, store, catalog, BM25 and manifest, and publishes,
exactly as a local build does.

Without an address a local Ray limited to this machine's cores is started (no dashboard, worker
logs kept in Ray's session directory, not on the terminal) and shut down by ``close``; with one,
the engine joins that cluster and only disconnects. Actors that die are restarted and their
batches retried by Ray (``MAX_RESTARTS``, ``MAX_TASK_RETRIES``); a job that still fails raises
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
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
import ray.data
from ray.util.annotations import RayDeprecationWarning

from .. import offline
from . import EngineFailed, check_engine

if TYPE_CHECKING:
    from ..cache import EmbeddingCache
    from ..embedding import Embedder

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # indexer/, shipped to the workers as a py_module
BATCH_ROWS = 256          # texts per actor call (each call sorts its texts by length and pads per model batch)
SEGMENT_ROWS = 100_000    # texts per Ray Data job: bounds the driver's memory; each job starts its pool again
CHECK_ROWS = 1024         # texts looked up in the cache at once
MAX_RESTARTS = 3          # an actor that dies is started again this often ...
MAX_TASK_RETRIES = 3      # ... and the batch it held is retried this often, before the job fails
LOCAL_OBJECT_STORE = 1 << 30  # bytes of the object store of a local Ray (spills to disk beyond)
_RAY_LOGGERS = ("ray", "ray.data", "ray.train", "ray.tune")


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
    restartable actor has constructor arguments in the object store, as every Ray Data actor has);
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
    offline.apply()  # no usage statistics (RAY_USAGE_STATS_ENABLED=0), and a local Ray's workers inherit it all
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
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
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
    """One Ray Data actor: the model loaded once from the bytes the driver shipped, then batch after batch."""

    def __init__(self, model: list, export: dict[str, Any], threads: int, batch_size: int,
                 crash_file: str | None = None):
        os.environ["OMP_NUM_THREADS"] = str(threads)  # ONNX Runtime's threads: the CPUs this actor reserved
        from indexer.embedding.runtimes import OnnxModel

        files: dict[str, bytes] = ray.get(model[0])  # a list, so that Ray hands the reference over unresolved
        with tempfile.TemporaryDirectory(prefix="medsearch-model-") as directory:
            for name, data in files.items():
                (Path(directory) / name).write_bytes(data)
            self.model = OnnxModel(Path(directory), export)  # session and tokenizer now live in memory
        self.batch_size = batch_size
        self.crash_file = crash_file
        self.loaded_at = time.time()  # wall clock: when this actor was ready (the driver measures its start-up)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        began = time.time()
        texts = [str(t) for t in batch["text"]]
        if self.crash_file:
            _maybe_crash(self.crash_file, texts)
        vectors = self.model.encode(texts, self.batch_size)
        # When this actor was ready, and how long this call kept it busy: the driver's measure of idle actors.
        return {"key": batch["key"], "vector": vectors, "loaded_at": np.full(len(texts), self.loaded_at),
                "busy": np.full(len(texts), (time.time() - began) / len(texts))}


def _maybe_crash(path: str, texts: Sequence[str]) -> None:
    """Fault injection for the tests: the actor process dies as a crashed or killed one would.

    The file holds ``once`` (the first actor to read it removes it and dies) or a text: every
    batch with a passage containing that text kills its actor (an empty file: every batch).
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


def striped(rows: list[tuple[bytes, str]], blocks: int) -> list[tuple[bytes, str]]:
    """``rows`` longest first, then dealt into ``blocks`` equal stripes laid end to end.

    Ray Data cuts the list into ``blocks`` contiguous blocks (one per actor call), and hands an actor
    several at once: cut from a list sorted by length, one actor could be given all the long texts and
    the other all the short, and wait for it at the end. Dealt, every block holds texts of every length
    (each call still sorts its own by length and pads per model batch), so every call costs about the same.
    """
    ordered = sorted(rows, key=lambda item: -len(item[1]))
    return [ordered[i] for b in range(blocks) for i in range(b, len(ordered), blocks)]


class RayEngine:
    """Embeds a build's missing passages on Ray Data; the build writes and publishes as it always does."""

    name = "ray"

    def __init__(self, embedder: Embedder, address: str = "", actors: int = 0,
                 log: Callable[[str], None] = lambda line: None, cpus: int | None = None,
                 batch_rows: int = BATCH_ROWS, segment_rows: int = SEGMENT_ROWS, _crash_file: str | None = None):
        check_engine(self.name, embedder.backend)
        if actors < 0:
            raise EngineFailed(f"--ray-actors must be 0 (automatic: one actor per CPU) or more, not {actors}")
        self.embedder = embedder
        self.address = address
        self.actors = actors
        self.log = log
        self.cpus = cpus or _cpus_here()
        self.batch_rows = batch_rows
        self.segment_rows = segment_rows
        self.crash_file = _crash_file
        self._started = False      # a session this engine started (and must shut down)
        self._connected = False
        self._model_ref: Any = None  # the export's files in Ray's object store, once connected
        self._export: dict[str, Any] = {}
        self.start_seconds = 0.0
        self.pool: tuple[int, int] = (0, 0)  # (actors, CPUs each) of the last job

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

        One actor per CPU beat one actor per two CPUs on the drug-label bench (bench/README.md).
        """
        total = int(ray.cluster_resources().get("CPU", 0))
        if total < 1:
            raise EngineFailed("the Ray cluster has no CPUs to run the embedding actors on")
        actors = self.actors or total
        if actors > total:
            raise EngineFailed(f"--ray-actors {actors} asks for more actors than the Ray cluster has CPUs ({total}); "
                               f"use at most {total}")
        return actors, max(1, total // actors)

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

        The build counts that many of its cache hits as embedded; ``report`` gets the time and tokens.
        """
        embedded = 0
        todo: dict[bytes, str] = {}  # each text once, however many passages share it
        checking: list[tuple[bytes, str]] = []

        def check() -> None:
            found = cache.get_many([key for key, _ in checking])
            todo.update((key, text) for key, text in checking if key not in found)
            checking.clear()

        for text in texts:
            checking.append((cache.key(text), text))
            if len(checking) >= CHECK_ROWS:
                check()
            if len(todo) >= self.segment_rows:
                embedded += self._embed(todo, cache, report)
                todo = {}
        check()
        if todo:
            embedded += self._embed(todo, cache, report)
        return embedded

    def _embed(self, todo: dict[bytes, str], cache: EmbeddingCache, report) -> int:
        """One Ray Data job over ``todo`` (key -> text); every batch that comes back is committed to the cache."""
        self._connect(report)
        actors, threads = self._plan_pool()
        started, started_at = time.perf_counter(), time.time()
        # Every actor gets batches, however few the texts; one block per batch.
        batch_rows = max(1, min(self.batch_rows, math.ceil(len(todo) / actors)))
        blocks = math.ceil(len(todo) / batch_rows)
        actors = min(actors, blocks)
        self.pool = (actors, threads)
        rows = striped(list(todo.items()), blocks)
        dataset = ray.data.from_items([{"key": key, "text": text} for key, text in rows], override_num_blocks=blocks)
        with warnings.catch_warnings():
            # Ray 2.60 names no parameter for bounded restarts (its default, -1, retries a crashing batch for
            # ever), so they go as remote args, which it marks deprecated for 2.64.
            warnings.simplefilter("ignore", RayDeprecationWarning)
            vectors = dataset.map_batches(
                _EmbedActor, batch_size=batch_rows, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=threads,
                fn_constructor_kwargs={"model": [self._model_ref], "export": self._export, "threads": threads,
                                       "batch_size": self.embedder.batch_size, "crash_file": self.crash_file},
                max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES)
        self.log(f"ray: embedding {len(rows)} passages on {actors} actor{'s' * (actors > 1)} "
                 f"of {threads} CPU{'s' * (threads > 1)}")
        done, last_log, ready, busy = 0, started, math.inf, 0.0
        try:
            with _quiet_native_stderr():
                for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
                    ready = min(ready, float(np.min(batch["loaded_at"])))
                    busy += float(np.sum(batch["busy"]))
                    keys = [bytes(k) for k in batch["key"]]
                    cache.put_many(keys, np.asarray(batch["vector"], dtype=np.float32))
                    done += len(keys)
                    if time.perf_counter() - last_log >= 10:
                        last_log = time.perf_counter()
                        self.log(f"ray: {done}/{len(rows)} passages embedded, {last_log - started:.0f}s")
        except Exception as exc:  # Ray's own errors: an actor that died too often, a lost node, a UDF error
            raise EngineFailed(f"the Ray embedding job failed ({_reason(exc)}); the {done} of {len(rows)} passages "
                               "that came back are in the embedding cache, so the next run embeds only the rest; "
                               "nothing was published and the live index is untouched") from None
        finally:
            seconds = time.perf_counter() - started
            report.stages["ray_embed"] = report.stages.get("ray_embed", 0.0) + seconds
            report.embed_seconds += seconds
            if ready < math.inf:  # job start to the first actor ready (process, imports, model): its start-up
                report.stages["ray_actor_start"] = report.stages.get("ray_actor_start", 0.0) + ready - started_at
                # Of the actors' time from the first one ready to the job's end, the share spent embedding.
                span = actors * max(time.time() - ready, 1e-9)
                report.stages["ray_actor_busy"] = report.stages.get("ray_actor_busy", 0.0) + busy
                report.stages["ray_actor_busy_share"] = round(min(busy / span, 1.0), 3)
        report.tokens_embedded += sum(min(n + 2, self.embedder.max_seq_length)
                                      for n in self.embedder.count_tokens([text for _, text in rows]))
        share = report.stages.get("ray_actor_busy_share")
        self.log(f"ray: {done} passages embedded in {seconds:.1f}s ({done / max(seconds, 1e-9):.1f}/s)"
                 + (f", actors busy {share:.0%} of the time after the first was ready" if share is not None else ""))
        return done

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts the cache still lacks when the build reaches them (none after ``prepare``): embedded here."""
        if texts:
            self.log(f"ray: {len(texts)} passages were not embedded on Ray; embedding them here")
        return self.embedder.encode(texts)

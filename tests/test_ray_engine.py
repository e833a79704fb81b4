"""The Ray engine: a Ray build is the local build; incremental, resumable, fault tolerant; joins a cluster.

Tests that need Ray are skipped, saying how to install it, where it is missing. Most share one
local Ray of two CPUs (each engine joins it and leaves it running); the command-line tests start
their own, or a `ray start` cluster on 127.0.0.1, and check that nothing of it is left behind.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import manifest as manifests
from indexer import publishing
from indexer.cache import EmbeddingCache
from indexer.catalog import Catalog
from indexer.cli import main
from indexer.embedding import load_embedder
from indexer.engines import RAY_INSTALL, EngineFailed
from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.store import VectorStore

from .conftest import CORPUS, ROOT

try:
    import ray

    from indexer.engines import ray_engine
    from indexer.engines.ray_engine import RayEngine
except ImportError:
    ray = None
needs_ray = pytest.mark.skipif(ray is None, reason=f"Ray is not installed (install it with `{RAY_INSTALL}`)")
QUIET = {"log": lambda line: None}
TWO_CPUS = sorted(os.sched_getaffinity(0))[:2]  # the command's local Ray sizes itself to the cores it may use
# A short passage of its own, to kill every batch that holds it (the others come back meanwhile).
MARKER = """---
title: Zebra marker
id: zebra-marker
kind: topic
---

Zebra marker text.
"""


@pytest.fixture(scope="module")
def fp32():
    """The fp32 ONNX backend: the Ray and local vectors of one text should then agree to rounding."""
    return load_embedder(backend="onnx")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of two CPUs for this module's engines; stopped after the module."""
    if ray is None:
        pytest.skip(f"Ray is not installed (install it with `{RAY_INSTALL}`)")
    started = ray_engine.connect(cpus=2)
    yield
    if started:
        ray.shutdown()


def _rows(build: Path) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(passage id, embedded text) of every row of a build, and its vectors, in row order."""
    manifest = manifests.read(build)
    catalog = Catalog(build / manifests.CATALOG)
    try:
        count = manifest.counts.passages
        passages = catalog.passages(range(count))
        rows = [(passages[r].id, passages[r].embed_text) for r in range(count)]
        text_of_row = np.asarray(catalog.row_texts(), dtype=np.int64)  # rows sharing a text share its vector
    finally:
        catalog.close()
    vectors = VectorStore.load(build / manifests.VECTORS, manifest.recipe.faiss_factory).vectors(text_of_row)
    return rows, vectors


def _copy(tmp_path: Path, *extra: tuple[str, str]) -> Path:
    source = tmp_path / "src"
    shutil.copytree(CORPUS, source)
    for name, text in extra:
        (source / name).write_text(text, encoding="utf-8")
    return source


def _cached(index_dir: Path, embedder) -> int:
    cache = EmbeddingCache(index_dir / "cache" / "embeddings.sqlite", embedder.fingerprint, embedder.dimension)
    try:
        return len(cache)
    finally:
        cache.close()


@needs_ray
def test_a_ray_build_is_the_local_build(tmp_path, fp32, local_ray):
    local = build_index([CORPUS], tmp_path / "local", fp32, **QUIET)
    with RayEngine(fp32, actors=2) as engine:
        built = build_index([CORPUS], tmp_path / "ray", fp32, engine=engine, **QUIET)
    assert built.published and engine.pool == (2, 1)
    assert built.passages == local.passages == built.embedded and built.from_cache == 0
    assert built.stages["ray_embed"] > 0
    local_rows, local_vectors = _rows(tmp_path / "local" / "current")
    ray_rows, ray_vectors = _rows(tmp_path / "ray" / "current")
    assert ray_rows == local_rows  # the same passages, in the same rows
    cosines = np.sum(local_vectors * ray_vectors, axis=1)
    assert cosines.min() >= 0.999, cosines.min()
    ray_manifest = manifests.read(tmp_path / "ray" / "current")
    local_manifest = manifests.read(tmp_path / "local" / "current")
    assert (ray_manifest.engine, local_manifest.engine) == ("ray", "local")
    assert ray_manifest.recipe == local_manifest.recipe and ray_manifest.articles == local_manifest.articles
    result = CliRunner().invoke(main, ["verify", "--index", str(tmp_path / "ray")])
    assert result.exit_code == 0 and result.output.startswith("ok:"), result.output
    # The engine is not part of the recipe: a local build of the same sources finds the Ray build current.
    again = build_index([CORPUS], tmp_path / "ray", fp32, **QUIET)
    assert again.up_to_date and again.build_id == built.build_id


@needs_ray
def test_an_incremental_ray_build_embeds_what_a_local_one_does(tmp_path, embedder, local_ray):
    source = _copy(tmp_path)
    counts = {}
    with RayEngine(embedder, actors=1) as engine:
        for name, use in (("local", None), ("ray", engine)):
            index_dir = tmp_path / name
            first = build_index([source], index_dir, embedder, engine=use, **QUIET)
            counts[name] = [(first.embedded, first.from_cache, first.carried)]
        # One article changed, one added: only their passages are embedded, by either engine.
        text = (source / "ibuprofen.md").read_text(encoding="utf-8")
        (source / "ibuprofen.md").write_text(text.replace("Store below 25 degrees", "Keep below 25 degrees"))
        (source / "zebra.md").write_text(MARKER, encoding="utf-8")
        for name, use in (("local", None), ("ray", engine)):
            report = build_index([source], tmp_path / name, embedder, engine=use, **QUIET)
            assert report.published and (report.changed, report.added) == (1, 1)
            counts[name].append((report.embedded, report.from_cache, report.carried))
    assert counts["ray"] == counts["local"], counts
    embedded, from_cache, carried = counts["ray"][1]
    assert 0 < embedded < carried and from_cache >= 0
    assert manifests.read(tmp_path / "ray" / "current").engine == "ray"


@needs_ray
def test_an_actor_that_dies_is_restarted_and_its_batch_retried(tmp_path, embedder, local_ray):
    crash = tmp_path / "crash"
    crash.write_text("once")  # the first actor to read it removes it and dies mid-batch
    with RayEngine(embedder, actors=2, batch_rows=4, _crash_file=str(crash)) as engine:
        report = build_index([CORPUS], tmp_path / "ix", embedder, engine=engine, **QUIET)
    assert not crash.exists()  # an actor did die
    assert report.published and report.embedded == report.passages
    assert _cached(tmp_path / "ix", embedder) == report.passages
    assert len(SearchIndex.open(tmp_path / "ix")) == report.passages


@needs_ray
def test_a_failed_job_publishes_nothing_and_the_rerun_embeds_only_the_rest(tmp_path, embedder, local_ray):
    index_dir = tmp_path / "ix"
    live = build_index([CORPUS], index_dir, embedder, **QUIET).build_id
    source = _copy(tmp_path, ("zebra.md", MARKER))
    cached_before = _cached(index_dir, embedder)
    crash = tmp_path / "crash"
    crash.write_text("Zebra marker text")  # every batch holding the marker passage kills its actor, each retry too
    sources = [source, ROOT / "corpus"]
    with RayEngine(embedder, actors=2, batch_rows=16, _crash_file=str(crash)) as engine:
        with pytest.raises(EngineFailed, match="nothing was published and the live index is untouched"):
            build_index(sources, index_dir, embedder, engine=engine, **QUIET)
    assert SearchIndex.open(index_dir).build_id == live
    assert os.readlink(index_dir / publishing.CURRENT) == str(Path(publishing.BUILDS) / live)
    assert not list((index_dir / "builds").glob(".staging-*"))
    came_back = _cached(index_dir, embedder) - cached_before
    assert came_back > 0  # the batches that came back before the job failed are in the cache
    crash.unlink()
    with RayEngine(embedder, actors=2) as engine:
        report = build_index(sources, index_dir, embedder, engine=engine, **QUIET)
    assert report.published and report.from_cache >= came_back
    assert report.embedded + report.from_cache + report.carried == report.passages
    assert 0 < report.embedded <= report.passages - report.carried - came_back
    assert SearchIndex.open(index_dir).article("zebra-marker") is not None


def _left_behind(named) -> list[int]:
    """Processes with a command-line argument for which ``named(argument)`` holds: what a run left running."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(named(part) for part in proc.info["cmdline"] or ()):
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _cli(*args: str, timeout: int = 300) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``python -m indexer ARGS`` on two cores; the finished process and its pid."""
    proc = subprocess.Popen([sys.executable, "-m", "indexer", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.sched_setaffinity(0, TWO_CPUS))
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), proc.pid


def _assert_quiet(stderr: str) -> None:
    """Only the build's own lines: none of Ray's banners, warnings, C++ log lines or tracebacks."""
    for line in stderr.splitlines():
        assert not any(noise in line for noise in ("(raylet)", ".cc:", "WARNING", "INFO", "Traceback",
                                                   "dashboard", "Warning")), line


@needs_ray
def test_cli_ray_build_starts_a_quiet_local_ray_and_stops_it(tmp_path):
    index_dir = tmp_path / "ix"
    done, pid = _cli("build", str(CORPUS), "--index", str(index_dir), "--engine", "ray", "--ray-actors", "1",
                     "--report", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stderr
    assert "published build" in done.stdout and "ray: started a local Ray (2 CPUs)" in done.stderr
    _assert_quiet(done.stderr)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passages_embedded"] == report["passages"] > 0 and report["stages"]["ray_start"] > 0
    assert manifests.read(index_dir / "current").engine == "ray"
    # The command's Ray (its session directory ends with the driver's pid) is gone with it.
    assert any(p.name.endswith(f"_{pid}") for p in Path("/tmp/ray").glob("session_*"))
    assert not _left_behind(lambda arg: "session_" in arg and (f"_{pid}/" in arg or arg.endswith(f"_{pid}")))


@needs_ray
def test_cli_joins_a_running_cluster_by_address_and_a_missing_one_exits_1(tmp_path):
    index_dir = tmp_path / "ix"
    assert build_index([CORPUS], index_dir, load_embedder(), **QUIET).published
    live = SearchIndex.open(index_dir).build_id
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    source = _copy(tmp_path, ("zebra.md", MARKER))
    # Nothing listens there yet: exit 1 with the reason, the live index untouched.
    missing, _ = _cli("build", str(source), "--index", str(index_dir), "--engine", "ray", "--ray-address", address,
                   timeout=180)
    assert missing.returncode == 1, (missing.stdout, missing.stderr)
    assert f"could not join the Ray cluster at {address}" in missing.stderr and "Traceback" not in missing.stderr
    assert SearchIndex.open(index_dir).build_id == live
    temp_dir = Path(f"/tmp/msray-{os.getpid()}")  # short: Ray's socket paths must stay under 108 bytes
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                             "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(temp_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        joined, _ = _cli("build", str(source), "--index", str(index_dir), "--engine", "ray", "--ray-address", address,
                      "--ray-actors", "2")
        assert joined.returncode == 0, joined.stderr
        assert f"ray: joined {address}" in joined.stderr
        _assert_quiet(joined.stderr)
        assert manifests.read(index_dir / "current").engine == "ray"
        assert SearchIndex.open(index_dir).article("zebra-marker") is not None
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
        left = _left_behind(lambda arg: str(temp_dir) in arg)
        for pid in left:  # should be none; never leave a cluster running
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert not left, left


def _ray_start(*args: str, temp_dir: Path) -> subprocess.Popen:
    """One node of a cluster on this machine: `ray start ... --block`, which stops what it started on SIGTERM."""
    return subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--block", "--num-cpus", "1",
                             "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--temp-dir", str(temp_dir),
                             *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stop_nodes(nodes: list[subprocess.Popen], temp_dirs: list[Path]) -> list[int]:
    """Stop the nodes (the worker first) and whatever they left running; the pids that had to be killed.

    Not `ray stop`: it stops every Ray on the machine, the local Ray of another build or test included.
    """
    for node in reversed(nodes):
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait(timeout=30)
    left = _left_behind(lambda arg: any(str(d) in arg for d in temp_dirs))
    for pid in left:  # should be none; never leave a cluster running
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for directory in temp_dirs:
        shutil.rmtree(directory, ignore_errors=True)
    return left


def _wait_for_port(port: int, timeout: float = 120) -> None:
    """Return once something listens on 127.0.0.1:``port`` (a head node starting), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"nothing listens on port {port} after {timeout:.0f}s")


def _wait_for_nodes(address: str, count: int, timeout: float = 60) -> list[str]:
    """The node ids of the cluster at ``address`` once ``count`` nodes are alive in it (asked by a driver of its own)."""
    code = ("import sys, time, ray\n"
            "from indexer.engines import ray_engine\n"
            "ray_engine.connect(sys.argv[1])  # as a build joins: with the token `ray start` uses, if any\n"
            "deadline = time.monotonic() + float(sys.argv[3])\n"
            "while True:\n"
            "    alive = [n['NodeID'] for n in ray.nodes() if n['Alive']]\n"
            "    if len(alive) >= int(sys.argv[2]) or time.monotonic() > deadline:\n"
            "        print(' '.join(alive)); break\n"
            "    time.sleep(0.5)\n")
    done = subprocess.run([sys.executable, "-c", code, address, str(count), str(timeout)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout + 60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def _auth_mode() -> str:
    """Ray's token authentication where a token is configured (as `ray start --head` turns it on), else none."""
    configured = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    return "token" if configured or (Path.home() / ".ray" / "auth_token").exists() else "disabled"


@needs_ray
def test_a_two_node_cluster_builds_what_the_local_build_does(tmp_path, embedder, monkeypatch):
    """A head and a worker node (`ray start`, one CPU each, both on this machine): the build's two actors run one
    on each node, and the build verifies, holds the local build's vectors and ranks as it does."""
    from search_app.core.ranking import Searcher

    # One mode for both nodes and the build: a worker's `ray start` does not turn token authentication on by
    # itself where the head's did, and is refused (docs/indexing.md says to set it on every node).
    monkeypatch.setenv("RAY_AUTH_MODE", os.environ.get("RAY_AUTH_MODE") or _auth_mode())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    temp_dirs = [Path(f"/tmp/msr{os.getpid()}{role}") for role in "hw"]  # short: socket paths stay under 108 bytes
    nodes = [_ray_start("--head", "--port", str(port), "--include-dashboard=false", temp_dir=temp_dirs[0])]
    try:
        _wait_for_port(port)
        nodes.append(_ray_start("--address", address, temp_dir=temp_dirs[1]))
        node_ids = _wait_for_nodes(address, 2)
        assert len(node_ids) == 2, node_ids
        built, _ = _cli("build", str(CORPUS), "--index", str(tmp_path / "ray"), "--engine", "ray", "--ray-address",
                        address, "--report", str(tmp_path / "report.json"), timeout=150)
        verified, _ = _cli("verify", "--index", str(tmp_path / "ray"))
        # Fewer actors than CPUs: each gets a share of the cluster's CPUs, but no more than a node has (one
        # actor of two CPUs would wait for ever for a node of two).
        one, _ = _cli("build", str(CORPUS), "--index", str(tmp_path / "one"), "--engine", "ray", "--ray-address",
                      address, "--ray-actors", "1", timeout=150)
    finally:
        left = _stop_nodes(nodes, temp_dirs)
    assert built.returncode == 0, built.stderr
    assert f"ray: joined {address} (2 CPUs)" in built.stderr and "on 2 actors of 1 CPU" in built.stderr
    _assert_quiet(built.stderr)
    assert not left, left
    # Each node's actor embedded a share: "... on 2 nodes (abcdef12 N, 3456789a M), ...", ids of the cluster's nodes.
    shares = re.search(r"passages embedded in [\d.]+s \([\d.]+/s\) on 2 nodes \((\w+) (\d+), (\w+) (\d+)\)",
                       built.stderr)
    assert shares, built.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert {shares[1], shares[3]} == {node[:8] for node in node_ids}
    assert int(shares[2]) > 0 and int(shares[4]) > 0
    assert int(shares[2]) + int(shares[4]) == report["passages_embedded"] == report["texts"]
    assert verified.returncode == 0 and verified.stdout.startswith("ok:"), (verified.stdout, verified.stderr)
    assert one.returncode == 0 and "on 1 actor of 1 CPU" in one.stderr, one.stderr

    local = build_index([CORPUS], tmp_path / "local", embedder, **QUIET)
    assert local.published
    local_rows, local_vectors = _rows(tmp_path / "local" / "current")
    ray_rows, ray_vectors = _rows(tmp_path / "ray" / "current")
    assert ray_rows == local_rows
    cosines = np.sum(local_vectors * ray_vectors, axis=1)
    assert cosines.min() >= 0.9999, cosines.min()
    searchers = [Searcher(SearchIndex.open(tmp_path / name), embedder) for name in ("local", "ray")]
    queries = [json.loads(line)["query"] for line in (ROOT / "tests/fixtures/queries.jsonl").read_text().splitlines()]
    for query in queries[:6]:
        top = [[hit.passage.id for hit in searcher.search(query, 5).hits] for searcher in searchers]
        assert top[0] == top[1] and top[0], query


def test_engine_ray_without_ray_says_how_to_install_it(tmp_path):
    # Ray made unimportable in the child: what a default install (requirements.txt only) sees.
    code = "import sys; sys.modules['ray'] = None; from indexer.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "build", str(CORPUS), "--index", str(tmp_path / "ix"),
                           "--engine", "ray"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert RAY_INSTALL in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "ix" / "current").exists()


def test_the_torch_backend_is_refused_by_the_ray_engine_with_what_to_use(tmp_path):
    result = CliRunner().invoke(main, ["build", str(CORPUS), "--index", str(tmp_path / "ix"), "--engine", "ray",
                                       "--backend", "torch"])
    assert result.exit_code == 1 and "--engine local" in result.output, result.output
    assert not (tmp_path / "ix" / "current").exists()


def test_the_engine_setting_offers_the_engines_there_are():
    from indexer import settings
    from indexer.engines import ENGINES

    assert settings.BY_NAME["engine"].choices == ENGINES

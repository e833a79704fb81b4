"""Nothing calls home: a build and a search, in a process where every call out is refused and recorded,
make none: no name lookup and no connect beyond loopback, from Python or from a native library."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CORPUS
from .guard import build_guard, clean_environment, run_python

# onnxruntime's telemetry sends its first event several seconds after the library loads, from a thread of its
# own: the process stays up this long after its work, so that a call home has the time to happen.
HOLD_S = 15

BUILD_AND_SEARCH = f'''
import runpy, sys, time

index = sys.argv[1]
sys.argv = ["indexer", "build", {str(CORPUS)!r}, "--index", index]
try:
    runpy.run_module("indexer", run_name="__main__")
except SystemExit as exit:
    assert exit.code == 0, f"the build exited with {{exit.code}}"
from search_app import create_app

client = create_app({{"index": index}}).test_client()
answer = client.get("/api/v1/search?q=leg+cramps+at+night")
assert answer.status_code == 200 and answer.get_json()["results"], answer.get_data(as_text=True)[:300]
time.sleep({HOLD_S})
print("built and searched")
'''


@pytest.fixture(scope="module")
def guard_library(tmp_path_factory) -> Path:
    """The native guard, compiled for this module."""
    return build_guard(tmp_path_factory)


def test_a_build_and_a_search_make_no_call_out(tmp_path, guard_library, embedder):
    calls, audit = tmp_path / "native-calls.log", tmp_path / "python-calls.log"
    env = clean_environment(LD_PRELOAD=str(guard_library), GUARD_NET_LOG=str(calls))
    result = run_python(BUILD_AND_SEARCH, env, audit_log=audit, code_args=[str(tmp_path / "index")])
    assert result.returncode == 0 and "built and searched" in result.stdout, result.stderr[-3000:]
    assert not audit.exists(), audit.read_text()
    assert not calls.exists(), calls.read_text()  # e.g. "getaddrinfo mobile.events.data.microsoft.com"

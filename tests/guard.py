"""Subprocesses under watch: a native guard (``guard.c``, preloaded) that refuses and records every call out
and can fill a disk, and a Python audit hook that names the Python code behind a call out.

The native guard sees what Python's audit hooks cannot: name lookups and connects made by native
libraries (onnxruntime's telemetry is C++), and writes by SQLite and FAISS. It needs a C compiler
(``cc``), as any machine that builds this project's wheels from source has.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from .conftest import ROOT

SOURCE = Path(__file__).with_name("guard.c")
# Variables by which a library may already be quiet in a test run (CI systems, earlier opt-outs): the code under
# test must turn its dependencies off itself, as it must on a server where none of them is set.
NOT_INHERITED = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
                 "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
                 "DO_NOT_TRACK", "DISABLE_TELEMETRY")
NOT_INHERITED_PREFIXES = ("ORT_", "HF_", "TRANSFORMERS_", "RAY_", "GUARD_", "LD_PRELOAD")

# Installed first in the subprocess (``python -c``): every Python-level name lookup or connect that leaves the
# machine is written to the log given as the first argument, with the stack that made it, and refused.
AUDIT = '''
import sys, traceback

_LOG = sys.argv.pop(1)
_LOCAL = ("localhost", "127.0.0.1", "::1", "", None)


def _local(host):
    if isinstance(host, bytes):
        host = host.decode("latin-1")
    return host in _LOCAL or (isinstance(host, str) and host.startswith("127."))


def _refuse(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        target = args[0]
        outside = not _local(target)
    elif event == "socket.connect" or event == "socket.sendto":
        target = args[-1]
        outside = isinstance(target, tuple) and not _local(target[0])  # AF_UNIX addresses are paths
    else:
        return
    if outside:
        with open(_LOG, "a") as log:
            log.write(f"python {event} {target!r} from\\n" + "".join(traceback.format_stack(limit=8)))
        raise OSError(f"the test refuses {event} {target!r}")


sys.addaudithook(_refuse)
'''


def build_guard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``guard.c`` compiled to a shared library for LD_PRELOAD (skips the test without a C compiler)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (cc) to build tests/guard.c, the native network and disk guard")
    library = tmp_path_factory.mktemp("guard") / "guard.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE), "-ldl"], check=True,
                   capture_output=True)
    return library


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without the variables that would quiet a library for the code under test."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED and not k.startswith(NOT_INHERITED_PREFIXES)}
    return {**env, **extra}


def run_python(code: str, env: dict[str, str], code_args: Sequence[str] = (), audit_log: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` (its ``sys.argv[1:]``: ``code_args``) in a fresh interpreter from the repository root, under
    the audit hook when ``audit_log`` is given."""
    argv = [sys.executable, "-c", AUDIT + code, str(audit_log)] if audit_log else [sys.executable, "-c", code]
    return subprocess.run([*argv, *code_args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)

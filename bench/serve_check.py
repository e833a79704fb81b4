"""What the README's commands print on a fresh machine, how fast `serve` stops, and what gzip saves on static files.

    .venv/bin/python bench/serve_check.py [--corpus tests/fixtures/corpus]

1. ``python -m indexer build`` of ``--corpus`` with an empty model cache (so the ONNX export and its int8
   quantisation happen, as on a new machine): the lines it prints and those that are third-party noise
   (warnings, debug lines, progress bars).
2. ``python -m search_app serve`` on that index: seconds until it answers, then Ctrl-C (SIGINT to its
   process group, as a terminal sends it): seconds until it has exited, and every line it printed.
3. The static files as served: bytes raw and gzipped.
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import PY, ROOT

NOISE = re.compile(r"WARNING|DEBUG|Loading weights|development server|Traceback|it/s\]|pre-processing", re.I)


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")}, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "fixtures" / "corpus")
    args = parser.parse_args()
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(MEDSEARCH_MODEL_CACHE=str(Path(tmp) / "cache"))
        started = time.monotonic()
        built = subprocess.run([str(PY), "-m", "indexer", "build", str(args.corpus), "--index", f"{tmp}/ix"],
                               cwd=ROOT, env=env, capture_output=True, text=True)
        lines = (built.stdout + built.stderr).splitlines()
        report["fresh_build"] = {"exit": built.returncode, "seconds": round(time.monotonic() - started, 1),
                                 "lines": len(lines), "noise_lines": [line for line in lines if NOISE.search(line)]}

        log = Path(tmp) / "serve.log"
        started = time.monotonic()
        server = subprocess.Popen([str(PY), "-m", "search_app", "serve", "--index", f"{tmp}/ix", "--port", "0"],
                                  cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        base = None
        while base is None and time.monotonic() - started < 120 and server.poll() is None:
            found = re.search(r"(?:at|Running on) (http://127\.0\.0\.1:\d+)", log.read_text())
            base = found.group(1) if found else None
            time.sleep(0.1)
        if base is None:
            sys.exit(f"error: serve did not start:\n{log.read_text()}")
        with urllib.request.urlopen(base + "/search?q=amitriptyline+cramps", timeout=30) as response:
            answered = time.monotonic() - started
            server_header = response.headers["Server"]
        sizes = {}
        page = urllib.request.urlopen(base + "/", timeout=30).read().decode()
        for path in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
            raw = urllib.request.urlopen(base + path, timeout=30).read()
            request = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(request, timeout=30) as response:
                packed = response.read()
                encoding, cache = response.headers.get("Content-Encoding"), response.headers["Cache-Control"]
            assert encoding != "gzip" or gzip.decompress(packed) == raw
            sizes[path.split("?")[0]] = {"bytes": len(raw), "gzip_bytes": len(packed) if encoding == "gzip" else None,
                                         "cache_control": cache}
        stop = time.monotonic()
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
        report["serve"] = {"server": server_header, "seconds_to_first_answer": round(answered, 1),
                           "seconds_to_exit_after_ctrl_c": round(time.monotonic() - stop, 2),
                           "exit": server.returncode, "printed": log.read_text().splitlines()}
        report["static"] = sizes
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

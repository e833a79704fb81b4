"""Peak memory of a build fed the hostile drug-label files of issue 26, against the same build without them.

Each case is a folder holding the Coumadin fixture label and one hostile file, at the sizes the
issue measured; the clean build is the same folder without the hostile file. Every build runs
``python -m indexer build`` in its own process, whose peak RSS is read from ``wait4``'s
``ru_maxrss``; a watchdog kills a build whose RSS passes ``--kill-mib`` (the code before the fix
grew without bound on the deep file), so the script is safe to run on a shared machine:

    .venv/bin/python bench/hostile_labels.py            # prints one row per case
    .venv/bin/python bench/hostile_labels.py --keep DIR # leaves the generated files in DIR
    git archive 285f4f0 | tar -x -C /tmp/before         # the code before the fix, built by this venv:
    .venv/bin/python bench/hostile_labels.py --code /tmp/before
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import psutil
from _common import PY, ROOT

COUMADIN = ROOT / "tests" / "fixtures" / "labels" / "good" / "coumadin.json"


def _label(**changes: object) -> dict:
    """The Coumadin label with some fields replaced, under a set id of its own unless one is given."""
    label = copy.deepcopy(json.loads(COUMADIN.read_text(encoding="utf-8"))["results"][0])
    label["set_id"] = "hostile-00000000"
    label.update(changes)
    return label


def write_cases(folder: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each case's hostile file written under ``folder``, with the environment its build runs in."""
    folder.mkdir(parents=True, exist_ok=True)
    deep = folder / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # 200 KB
    huge = folder / "huge-field.json.zip"
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("drug-label-0001-of-0001.json",
                         json.dumps({"results": [_label(boxed_warning=["W" * 75_000_000])]}))
    wrong = folder / "wrong-types.json"
    good = _label(set_id="good-00000000")
    bad = [_label(set_id=f"bad-{n}", **change) for n, change in enumerate([
        {"openfda": "warfarin"}, {"openfda": ["warfarin"]}, {"openfda": {"brand_name": 7}},
        {"openfda": {"route": 3}}, {"openfda": {"generic_name": "warfarin"}}])]
    wrong.write_text(json.dumps({"results": [x for b in bad for x in (b, good | {"set_id": f"{b['set_id']}-ok"})]}))
    version = folder / "0-bad-version.json"
    version.write_text(json.dumps({"results": [_label(set_id="versioned", version="abc")]}))
    (folder / "1-good-version.json").write_text(json.dumps({"results": [_label(set_id="versioned", version="17")]}))
    big = folder / "over-limit.json"
    big.write_text(json.dumps({"results": [_label(set_id=f"big-{n}") for n in range(800)]}))  # ~21 MB
    spl = folder / "deep-spl.xml"
    spl.write_text('<document xmlns="urn:hl7-org:v3">' + "<a>" * 100_000 + "</a>" * 100_000 + "</document>")
    limit = {"MEDSEARCH_MAX_SOURCE_BYTES": str(1 << 20)}
    return {"deep JSON (200 KB)": (deep, {}), "zip, one 75 MB field": (huge, {}),
            "wrong-typed labels": (wrong, {}), "bad version first": (version, {}),
            "21 MB .json, 1 MiB limit": (big, limit), "deep SPL XML (700 KB)": (spl, {})}


def build(sources: list[Path], work: Path, env: dict[str, str], kill_mib: int, code: Path = ROOT) -> dict:
    """One ``indexer build`` in its own process: exit status, peak RSS (MiB), seconds, the report."""
    index, report = work / "index", work / "report.json"
    shutil.rmtree(index, ignore_errors=True)
    report.unlink(missing_ok=True)
    source = work / "src"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    for path in sources:
        shutil.copy(path, source / path.name)
    start = time.perf_counter()
    proc = subprocess.Popen([str(PY), "-m", "indexer", "build", str(source), "--index", str(index), "--report",
                             str(report)], cwd=code, env={**os.environ, "PYTHONPATH": str(code), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed: list[int] = []

    def watch() -> None:  # kill a build past kill_mib before it takes the machine down
        watched = psutil.Process(proc.pid)
        while proc.returncode is None:
            try:
                rss = watched.memory_info().rss
            except psutil.Error:
                return
            if rss > kill_mib << 20:
                killed.append(rss >> 20)
                proc.kill()
                return
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    skipped = json.loads(report.read_text())["skipped"] if report.exists() else []
    return {"exit": proc.returncode, "peak_mib": usage.ru_maxrss // 1024, "seconds": time.perf_counter() - start,
            "killed_at_mib": killed[0] if killed else None, "skipped": skipped,
            "traceback": "Traceback" in output, "tail": output.strip().splitlines()[-3:]}


def main() -> None:
    """Build clean and hostile folders in turn and print one row per case."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kill-mib", type=int, default=4096, help="kill a build whose RSS passes this (MiB)")
    parser.add_argument("--keep", type=Path, help="write the cases here and keep them")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose indexer builds (default: this one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="hostile-labels-"))
    cases = write_cases(work / "cases")
    clean: dict[tuple, dict] = {}
    print("| case | exit | peak RSS MiB (clean) | beyond clean | s | first reason |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (path, env) in cases.items():
        extra = [work / "cases" / "1-good-version.json"] if path.name.startswith("0-bad") else []
        key = tuple(sorted(env.items()))
        if key not in clean:  # the same build without the hostile file, under the same settings
            clean[key] = build([COUMADIN], work / "clean", env, args.kill_mib, args.code)
        base = clean[key]
        run = build([COUMADIN, path, *extra], work / "case", env, args.kill_mib, args.code)
        reason = run["skipped"][0]["path"].rsplit("/", 1)[-1] + ": " + run["skipped"][0]["reason"] \
            if run["skipped"] else "; ".join(run["tail"])
        state = f"killed at {run['killed_at_mib']}" if run["killed_at_mib"] else str(run["peak_mib"])
        print(f"| {name} | {run['exit']}{' traceback' if run['traceback'] else ''} | {state} ({base['peak_mib']}) | "
              f"{run['peak_mib'] - base['peak_mib']:+d} | {run['seconds']:.1f} | {reason[:150]} |", flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

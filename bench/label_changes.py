"""What changed between two versions of a drug label (issue 28): an example anyone can rerun.

    .venv/bin/python bench/label_changes.py [--label tests/fixtures/labels/good/coumadin.json]

No two versions of one set id are in ``../shared``, so the later version is made from the real label the way a
label revision reads: version + 1, a later effective date, one sentence of the boxed warning reworded, one section
dropped, and the label's "Recent Major Changes" listing them. Both versions go into one build (the later one is
indexed, the earlier kept as history); the script then asks the API, as a client would, for
``/api/v1/labels/{set_id}/versions`` and ``/changes`` and prints the answers, the diff runs shortened.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import ROOT

from indexer.embedding import load_embedder
from indexer.pipeline import build_index

LABEL = ROOT / "tests" / "fixtures" / "labels" / "good" / "coumadin.json"
REWORDED = ("Perform regular monitoring of INR in all treated patients",
            "Perform regular monitoring of INR in all treated patients, weekly for the first month")
DROPPED = "mechanism_of_action"


def later_version(raw: dict) -> dict:
    """The label's next version: one boxed-warning sentence reworded, one section dropped, both listed as changes."""
    later = json.loads(json.dumps(raw))
    found = later["results"][0]
    found["version"] = str(int(found.get("version") or 1) + 1)
    found["effective_time"] = "20230601"
    old, new = REWORDED
    if found.get("boxed_warning") and old in found["boxed_warning"][0]:
        found["boxed_warning"][0] = found["boxed_warning"][0].replace(old, new, 1)
    found.pop(DROPPED, None)
    found["recent_major_changes"] = ["Boxed Warning 6/2023 Warnings and Precautions, Hemorrhage (5.1) 6/2023"]
    return later


def short(run: dict, width: int = 200) -> dict:
    text = run["text"]
    return {**run, "text": text if len(text) <= width else text[:width // 2] + " … " + text[-width // 2:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", type=Path, default=LABEL, help="an openFDA label file (one label)")
    args = parser.parse_args()
    raw = json.loads(args.label.read_text(encoding="utf-8"))
    set_id = raw["results"][0]["set_id"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "label-v-earlier.json").write_text(json.dumps(raw), encoding="utf-8")
        (src / "label-v-later.json").write_text(json.dumps(later_version(raw)), encoding="utf-8")
        started = time.perf_counter()
        report = build_index([src], Path(tmp) / "index", load_embedder(), log=lambda line: None)
        print(f"build: {report.articles} label, {report.history} earlier version kept as history "
              f"({time.perf_counter() - started:.0f} s)")
        from search_app import create_app

        client = create_app({"index": str(Path(tmp) / "index"), "TESTING": True}).test_client()
        print(f"GET /api/v1/labels/{set_id}/versions")
        print(json.dumps(client.get(f"/api/v1/labels/{set_id}/versions").get_json()["versions"], indent=1))
        changes = client.get(f"/api/v1/labels/{set_id}/changes").get_json()
        print(f"GET /api/v1/labels/{set_id}/changes")
        print(json.dumps({"from": changes["from"], "to": changes["to"], "added": changes["added"],
                          "removed": [{k: r[k] for k in ("heading", "loinc")} for r in changes["removed"]],
                          "unchanged": changes["unchanged"],
                          "changed": [{"heading": c["heading"], "loinc": c["loinc"],
                                       "diff": [short(r) for r in c["diff"]]} for c in changes["changed"]]},
                         indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

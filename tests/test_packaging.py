"""pyproject.toml declares what the package needs, and requirements.txt (the two README commands' lock) pins
every one of those at a version the declaration accepts."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            req = Requirement(line)
            found[re.sub(r"[-_.]+", "-", req.name).lower()] = next(iter(req.specifier)).version
    return found


def test_every_declared_dependency_is_pinned_by_the_lock_at_an_accepted_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = pins(ROOT / "requirements.txt") | pins(ROOT / "requirements-ray.txt")
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    unpinned, refused = [], []
    for text in declared:
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in ("ruff", "mypy"):  # development tools: CI installs them itself
            continue
        if name not in locked:
            unpinned.append(name)
        elif not req.specifier.contains(locked[name], prereleases=True):
            refused.append((name, str(req.specifier), locked[name]))
    assert not unpinned and not refused, (unpinned, refused)
    assert {"pytest", "playwright"} <= {Requirement(d).name for d in project["optional-dependencies"]["test"]}

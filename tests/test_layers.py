"""The layers of search_app (issue #27): the search core imports neither Flask nor the web layer, and
``import search_app`` imports no Flask; a Python call searches without a web server."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "search_app" / "core"
WEB_ONLY = ("flask", "werkzeug", "gunicorn", "jinja2", "markupsafe")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            else:
                found.add(node.module or "")
    return found


def test_the_core_imports_no_web_module():
    wrong = {}
    for path in sorted(CORE.rglob("*.py")):
        bad = {m for m in imported_modules(path)
               if m.split(".")[0] in WEB_ONLY or (m.startswith("search_app") and not m.startswith("search_app.core")
                                                   and m != "search_app")}
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert not wrong, wrong


def test_importing_the_package_and_its_core_loads_no_flask():
    code = ("import sys, search_app, search_app.core.search, search_app.core.ranking, search_app.core.urgency, "
            "search_app.core.urgency.train, search_app.core.evaluation, search_app.core.suggest, search_app.core.credit; "
            f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {WEB_ONLY!r}); "
            "print(loaded); sys.exit(1 if loaded else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_python_call_searches_without_a_web_server(index_dir):
    code = (
        "import sys\n"
        "from indexer import settings\n"
        "from search_app.core import search, urgency\n"
        "from search_app.core.query import parse\n"
        "from search_app.core.ranking import open_searcher\n"
        f"conf = settings.resolve({{'index': {str(index_dir)!r}}})\n"
        "searcher = open_searcher(conf)\n"
        "outcome = search.run(parse({'q': 'what is amitriptyline used for'}, conf), searcher, urgency.load(conf, searcher.embedder))\n"
        "print(outcome.hits[0].passage.article_id, outcome.match.level)\n"
        f"sys.exit(1 if [m for m in sys.modules if m.split('.')[0] in {WEB_ONLY!r}] else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split()[0] == "amitriptyline"


def test_search_app_is_two_packages_and_its_command_line():
    """The search core and the web layer are packages of their own; only the package's entry points sit beside them."""
    top = {path.name for path in (ROOT / "search_app").iterdir() if path.suffix == ".py"}
    assert top == {"__init__.py", "__main__.py", "cli.py"}
    assert (ROOT / "search_app" / "web" / "templates").is_dir() and (ROOT / "search_app" / "web" / "static").is_dir()

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
        "from search_app.core.settings import SearchSettings\n"
        f"search_settings = SearchSettings.from_conf(settings.resolve({{'index': {str(index_dir)!r}}}))\n"
        "searcher = open_searcher(search_settings)\n"
        "outcome = search.run(parse({'q': 'what is amitriptyline used for'}, search_settings), searcher, "
        "urgency.load(search_settings, searcher.embedder))\n"
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


INDEXER = ROOT / "indexer"
SEARCH_APP = ROOT / "search_app"


def settings_lookups(source: str, name: str) -> list[str]:
    """``conf[...]`` and ``conf.get(...)`` in a file outside a ``from_conf`` (where a view is made), as name:line."""
    found = []

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside = inside or node.name == "from_conf"
        subscript = isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "conf"
        get = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
               and isinstance(node.func.value, ast.Name) and node.func.value.id == "conf")
        if (subscript or get) and not inside:
            found.append(f"{name}:{node.lineno}")
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


SAMPLE = """
def wrong(conf):
    return conf["max_k"], conf.get("default_k")

class View:
    @classmethod
    def from_conf(cls, conf):
        return cls(conf["max_k"])
"""


def test_settings_are_read_as_views_made_in_one_place():
    """Code reads ``settings.search.max_k``; a look-up in the resolved settings happens only in a ``from_conf``."""
    assert settings_lookups(SAMPLE, "sample") == ["sample:3", "sample:3"]  # the check sees both kinds
    wrong = [hit for top in (INDEXER, SEARCH_APP) for path in sorted(top.rglob("*.py"))
             for hit in settings_lookups(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not wrong, wrong


def test_the_indexer_imports_nothing_of_search_app():
    wrong = {str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "search_app")
             for path in sorted(INDEXER.rglob("*.py"))}
    assert not {k: v for k, v in wrong.items() if v}, wrong
    assert not (INDEXER / "hostnames.py").exists()  # Host-header parsing is the web layer's


def test_the_views_read_every_setting_and_the_server_s_are_the_web_layer_s():
    from indexer import settings
    from search_app.core.settings import SearchSettings
    from search_app.web import settings as web_settings

    class Recording(dict):
        def __getitem__(self, name):
            read.add(name)
            return super().__getitem__(name)

    read: set[str] = set()
    conf = Recording(settings.resolve(environ={}))
    settings.BuildSettings.from_conf(conf)
    SearchSettings.from_conf(conf)
    web_settings.ServerSettings.from_conf(conf)
    assert read == {s.name for s in settings.every_setting()}  # a setting no view reads is a setting nothing uses
    server = {s.name for s in web_settings.SETTINGS}
    assert not server & {s.name for s in settings.CORE}
    assert {"host", "port", "workers", "rate_limit_per_minute", "allowed_hosts"} <= server


def test_the_indexer_s_commands_load_no_web_framework():
    """The registry reads the web layer's declarations of its settings, and nothing else of it."""
    code = ("import sys\n"
            "from indexer import settings\n"
            "values = settings.resolve(environ={'MEDSEARCH_ALLOWED_HOSTS': 'example.org'})\n"
            "settings.BuildSettings.from_conf(values)\n"
            "assert settings.markdown_table().count('MEDSEARCH_') == len(settings.every_setting())\n"
            "web = sorted(m for m in sys.modules if m.startswith('search_app.') and m not in "
            "('search_app.web', 'search_app.web.settings', 'search_app.web.hostnames'))\n"
            f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {WEB_ONLY!r})\n"
            "print(web, loaded); sys.exit(1 if web or loaded else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

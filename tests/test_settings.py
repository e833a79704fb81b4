"""The settings registry: precedence, one-line refusals from every source and command, the table of docs/settings.md."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import settings
from indexer.settings import BadSetting

from .conftest import CORPUS, FIXTURES, ROOT

GUNICORN = Path(sys.executable).parent / "gunicorn"


def test_precedence_defaults_file_environment_explicit(tmp_path):
    config = tmp_path / "medsearch.json"
    config.write_text(json.dumps({"max_k": 20, "default_k": 5, "port": 6000}))
    env = {"MEDSEARCH_CONFIG": str(config), "MEDSEARCH_DEFAULT_K": "7", "MEDSEARCH_PORT": "7000"}
    values = settings.resolve({"port": 8000}, environ=env)
    assert values["max_k"] == 20          # config file over default
    assert values["default_k"] == 7       # environment over config file
    assert values["port"] == 8000         # explicit over environment
    assert values["max_query_chars"] == 500


def test_toml_config_file_is_read(tmp_path):
    config = tmp_path / "medsearch.toml"
    config.write_text('backend = "torch"\nweight_lexical = 0.5\nchunk_tokens = 120\n')
    values = settings.resolve(environ={"MEDSEARCH_CONFIG": str(config)})
    assert (values["backend"], values["weight_lexical"], values["chunk_tokens"]) == ("torch", 0.5, 120)


@pytest.mark.parametrize("env, message", [
    ({"MEDSEARCH_CHUNK_TOKENS": "-5"}, "MEDSEARCH_CHUNK_TOKENS=-5: chunk_tokens must be an integer from 16 to 512"),
    ({"MEDSEARCH_MAX_K": "abc"}, "MEDSEARCH_MAX_K=abc: max_k must be an integer from 1 to 200"),
    ({"MEDSEARCH_BACKEND": "fast"}, "MEDSEARCH_BACKEND=fast: backend must be one of torch, onnx, onnx-int8"),
    ({"MEDSEARCH_WEIGHT_LEXICAL": "nan"}, "MEDSEARCH_WEIGHT_LEXICAL=nan: weight_lexical must be a number from 0.0 to 1.0"),
    ({"MEDSEARCH_PUBLIC_URL": "medsearch.org"}, "MEDSEARCH_PUBLIC_URL=medsearch.org: public_url must be empty or a URL starting with http:// or https://"),
    ({"MEDSEARCH_OVERLAP_TOKENS": "200"},
     "overlap_tokens=200 (MEDSEARCH_OVERLAP_TOKENS) must be less than chunk_tokens=200 (default)"),
    ({"MEDSEARCH_DEFAULT_K": "60"}, "default_k=60 (MEDSEARCH_DEFAULT_K) must be at most max_k=50 (default)"),
    ({"MEDSEARCH_CONFIG": "/nonexistent/medsearch.toml"}, "MEDSEARCH_CONFIG=/nonexistent/medsearch.toml: no such file"),
])
def test_bad_environment_values_name_setting_source_and_what_is_allowed(env, message):
    with pytest.raises(BadSetting) as caught:
        settings.resolve(environ=env)
    assert str(caught.value) == message


@pytest.mark.parametrize("name, text, message", [
    ("bad.toml", "chunk_tokens = ", "not valid TOML"),
    ("bad.json", "{max_k: 3}", "not valid JSON"),
    ("list.json", "[1, 2]", "must hold a table of settings"),
    ("typo.toml", "chunk_token = 100\n", "unknown setting 'chunk_token' (did you mean chunk_tokens?)"),
    ("value.toml", "chunk_tokens = 12.5\n", "chunk_tokens=12.5 in "),
    ("bool.json", '{"workers": true}', "workers must be an integer from 1 to 64"),
])
def test_bad_config_files_are_one_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadSetting) as caught:
        settings.resolve(environ={"MEDSEARCH_CONFIG": str(path)})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_explicit_values_are_checked_and_unknown_names_refused():
    assert settings.resolve({"index": Path("/tmp/ix"), "max_k": None}, environ={})["index"] == "/tmp/ix"
    with pytest.raises(BadSetting, match=r"^--max-k=0: max_k must be an integer from 1 to 200$"):
        settings.resolve({"max_k": "0"}, environ={})
    with pytest.raises(BadSetting, match=r"^max_k=0 in create_app\(config\): max_k must be"):
        settings.resolve({"max_k": 0}, environ={}, source="create_app(config)")
    with pytest.raises(BadSetting, match=r"unknown setting 'maxk' \(did you mean max_k\?\)"):
        settings.resolve({"maxk": 3}, environ={}, source="create_app(config)")


def test_create_app_refuses_a_bad_setting_before_loading_anything(tmp_path, monkeypatch):
    from search_app import create_app

    missing = tmp_path / "no-index-here"  # a bad setting is reported, not the missing index
    with pytest.raises(BadSetting) as caught:
        create_app({"index": str(missing), "max_query_chars": 5000})
    assert "max_query_chars=5000" in str(caught.value) and "from 1 to 800" in str(caught.value)
    monkeypatch.setenv("MEDSEARCH_RATE_LIMIT_BURST", "-1")
    with pytest.raises(BadSetting, match=r"^MEDSEARCH_RATE_LIMIT_BURST=-1: rate_limit_burst must be"):
        create_app({"index": str(missing)})


# Each command, with a bad value from each place a value comes from: exit 2 and one line, no traceback.
QUERIES = str(FIXTURES / "queries.jsonl")
COMMANDS = {
    "indexer build": ["-m", "indexer", "build", str(CORPUS), "--index", "{ix}"],
    "indexer verify": ["-m", "indexer", "verify", "--index", "{ix}"],
    "search_app serve": ["-m", "search_app", "serve", "--index", "{ix}"],
    "search_app eval": ["-m", "search_app", "eval", "--index", "{ix}", "--queries", QUERIES],
}
BAD_FLAGS = {
    "indexer build": (["--chunk-tokens", "-5"], "error: --chunk-tokens=-5: chunk_tokens must be an integer from 16 to 512"),
    "indexer verify": (["--index", " "], "error: --index= : index must be a directory"),
    "search_app serve": (["--port", "70000"], "error: --port=70000: port must be an integer from 0 to 65535"),
    "search_app eval": (["--backend", "fast"], "error: --backend=fast: backend must be one of torch, onnx, onnx-int8"),
}


def run(args: list[str], tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")}
    args = [a.replace("{ix}", str(tmp_path / "ix")) for a in args]
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_environment_value_stops_every_command(command, tmp_path):
    result = run(COMMANDS[command], tmp_path, {"MEDSEARCH_MAX_K": "abc"})
    assert_one_line_error(result, "error: MEDSEARCH_MAX_K=abc: max_k must be an integer from 1 to 200")


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_config_file_stops_every_command(command, tmp_path):
    config = tmp_path / "medsearch.toml"
    config.write_text("chunk_tokens = 100\noverlap_tokens = 100\n")
    result = run(COMMANDS[command], tmp_path, {"MEDSEARCH_CONFIG": str(config)})
    assert_one_line_error(result, f"error: overlap_tokens=100 ({config}) must be less than chunk_tokens=100 ({config})")


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_flag_stops_every_command(command, tmp_path):
    flag, expected = BAD_FLAGS[command]
    assert_one_line_error(run(COMMANDS[command] + flag, tmp_path, {}), expected)


def test_chunk_tokens_from_the_environment_is_refused_and_nothing_is_built(tmp_path):
    result = run(COMMANDS["indexer build"], tmp_path, {"MEDSEARCH_CHUNK_TOKENS": "-5"})
    assert_one_line_error(result, "error: MEDSEARCH_CHUNK_TOKENS=-5: chunk_tokens must be an integer from 16 to 512")
    assert not (tmp_path / "ix").exists()


def test_click_usage_errors_are_one_line_too(tmp_path):
    assert_one_line_error(run(["-m", "search_app", "eval", "--index", "{ix}", "--queries", QUERIES, "--k", "abc"],
                              tmp_path, {}), "'abc' is not a valid integer")
    assert_one_line_error(run(["-m", "indexer", "build", "--index", "{ix}"], tmp_path, {}), "Missing argument")


def test_gunicorn_refuses_to_start_on_a_bad_setting(tmp_path):
    result = subprocess.run([str(GUNICORN), "-c", "gunicorn.conf.py"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "MEDSEARCH_INDEX": str(tmp_path), "MEDSEARCH_WORKERS": "0"}, timeout=60)
    assert_one_line_error(result, "error: MEDSEARCH_WORKERS=0: workers must be an integer from 1 to 64")


def test_cli_options_come_from_the_registry(tmp_path):
    out = run(["-m", "indexer", "build", "--help"], tmp_path, {}).stdout
    for name in ("backend", "index_type", "chunk_tokens", "embed_window"):
        s = settings.BY_NAME[name]
        assert f"{s.flag} {s.metavar()}" in out and s.env in out


def test_registry_choices_are_the_code_s_own():
    from indexer.embedding import BACKENDS, DEFAULT_MODEL
    from indexer.store import choose_factory

    assert settings.BY_NAME["backend"].choices == BACKENDS
    assert settings.BY_NAME["model"].default == DEFAULT_MODEL
    for index_type in settings.BY_NAME["index_type"].choices:
        choose_factory(index_type, 10)  # each choice is one the vector store knows


TABLE = re.compile(r"<!-- settings-table: .*? -->\n(.*?)<!-- /settings-table -->", re.S)


def test_docs_settings_table_is_the_registry():
    """docs/settings.md's table is `python -m indexer settings --markdown`: name, default, allowed values and help."""
    found = TABLE.search((ROOT / "docs" / "settings.md").read_text(encoding="utf-8"))
    assert found, "docs/settings.md has no generated settings table"
    assert found.group(1) == settings.markdown_table(), \
        "docs/settings.md's table differs from the registry: paste `python -m indexer settings --markdown` into it"
    printed = run(["-m", "indexer", "settings", "--markdown"], Path("/tmp"), {}).stdout
    assert printed == settings.markdown_table()

import json

from indexer import settings
from .conftest import ROOT


def test_precedence_defaults_file_environment_explicit(tmp_path):
    config = tmp_path / "medsearch.json"
    config.write_text(json.dumps({"max_k": 20, "default_k": 5, "port": 6000}))
    env = {"MEDSEARCH_CONFIG": str(config), "MEDSEARCH_DEFAULT_K": "7", "MEDSEARCH_PORT": "7000"}
    values = settings.resolve({"port": 8000}, environ=env)
    assert values["max_k"] == 20          # config file over default
    assert values["default_k"] == 7       # environment over config file
    assert values["port"] == 8000         # explicit over environment
    assert values["max_query_chars"] == 500


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [s.name for s in settings.SETTINGS if f"`MEDSEARCH_{s.name.upper()}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"

"""The bundled library in corpus/: every article complete, well formed and unambiguous."""
import re
from collections import defaultdict

import pytest
import yaml

from indexer.sources import Skipped, load_file

from .conftest import ROOT

FILES = sorted(p for p in (ROOT / "corpus").glob("*.md") if p.name != "README.md")
COMMON = {"title", "id", "kind", "updated", "references"}
MEDICINE = COMMON | {"drug", "aliases", "drug_class"}
TOPIC = COMMON | {"drugs"}


def _front_matter(path):
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---", 2)[1])


def _body_words(path) -> int:
    return len(path.read_text(encoding="utf-8").split("---", 2)[2].split())


@pytest.fixture(scope="module")
def articles():
    loaded = {}
    for path in FILES:
        items = list(load_file(path))
        assert len(items) == 1 and not isinstance(items[0], Skipped), (path, items)
        loaded[path] = items[0]
    return loaded


def test_the_library_is_big_enough():
    kinds = [_front_matter(p)["kind"] for p in FILES]
    assert len(FILES) >= 70
    assert kinds.count("medicine") >= 60 and kinds.count("topic") >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_front_matter_is_complete(path):
    meta = _front_matter(path)
    required = MEDICINE if meta.get("kind") == "medicine" else TOPIC
    assert meta.get("kind") in ("medicine", "topic")
    missing = sorted(required - set(meta))
    assert not missing, f"{path.name} lacks {missing}"
    assert meta["id"] == path.stem and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta["id"])
    assert meta["references"] and all(ref["url"].startswith("https://") for ref in meta["references"])
    if meta["kind"] == "medicine":
        assert isinstance(meta["aliases"], list) and meta["aliases"] and meta["drug"] == meta["drug"].lower()
    assert 500 <= _body_words(path) <= 1200, f"{path.name}: {_body_words(path)} words"


def test_sections_are_enough_and_none_is_empty(articles):
    for path, article in articles.items():
        assert len(article.sections) >= 5, path.name
        assert all(s.text.strip() for s in article.sections), path.name
        assert article.meta.get("disclaimer"), f"{path.name} has no disclaimer"
        # A `##` directly followed by another `##` would be an empty section lost from search.
        assert not re.search(r"^## .*\n\s*\n?## ", path.read_text(encoding="utf-8"), re.M), path.name


def test_ids_are_unique_and_every_alias_names_one_article(articles):
    ids = [a.id for a in articles.values()]
    assert len(ids) == len(set(ids))
    names = defaultdict(set)
    for article in articles.values():
        meta = article.meta
        for name in [article.title, meta.get("drug", "")] + list(meta.get("aliases", [])):
            if name and meta.get("kind") == "medicine":
                names[name.strip().lower()].add(article.id)
    clashes = {name: sorted(owners) for name, owners in names.items() if len(owners) > 1}
    assert not clashes, clashes

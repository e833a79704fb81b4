"""The medicine-name lexicon: which names (generic, brand, other) lead to which articles.

Built at index time from the corpus (titles, ``drug``, ``aliases``) and the curated
brand/generic table shipped in ``indexer/data/brands.tsv``, and saved in the build as
``lexicon.json`` so that query time needs nothing else.
"""
from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from rapidfuzz.distance import OSA

from .manifest import sha256_file
from .models import Article

# Bump when what ``article_names`` finds changes, so that an unchanged corpus still gets a new lexicon.
RECIPE = "titles+drug+aliases+table-ngrams+respelt-1+label-names-1"
BRANDS_FILE = Path(__file__).resolve().parent / "data" / "brands.tsv"
# Words that appear in product titles but name no medicine ("aspirin 81 mg", "Breo inhaler").
_FORM_WORDS = frozenset("""
mg mcg ml er xr sr cr xl la dr ec oral tablet tablets capsule capsules inhaler inhalation injection ointment cream
gel solution suspension syrup drops spray patch vaccine and with for the of in extended release delayed
""".split())


def name_key(text: str) -> str:
    """Canonical form of a name: accents stripped, lowercase, words separated by one space."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@lru_cache(maxsize=4)
def synonym_table(path: Path = BRANDS_FILE) -> dict[str, frozenset[str]]:
    """Every name in the brand table mapped to all names of the same medicine (itself included)."""
    groups: dict[str, set[str]] = defaultdict(set)
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            brand, generic = name_key(row["brand"]), name_key(row["generic"])
            if brand and generic:
                groups[generic].update({brand, generic})
    # A name is linked to its generic's group; generics with two spellings (paracetamol and
    # acetaminophen) are listed as brand rows of each other, so their groups join here.
    linked: dict[str, set[str]] = defaultdict(set)
    for names in groups.values():
        for name in names:
            linked[name] |= names
    for name in list(linked):  # one more hop: brand -> generic -> the generic's other spelling
        for other in list(linked[name]):
            linked[name] |= linked.get(other, set())
    return {name: frozenset(names) for name, names in linked.items()}


@lru_cache(maxsize=4)
def generic_table(path: Path = BRANDS_FILE) -> dict[str, tuple[str, ...]]:
    """Every name of the brand table mapped to its generic name(s): a generic to itself, a brand to its generics."""
    generics: dict[str, list[str]] = defaultdict(list)
    brands: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            brand, generic = name_key(row["brand"]), name_key(row["generic"])
            if brand and generic:
                generics[generic] = [generic]
                brands[brand].append(generic)
    return {**{b: tuple(dict.fromkeys(g)) for b, g in brands.items()}, **{g: tuple(v) for g, v in generics.items()}}


def names_in(text: str, vocabulary: set[str] | frozenset[str] | dict, longest: int = 4) -> list[str]:
    """The names of ``vocabulary`` that ``text`` contains as whole words, longest first, none inside another."""
    words = name_key(text).split()
    found: list[str] = []
    taken = [False] * len(words)
    for size in range(min(longest, len(words)), 0, -1):
        for i in range(len(words) - size + 1):
            if any(taken[i:i + size]):
                continue
            gram = " ".join(words[i:i + size])
            if gram in vocabulary and not gram.isdigit() and gram not in _FORM_WORDS:
                found.append(gram)
                taken[i:i + size] = [True] * size
    return found


@lru_cache(maxsize=4)
def _table_words(path: Path = BRANDS_FILE) -> dict[tuple[str, int], list[str]]:
    """One-word names of the brand table by (first letter, length), for respelling titles."""
    by_shape: dict[tuple[str, int], list[str]] = defaultdict(list)
    for name in synonym_table(path):
        if " " not in name and name.isalpha():
            by_shape[(name[0], len(name))].append(name)
    return by_shape


def respelt(word: str) -> str | None:
    """The one medicine of the brand table that a long title word misspells by a single edit, if any.

    Corpora spell names wrongly ("Metroprolol succinate", "Amoxiciliin"); without this, such an
    article is not found by its medicine's name or filter. Only words of 7 letters or more, one
    insertion, deletion, substitution or swap away from exactly one table name with the same
    first letter: a longer distance links real, different medicines (enalapril, enalaprilat).
    """
    if len(word) < 7 or not word.isalpha() or word in _FORM_WORDS or word in synonym_table():
        return None
    shapes = _table_words()
    near = [name for size in (len(word) - 1, len(word), len(word) + 1) for name in shapes.get((word[0], size), ())
            if OSA.distance(word, name, score_cutoff=1) <= 1]
    return near[0] if len(near) == 1 else None


# Salts and forms that follow a medicine's name in a product title ("Enoxparin Sodium").
_SALT_WORDS = frozenset("""
sodium potassium calcium magnesium hydrochloride hcl hydrobromide sulfate sulphate succinate tartrate maleate
acetate phosphate citrate besylate mesylate fumarate bromide chloride disodium monohydrate dihydrate
""".split())


def respellings(article: Article) -> dict[str, str]:
    """Words of a product title (or ``drug``) read as the table name they misspell.

    Only a title that names one medicine and nothing else, save salts, forms and strengths
    ("Metroprolol succinate", "Coumadine") is respelt: in "Retinal Detachment" or "Lactose
    Intolerance" the near miss (retinol, lactase) is a real word, not a misspelling.
    """
    meta = article.meta or {}
    found: dict[str, str] = {}
    for text in (article.title, str(meta.get("drug", ""))):
        words = name_key(text).split()
        rest = [w for w in words if w not in _FORM_WORDS and w not in _SALT_WORDS and not w.isdigit()]
        if len(rest) == 1 and (right := respelt(rest[0])):
            found[rest[0]] = right
    return found


_HYDRATES = frozenset("trihydrate hemihydrate sesquihydrate anhydrous usp".split())


def label_names(meta: dict) -> set[str]:
    """A drug label's brand, generic and substance names, each ingredient apart and without its salt.

    "ATORVASTATIN CALCIUM" also gives "atorvastatin", "SULFAMETHOXAZOLE AND TRIMETHOPRIM" gives
    both medicines, so that the plain name and ``drug=`` find every label of a medicine.
    """
    names: set[str] = set()
    for key in ("brand_names", "generic_names", "substance_names"):
        for value in meta.get(key) or []:
            whole = name_key(str(value))
            parts = [name_key(p) for p in re.split(r",|\band\b|/|\+", whole)] if whole else []
            for name in {whole, *parts}:
                bare = without_salt(name)
                names |= {n for n in (name, bare) if n and not n.isdigit()}
    return names


def without_salt(name: str) -> str:
    """A medicine's name without its salt, form or hydrate words ("warfarin sodium" -> "warfarin")."""
    return " ".join(w for w in name_key(name).split() if w not in _SALT_WORDS and w not in _FORM_WORDS
                    and w not in _HYDRATES)


def article_names(article: Article) -> set[str]:
    """The names an article is about: title, drug, aliases, medicine names inside its title (respelt)."""
    table = synonym_table()
    meta = article.meta or {}
    names = {name_key(article.title), name_key(str(meta.get("drug", "")))}
    names |= {name_key(str(a)) for a in meta.get("aliases", []) or []}
    names |= set(respellings(article).values())
    names |= label_names(meta)
    words = [w for w in name_key(article.title).split()]
    for size in (3, 2, 1):  # product titles like "aspirin 81 mg" or "neupro and ropinirole"
        for i in range(len(words) - size + 1):
            gram = " ".join(words[i:i + size])
            if gram in table and gram not in _FORM_WORDS:
                names.add(gram)
    expanded: set[str] = set()
    for name in names:
        expanded |= table.get(name, frozenset())
    return {n for n in names | expanded if n and not n.isdigit()}


def describe() -> dict:
    """What the manifest records about the lexicon: how names are found and the name table they come from."""
    return {"recipe": RECIPE, "name_table": sha256_file(BRANDS_FILE)}


def save(lexicon: dict, path: Path) -> None:
    path.write_text(json.dumps(lexicon, separators=(",", ":")), encoding="utf-8")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))

"""Heading vectors: the embedding of each drug-label section's own heading, for ranking within a label.

A label's headings are its publisher's map of it ("5.9 Increased Risk of Seizure", "10.2 Treatment",
"7.3 Oral Anticoagulants"): for a clinician's question about one medicine, the section whose heading
says what was asked is usually the one that answers, where a summary or a neighbouring section may
share more of the question's words. Ranking adds the cosine of the query to a section's heading
(``weight_heading``). Only labels have them: an article's headings ("What special precautions should
I follow?") are a template that says little of the text, and on the MedicationQA dev questions the
heading cosine lowered R@1 (``bench/README.md``).

A build writes ``headings.npz``: the (article id, section id) of every label section that has
passages, and one unit vector each, embedded through the build's embedding cache (headings repeat
across labels and builds). ``load`` reads it back keyed by section, not by position.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import manifest as manifests
from .catalog import Catalog

if TYPE_CHECKING:
    from .cache import EmbeddingCache
    from .embedding import Embedder

FILE = manifests.HEADINGS


def label_headings(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(article id, section id, heading) of every drug-label section with passages and a heading, in row order."""
    labelled = {(a, s) for a, s, _ in catalog.label_section_fields()}
    headings = {(a, s): h for a, s, h in catalog.section_headings() if (a, s) in labelled and h.strip()}
    return [(a, s, headings[(a, s)]) for a, s in catalog.sections_in_row_order() if (a, s) in headings]


def write(build_dir: Path, catalog_path: Path, embedder: Embedder, cache: EmbeddingCache) -> tuple[int, int]:
    """Embed the label headings of the catalog at ``catalog_path`` into ``build_dir/headings.npz``.

    Returns (headings, of which embedded now rather than found in the cache).
    """
    catalog = Catalog(catalog_path)
    try:
        found = label_headings(catalog)
    finally:
        catalog.close()
    texts = [h for _, _, h in found]
    distinct = list(dict.fromkeys(texts))  # "6 ADVERSE REACTIONS" heads hundreds of labels: embedded once
    keys = {text: cache.key(text) for text in distinct}
    vectors_of, embedded = cache.fill(list(keys.values()), distinct, embedder.encode)
    vectors = (np.stack([vectors_of[keys[t]] for t in texts]).astype(np.float32) if texts
               else np.zeros((0, embedder.dimension), dtype=np.float32))
    with open(build_dir / FILE, "wb") as out:
        np.savez(out, articles=np.array([a for a, _, _ in found], dtype=str),
                 sections=np.array([s for _, s, _ in found], dtype=str), vectors=vectors)
    return len(found), len(embedded)


def load(build_dir: Path, sections: dict[tuple[str, str], int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """(position of each section's heading vector or -1, the vectors), for sections numbered as ``sections``."""
    with np.load(build_dir / FILE, allow_pickle=False) as data:
        articles, ids, vectors = data["articles"], data["sections"], data["vectors"]
    if vectors.ndim != 2 or vectors.shape[1] != dimension or len(vectors) != len(ids) or len(ids) != len(articles):
        raise ValueError(f"{FILE} holds {vectors.shape} vectors for {len(ids)} sections, not {dimension}-dimensional")
    position = np.full(len(sections), -1, dtype=np.int32)
    for n, key in enumerate(zip(articles.tolist(), ids.tolist())):
        number = sections.get(key)
        if number is None:
            raise ValueError(f"{FILE} names a section the catalog lacks: {key[0]} {key[1]}")
        position[number] = n
    return position, vectors

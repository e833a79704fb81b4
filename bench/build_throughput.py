"""Embedding throughput of the build pipeline against a plain SentenceTransformer.encode loop.

    .venv/bin/python bench/build_throughput.py [--sample 4000] [--corpus ../shared/data/medquad/articles.jsonl]

Both sides embed the same passages (the first --sample passages of the corpus, chunked as
the indexer chunks them), in the same run, alternating twice (A B A B) so that load on the
shared machine hits both alike. "plain loop" is what a script would write with defaults:
``model.encode(batch)`` over consecutive batches of 32 passages in corpus order. "pipeline"
is the indexer's path: windows of --window passages handed to ``Embedder.encode`` (batch 16,
sentence-transformers sorts each window by length). Prints tokens/s of each, the ratio, and
the mean cosine between the two sides' vectors (1.0: same model, same numbers).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.chunking import ChunkSettings, passages_for  # noqa: E402
from indexer.embedding import load_embedder  # noqa: E402
from indexer.sources import Skipped, iter_articles  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "medquad" / "articles.jsonl")
    parser.add_argument("--sample", type=int, default=4000)
    parser.add_argument("--window", type=int, default=1024)
    args = parser.parse_args()

    embedder = load_embedder()
    chunking = ChunkSettings(max_seq_length=embedder.max_seq_length)
    texts: list[str] = []
    for article in iter_articles([args.corpus]):
        if isinstance(article, Skipped):
            continue
        texts.extend(p.embed_text for p in passages_for(article, chunking, embedder.count_tokens))
        if len(texts) >= args.sample:
            break
    texts = texts[:args.sample]
    tokens = sum(min(n + 2, embedder.max_seq_length) for n in embedder.count_tokens(texts))
    model = embedder._model  # the same loaded model on both sides

    def plain() -> np.ndarray:
        return np.concatenate([model.encode(texts[i:i + 32]) for i in range(0, len(texts), 32)])

    def pipeline() -> np.ndarray:
        return np.concatenate([embedder.encode(texts[i:i + args.window]) for i in range(0, len(texts), args.window)])

    times: dict[str, list[float]] = {"plain": [], "pipeline": []}
    vectors = {}
    for name in ("plain", "pipeline", "plain", "pipeline"):
        t0 = time.perf_counter()
        vectors[name] = (plain if name == "plain" else pipeline)()
        times[name].append(time.perf_counter() - t0)
    a = vectors["plain"] / np.linalg.norm(vectors["plain"], axis=1, keepdims=True)
    rate = {name: tokens / statistics.median(t) for name, t in times.items()}
    print(json.dumps({
        "passages": len(texts), "tokens": tokens,
        "tokens_per_second": {k: round(v, 1) for k, v in rate.items()},
        "passages_per_second": {k: round(len(texts) / statistics.median(t), 1) for k, t in times.items()},
        "ratio_pipeline_to_plain": round(rate["pipeline"] / rate["plain"], 2),
        "mean_cosine_pipeline_vs_plain": round(float(np.mean(np.sum(a * vectors["pipeline"], axis=1))), 5),
        "runs_seconds": {k: [round(x, 1) for x in v] for k, v in times.items()},
    }, indent=1))


if __name__ == "__main__":
    main()

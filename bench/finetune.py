"""Experiment: fine-tune all-MiniLM-L6-v2 on MedQuAD question -> answer pairs, then score it.

    .venv/bin/python bench/finetune.py [--pairs 3200] [--out bench/out/finetuned-model]
    .venv/bin/python -m indexer build ../shared/data/medicationqa/corpus.jsonl --index bench/out/ft-index \\
        --model bench/out/finetuned-model --backend torch
    .venv/bin/python -m search_app eval --index bench/out/ft-index --model bench/out/finetuned-model \\
        --backend torch --mode dense --queries ../shared/data/medicationqa/queries-dev.jsonl

Pairs are MedQuAD section headings (its questions, "What are the symptoms of X ?") and
"title: text" of the section; nothing of MedicationQA is trained on. One epoch, in-batch
negatives (multiple-negatives ranking loss, scale 20), batch 32, AdamW 2e-5, 128 tokens while
training. A plain torch loop, because sentence-transformers' trainer needs `datasets` and
`accelerate`, which the project does not install. The model written is a local
sentence-transformers directory that `--model PATH` accepts.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from _common import ROOT, SHARED

from indexer.embedding import resolve_model_path  # (sets the offline environment first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "medquad" / "articles.jsonl")
    parser.add_argument("--pairs", type=int, default=3200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "finetuned-model")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    rng = random.Random(0)
    model = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu", local_files_only=True)
    model.max_seq_length = 128
    pairs = []
    with open(args.corpus, encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            for section in article["sections"]:
                if section["heading"].strip() and section["text"].strip():
                    pairs.append((section["heading"], f"{article['title']}: {' '.join(section['text'].split())[:1000]}"))
    rng.shuffle(pairs)
    pairs = pairs[:args.pairs]
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    batch, started = 32, time.perf_counter()
    for start in range(0, len(pairs) - batch + 1, batch):
        questions, answers = zip(*pairs[start:start + batch])
        q = torch.nn.functional.normalize(model(model.preprocess(list(questions)))["sentence_embedding"], dim=-1)
        a = torch.nn.functional.normalize(model(model.preprocess(list(answers)))["sentence_embedding"], dim=-1)
        loss = torch.nn.functional.cross_entropy(q @ a.T * 20, torch.arange(len(questions)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if start // batch % 20 == 0:
            print(f"{start} pairs, loss {loss.item():.3f}, {time.perf_counter() - started:.0f}s", flush=True)
    model.max_seq_length = 256
    model.save(str(args.out))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()

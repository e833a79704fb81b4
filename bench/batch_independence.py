"""Do a text's vectors depend on the batch it is embedded in? The int8 backends side by side (issue 29).

    .venv/bin/python bench/batch_independence.py [--calibration 240] [--threads 2] [--rounds 3]

ONNX Runtime's dynamic quantisation (``quantize_dynamic``, the onnx-int8 backend) quantises
activations at run time over the whole input tensor (one scale, padding included), so a text's
vector moves with the texts batched beside it. Two ways out are compared with the fp32 export and
the batched int8 as it ran before:

  - each text alone (the embedder's onnx-int8 now: a batch of one, no padding, its own scale; the
    texts spread over ``--threads`` Python threads sharing one session of one intra-op thread);
  - a static quantisation, which fixes every activation scale once from calibration passages
    (ONNX Runtime's ``quantize_static``, QDQ, int8 weights per channel, MinMax activation ranges,
    MatMul nodes only: with every node quantised, softmax and layer norm ranges wreck it, cosine
    0.33 to fp32), calibrated on ``--calibration`` MedQuAD passages (not the evaluation corpus).

The fp32 row and both dynamic int8 rows run the embedder's own code (``OnnxModel``; the batched
int8 through its bench-only ``batched=True``: batches of 16, longest first, ``--threads`` intra-op
threads). For each it prints:

  - batch dependence: 160 MedicationQA passages embedded alone and in two other batchings
    (16 in order, 7 reversed): the lowest and median cosine between a text's vectors;
  - cosine to fp32 (all 655 MedicationQA answer sections, median and lowest);
  - dense retrieval on the 328 MedicationQA dev questions (each embedded alone) against those
    sections: R@1 and R@10;
  - sections embedded per second: the median of ``--rounds`` rounds, the rows taking turns in each
    round so that a change of load falls on all of them.

Needs ``../shared`` and the ONNX exports in the model cache (any build with the onnx and onnx-int8
backends makes them). The static model is written under bench/out/.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import OUT, SHARED, settings

DIM = 384
Encode = Callable[[list[str], int], np.ndarray]  # texts, batch size -> their unit vectors in order


def exports() -> dict[str, Path]:
    """The model cache's onnx (fp32) and onnx-int8 exports of the configured model, by backend."""
    from indexer.embedding import model_cache_dir

    found = {}
    for meta in (model_cache_dir(settings()["model_cache"]) / "onnx").glob("*/export.json"):
        export = json.loads(meta.read_text())
        found[export["backend"]] = meta.parent
    missing = {"onnx", "onnx-int8"} - set(found)
    if missing:
        raise SystemExit(f"no {', '.join(sorted(missing))} export in the model cache: build any index with "
                         "--backend onnx and with --backend onnx-int8 first")
    return found


def main() -> None:
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from tokenizers import Tokenizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibration", type=int, default=240, help="MedQuAD passages to calibrate on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (the median is printed)")
    args = parser.parse_args()
    settings()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # what the embedder's OnnxModel reads
    from indexer.embedding.runtimes import OnnxModel

    found = exports()
    tokenizer = Tokenizer.from_file(str(found["onnx"] / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.no_padding()

    def feed(texts: list[str]) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        out = {k: np.zeros((len(texts), width), np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        for r, e in enumerate(encodings):
            out["input_ids"][r, :len(e.ids)] = e.ids
            out["attention_mask"][r, :len(e.ids)] = 1
        return out

    def session(path: Path) -> Encode:
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        model = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def encode(texts: list[str], batch: int) -> np.ndarray:
            order = np.argsort([-len(t) for t in texts], kind="stable")
            vectors = np.empty((len(texts), DIM), np.float32)
            for start in range(0, len(order), batch):
                rows = order[start:start + batch]
                inputs = feed([texts[i] for i in rows])
                tokens = model.run(None, inputs)[0]
                mask = inputs["attention_mask"][:, :, None].astype(np.float32)
                pooled = (tokens * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
                vectors[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
            return vectors
        return encode

    def embedder(backend: str, batched: bool = False) -> Encode:
        export = json.loads((found[backend] / "export.json").read_text(encoding="utf-8"))
        model = OnnxModel(found[backend], export, batched=batched)
        return model.encode

    rng = np.random.default_rng(29)
    medquad = [s["text"] for line in (SHARED / "medquad" / "articles.jsonl").open(encoding="utf-8")
               for s in json.loads(line)["sections"]]
    calibration = [medquad[i] for i in rng.choice(len(medquad), args.calibration, replace=False)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([feed(calibration[i:i + 8]) for i in range(0, len(calibration), 8)])

        def get_next(self):
            return next(self.batches, None)

    static = OUT / "batch-independence" / "static-int8.onnx"
    static.parent.mkdir(parents=True, exist_ok=True)
    if not static.exists():
        started = time.perf_counter()
        pre = static.with_name("pre.onnx")
        quant_pre_process(str(found["onnx"] / "model.onnx"), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(static), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["MatMul"])
        print(f"static int8 made in {time.perf_counter() - started:.0f} s from {len(calibration)} MedQuAD passages")
    articles = [json.loads(line) for line in (SHARED / "medicationqa" / "corpus.jsonl").open(encoding="utf-8")]
    sections = [(a["id"], s["id"], f'{a["title"]}: {s.get("heading", "")}\n{s["text"]}')
                for a in articles for s in a["sections"]]
    texts = [t for _, _, t in sections]
    questions = [json.loads(line) for line in (SHARED / "medicationqa" / "queries-dev.jsonl").open(encoding="utf-8")]
    where = {(a, s): i for i, (a, s, _) in enumerate(sections)}
    probe = [texts[i] for i in rng.choice(len(texts), 160, replace=False)]
    models = {"fp32 (onnx)": embedder("onnx"),
              "dynamic int8, batched (before)": embedder("onnx-int8", batched=True),
              "dynamic int8, each alone (now)": embedder("onnx-int8"),
              "static int8": session(static)}
    rates: dict[str, list[float]] = {name: [] for name in models}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, encode in models.items():
            started = time.perf_counter()
            vectors[name] = encode(texts, 16)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    reference = vectors["fp32 (onnx)"]
    print(f"{'backend':<31} {'alone vs batched: min':>22} {'median':>9} {'cos fp32 med':>13} {'min':>7} "
          f"{'R@1':>6} {'R@10':>6} {'sections/s':>11}")
    for name, encode in models.items():
        alone = np.concatenate([encode([text], 1) for text in probe])
        batched = np.concatenate([encode(probe[i:i + 16], 16) for i in range(0, len(probe), 16)])
        reverse = probe[::-1]
        other = np.concatenate([encode(reverse[i:i + 7], 7) for i in range(0, len(reverse), 7)])[::-1]
        same = np.minimum((alone * batched).sum(1), (alone * other).sum(1))
        asked = np.concatenate([encode([q["query"]], 1) for q in questions])
        firsts, tens = [], []
        for q, v in zip(questions, asked):
            top = np.argsort(-(vectors[name] @ v))[:10].tolist()
            relevant = {where[(r["article_id"], r["section_id"])] for r in q["relevant"]
                        if (r["article_id"], r["section_id"]) in where}
            firsts.append(bool(relevant & {top[0]}))
            tens.append(bool(relevant & set(top)))
        to_fp32 = (vectors[name] * reference).sum(1)
        print(f"{name:<31} {same.min():>22.5f} {np.median(same):>9.6f} {np.median(to_fp32):>13.4f} "
              f"{to_fp32.min():>7.4f} {np.mean(firsts):>6.3f} {np.mean(tens):>6.3f} "
              f"{float(np.median(rates[name])):>11.1f}")
    print(f"rates by round: {json.dumps({k: [round(r, 1) for r in v] for k, v in rates.items()})}")


if __name__ == "__main__":
    main()

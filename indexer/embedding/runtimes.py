"""The two runtimes that turn texts into vectors: sentence-transformers itself, and ONNX Runtime."""
from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# The files of an ONNX export that the runtime reads (written by onnx_export).
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"

# How OnnxModel feeds a backend whose model quantises activations per input tensor (quantize_dynamic): one
# scale for the whole batch, padding included, so a text's vector would move with the texts batched beside
# it. Such a backend runs each text alone. The text enters the vectors' fingerprint (onnx_export): edit it
# whenever the way of running changes the vectors.
RUN_ALONE = {"onnx-int8": "each text run alone (a batch of one, no padding), one intra-op thread; v1"}


def sentence_transformer(path: Path):
    """The local model loaded by sentence-transformers, without transformers' "Loading weights" progress bar."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # The bar is drawn even when stderr is not a terminal: one line of noise per process that loads the model.
    transformers_logging.disable_progress_bar()
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


class TorchModel:
    """sentence-transformers itself."""

    def __init__(self, path: Path):
        self.model = sentence_transformer(path)
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)

    def count_tokens(self, texts: list[str]) -> list[int]:
        enc = self.model.tokenizer(texts, add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)


class OnnxModel:
    """An exported transformer run by ONNX Runtime, with sentence-transformers' mean pooling and normalisation."""

    def __init__(self, directory: Path, export: dict[str, Any], batched: bool = False):
        """``batched`` runs every backend in padded batches, as before RUN_ALONE (bench/batch_independence.py)."""
        import onnxruntime
        from tokenizers import Tokenizer

        # ORT_DISABLE_TELEMETRY (indexer.offline) keeps every event in; this also holds events back where
        # onnxruntime was loaded before medsearch could set it.
        onnxruntime.disable_telemetry_events()
        self.dimension = int(export["dimension"])
        self.max_seq_length = int(export["max_seq_length"])
        self.inputs, self.pad_id = list(export["inputs"]), int(export["pad_id"])
        # Two tokenizers, each configured once: changing one's truncation per call would race between threads.
        self.counter = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self.counter.no_truncation()
        self.counter.no_padding()
        self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()  # padded here, per batch, to its longest text
        # OMP_NUM_THREADS bounds ONNX Runtime as it bounds torch: gunicorn sets 1, and with one thread no
        # thread pool exists that a fork of a preloaded app could leave behind.
        self.threads = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
        self.alone = export.get("backend") in RUN_ALONE and not batched
        options = onnxruntime.SessionOptions()
        # Texts run alone are spread over Python threads sharing the one session (its run is thread-safe and
        # releases the GIL), each run on one thread: a batch of one keeps intra-op threads poorly busy. Those
        # threads exist only inside encode(), never across a fork.
        options.intra_op_num_threads = 1 if self.alone else self.threads
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(directory / MODEL_FILE), options,
                                                    providers=["CPUExecutionProvider"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Unit vectors of ``texts``, in their order: each text alone, or in padded batches of ``batch_size``."""
        encodings = self.tokenizer.encode_batch(list(texts))
        # Longest first: batches pad to about their own length, and threads end on short texts together.
        order = [int(i) for i in np.argsort([-len(e.ids) for e in encodings], kind="stable")]
        vectors = np.empty((len(encodings), self.dimension), dtype=np.float32)
        if not self.alone:
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                vectors[rows] = self._run([encodings[i] for i in rows])
            return vectors

        def one(i: int) -> None:
            vectors[i] = self._run([encodings[i]])[0]

        if self.threads == 1 or len(order) == 1:
            for i in order:
                one(i)
        else:
            with ThreadPoolExecutor(min(self.threads, len(order)), thread_name_prefix="medsearch-embed") as pool:
                for _ in pool.map(one, order):
                    pass  # re-raises a run's error here
        return vectors

    def _run(self, encodings: list) -> np.ndarray:
        """One model call over ``encodings`` padded to the longest: their mean-pooled, normalised vectors."""
        width = max(len(e.ids) for e in encodings)
        feed = {"input_ids": np.full((len(encodings), width), self.pad_id, dtype=np.int64),
                "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
                "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64)}
        for r, e in enumerate(encodings):
            feed["input_ids"][r, :len(e.ids)] = e.ids
            feed["attention_mask"][r, :len(e.ids)] = 1
            feed["token_type_ids"][r, :len(e.ids)] = e.type_ids
        tokens = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
        mask = feed["attention_mask"][:, :, None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

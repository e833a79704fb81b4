"""Nothing calls home: the telemetry, usage reports and hub access of every dependency turned off.

A medical search engine must not tell anyone what it runs or that it runs. Each switch below is
an environment variable its library reads once, when it is imported or first initialised, so
``apply()`` runs when ``indexer`` is imported, before any of them is (every medsearch process,
and every Ray worker it starts or joins, imports ``indexer`` first). The values are forced, not
defaults: these are opt-outs, and no medsearch feature needs any of them on.

- onnxruntime (the default backends): from 1.29 its official Linux wheels upload usage events to
  Microsoft unless ``ORT_DISABLE_TELEMETRY`` is set before it loads; its
  ``disable_telemetry_events()`` alone still lets the first event out (see ``embedding.runtimes``,
  which calls it too).
- huggingface_hub, transformers, sentence-transformers: models are read from local files only, and the
  hub's telemetry is off (also read by other tools through the ``DO_NOT_TRACK`` convention).
- Ray (``--engine ray``): no usage statistics.
- torch, FAISS, gunicorn, Flask, bm25s: nothing to turn off.
"""
from __future__ import annotations

import logging
import os
import sys

ENVIRONMENT = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DO_NOT_TRACK": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
# Libraries that read their switch when imported: loaded before ``apply()``, they may already have called home.
READ_AT_IMPORT = {"onnxruntime": "ORT_DISABLE_TELEMETRY", "huggingface_hub": "HF_HUB_DISABLE_TELEMETRY"}


def apply() -> None:
    """Turn every dependency's telemetry and hub access off in this process and the processes it starts."""
    os.environ.update(ENVIRONMENT)
    early = [name for name in READ_AT_IMPORT if name in sys.modules]
    if early:  # another program imported it first: it read its switch before medsearch could set it
        logging.getLogger("medsearch").warning(
            "%s was imported before medsearch and may send telemetry; set %s in the environment", ", ".join(early),
            ", ".join(f"{READ_AT_IMPORT[name]}=1" for name in early))

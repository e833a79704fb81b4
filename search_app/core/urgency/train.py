"""Train the urgency detector: embed the labelled examples into the artefact the app loads.

    python -m search_app.core.urgency.train [--examples FILE] [--out FILE] [--backend onnx-int8|onnx|torch] [--model NAME]

Deterministic: the same examples and model give the same vectors. The artefact records the
embedder's fingerprint, so an app that embeds queries with another model or backend refuses it.
Exit status 0 when written, 1 with a one-line message when the examples or model cannot be used.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from indexer.errors import MedsearchError

from .detector import DEFAULT_ARTEFACT, DEFAULT_EXAMPLES, UrgencyDetector, load_examples


def main(argv: list[str] | None = None) -> int:
    from indexer import settings as settings_mod
    from indexer.embedding import BACKENDS, load_embedder

    from ..settings import SearchSettings

    parser = argparse.ArgumentParser(prog="python -m search_app.core.urgency.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", default=str(DEFAULT_EXAMPLES), help="labelled examples (YAML)")
    parser.add_argument("--out", default=str(DEFAULT_ARTEFACT), help="artefact to write (.npz)")
    parser.add_argument("--backend", choices=BACKENDS, help="embedding backend (default: the configured one)")
    parser.add_argument("--model", help="embedding model (default: the configured one)")
    args = parser.parse_args(argv)
    try:
        chosen = {k: v for k, v in (("backend", args.backend), ("model", args.model)) if v}
        search = SearchSettings.from_conf(settings_mod.resolve(chosen))
        examples = load_examples(args.examples)
        embedder = load_embedder(search.model, search.batch_size, search.backend, search.model_cache)
        path = UrgencyDetector.train(examples, embedder).save(args.out)
    except (MedsearchError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = Counter(examples.levels)
    print(f"wrote {path}: {len(examples.texts)} examples ({', '.join(f'{n} {c}' for c, n in counts.items())}), "
          f"{embedder.describe()['name']} ({embedder.backend})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

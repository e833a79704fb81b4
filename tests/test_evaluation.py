import json

import pytest
from click.testing import CliRunner

from search_app.cli import main
from search_app.evaluation import EvalQuery, evaluate, ndcg_at, reciprocal_rank

from .conftest import FIXTURES, SHARED, needs_shared


def test_metrics_match_hand_computed_values():
    rel = frozenset({("a", "1"), ("b", "2")})
    ranked = [("x", "0"), ("a", "1"), ("y", "0"), ("b", "2")]
    assert reciprocal_rank(ranked, rel, 10) == 0.5
    # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    assert ndcg_at(ranked, rel, 10) == pytest.approx((1 / 1.5849625 + 1 / 2.3219281) / (1 + 1 / 1.5849625))
    metrics = evaluate([EvalQuery("q", "question", rel)], lambda q, k: ranked)
    assert metrics["recall@1"] == 0 and metrics["recall@5"] == 1 and metrics["queries"] == 1


def test_eval_command_prints_json_metrics(index_dir):
    result = CliRunner().invoke(main, ["eval", "--index", str(index_dir), "--queries",
                                       str(FIXTURES / "queries.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert set(metrics) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "queries"}
    assert metrics["queries"] == 4
    assert metrics["recall@1"] >= 0.75 and metrics["recall@10"] == 1.0


def test_shared_medicationqa_queries_file_parses():
    from search_app.evaluation import load_queries

    queries = load_queries(needs_shared(SHARED / "medicationqa" / "queries-dev.jsonl"))
    assert len(queries) == 328 and all(q.relevant for q in queries)

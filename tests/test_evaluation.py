import json
import math
import random

from click.testing import CliRunner

from search_app.cli import main
from search_app.core.evaluation import EvalQuery, evaluate

from .conftest import FIXTURES, SHARED, needs_shared


# The hand-written definitions evaluation.py used before ir-measures, kept as the reference the library must match.
def old_recall_at(ranked, relevant, n):
    return len(set(ranked[:n]) & relevant) / len(relevant)


def old_reciprocal_rank(ranked, relevant, n):
    return next((1.0 / i for i, key in enumerate(ranked[:n], 1) if key in relevant), 0.0)


def old_ndcg_at(ranked, relevant, n):
    seen, dcg = set(), 0.0
    for i, key in enumerate(ranked[:n], 1):
        if key in relevant and key not in seen:
            dcg += 1.0 / math.log2(i + 1)
            seen.add(key)
    return dcg / sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), n) + 1))


def old_evaluate(cases, k=10):
    names = {"recall@1": lambda r, rel: old_recall_at(r, rel, 1), "recall@5": lambda r, rel: old_recall_at(r, rel, 5),
             "recall@10": lambda r, rel: old_recall_at(r, rel, 10), "mrr@10": lambda r, rel: old_reciprocal_rank(r, rel, 10),
             "ndcg@10": lambda r, rel: old_ndcg_at(r, rel, 10)}
    return {name: round(sum(f(ranked[:k], rel) for rel, ranked in cases) / len(cases), 4) for name, f in names.items()}


def cases_fixture(seed=7, count=60):
    """Rankings of 0-15 sections over 40, with 1-4 relevant per query: hits high, low, past 10, or none."""
    rng = random.Random(seed)
    sections = [(f"a{i // 4}", f"s{i % 4}") for i in range(40)]
    cases = []
    for _ in range(count):
        relevant = frozenset(rng.sample(sections, rng.randint(1, 4)))
        cases.append((relevant, rng.sample(sections, rng.randint(0, 15))))
    return cases


def test_library_metrics_equal_the_old_hand_written_ones():
    cases = cases_fixture()
    queries = [EvalQuery(str(i), f"q{i}", rel) for i, (rel, _) in enumerate(cases)]
    by_query = {f"q{i}": ranked for i, (_, ranked) in enumerate(cases)}
    metrics = evaluate(queries, lambda q, k: by_query[q][:k])
    assert metrics.pop("queries") == len(cases)
    assert metrics == old_evaluate(cases)
    assert 0 < metrics["recall@1"] < metrics["recall@5"] < metrics["recall@10"] < 1  # the fixture is not trivial


def test_hand_computed_values():
    rel = frozenset({("a", "1"), ("b", "2")})
    ranked = [("x", "0"), ("a", "1"), ("y", "0"), ("b", "2")]
    metrics = evaluate([EvalQuery("q", "question", rel)], lambda q, k: ranked)
    assert metrics["mrr@10"] == 0.5
    # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    assert metrics["ndcg@10"] == round((1 / 1.5849625 + 1 / 2.3219281) / (1 + 1 / 1.5849625), 4)
    assert metrics["recall@1"] == 0 and metrics["recall@5"] == 1 and metrics["queries"] == 1


def test_metrics_go_no_deeper_than_k():
    rel = frozenset({("a", "1")})
    asked = []
    ranked = [("x", str(i)) for i in range(6)] + [("a", "1")]  # the answer at rank 7

    def rank(q, k):
        asked.append(k)
        return ranked

    metrics = evaluate([EvalQuery("q", "question", rel)], rank, k=5)
    assert asked == [5]  # k is not raised behind the caller's back
    assert metrics == {"recall@1": 0.0, "recall@5": 0.0, "mrr@5": 0.0, "ndcg@5": 0.0, "queries": 1}
    deeper = evaluate([EvalQuery("q", "question", rel)], rank, k=20)
    assert deeper["recall@10"] == 1.0 and deeper["mrr@20"] == round(1 / 7, 4) and set(deeper) == {
        "recall@1", "recall@5", "recall@10", "recall@20", "mrr@20", "ndcg@20", "queries"}


def test_a_query_with_no_results_counts_as_zero_and_repeats_count_once():
    rel = frozenset({("a", "1")})
    queries = [EvalQuery("q1", "found", rel), EvalQuery("q2", "nothing", rel), EvalQuery("q3", "twice", rel)]
    runs = {"found": [("a", "1")], "nothing": [], "twice": [("a", "1"), ("a", "1")]}
    metrics = evaluate(queries, lambda q, k: runs[q])
    assert metrics["recall@1"] == round(2 / 3, 4) and metrics["mrr@10"] == round(2 / 3, 4)


def test_eval_command_refuses_k_outside_its_range(index_dir):
    result = CliRunner().invoke(main, ["eval", "--index", str(index_dir), "--queries",
                                       str(FIXTURES / "queries.jsonl"), "--k", "0"])
    assert result.exit_code == 2 and "error: Invalid value for '--k'" in result.output


def test_eval_command_prints_json_metrics(index_dir):
    result = CliRunner().invoke(main, ["eval", "--index", str(index_dir), "--queries",
                                       str(FIXTURES / "queries.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert set(metrics) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "queries"}
    assert metrics["queries"] == 4
    assert metrics["recall@1"] >= 0.75 and metrics["recall@10"] == 1.0


def test_shared_medicationqa_queries_file_parses():
    from search_app.core.evaluation import load_queries

    queries = load_queries(needs_shared(SHARED / "medicationqa" / "queries-dev.jsonl"))
    assert len(queries) == 328 and all(q.relevant for q in queries)

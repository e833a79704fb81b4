"""Tokenising for BM25 and for the explanations: words, stems, and the words of a passage a query matched."""
from pathlib import Path

import pytest

from indexer.lexical import stem, stems, tokens, words, words_stemming_to
from indexer.sources import Skipped, iter_articles

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def matched_by_definition(text: str, stems: set[str]) -> tuple[str, ...]:
    """What ``words_stemming_to`` must return: every distinct word whose stem is asked for, in order."""
    return tuple(dict.fromkeys(w for w in words(text) if stem(w) in stems))


def test_words_fold_apostrophes_and_case():
    assert words("Don't take 2 Tylenol’s; O'Neill's 1990's") == ["dont", "take", "2", "tylenols", "oneill", "s", "1990s"]
    assert words("") == []


def test_tokens_drop_stopwords_and_stem():
    assert tokens("Can I take ibuprofen while breastfeeding?") == ["take", "ibuprofen", "breastfeed"]


@pytest.mark.parametrize("text, query", [
    ("Cramps and muscle cramping can happen; CRAMPED legs.", "cramps"),
    ("Don't stop taking it: stopping suddenly can't be undone.", "stop taking"),
    ("O'Neill's dose was 20 mg, then 20mg twice daily (dosing).", "neill dose 20"),
    ("Naïve patients, café owners and the happiest of them: happy.", "happy naive"),
    ("Dying, lying and tying are irregular; skies and sky too.", "die lie tie sky"),
    ("x'ab1 and rock 'n' roll", "ab 1 rock"),
])
def test_matched_words_follow_the_definition(text, query):
    stems = set(tokens(query))
    assert words_stemming_to(text, stems) == matched_by_definition(text, stems)


def test_matched_words_follow_the_definition_on_the_whole_corpus():
    articles = [a for a in iter_articles([CORPUS]) if not isinstance(a, Skipped)]
    assert articles
    queries = ["side effects of sertraline", "can I drink alcohol with metronidazole", "missed dose what to do",
               "pregnancy breastfeeding safe", "store in the fridge", "low sodium confusion", "1 tablet 20 mg"]
    checked = 0
    for article in articles:
        for section in article.sections:
            for q in queries:
                stems = set(tokens(q))
                assert words_stemming_to(section.text, stems) == matched_by_definition(section.text, stems)
                checked += 1
    assert checked > 1000


def test_stems_of_many_words_are_their_stems_one_by_one():
    """Query understanding stems a query's words (and each two neighbours joined) in one call."""
    typed = words("Can I take ibuprofen while breastfeeding? Swelling, bleeding; level iracetam") + ["leveliracetam", ""]
    assert stems(typed) == [stem(w) for w in typed] and stems([]) == []
    assert stems(["breastfeeding", "swelling"]) == ["breastfeed", "swell"]


def test_no_stems_match_nothing():
    assert words_stemming_to("anything at all", set()) == ()


def test_each_thread_stems_with_its_own_stemmer():
    """PyStemmer's stemmers are not thread-safe: the server's threads must never share one."""
    import threading

    from indexer import lexical

    seen, words = {}, ["cycling", "medications", "swelling", "bleeding", "tablets"] * 200

    def work(n: int) -> None:
        seen[n] = (lexical.stemmer(), [lexical.stemmer().stemWord(w) for w in words])  # kept: no id reused

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(mine) for mine, _ in seen.values()}) == 8
    assert all(stems == seen[0][1] for _, stems in seen.values())
    assert lexical.stem("swelling") == "swell"

from indexer.chunking import Chunker, ChunkSettings, passages_for, split_sentences, split_text
from indexer.models import Article, Section, context_prefix


def test_sentences_split_at_ends_but_not_abbreviations():
    text = "Take it with food, e.g. a meal. Ask Dr. Patel first! Is 5 mg enough? Yes.\n- a bullet line"
    assert split_sentences(text) == ["Take it with food, e.g. a meal.", "Ask Dr. Patel first!",
                                     "Is 5 mg enough?", "Yes.", "- a bullet line"]


def _long_section(sentences: int) -> str:
    return " ".join(f"Sentence number {i} says that this medicine may cause drowsiness in some people."
                    for i in range(sentences))


def test_passages_fit_the_model_window_counted_in_tokens(embedder):
    article = Article("demo", "Demo medicine", "", (Section("side-effects", "Side effects", _long_section(80)),))
    settings = ChunkSettings(chunk_tokens=120, overlap_tokens=32, max_seq_length=embedder.max_seq_length)
    passages = list(passages_for(article, settings, embedder.count_tokens))
    assert len(passages) > 5
    for p in passages:
        assert embedder.count_tokens([p.text])[0] <= 120
        assert embedder.count_tokens([p.embed_text])[0] <= embedder.max_seq_length - 2
        assert p.embed_text.startswith(context_prefix("Demo medicine", "Side effects"))
    # Consecutive passages overlap by at least one whole sentence, and nothing is lost.
    for first, second in zip(passages, passages[1:]):
        first_sentences, second_sentences = split_sentences(first.text), split_sentences(second.text)
        assert second_sentences[0] in first_sentences
        assert first_sentences[-1] in second_sentences
    joined = " ".join(p.text for p in passages)
    assert all(f"Sentence number {i} " in joined for i in range(80))


def test_short_section_is_one_passage_and_ids_are_stable(embedder):
    article = Article("x", "X", "https://example.org/x", (Section("uses", "Uses", "It treats pain."),))
    settings = ChunkSettings(max_seq_length=embedder.max_seq_length)
    first = list(passages_for(article, settings, embedder.count_tokens))
    second = list(passages_for(article, settings, embedder.count_tokens))
    assert [p.id for p in first] == [p.id for p in second] == ["x:uses:0"]
    assert first[0].url == "https://example.org/x#uses"
    assert first[0].permalink == "/articles/x#uses"


def test_a_single_overlong_sentence_is_cut_into_windows(embedder):
    words = " ".join(f"word{i}" for i in range(600))
    chunks = split_text(words, 100, 20, embedder.count_tokens)
    assert len(chunks) > 3
    assert all(embedder.count_tokens([c])[0] <= 100 for c in chunks)
    assert " ".join(chunks).split() == words.split()


def test_a_copied_section_is_cut_once_into_the_same_passages(embedder):
    """A repackager's label repeats its source's sections: the build's chunker cuts each text once."""
    calls: list[int] = []

    def count(texts):
        calls.append(len(texts))
        return embedder.count_tokens(texts)

    sections = (Section("warnings", "Warnings", _long_section(40)), Section("uses", "Uses", "It treats pain."))
    brand = Article("brand", "Brand tablets", "https://example.org/brand", sections)
    copy = Article("copy", "Repackager tablets", "https://example.org/copy", sections)
    settings = ChunkSettings(chunk_tokens=120, overlap_tokens=32, max_seq_length=embedder.max_seq_length)
    chunker = Chunker(settings, count)
    first = list(chunker.passages(brand))
    before = len(calls)
    again = list(chunker.passages(copy))
    assert calls[before:] == [2]  # only the copy's two contexts ("title: heading"), counted in one call
    assert len(first) > 3 and [p.text for p in again] == [p.text for p in first]
    # Each passage is the copy's own (id, title, links), as a chunker that remembers nothing gives it.
    assert again == list(passages_for(copy, settings, embedder.count_tokens))
    assert again[0].id == "copy:warnings:0" and again[0].url == "https://example.org/copy#warnings"

"""Tokenizer round trips and state round trips."""

from __future__ import annotations

import pytest

from textgan.data.tokenizers import UNK_ID, OracleTokenizer, SentencePieceTokenizer, WordTokenizer, tokenizer_from_state

LINES = ["a man riding a horse .", "two dogs play in the snow", "a plate of food on a table", "A Man"]


def test_word_round_trip_and_vocab() -> None:
    tok = WordTokenizer.fit(LINES)
    for line in LINES:
        assert tok.decode(tok.encode(line)) == line
    assert tok.words[4] == "a"  # most frequent first
    assert tok.encode("zebra")[0] == UNK_ID and tok.decode([UNK_ID]) == "<unk>"


@pytest.mark.parametrize("min_freq, max_vocab, size", [(1, 0, 4 + 18), (2, 0, 4 + 1), (1, 3, 4 + 3)])
def test_word_vocab_limits(min_freq: int, max_vocab: int, size: int) -> None:
    assert WordTokenizer.fit(LINES, min_freq=min_freq, max_vocab=max_vocab).vocab_size == size


def test_lowercase() -> None:
    tok = WordTokenizer.fit(LINES, lowercase=True)
    assert tok.decode(tok.encode("A Man")) == "a man"


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_sentencepiece_round_trip(model_type: str) -> None:
    lines = LINES * 30 + [f"line number {i} with words" for i in range(200)]
    tok = SentencePieceTokenizer.fit(lines, vocab_size=60, model_type=model_type)
    for line in LINES:
        assert tok.decode(tok.encode(line)) == line
    again = tokenizer_from_state(tok.state())
    assert again.encode(LINES[0]) == tok.encode(LINES[0])


def test_oracle_tokenizer() -> None:
    tok = OracleTokenizer(10)
    assert tok.encode("0 9 3") == [4, 13, 7]
    assert tok.decode([4, 13, 7]) == "0 9 3"
    assert tok.vocab_size == 14


@pytest.mark.parametrize("tok", [WordTokenizer.fit(LINES), OracleTokenizer(7)])
def test_state_round_trip(tok) -> None:
    again = tokenizer_from_state(tok.state())
    assert again.state() == tok.state() and again.encode(LINES[1] if tok.kind == "word" else "1 2") == \
        tok.encode(LINES[1] if tok.kind == "word" else "1 2")


SP_LINES = LINES * 30 + [f"line number {i} with words" for i in range(200)]


@pytest.mark.parametrize("fit", [
    lambda lines, lower: WordTokenizer.fit(lines, lowercase=lower),
    lambda lines, lower: SentencePieceTokenizer.fit(lines, vocab_size=60, model_type="bpe", lowercase=lower),
    lambda lines, lower: SentencePieceTokenizer.fit(lines, vocab_size=60, model_type="unigram", lowercase=lower),
], ids=["word", "sp-bpe", "sp-unigram"])
def test_two_fits_give_equal_signatures(fit) -> None:
    first, second = fit(SP_LINES, False), fit(SP_LINES, False)
    signature = first.vocabulary_signature()
    assert signature == second.vocabulary_signature()
    assert signature["vocab_size"] == first.vocab_size == len(signature["pieces"])
    assert first.state() == second.state()  # sentencepiece: the proto names no temporary path
    assert tokenizer_from_state(first.state()).vocabulary_signature() == signature
    assert fit(SP_LINES, True).vocabulary_signature() != signature  # lowercasing changes the encoding
    assert fit(SP_LINES[:-50], False).vocabulary_signature() != signature  # other data, other vocabulary


def test_oracle_signature() -> None:
    assert OracleTokenizer(7).vocabulary_signature() == OracleTokenizer(7).vocabulary_signature()
    assert OracleTokenizer(7).vocabulary_signature()["pieces"][4:] == [str(k) for k in range(7)]
    assert OracleTokenizer(7).vocabulary_signature() != OracleTokenizer(8).vocabulary_signature()

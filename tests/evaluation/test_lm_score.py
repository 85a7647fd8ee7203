"""LM score equals NLL-oracle on the oracle and the reference LM's NLL on text; the reverse-LM score ranks sample
sets by how much of the data they carry."""

from __future__ import annotations

import pytest
import torch

from textgan.data.batching import TokenData, pad_rows
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, WordTokenizer
from textgan.evaluation.language_model import LMRecipe, train_lm
from textgan.evaluation.lm_score import lm_score, oracle_lm_score, reverse_lm_score
from textgan.evaluation.nll import nll_oracle
from textgan.models.generator import RNNGenerator
from textgan.training.mle import evaluate_nll

CPU = torch.device("cpu")
Captions = tuple[WordTokenizer, TokenData, TokenData]
SMALL = LMRecipe(embedding_size=16, hidden_size=32, epochs=3, batch_size=32, lr=1e-2)


def oracle_and_generator() -> tuple[Oracle, RNNGenerator]:
    oracle = Oracle(vocab_size=20, embedding_size=8, hidden_size=8, init_std=1.0, seed=3)
    torch.manual_seed(0)
    generator = RNNGenerator(vocab_size=20 + len(SPECIALS), embedding_size=8, hidden_size=8, init_std=0.5,
                             banned_ids=[PAD_ID, BOS_ID, EOS_ID, UNK_ID], eos_id=None)
    return oracle, generator


@pytest.mark.parametrize("temperature", [0.7, 1.0, 1.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_lm_score_is_nll_oracle_of_the_same_samples(temperature: float, seed: int) -> None:
    oracle, generator = oracle_and_generator()
    torch.manual_seed(seed)
    expected = nll_oracle(generator, oracle, num_samples=300, seq_len=10, temperature=temperature)
    torch.manual_seed(seed)  # the same draws: nll_oracle samples 300 sequences in one call too
    samples = generator.sample(300, 10, temperature=temperature)
    result = oracle_lm_score(oracle, TokenData(samples.tokens, samples.lengths))
    assert result["lm_score"] == pytest.approx(expected, abs=1e-6)
    assert result["lm_score_tokens"] == 300 * 10  # every position counts, as in NLL-oracle


@pytest.mark.parametrize("rows, message", [
    ([[5, 6, 7], [5, 6]], "no padding"),        # variable length
    ([[5, 6, EOS_ID], [5, 6, 7]], "no specials"),  # a special id
    ([[5, 6, 24], [5, 6, 7]], "no specials"),   # beyond the oracle's 20 tokens
])
def test_oracle_lm_score_rejects_what_the_oracle_cannot_score(rows: list[list[int]], message: str) -> None:
    oracle, _ = oracle_and_generator()
    with pytest.raises(ValueError, match=message):
        oracle_lm_score(oracle, pad_rows(rows))


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_lm_score_of_the_test_file_is_the_reference_lms_test_nll(batch_size: int, captions: Captions,
                                                                 one_thread: None) -> None:
    tokenizer, train, test = captions
    reference = train_lm(train, tokenizer.vocab_size, tokenizer.never_generated(), EOS_ID, recipe=SMALL, seed=0)
    expected = evaluate_nll(reference, test, batch_size=32, device=CPU)
    result = lm_score(reference, test, batch_size=batch_size)
    assert result["lm_score"] == pytest.approx(expected["nll"], abs=1e-6)
    assert result["lm_score_tokens"] == expected["tokens"] == test.num_tokens()


def repeated_sentence(data: TokenData) -> TokenData:
    """Every sample is the first training sentence (a collapsed generator)."""
    return TokenData(data.tokens[:1].repeat(len(data), 1), data.lengths[:1].repeat(len(data)))


def uniform_tokens(data: TokenData, vocab_size: int) -> TokenData:
    """Uniformly random words with the data's lengths, each ended by EOS (a generator that learnt nothing)."""
    draw = torch.Generator().manual_seed(0)
    tokens = torch.randint(len(SPECIALS), vocab_size, data.tokens.shape, generator=draw)
    steps = torch.arange(tokens.size(1))
    tokens[steps >= data.lengths.unsqueeze(1)] = PAD_ID
    tokens[torch.arange(len(data)), data.lengths - 1] = EOS_ID
    return TokenData(tokens, data.lengths.clone())


@pytest.mark.parametrize("broken", ["repeated_sentence", "uniform_tokens"])
def test_reverse_lm_score_prefers_samples_from_the_data(broken: str, captions: Captions, one_thread: None) -> None:
    tokenizer, train, test = captions
    bad = repeated_sentence(train) if broken == "repeated_sentence" else uniform_tokens(train, tokenizer.vocab_size)
    banned = tokenizer.never_generated()
    good_score = reverse_lm_score(train, test, tokenizer.vocab_size, banned, EOS_ID, seed=0)
    bad_score = reverse_lm_score(bad, test, tokenizer.vocab_size, banned, EOS_ID, seed=0)
    assert good_score["reverse_lm_score"] + 0.5 < bad_score["reverse_lm_score"]
    assert good_score["reverse_lm_samples"] == bad_score["reverse_lm_samples"] == len(train)
    assert good_score["reverse_lm_tokens"] == test.num_tokens()


def test_reverse_lm_score_is_seeded_and_leaves_the_global_rng_alone(captions: Captions, one_thread: None) -> None:
    tokenizer, train, test = captions
    train, test = train.subset(torch.arange(64)), test.subset(torch.arange(32))
    recipe = LMRecipe(embedding_size=8, hidden_size=16, epochs=1, batch_size=16, lr=1e-2)
    args = (train, test, tokenizer.vocab_size, tokenizer.never_generated(), EOS_ID)
    torch.manual_seed(123)
    first = reverse_lm_score(*args, seed=4, recipe=recipe)
    after = torch.rand(1)
    torch.manual_seed(123)
    assert reverse_lm_score(*args, seed=4, recipe=recipe) == first
    assert torch.equal(torch.rand(1), after)
    assert reverse_lm_score(*args, seed=5, recipe=recipe)["reverse_lm_score"] != first["reverse_lm_score"]



def fixed_length(tokens: torch.Tensor) -> TokenData:
    """Fixed-length rows (N, T) as data without EOS or padding, the oracle's layout."""
    return TokenData(tokens, torch.full((tokens.size(0),), tokens.size(1)))


def test_reverse_lm_score_on_the_oracle_prefers_oracle_samples(one_thread: None) -> None:
    oracle, _ = oracle_and_generator()
    banned = [PAD_ID, BOS_ID, EOS_ID, UNK_ID]  # fixed-length data: no EOS
    samples = oracle.generate(300, 10, seed=1) + len(SPECIALS)  # (300, 10) generator ids
    test = oracle.generate(100, 10, seed=2) + len(SPECIALS)
    collapsed = samples[:1].repeat(300, 1)
    scores = [reverse_lm_score(fixed_length(tokens), fixed_length(test), 20 + len(SPECIALS), banned, None, seed=0)
              for tokens in (samples, collapsed)]
    assert scores[0]["reverse_lm_score"] + 0.5 < scores[1]["reverse_lm_score"]
    assert scores[0]["reverse_lm_tokens"] == 100 * 10

"""Generator properties: greedy limits, log-probs equal teacher forcing, banned ids, cached states, EOS."""

from __future__ import annotations

import pytest
import torch

from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.estimators.common import sequence_log_probs
from textgan.models.generator import RNNGenerator
from textgan.models.sampling import sample_logits


def make(cell: str = "lstm", eos: bool = True, layers: int = 1, seed: int = 0) -> RNNGenerator:
    torch.manual_seed(seed)
    return RNNGenerator(vocab_size=30, embedding_size=8, hidden_size=12, num_layers=layers, cell=cell,
                        init_std=0.5, banned_ids=[PAD_ID, BOS_ID, UNK_ID] + ([] if eos else [EOS_ID]),
                        eos_id=EOS_ID if eos else None)


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 1), ("lstm", 2)])
def test_samples_have_finite_log_probs_and_padding_after_the_end(cell: str, layers: int) -> None:
    g = make(cell, layers=layers)
    for temperature in (1.0, 0.7):
        s = g.sample(16, 10, temperature=temperature)
        with torch.no_grad():
            forced = sequence_log_probs(g, s.tokens, s.lengths)  # (B, T)
        alive = torch.arange(10)[None, : s.tokens.size(1)] < s.lengths[:, None]
        assert bool(torch.isfinite(forced).all()) and bool((forced[alive] < 0).all())  # never a banned id
        assert bool((forced[~alive] == 0).all()) and bool((s.tokens[~alive] == PAD_ID).all())


def test_greedy_limits() -> None:
    g = make()
    greedy = g.sample(8, 10, temperature=0)
    top1 = g.sample(8, 10, top_k=1)
    assert torch.equal(greedy.tokens, top1.tokens)
    # greedy = argmax of the teacher-forced logits at every position
    logits, _ = g(RNNGenerator.shift_right(greedy.tokens))
    mask = greedy.tokens != PAD_ID
    assert torch.equal(logits.argmax(-1)[mask], greedy.tokens[mask])


def test_banned_ids_never_sampled_and_fixed_length() -> None:
    g = make(eos=False)
    s = g.sample(200, 12, temperature=2.0)
    assert s.tokens.shape == (200, 12) and bool((s.lengths == 12).all())
    assert not bool(torch.isin(s.tokens, torch.tensor([PAD_ID, BOS_ID, UNK_ID, EOS_ID])).any())


def test_eos_terminates_and_pads() -> None:
    g = make()
    g.logit_mask[EOS_ID] = 3.0  # make EOS likely
    s = g.sample(64, 15)
    for row, n in zip(s.tokens.tolist(), s.lengths.tolist()):
        assert PAD_ID not in row[:n] and all(t == PAD_ID for t in row[n:])
        assert row[n - 1] == EOS_ID or n == s.tokens.size(1)
        assert EOS_ID not in row[:n - 1]


def test_cached_states_are_the_step_states() -> None:
    g = make("lstm", layers=2)
    s = g.sample(4, 6, return_states=True)
    state = g.initial_state(4)
    inputs = RNNGenerator.shift_right(s.tokens)
    for t in range(s.tokens.size(1)):
        _, _, state = g.step(inputs[:, t], state)
        torch.testing.assert_close(s.states[t], state)


def test_sampler_distribution() -> None:
    torch.manual_seed(0)
    logits = torch.log(torch.tensor([[0.1, 0.0, 0.6, 0.3]]))  # id 1 has zero probability
    draws = sample_logits(logits.expand(40000, 4))
    freq = torch.bincount(draws, minlength=4).float() / draws.numel()
    assert freq[1] == 0
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.0, 0.6, 0.3]), atol=0.01, rtol=0)
    topk = sample_logits(logits.expand(1000, 4), top_k=2)
    assert set(topk.tolist()) == {2, 3}


def test_same_seed_same_samples() -> None:
    g = make()
    torch.manual_seed(3)
    a = g.sample(8, 10).tokens
    torch.manual_seed(3)
    assert torch.equal(a, g.sample(8, 10).tokens)


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2)])
@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.7, 0), (1.0, 5), (0.0, 0)])
def test_rows_leave_the_batch_at_their_eos_without_changing_any_draw(cell: str, layers: int, temperature: float,
                                                                     top_k: int) -> None:
    """Sampling drops finished rows from the batch; the samples (and the random stream after them) are those of
    running every row through every step."""
    g = make(cell, layers=layers).eval()
    torch.manual_seed(3)
    running = g._sample_running(300, 25, temperature, top_k, None)
    after_running = torch.rand(4)
    torch.manual_seed(3)
    full = g._sample_full(300, 25, temperature, top_k, False, None)
    after_full = torch.rand(4)
    assert torch.equal(running.tokens, full.tokens) and torch.equal(running.lengths, full.lengths)
    assert torch.equal(after_running, after_full)
    if temperature and not top_k:  # not vacuous: rows end at many different steps (EOS is outside the top 5)
        assert len(set(running.lengths.tolist())) > 5


def test_conditional_rows_keep_their_class_when_others_leave_the_batch() -> None:
    torch.manual_seed(0)
    g = RNNGenerator(vocab_size=30, embedding_size=8, hidden_size=12, init_std=0.5, num_classes=3,
                     banned_ids=[PAD_ID, BOS_ID, UNK_ID]).eval()
    labels = torch.arange(120) % 3
    torch.manual_seed(4)
    running = g._sample_running(120, 20, 1.0, 0, labels)
    torch.manual_seed(4)
    full = g._sample_full(120, 20, 1.0, 0, False, labels)
    assert torch.equal(running.tokens, full.tokens) and len(set(running.lengths.tolist())) > 3

"""Rollouts and REINFORCE: prefixes kept, right starting state, reward layout and masking, reproducibility,
and the policy gradient raising the probability of a rewarded token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from tests.helpers import estimator as make_estimator
from tests.helpers import preset_cnn
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.estimators.rollout import prefix_rows, rollout_chunk, rollout_rewards
from textgan.models.generator import RNNGenerator


def make(eos: bool, vocab: int = 20, seed: int = 0) -> RNNGenerator:
    torch.manual_seed(seed)
    return RNNGenerator(vocab_size=vocab, embedding_size=8, hidden_size=16, init_std=0.5,
                        banned_ids=[PAD_ID, BOS_ID, UNK_ID] + ([] if eos else [EOS_ID]),
                        eos_id=EOS_ID if eos else None)


def test_prefix_rows_layout() -> None:
    b, t = prefix_rows(torch.tensor([3, 1, 4]), num_rollouts=2)
    pairs = list(zip(b.tolist(), t.tolist()))
    # prefixes t < L_b, sorted by t, each twice
    assert pairs == [(0, 1), (0, 1), (2, 1), (2, 1), (0, 2), (0, 2), (2, 2), (2, 2), (2, 3), (2, 3)]


def test_rollout_keeps_prefix_and_starts_from_its_state() -> None:
    g = make(eos=False)
    s = g.sample(5, 7, return_states=True)
    b, t = prefix_rows(s.lengths, num_rollouts=3)
    completions = rollout_chunk(g, s.tokens, s.states, b, t, max_len=7)
    for row, (bb, tt) in enumerate(zip(b.tolist(), t.tolist())):
        assert completions[row, :tt].tolist() == s.tokens[bb, :tt].tolist()
    assert not bool((completions == PAD_ID).any())  # fixed length: every position filled
    # The first continuation step is conditioned on the whole prefix: its logits equal teacher forcing's.
    logits_tf, _ = g(RNNGenerator.shift_right(s.tokens))  # (B, T, V)
    state = s.states[t - 1, :, b].transpose(0, 1).contiguous()
    step_logits, _, _ = g.step(s.tokens[b, t - 1], state)
    torch.testing.assert_close(step_logits, logits_tf[b, t], atol=1e-5, rtol=1e-5)


def test_rollouts_stop_at_eos() -> None:
    g = make(eos=True)
    g.logit_mask[EOS_ID] = 2.0  # EOS favoured, so most rows end well before max_len
    s = g.sample(6, 12, return_states=True)
    b, t = prefix_rows(s.lengths, num_rollouts=4)
    completions = rollout_chunk(g, s.tokens, s.states, b, t, max_len=12)  # (R, 12)
    ends = [row.index(EOS_ID) for row in completions.tolist() if EOS_ID in row]
    assert sum(end < 11 for end in ends) >= len(completions) // 4  # many rollouts reach EOS early
    for row in completions.tolist():
        if EOS_ID in row:
            assert all(x == PAD_ID for x in row[row.index(EOS_ID) + 1:])
    # Rewards: every prefix of a sequence up to its EOS gets one, no position after it does.
    score = FunctionScorer(lambda seqs: 1.0 + (seqs != PAD_ID).sum(1).float(), s.tokens)  # > 0 for every sequence
    q = rollout_rewards(g, s.tokens, s.lengths, s.states, score, num_rollouts=4, max_len=12, chunk_rows=64)
    after_end = torch.arange(q.size(1)).unsqueeze(0) >= s.lengths.unsqueeze(1)  # (B, T)
    assert bool(after_end.any())  # some sampled sequences ended before max_len
    assert bool((q[after_end] == 0).all()) and bool((q[~after_end] > 0).all())


class FunctionScorer:
    """A rollout scorer from a function of token ids (R, T) -> rewards (R,)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], samples: torch.Tensor) -> None:
        self.fn, self.samples = fn, samples

    def sequence_rewards(self) -> torch.Tensor:
        return self.fn(self.samples)

    def completion_rewards(self, completions: torch.Tensor, rows_b: torch.Tensor,
                           rows_t: torch.Tensor) -> torch.Tensor:
        return self.fn(completions)


def test_reward_layout_and_masking() -> None:
    """D rewards sequences by their token at position 2: prefixes that fix it get exactly that reward."""
    g = make(eos=True)
    g.logit_mask[EOS_ID] = 1.0
    s = g.sample(8, 6, return_states=True)
    score = FunctionScorer(lambda seqs: (seqs[:, 2] % 7).float(), s.tokens)  # deterministic in position 2's token
    q = rollout_rewards(g, s.tokens, s.lengths, s.states, score, num_rollouts=5, max_len=6, chunk_rows=7)
    assert q.shape == s.tokens.shape
    for bb in range(8):
        n = int(s.lengths[bb])
        assert bool((q[bb, n:] == 0).all())  # nothing rewarded after the end
        for tt in range(3, n + 1):  # prefixes of length >= 3 contain position 2: reward is exact
            assert float(q[bb, tt - 1]) == float(s.tokens[bb, 2] % 7)


def test_rollouts_reproducible() -> None:
    g = make(eos=True)
    s = g.sample(4, 8, return_states=True)
    score = FunctionScorer(lambda seqs: seqs.float().mean(1), s.tokens)
    runs = []
    for _ in range(3):  # three runs from the same seed, same settings
        torch.manual_seed(11)
        runs.append(rollout_rewards(g, s.tokens, s.lengths, s.states, score, num_rollouts=3, max_len=8,
                                    chunk_rows=1000))
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[1], runs[2])


class FavourToken(torch.nn.Module):
    """A fixed 'discriminator' whose logit is +4 per occurrence of one token (minus 2)."""

    def __init__(self, token: int) -> None:
        super().__init__()
        self.token = token

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return 4.0 * (tokens == self.token).float().sum(1) - 2.0


def test_reinforce_raises_rewarded_token_probability() -> None:
    g = make(eos=False, vocab=12, seed=1)
    favoured = 7
    estimator = make_estimator("reinforce", max_len=5, num_rollouts=4, baseline="mean")
    optimizer = torch.optim.Adam(g.parameters(), lr=0.02)
    real = TokenBatch(torch.zeros(32, 5, dtype=torch.long), torch.full((32,), 5))

    def favoured_share() -> float:
        torch.manual_seed(0)
        return float((g.sample(2000, 5).tokens == favoured).float().mean())

    before = favoured_share()
    for step in range(30):
        optimizer.zero_grad()
        loss, logs = estimator.generator_loss(g, FavourToken(favoured), real, step)
        loss.backward()
        optimizer.step()
    after = favoured_share()
    assert after > before + 0.2, (before, after)


def test_table_scoring_gives_the_same_rewards() -> None:
    g = make(eos=True, vocab=40)
    torch.manual_seed(5)
    d = preset_cnn("small", vocab_size=40).train()
    rewards = []
    for tables in (True, False):
        estimator = make_estimator("reinforce", max_len=9, num_rollouts=3, table_scoring=tables)
        torch.manual_seed(2)
        rewards.append(estimator.rewards(g, d, 16)[1])
        assert d.training  # scored in eval mode, mode restored
    torch.testing.assert_close(rewards[0], rewards[1], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("options", [{"minibatch_kernels": 5, "minibatch_kernel_dims": 3},
                                     {"spectral_norm": True},
                                     {"spectral_norm": True, "minibatch_kernels": 4}])
def test_table_scored_rewards_equal_forward_with_mode_collapse_options(options: dict[str, Any]) -> None:
    # minibatch features and spectral norm live in the head path, so table-scored rewards still equal d(tokens),
    # whatever the rollout chunk
    g = make(eos=True, vocab=40)
    torch.manual_seed(5)
    d = preset_cnn("small", vocab_size=40, **options).train()
    if d.minibatch is not None:
        d.set_reference(g.sample(6, 9).tokens)
    for _ in range(3):  # a few training-mode forwards: spectral norm's power iteration moves its vectors
        d(torch.randint(4, 40, (8, 9)))
    for chunk in (7, 1000):
        rewards = []
        for tables in (True, False):
            estimator = make_estimator("reinforce", max_len=9, num_rollouts=3, table_scoring=tables,
                                       chunk_rows=chunk)
            torch.manual_seed(2)
            rewards.append(estimator.rewards(g, d, 16)[1])
        torch.testing.assert_close(rewards[0], rewards[1], atol=1e-6, rtol=1e-5)

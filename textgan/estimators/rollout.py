"""Monte-Carlo rollouts for SeqGAN's per-prefix rewards (Yu et al. 2017, eq. 4), batched.

For sequences y (B, T) with lengths L, the action value of prefix y_1..t is
    Q_t = mean over N rollouts of D(y_1..t ++ completion)   for t < L,
    Q_L = D(y_1..L)                                        (the whole sequence; no rollout).
The usual implementation loops in Python over rollouts and prefixes and re-runs the generator over every
prefix (N x T small batches of T steps). Here all N x (L-1) continuations of all B sequences start at once from
the recurrent states cached while y was produced, advance together (one step call per time step for all rows
still running), and are scored by D in large batches. Rows are processed in chunks to bound memory.

Layout (the classic bug is mixing it up): row r is the pair (b_r, t_r) repeated N times; its reward is added
into Q[b_r, t_r - 1] with an explicit index, never by reshaping.
"""

from __future__ import annotations

from typing import Protocol

import torch

from textgan.data.tokenizers import PAD_ID
from textgan.models.generator import RNNGenerator


class RolloutScorer(Protocol):
    """Rewards of the sampled sequences and of their rollout completions (no grad, D in eval mode)."""

    def sequence_rewards(self) -> torch.Tensor:
        """(B,) rewards of the sampled sequences themselves."""
        ...

    def completion_rewards(self, completions: torch.Tensor, rows_b: torch.Tensor,
                           rows_t: torch.Tensor) -> torch.Tensor:
        """(R,) rewards of completions (R, max_len); row r keeps the prefix y_{b_r, 1..t_r} (rows sorted by t_r)."""
        ...


@torch.no_grad()
def collect_states(policy: RNNGenerator, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """(T, S, B, H) states of `policy` reading BOS, y_1..y_{T-1} (of classes `labels` (B,)): states[t-1] is h_t
    (for a delayed copy of G)."""
    inputs = RNNGenerator.shift_right(tokens)
    state = policy.initial_state(tokens.size(0), labels)
    states = []
    for t in range(tokens.size(1)):
        _, _, state = policy.step(inputs[:, t], state, labels)
        states.append(state)
    return torch.stack(states)


def prefix_rows(lengths: torch.Tensor, num_rollouts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(b_r, t_r) of every rollout row: prefixes t = 1..L_b - 1, sorted by t, each repeated N times."""
    max_t = int(lengths.max()) - 1
    t_grid = torch.arange(1, max_t + 1, device=lengths.device).unsqueeze(1)  # (T-1, 1)
    valid = t_grid < lengths.unsqueeze(0)  # (T-1, B): prefix t of sequence b needs a rollout
    t_idx, b_idx = valid.nonzero(as_tuple=True)  # row-major: sorted by t, then b
    return b_idx.repeat_interleave(num_rollouts), (t_idx + 1).repeat_interleave(num_rollouts)


@torch.no_grad()
def rollout_chunk(policy: RNNGenerator, tokens: torch.Tensor, states: torch.Tensor, rows_b: torch.Tensor,
                  rows_t: torch.Tensor, max_len: int, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Complete prefixes y_{b_r, 1..t_r} (rows sorted by t_r) to at most `max_len` tokens; (R, max_len) ids.

    Row r starts from states[t_r - 1] (the state that produced y_{t_r}'s logits... and then read y_{t_r}),
    i.e. exactly the history of its own prefix, with input y_{t_r}; and, with `labels` (B,) (a conditional
    policy), in its sequence's class labels[b_r].
    """
    row_labels = None if labels is None else labels[rows_b]  # (R,) each rollout keeps its sequence's class
    completions = torch.full((rows_b.numel(), max_len), PAD_ID, dtype=torch.long, device=tokens.device)
    width = min(tokens.size(1), max_len)
    completions[:, :width] = tokens[rows_b, :width]
    steps = torch.arange(max_len, device=tokens.device)
    completions.masked_fill_(steps.unsqueeze(0) >= rows_t.unsqueeze(1), PAD_ID)  # keep only the prefix
    state = states[rows_t - 1, :, rows_b].transpose(0, 1).contiguous()  # (S, R, H)
    token = tokens[rows_b, rows_t - 1]  # (R,) y_t, the last prefix token
    finished = torch.zeros_like(rows_b, dtype=torch.bool)
    first = int(rows_t[0])
    active_counts = torch.searchsorted(rows_t, torch.arange(first, max_len, device=rows_t.device), right=True)
    for s, n in zip(range(first, max_len), active_counts.tolist()):  # s: 0-based position being filled
        output, new_state = policy.advance(token[:n], state[:, :n],
                                           None if row_labels is None else row_labels[:n])  # rows with t_r <= s
        state[:, :n] = new_state
        sampled = policy.sample_next(output).masked_fill(finished[:n], PAD_ID)
        completions[:n, s] = sampled
        token[:n] = sampled
        if policy.eos_id is not None:
            finished[:n] |= sampled == policy.eos_id
            if n == finished.numel() and bool(finished.all()):
                break
    return completions


@torch.no_grad()
def rollout_rewards(policy: RNNGenerator, tokens: torch.Tensor, lengths: torch.Tensor, states: torch.Tensor,
                    scorer: RolloutScorer, *, num_rollouts: int, max_len: int, chunk_rows: int,
                    labels: torch.Tensor | None = None) -> torch.Tensor:
    """Q (B, T): Q[b, t-1] is the reward of prefix y_b,1..t; 0 after each sequence's end. With `labels` (B,)
    (a conditional policy) every rollout continues in its sequence's class.

    Completions are scored by `scorer.completion_rewards` (which may share the work of each row's prefix), the
    sampled sequences themselves by `scorer.sequence_rewards`.
    """
    batch, width = tokens.shape
    totals = torch.zeros(batch, width, device=tokens.device)
    rows_b, rows_t = prefix_rows(lengths, num_rollouts)
    for start in range(0, rows_b.numel(), chunk_rows):
        b, t = rows_b[start:start + chunk_rows], rows_t[start:start + chunk_rows]
        completions = rollout_chunk(policy, tokens, states, b, t, max_len, labels)  # (R, max_len)
        rewards = scorer.completion_rewards(completions, b, t)  # (R,)
        totals.index_put_((b, t - 1), rewards.to(totals.dtype), accumulate=True)
    q = totals / num_rollouts
    full = scorer.sequence_rewards()  # (B,) reward of each whole sequence
    q[torch.arange(batch, device=tokens.device), lengths - 1] = full.to(q.dtype)
    steps = torch.arange(width, device=tokens.device)
    return q.masked_fill(steps.unsqueeze(0) >= lengths.unsqueeze(1), 0.0)

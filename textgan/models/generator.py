"""The RNN language-model generator: teacher-forced forward, one-step forward with explicit state, sampling.

Recurrence: step s (1-based) reads x_s (BOS for s = 1, else y_{s-1}) and state h_{s-1}, and returns the logits
of y_s and h_s. A state is one tensor (S, B, H): the LSTM's h stacked over its c (S = 2 * layers), or the GRU's
h (S = layers), so rollouts can cache, index and repeat states without knowing the cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from textgan.models.sampling import sample_logits, sample_outputs
from textgan.models.wrapping import evaluating

Routine = Callable[["RNNGenerator", torch.Tensor, "torch.Tensor | None"], Any]


@dataclass
class Samples:
    """Sampled sequences in the batch layout (y_1..y_L then PAD)."""

    tokens: torch.Tensor                 # (B, T) long
    lengths: torch.Tensor                # (B,) tokens incl. EOS
    states: torch.Tensor | None = None   # (T, S, B, H): states[t-1] is h_t, the state after reading x_t


class RNNGenerator(nn.Module):
    """An LSTM/GRU language model over token ids; never produces the ids in `banned_ids` (masked logits)."""

    def __init__(self, *, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int = 1,
                 cell: Literal["lstm", "gru"] = "lstm", dropout: float = 0.0, tie_weights: bool = False,
                 init_std: float = 0.1, banned_ids: Sequence[int] = (PAD_ID, BOS_ID),
                 eos_id: int | None = EOS_ID) -> None:
        super().__init__()
        self.vocab_size, self.hidden_size, self.num_layers, self.cell = vocab_size, hidden_size, num_layers, cell
        self.eos_id = eos_id  # None: fixed-length data (the oracle); sequences never end early
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(embedding_size, hidden_size, num_layers=num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, init_std)  # SeqGAN initialises every generator parameter from N(0, 0.1)
        if tie_weights:
            self.head.weight = self.embedding.weight
        bias = torch.zeros(vocab_size)
        bias[list(banned_ids)] = float("-inf")
        self.register_buffer("logit_mask", bias)

    # ---- state -------------------------------------------------------------------------------------------
    @property
    def state_layers(self) -> int:
        return 2 * self.num_layers if self.cell == "lstm" else self.num_layers

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """(S, B, H) zeros."""
        return self.head.weight.new_zeros(self.state_layers, batch_size, self.hidden_size)

    def _unpack(self, state: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.cell == "lstm":
            h, c = state.chunk(2, dim=0)
            return h.contiguous(), c.contiguous()
        return state.contiguous()

    @staticmethod
    def _pack(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return torch.cat(state, dim=0) if isinstance(state, tuple) else state

    # ---- forwards ----------------------------------------------------------------------------------------
    def run(self, inputs: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent outputs (B, T, H) of input ids (B, T) (or input embeddings (B, T, E)) and the final state."""
        embedded = self.embedding(inputs) if inputs.dtype == torch.long else inputs
        if state is None:
            state = self.initial_state(embedded.size(0))
        outputs, new_state = self.rnn(self.drop(embedded), self._unpack(state))  # (B, T, H)
        return outputs, self._pack(new_state)

    def project(self, outputs: torch.Tensor) -> torch.Tensor:
        """Logits (..., V) of recurrent outputs (..., H); banned ids get -inf."""
        # The mask joins the (V,) bias, so one addmm does both: a separate (B, T, V) add cost ~10% of an
        # MLE step and of a rollout step on CPU (profiled).
        return F.linear(self.drop(outputs), self.head.weight, self.head.bias + self.logit_mask)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None, *,
                routine: Routine | None = None) -> Any:
        """Teacher-forced logits (B, T, V) of input ids (B, T), and the final state.

        With `routine`, instead `routine(self, inputs, state)`: any other differentiable pass (the fused MLE loss,
        a Gumbel-softmax sample, professor forcing's behaviours), run inside forward so that a DDP wrapper sees it
        and averages its gradients.
        """
        if routine is not None:
            return routine(self, inputs, state)
        outputs, state = self.run(inputs, state)
        return self.project(outputs), state

    def step(self, token: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step: token (B,) and state (S, B, H) -> logits (B, V), output (B, H), new state."""
        output, state = self.advance(token, state)
        return self.project(output), output, state

    def advance(self, token: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step without the output layer: token (B,) and state (S, B, H) -> output (B, H), new state."""
        outputs, state = self.run(token.unsqueeze(1), state)
        return outputs[:, 0], state

    def sample_next(self, output: torch.Tensor) -> torch.Tensor:
        """Draw the next ids (B,) from outputs (B, H) at temperature 1 (the fused, blocked sampler: the same
        distribution as sampling `project(output)`, faster)."""
        return sample_outputs(self.drop(output), self.head.weight, self.head.bias + self.logit_mask)

    @staticmethod
    def shift_right(tokens: torch.Tensor) -> torch.Tensor:
        """Inputs x_1..x_T = BOS, y_1..y_{T-1} of targets (B, T)."""
        bos = tokens.new_full((tokens.size(0), 1), BOS_ID)
        return torch.cat([bos, tokens[:, :-1]], dim=1)

    # ---- sampling ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, num: int, max_len: int, *, temperature: float = 1.0, top_k: int = 0,
               return_states: bool = False) -> Samples:
        """Draw `num` sequences of at most `max_len` tokens (exactly max_len when eos_id is None).

        Runs in eval mode (dropout off) and restores the previous mode.
        """
        with evaluating(self):
            return self._sample(num, max_len, temperature, top_k, return_states)

    def _sample(self, num: int, max_len: int, temperature: float, top_k: int, return_states: bool) -> Samples:
        device = self.head.weight.device
        token = torch.full((num,), BOS_ID, dtype=torch.long, device=device)
        state = self.initial_state(num)
        finished = torch.zeros(num, dtype=torch.bool, device=device)
        tokens, states = [], []
        fast = temperature == 1.0 and top_k == 0
        for _ in range(max_len):
            if fast:
                output, state = self.advance(token, state)  # (B, H)
                token = self.sample_next(output)
            else:
                logits, _, state = self.step(token, state)  # (B, V)
                token = sample_logits(logits, temperature, top_k)
            token = token.masked_fill(finished, PAD_ID)
            tokens.append(token)
            if return_states:
                states.append(state)
            if self.eos_id is not None:
                finished = finished | (token == self.eos_id)
                if bool(finished.all()):
                    break
        out = torch.stack(tokens, dim=1)  # (B, T)
        lengths = (out != PAD_ID).sum(1)
        return Samples(out, lengths, torch.stack(states) if return_states else None)

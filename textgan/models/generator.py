"""The RNN language-model generator: teacher-forced forward, one-step forward with explicit state, sampling.

Recurrence: step s (1-based) reads x_s (BOS for s = 1, else y_{s-1}) and state h_{s-1}, and returns the logits
of y_s and h_s. A state is one tensor (S, B, H): the LSTM's h stacked over its c (S = 2 * layers), or the GRU's
h (S = layers), so rollouts can cache, index and repeat states without knowing the cell.

Class-conditional (num_classes > 0; Mirza & Osindero 2014 feed the condition beside the input): a class
embedding c_y is concatenated to the token embedding at every step (and, with class_initial_state, mapped into
the initial state, tanh(W c_y): h_0, and c_0 for an LSTM). Every path then takes `labels` (B,) class ids;
sampling without labels draws them from the class priors (a mixture). Without classes the generator builds
exactly the modules it always did, and consumes the same random numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from textgan.models import kernels
from textgan.models.sampling import (
    CompiledHead,
    compiled_head,
    sample_compiled,
    sample_logits,
    sample_outputs,
)
from textgan.models.wrapping import evaluating

if TYPE_CHECKING:
    from textgan.models.fake_pool import FakePool

Routine = Callable[["RNNGenerator", torch.Tensor, "torch.Tensor | None"], Any]


@dataclass
class Samples:
    """Sampled sequences in the batch layout (y_1..y_L then PAD)."""

    tokens: torch.Tensor                 # (B, T) long
    lengths: torch.Tensor                # (B,) tokens incl. EOS
    states: torch.Tensor | None = None   # (T, S, B, H): states[t-1] is h_t, the state after reading x_t
    labels: torch.Tensor | None = None   # (B,) the class of each row (a conditional generator)


class RNNGenerator(nn.Module):
    """An LSTM/GRU language model over token ids; never produces the ids in `banned_ids` (masked logits)."""

    def __init__(self, *, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int = 1,
                 cell: Literal["lstm", "gru"] = "lstm", dropout: float = 0.0, tie_weights: bool = False,
                 init_std: float = 0.1, banned_ids: Sequence[int] = (PAD_ID, BOS_ID),
                 eos_id: int | None = EOS_ID, num_classes: int = 0, class_embedding_size: int = 16,
                 class_initial_state: bool = False, class_priors: Sequence[float] | None = None,
                 compiled_sampler: bool = False) -> None:
        super().__init__()
        self.compiled_sampler = compiled_sampler  # draws without top-k by sampling.sample_compiled where it runs
        self._compiled_head: tuple[tuple[float, ...], CompiledHead] | None = None  # (temperature, versions)
        self.vocab_size, self.hidden_size, self.num_layers, self.cell = vocab_size, hidden_size, num_layers, cell
        self.eos_id = eos_id  # None: fixed-length data (the oracle); sequences never end early
        self.num_classes = num_classes
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        condition_size = class_embedding_size if num_classes else 0
        self.rnn = rnn(embedding_size + condition_size, hidden_size, num_layers=num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        self.class_state: nn.Linear | None = None
        self.fake_pool: FakePool | None = None  # set only inside a discriminator phase (models/fake_pool.py)
        if num_classes:  # built (and their random init drawn) only for labelled data
            self.class_embedding = nn.Embedding(num_classes, class_embedding_size)
            if class_initial_state:
                self.class_state = nn.Linear(class_embedding_size, self.state_layers * hidden_size, bias=False)
            priors = torch.full((num_classes,), 1.0 / num_classes) if class_priors is None else \
                torch.tensor(list(class_priors), dtype=torch.float)
            self.register_buffer("class_priors", priors)  # the mixture drawn from when sampling without labels
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

    def initial_state(self, batch_size: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(S, B, H) zeros, or tanh(W c_y) for a generator with class_initial_state (labels (B,))."""
        if self.class_state is None or labels is None:
            return self.head.weight.new_zeros(self.state_layers, batch_size, self.hidden_size)
        mapped = torch.tanh(self.class_state(self.class_embedding(labels)))  # (B, S * H)
        return mapped.view(batch_size, self.state_layers, self.hidden_size).transpose(0, 1).contiguous()

    def condition(self, embedded: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Input embeddings (B, T, E) with the class embedding of labels (B,) appended at every step
        (B, T, E + C); unchanged for an unconditional generator."""
        if not self.num_classes:
            if labels is not None:
                raise ValueError("labels given to an unconditional generator (built with num_classes=0)")
            return embedded
        if labels is None:
            raise ValueError("a class-conditional generator needs labels (B,) on this path")
        classes = self.class_embedding(labels).unsqueeze(1).expand(-1, embedded.size(1), -1)  # (B, T, C)
        return torch.cat([embedded, classes.to(embedded.dtype)], dim=-1)

    def draw_labels(self, num: int) -> torch.Tensor:
        """(num,) class ids drawn from the class priors (a conditional generator's mixture)."""
        return torch.multinomial(self.class_priors, num, replacement=True)

    def _unpack(self, state: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.cell == "lstm":
            h, c = state.chunk(2, dim=0)
            return h.contiguous(), c.contiguous()
        return state.contiguous()

    @staticmethod
    def _pack(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return torch.cat(state, dim=0) if isinstance(state, tuple) else state

    # ---- forwards ----------------------------------------------------------------------------------------
    def run(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
            labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent outputs (B, T, H) of input ids (B, T) (or input embeddings (B, T, E)) and the final state;
        `labels` (B,): class ids (a conditional generator)."""
        embedded = self.embedding(inputs) if inputs.dtype == torch.long else inputs
        embedded = self.condition(embedded, labels)  # (B, T, E [+ C])
        if state is None:
            state = self.initial_state(embedded.size(0), labels)
        outputs, new_state = self.rnn(self.drop(embedded), self._unpack(state))  # (B, T, H)
        return outputs, self._pack(new_state)

    def project(self, outputs: torch.Tensor) -> torch.Tensor:
        """Logits (..., V) of recurrent outputs (..., H); banned ids get -inf."""
        # The mask joins the (V,) bias, so one addmm does both: a separate (B, T, V) add cost ~10% of an
        # MLE step and of a rollout step on CPU (profiled).
        return F.linear(self.drop(outputs), self.head.weight, self.head.bias + self.logit_mask)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None, *,
                labels: torch.Tensor | None = None, routine: Routine | None = None) -> Any:
        """Teacher-forced logits (B, T, V) of input ids (B, T) (class ids `labels` (B,) for a conditional
        generator), and the final state.

        With `routine`, instead `routine(self, inputs, state)`: any other differentiable pass (the fused MLE loss,
        a Gumbel-softmax sample, professor forcing's behaviours), run inside forward so that a DDP wrapper sees it
        and averages its gradients; a routine takes its labels itself (`partial(routine, labels=...)`).
        """
        if routine is not None:
            if labels is not None:
                raise ValueError("give a routine its labels with partial(routine, labels=...)")
            return routine(self, inputs, state)
        outputs, state = self.run(inputs, state, labels)
        return self.project(outputs), state

    def step(self, token: torch.Tensor, state: torch.Tensor,
             labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step: token (B,), state (S, B, H) (and labels (B,)) -> logits (B, V), output (B, H), new state."""
        output, state = self.advance(token, state, labels)
        return self.project(output), output, state

    def advance(self, token: torch.Tensor, state: torch.Tensor,
                labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step without the output layer: token (B,), state (S, B, H) (and labels (B,)) -> output (B, H),
        new state."""
        outputs, state = self.run(token.unsqueeze(1), state, labels)
        return outputs[:, 0], state

    def sample_next(self, output: torch.Tensor, u: torch.Tensor | None = None,
                    temperature: float = 1.0) -> torch.Tensor:
        """Draw the next ids (B,) from outputs (B, H) without materialising the logits: the same distribution as
        sampling `project(output)` at `temperature`, faster; `u` (B, 1): its uniforms (default: drawn there). The
        compiled sampler where `compiled_sampling` allows, at any temperature > 0; else torch's fused, blocked
        sampler, at temperature 1 only."""
        output = self.drop(output)
        lib = self.compiled_sampling(temperature, 0, output)
        if lib is not None:
            return sample_compiled(lib, output, self.compiled_head(lib, temperature), u)
        if temperature != 1.0:
            raise ValueError(f"torch's fused sampler draws at temperature 1 only, not {temperature}")
        return sample_outputs(output, self.head.weight, self.head.bias + self.logit_mask, u=u)

    def compiled_sampling(self, temperature: float, top_k: int, *tensors: torch.Tensor) -> Any | None:
        """The compiled kernels when `compiled_sampler` is on and they can draw at this temperature and top-k (top-k
        0, temperature > 0) from the output layer and `tensors` (all on the CPU at fp32), else None."""
        if not self.compiled_sampler or top_k != 0 or temperature <= 0:
            return None
        return kernels.library_for(self.head.weight, *tensors)

    def compiled_head(self, lib: Any, temperature: float = 1.0) -> CompiledHead:
        """The output layer laid out for the compiled sampler at `temperature`, made again only when a weight or
        the temperature has changed (an in-place update or a load bumps a tensor's version)."""
        weight, bias, mask = self.head.weight, self.head.bias, self.logit_mask
        key = (temperature, *(n for t in (weight, bias, mask) for n in (t.data_ptr(), t._version)))
        if self._compiled_head is None or self._compiled_head[0] != key:
            self._compiled_head = (key, compiled_head(lib, weight, bias + mask, temperature))
        return self._compiled_head[1]

    @staticmethod
    def shift_right(tokens: torch.Tensor) -> torch.Tensor:
        """Inputs x_1..x_T = BOS, y_1..y_{T-1} of targets (B, T)."""
        bos = tokens.new_full((tokens.size(0), 1), BOS_ID)
        return torch.cat([bos, tokens[:, :-1]], dim=1)

    # ---- sampling ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, num: int, max_len: int, *, temperature: float = 1.0, top_k: int = 0,
               return_states: bool = False, labels: torch.Tensor | None = None) -> Samples:
        """Draw `num` sequences of at most `max_len` tokens (exactly max_len when eos_id is None); a conditional
        generator draws each row from its class in `labels` (num,), or, without labels, from classes drawn from
        the class priors (`Samples.labels` says which).

        Runs in eval mode (dropout off) and restores the previous mode. While a fake pool is installed
        (`models/fake_pool.py`, a discriminator phase), plain draws are served from it.
        """
        pool = self.fake_pool
        if pool is not None and pool.serves(max_len, temperature, top_k, return_states):
            return pool.take(num, max_len, labels)
        return self.draw(num, max_len, temperature=temperature, top_k=top_k, return_states=return_states,
                         labels=labels)

    @torch.no_grad()
    def draw(self, num: int, max_len: int, *, temperature: float = 1.0, top_k: int = 0,
             return_states: bool = False, labels: torch.Tensor | None = None) -> Samples:
        """`sample` without a fake pool: always fresh draws."""
        if self.num_classes and labels is None:
            labels = self.draw_labels(num).to(self.head.weight.device)
        with evaluating(self):
            samples = self._sample(num, max_len, temperature, top_k, return_states, labels)
        samples.labels = labels
        return samples

    def _sample(self, num: int, max_len: int, temperature: float, top_k: int, return_states: bool,
                labels: torch.Tensor | None) -> Samples:
        if return_states or self.eos_id is None:
            return self._sample_full(num, max_len, temperature, top_k, return_states, labels)
        return self._sample_running(num, max_len, temperature, top_k, labels)

    def _next_ids(self, token: torch.Tensor, state: torch.Tensor, labels: torch.Tensor | None, temperature: float,
                  top_k: int, u: Callable[[torch.Tensor], torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ids (B,) after token (B,) in state (S, B, H), and the new state; `u(scores)` gives the
        sampler's uniforms (B, 1) in the dtype of scores."""
        fused = temperature == 1.0 and top_k == 0  # torch's fused, blocked sampler
        if fused or self.compiled_sampling(temperature, top_k) is not None:  # or the compiled one, at any T
            output, state = self.advance(token, state, labels)  # (B, H)
            return self.sample_next(output, u(output), temperature), state
        logits, _, state = self.step(token, state, labels)  # (B, V)
        draws = None if temperature == 0 or top_k == 1 else u(logits)  # greedy draws nothing
        return sample_logits(logits, temperature, top_k, u=draws), state

    def _sample_full(self, num: int, max_len: int, temperature: float, top_k: int, return_states: bool,
                     labels: torch.Tensor | None) -> Samples:
        """Every row through every step (the states are returned, or there is no EOS)."""
        device = self.head.weight.device
        token = torch.full((num,), BOS_ID, dtype=torch.long, device=device)
        state = self.initial_state(num, labels)
        finished = torch.zeros(num, dtype=torch.bool, device=device)
        tokens, states = [], []
        for _ in range(max_len):
            token, state = self._next_ids(token, state, labels, temperature, top_k, lambda _: None)
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

    def _sample_running(self, num: int, max_len: int, temperature: float, top_k: int,
                        labels: torch.Tensor | None) -> Samples:
        """Rows leave the batch at their EOS, so later steps run only the unfinished ones. Each step still draws one
        uniform per row of the whole batch, as `_sample_full` does, and hands the running rows theirs: the same
        draws, hence the same samples, in less time (most rows end well before max_len)."""
        device = self.head.weight.device
        out = torch.full((num, max_len), PAD_ID, dtype=torch.long, device=device)  # (B, T)
        rows = torch.arange(num, device=device)  # (R,) the running rows
        token = torch.full((num,), BOS_ID, dtype=torch.long, device=device)  # (R,)
        state = self.initial_state(num, labels)  # (S, R, H)
        steps = 0

        def running(scores: torch.Tensor) -> torch.Tensor:  # a uniform for every row of the batch (the same
            return torch.rand(num, 1, dtype=scores.dtype, device=device)[rows]  # stream); those of running rows

        for t in range(max_len):
            token, state = self._next_ids(token, state, labels, temperature, top_k, running)
            out[rows, t] = token
            steps = t + 1
            going = token != self.eos_id  # (R,)
            if not bool(going.all()):
                if not bool(going.any()):
                    break
                rows, token, state = rows[going], token[going], state[:, going]
                labels = labels[going] if labels is not None else None
        out = out[:, :steps]
        return Samples(out, (out != PAD_ID).sum(1))

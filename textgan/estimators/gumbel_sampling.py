"""Differentiable free-running samples of the RNN generator by the Gumbel-max trick and its softmax relaxation.

At each step t, with logits o_t (B, V) and Gumbel noise g_t = -log(-log u), u ~ U(0, 1):

    y_t   = argmax(o_t + g_t)                    a draw from softmax(o_t) (the Gumbel-max trick)
    s_t   = softmax(beta * (o_t + g_t))          its relaxation at inverse temperature beta (Jang et al. 2017,
                                                 Maddison et al. 2017); s_t -> one_hot(y_t) as beta -> inf

The hard token y_t is the next input of the recurrence (as in RelGAN, Nie et al. 2019: the next input is the
embedding of the argmax, with no gradient through the choice); gradients reach the parameters through s_t. What
the discriminator reads, `GumbelSample.distributions`, depends on the mode:

* ``"soft"``             -- s_t itself (RelGAN);
* ``"straight_through"`` -- one_hot(y_t) in the forward pass, with the gradient of s_t in the backward pass
  (Jang et al. 2017 sec. 2.2; Gu et al. 2017), computed as one_hot + (s - s.detach()), whose forward value is
  exactly the one-hot (x - x is exactly 0 in floating point).

Banned ids (the generator's logit_mask, -inf) keep probability exactly 0: the noise is finite (u is clamped away
from 0), -inf + finite = -inf, beta > 0 keeps it -inf (beta * -inf would be nan only for beta = 0, rejected),
and softmax gives exp(-inf) = 0 there, with a zero gradient.

After EOS (text data) a row is finished: its later tokens are PAD and its later distributions are the constant
PAD one-hot (no gradient). Real data reaches the discriminator as F.one_hot(tokens, V), whose padding is the same
PAD one-hot, and the discriminator's distribution front-end maps PAD mass to the zero vector, so padding looks
the same for real and fake sequences.

`generator(inputs, routine=partial(gumbel_sample, args=GumbelArgs(...)))` runs it inside the (possibly
DistributedDataParallel-wrapped) generator's forward call, so its gradients are averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F

from textgan.data.tokenizers import PAD_ID
from textgan.models.generator import RNNGenerator

GumbelMode = Literal["soft", "straight_through"]
GUMBEL_MODES: tuple[str, ...] = get_args(GumbelMode)


@dataclass
class GumbelArgs:
    """What to sample: `max_len` steps at inverse temperature `beta` (> 0), in `mode`; `noise` (B, max_len, V)
    replaces the fresh Gumbel draws (for tests: fixed noise makes the sample a deterministic function)."""

    beta: float
    max_len: int
    mode: GumbelMode = "soft"
    noise: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0 (beta * -inf is nan at 0), got {self.beta}")
        if self.max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {self.max_len}")
        if self.mode not in GUMBEL_MODES:
            raise ValueError(f"mode must be one of {', '.join(GUMBEL_MODES)}, got {self.mode!r}")


@dataclass
class GumbelSample:
    """A Gumbel-softmax sample in the batch layout (y_1..y_L then PAD)."""

    tokens: torch.Tensor         # (B, T) long: the hard tokens, PAD after EOS
    lengths: torch.Tensor        # (B,) tokens incl. EOS
    distributions: torch.Tensor  # (B, T, V) what D reads: s_t (soft) or one-hot with s_t's gradient (straight-through)
    soft: torch.Tensor           # (B, T, V) the relaxed samples s_t; both are the PAD one-hot after EOS


def gumbel_noise(shape: tuple[int, ...], *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise -log(-log u), u ~ U(0, 1) clamped to >= the smallest normal float: always finite."""
    u = torch.rand(shape, dtype=dtype, device=device, generator=generator)
    u = u.clamp_(min=torch.finfo(dtype).tiny)  # u = 0 would give -inf noise
    return -torch.log(-torch.log(u))


def gumbel_sample(generator: RNNGenerator, inputs: torch.Tensor, state: torch.Tensor | None,
                  args: GumbelArgs, labels: torch.Tensor | None = None) -> GumbelSample:
    """Sample args.max_len steps (fewer if every row ended) from first inputs (B, 1) (BOS) and `state` (None: the
    initial state), each row in its class `labels` (B,) for a conditional generator.

    Call it through `generator(inputs, routine=partial(gumbel_sample, args=args, labels=...))` when the generator
    may be DDP-wrapped.
    """
    if inputs.dim() != 2 or inputs.size(1) != 1:
        raise ValueError(f"gumbel sampling starts from one input id per row, shape (B, 1); got {tuple(inputs.shape)}")
    batch, vocab = inputs.size(0), generator.vocab_size
    if args.noise is not None and (args.noise.shape[0] != batch or args.noise.shape[1] < args.max_len
                                   or args.noise.shape[2] != vocab):
        raise ValueError(f"noise must have shape ({batch}, >= {args.max_len}, {vocab}), got {tuple(args.noise.shape)}")
    token = inputs[:, 0]
    state = generator.initial_state(batch, labels) if state is None else state
    finished = torch.zeros(batch, dtype=torch.bool, device=inputs.device)
    tokens, distributions, softs = [], [], []
    pad_row: torch.Tensor | None = None
    for t in range(args.max_len):
        logits, _, state = generator.step(token, state, labels)  # (B, V); banned ids -inf
        noise = args.noise[:, t] if args.noise is not None else gumbel_noise(
            tuple(logits.shape), dtype=logits.dtype, device=logits.device)
        perturbed = logits + noise  # (B, V); banned ids stay -inf
        hard = perturbed.detach().argmax(-1)  # (B,): a draw from softmax(o_t)
        soft = torch.softmax(args.beta * perturbed, dim=-1)  # (B, V)
        if args.mode == "straight_through":
            dist = F.one_hot(hard, vocab).to(soft.dtype) + (soft - soft.detach())  # forward: exactly one-hot
        else:
            dist = soft
        if generator.eos_id is not None:
            if pad_row is None:
                pad_row = F.one_hot(torch.tensor(PAD_ID, device=soft.device), vocab).to(soft.dtype)  # (V,)
            done = finished.unsqueeze(1)  # (B, 1)
            dist = torch.where(done, pad_row, dist)
            soft = torch.where(done, pad_row, soft)
            hard = hard.masked_fill(finished, PAD_ID)
        tokens.append(hard)
        distributions.append(dist)
        if args.mode != "soft":  # in soft mode the distributions are the soft samples: stack them once
            softs.append(soft)
        token = hard  # the hard token drives the recurrence (RelGAN)
        if generator.eos_id is not None:
            finished = finished | (hard == generator.eos_id)
            if bool(finished.all()):
                break
    out = torch.stack(tokens, dim=1)  # (B, T)
    dists = torch.stack(distributions, dim=1)  # (B, T, V)
    return GumbelSample(out, (out != PAD_ID).sum(1), dists, torch.stack(softs, dim=1) if softs else dists)

"""Professor forcing (Lamb et al. 2016): make the generator's free-running dynamics look teacher-forced.

For a batch of real sequences the generator runs twice from the same start (BOS, zero state):

* teacher-forced: reading the real inputs x_1..x_T = BOS, y_1..y_{T-1}; its top-layer hidden states h_1..h_T
  (B, T, H) and the NLL of y_1..y_T (exactly `training.mle.mle_loss`);
* free-running: feeding back its own samples for the same T steps (the batch's longest length); hidden states
  h'_1..h'_T (B, T, H). Sampled tokens are constants (no gradient through the choice); the gradient of the
  adversarial terms reaches the parameters through the hidden states.

A behaviour discriminator D reads (B, T, H) hidden-state sequences, teacher-forced = real, free-running = fake
(Lamb et al. 2016, "Proposed approach"): the CNN's "features" front-end by default, the paper's bidirectional
GRU + MLP with `discriminator="gru"` (unconditional). A conditional CNN reads each row's class (the free-running
pass runs in the real row's class). Losses (both minimised; the GAN loss family of `estimators/losses.py`):

    D:  discriminator_loss(D(h.detach()), D(h'.detach()))                        (+ gp_weight * GP for wgan-gp)
    G:  NLL + gate * (weight_f * C_f + weight_t * C_t)
        C_f = generator_loss(D(h).detach(), D(h'))     free-running states should look teacher-forced
        C_t = generator_loss(-D(h').detach(), -D(h))   teacher-forced states should look free-running
                                                       (negated logits swap the real and fake labels)

C_f moves only the free-running states and C_t only the teacher-forced ones, as in the paper. With
weight_f = weight_t = 0 the generator's gradient is exactly the MLE gradient.

Gate: Lamb et al. 2016 train G through D only while D's accuracy is above 75%, and pause D above 99%. Here the
adversarial term is used only while gate_low <= accuracy <= gate_high, the accuracy being D's on this batch's two
behaviours (D in the loop's mode). Pausing D is the loop's business (it owns the steps) and is not done; a
gate_high below 1 instead closes G's term while D is near-perfect. Logged: `d_acc` and `gate_open` (1/0; its
mean over a round is the fraction of open steps).

Masking: free-running rows do not stop at a sampled EOS (they keep feeding their samples back), but each row's
behaviour pair is cut at the common length min(real length, free-running length up to its first EOS), and
positions beyond it are zero for both. So every state D sees was reached before any EOS was read, and D cannot
tell the two behaviours apart by length alone.

DDP: both passes go through the (possibly wrapped) generator's forward (`generator(x, routine=...)`), two
forwards and one backward; the generator loss reads the unwrapped D with its parameters frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from textgan.config import opt
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import PAD_ID
from textgan.estimators import losses
from textgan.estimators.class_head import check_conditioning, discriminator_labels, fake_labels, score
from textgan.estimators.common import accuracy_logs, gan_discriminator_loss, with_gradient_penalty
from textgan.estimators.interface import DiscriminatorShelf, EstimatorContext, Logs
from textgan.models.behaviour_discriminator import GRUBehaviourDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.models.sampling import sample_logits
from textgan.models.teacher_forcing import TeacherForced, teacher_forced_nll
from textgan.models.wrapping import frozen, unwrap


@dataclass
class ProfessorOptions:
    discriminator: Literal["cnn", "gru"] = opt("cnn", "behaviour discriminator over hidden states")
    gru_hidden: int = opt(64, "hidden size of the bidirectional-GRU behaviour discriminator", min=1)
    weight_f: float = opt(1.0, "weight of C_f: make free-running states look teacher-forced", min=0)
    weight_t: float = opt(0.0, "weight of C_t: make teacher-forced states look free-running", min=0)
    gate_low: float = opt(0.0, "skip the adversarial term while D accuracy is below this (paper: 0.75)", min=0, max=1)
    gate_high: float = opt(1.0, "... or above this (the paper pauses D above 0.99 instead)", min=0, max=1)
    gp_weight: float = opt(10.0, "gradient-penalty lambda for gan_loss=wgan-gp", min=0)

    def __post_init__(self) -> None:
        if self.gate_low > self.gate_high:
            raise ValueError(f"gate_low ({self.gate_low}) must be <= gate_high ({self.gate_high})")


@dataclass
class FreeRunning:
    """A free-running pass of the generator over T steps."""

    hidden: torch.Tensor   # (B, T, H) top-layer hidden states h'_1..h'_T
    tokens: torch.Tensor   # (B, T) the sampled tokens (constants)
    lengths: torch.Tensor  # (B,) tokens up to the first sampled EOS (T if none)


def free_running(generator: RNNGenerator, inputs: torch.Tensor, state: torch.Tensor | None, *, steps: int,
                 temperature: float = 1.0, labels: torch.Tensor | None = None) -> FreeRunning:
    """`steps` steps from first inputs (B, 1) (BOS), each step reading the previous step's sample (each row in
    its class `labels` (B,) for a conditional generator).

    Never stops early (a sampled EOS is fed back like any token). Call it through
    `generator(bos, routine=partial(free_running, steps=T))` when the generator may be DDP-wrapped.
    """
    if inputs.dim() != 2 or inputs.size(1) != 1:
        raise ValueError(f"free running starts from one input id per row, shape (B, 1); got {tuple(inputs.shape)}")
    token = inputs[:, 0]  # (B,)
    state = generator.initial_state(inputs.size(0), labels) if state is None else state  # (S, B, H)
    hidden, tokens = [], []
    for _ in range(steps):
        logits, output, state = generator.step(token, state, labels)  # (B, V), (B, H), (S, B, H)
        token = sample_logits(logits.detach(), temperature)  # (B,): a constant, no gradient through the choice
        hidden.append(output)
        tokens.append(token)
    sampled = torch.stack(tokens, dim=1)  # (B, T)
    return FreeRunning(torch.stack(hidden, dim=1), sampled, free_running_lengths(sampled, generator.eos_id))


def free_running_lengths(tokens: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """(B,) tokens up to and including the first EOS of sampled tokens (B, T); T where there is none."""
    steps = tokens.size(1)
    if eos_id is None:
        return torch.full((tokens.size(0),), steps, dtype=torch.long, device=tokens.device)
    is_eos = tokens == eos_id  # (B, T)
    first = is_eos.int().argmax(1) + 1  # (B,): argmax finds the first maximum
    return torch.where(is_eos.any(1), first, torch.full_like(first, steps)).long()


def mask_steps(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zero the states (B, T, H) beyond each row's length (B,); zero is also the CNN's padding."""
    steps = torch.arange(hidden.size(1), device=hidden.device)
    return hidden * (steps.unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1).to(hidden.dtype)


class ProfessorForcing:
    """Professor forcing: NLL plus an adversarial match of free-running to teacher-forced hidden states."""

    Options: ClassVar[type] = ProfessorOptions
    pretrains_discriminator: ClassVar[bool] = True
    token_fakes: ClassVar[bool] = False  # its D reads soft samples or hidden states

    def __init__(self, options: ProfessorOptions, context: EstimatorContext) -> None:
        check_conditioning(context)
        if context.conditional != "none" and options.discriminator == "gru":
            raise ValueError("the GRU behaviour discriminator is unconditional; use professor.discriminator=cnn or "
                             "discriminator.conditional=none")
        self.options = options
        self.gan_loss, self.label_smoothing, self.conditional = (context.gan_loss, context.label_smoothing,
                                                                 context.conditional)

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        """The bidirectional-GRU behaviour discriminator, or the configured CNN on hidden-state features."""
        if self.options.discriminator == "gru":
            return GRUBehaviourDiscriminator(feature_size=shelf.feature_size, hidden_size=self.options.gru_hidden,
                                             mlp_hidden=self.options.gru_hidden)
        return shelf.cnn("features")

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        pass  # stateless: the gate is decided afresh on every batch

    # ---- the two behaviours ----------------------------------------------------------------------------------
    def behaviours(self, generator: nn.Module, real: TokenBatch) -> tuple[TeacherForced, FreeRunning, torch.Tensor]:
        """Teacher-forced and free-running passes over `real` through `generator`'s forward (DDP-safe), and the
        common lengths (B,) at which each row's pair is cut."""
        inputs = RNNGenerator.shift_right(real.tokens)  # (B, T)
        teacher = generator(inputs, routine=partial(teacher_forced_nll, targets=real.tokens, labels=real.labels))
        free = generator(inputs[:, :1], routine=partial(free_running, steps=real.tokens.size(1), labels=real.labels))
        return teacher, free, torch.minimum(real.lengths, free.lengths)  # (B,)

    def _score(self, discriminator: nn.Module, features: torch.Tensor, lengths: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) logits of masked behaviour sequences (B, T, H); the GRU also skips the padding; a conditional CNN
        reads the rows' classes `labels` (B,)."""
        if self.options.discriminator == "gru":
            return discriminator(features, lengths)
        return score(discriminator, features, labels)

    # ---- losses ----------------------------------------------------------------------------------------------
    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        teacher, free, lengths = self.behaviours(generator, real)
        nll = teacher.nll / (real.tokens != PAD_ID).sum()  # mean per real token, as training.mle.mle_loss
        d, labels = unwrap(discriminator), discriminator_labels(self.conditional, real.labels)
        with frozen(d):  # gradients reach the hidden states only (D stays in the loop's mode, as cuDNN RNNs need)
            real_logits = self._score(d, mask_steps(teacher.hidden, lengths), lengths, labels)  # (B,)
            fake_logits = self._score(d, mask_steps(free.hidden, lengths), lengths, labels)     # (B,)
        kind = self.gan_loss
        c_f = losses.generator_loss(kind, real_logits.detach(), fake_logits)
        c_t = losses.generator_loss(kind, -fake_logits.detach(), -real_logits)
        acc = accuracy_logs(real_logits.detach(), fake_logits.detach())
        d_acc = (acc["d_acc_real"] + acc["d_acc_fake"]) / 2
        o = self.options
        gate = 1.0 if o.gate_low <= d_acc <= o.gate_high else 0.0
        # A closed gate multiplies by 0 rather than dropping the term: the graph (and DDP's view of it) is the
        # same at every step.
        loss = nll + gate * (o.weight_f * c_f + o.weight_t * c_t)
        return loss, {"g_loss": float(loss.detach()), "nll": float(nll.detach()), "c_f": float(c_f.detach()),
                      "c_t": float(c_t.detach()), "d_acc": d_acc, "gate_open": gate,
                      "free_len": float(free.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        with torch.no_grad():  # the behaviours as constants (the generator in the loop's mode, as in its loss)
            teacher, free, lengths = self.behaviours(unwrap(generator), real)
        real_features, fake_features = mask_steps(teacher.hidden, lengths), mask_steps(free.hidden, lengths)
        labels, fakes = (discriminator_labels(self.conditional, real.labels),
                         fake_labels(self.conditional, real.labels))  # free-running rows run in the real rows' class
        real_logits = self._score(discriminator, real_features, lengths, labels)  # (B,)
        fake_logits = self._score(discriminator, fake_features, lengths, fakes)  # (B,)
        loss, logs = gan_discriminator_loss(real_logits, fake_logits, gan_loss=self.gan_loss,
                                            label_smoothing=self.label_smoothing, conditional=self.conditional)
        # Both behaviours share the lengths, so interpolating them keeps the same padding.
        loss = with_gradient_penalty(loss, logs, gan_loss=self.gan_loss, weight=self.options.gp_weight,
                                     critic=partial(self._score, unwrap(discriminator), lengths=lengths,
                                                    labels=labels),
                                     inputs=lambda: (real_features, fake_features))
        return loss, logs

    def state_dict(self) -> dict[str, Any]:
        return {}  # stateless: the gate is decided afresh on every batch

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        pass

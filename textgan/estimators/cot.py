"""Cooperative training, CoT (Lu et al. 2019, ICML "CoT: Cooperative Training for Generative Modeling of
Discrete Data"): no discriminator, a mediator language model M instead.

The mediator M (an `RNNGenerator` over the same tokens, banning the generator's banned ids; by default twice
the generator's embedding and hidden sizes, as the paper's synthetic setting) is trained by maximum likelihood
on a balanced mixture of real sequences and fresh generator samples (Lu et al. 2019, Algorithm 1):

    mediator loss  J_m = NLL of M on the mixture {B real} u {B fresh samples of G}, per token (padding excluded)

so M estimates the mixture density (p + G) / 2. The generator minimises, on its own samples s ~ G (the prefixes
as constants, as the paper's and its released code's gradient), the exact per-prefix KL over the whole vocabulary
(Lu et al. 2019, Algorithm 1):

    generator loss  = mean over live prefixes s_t of  sum_v pi_G(v|s_t) [log pi_G(v|s_t) - log pi_M(v|s_t)]

No REINFORCE, no rollouts: every prefix and every token give a dense signal. Terms with pi_G(v|s_t) = 0 (the
banned ids, logits -inf) are exactly 0 (their log-probabilities are replaced by 0 before the product, so neither
the value nor the gradient sees -inf - -inf). A prefix is live up to and including its row's EOS.

G/M step ratio: the loop's g_steps generator steps per round against d_steps x d_epochs mediator epochs of
ceil(d_num_samples / batch_size) batches each (the shipped configs: 1 : 1, the released code's synthetic
setting). Learning rates: adversarial.g_lr and adversarial.d_lr (the mediator's). With or without MLE
pretraining (pretrain.epochs=0: from scratch, as the released script).

DDP: the generator's teacher-forced pass over its samples and the mediator's pass over the mixture go through
the (possibly wrapped) models' forwards; M's log-probabilities in the generator loss are constants (no_grad).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config import opt
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import PAD_ID
from textgan.estimators.class_head import check_conditioning
from textgan.estimators.common import no_labels, sequence_log_probs
from textgan.estimators.interface import DiscriminatorShelf, EstimatorContext, Logs
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import unwrap


@dataclass
class CoTOptions:
    mediator_embedding_size: int = opt(0, "mediator token embedding size (0: twice the generator's, as the paper)",
                                       min=0)
    mediator_hidden_size: int = opt(0, "mediator LSTM hidden size (0: twice the generator's, as the paper)", min=0)


def prefix_kl(g_logits: torch.Tensor, m_logits: torch.Tensor, live: torch.Tensor) -> torch.Tensor:
    """Mean over live prefixes of KL(pi_G || pi_M) over the vocabulary: logits (B, T, V), live (B, T) bool.
    Ids with pi_G = 0 (logit -inf) contribute exactly 0; pi_M must be > 0 wherever pi_G is."""
    log_g = torch.log_softmax(g_logits, dim=-1)  # (B, T, V); -inf at banned ids
    log_m = torch.log_softmax(m_logits, dim=-1)  # (B, T, V)
    zero = torch.isinf(log_g)  # pi_G = 0 exactly
    log_g, log_m = log_g.masked_fill(zero, 0.0), log_m.masked_fill(zero, 0.0)
    per_prefix = (log_g.exp().masked_fill(zero, 0.0) * (log_g - log_m)).sum(-1)  # (B, T)
    return per_prefix[live].sum() / live.sum().clamp(min=1)


def live_prefixes(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, steps) bool: positions up to and including each row's last token (lengths (B,))."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class CooperativeTraining:
    """CoT: the generator minimises its per-prefix KL to a mediator trained by MLE on real + generated text."""

    Options: ClassVar[type] = CoTOptions
    pretrains_discriminator: ClassVar[bool] = False  # the mediator learns by maximum likelihood in the rounds
    token_fakes: ClassVar[bool] = True  # its D loss draws generator.sample fakes

    def __init__(self, options: CoTOptions, context: EstimatorContext) -> None:
        check_conditioning(context)  # a conditional D without labelled data: the shared one-line error
        if context.num_classes:  # the mediator is an unconditional language model
            raise ValueError("does not support class labels; train it on unlabelled data")
        self.options, self.max_len = options, context.max_len

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        """The mediator: an LSTM language model over the generator's tokens, banning the same ids."""
        o = self.options
        embedding = o.mediator_embedding_size or 2 * (shelf.embedding_size or shelf.feature_size)
        hidden = o.mediator_hidden_size or 2 * shelf.feature_size
        return RNNGenerator(vocab_size=shelf.vocab_size, embedding_size=embedding, hidden_size=hidden,
                            banned_ids=shelf.banned_ids, eos_id=shelf.eos_id)

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        pass  # stateless

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        no_labels(real, "cot")
        fake = unwrap(generator).sample(real.tokens.size(0), self.max_len)  # prefixes as constants
        inputs = RNNGenerator.shift_right(fake.tokens)  # (B, T)
        g_logits, _ = generator(inputs)  # (B, T, V) through the wrapper
        with torch.no_grad():
            m_logits, _ = unwrap(discriminator)(inputs)  # (B, T, V)
        loss = prefix_kl(g_logits, m_logits, live_prefixes(fake.lengths, inputs.size(1)))
        return loss, {"g_loss": float(loss.detach()), "sample_len": float(fake.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        no_labels(real, "cot")
        fake = unwrap(generator).sample(real.tokens.size(0), self.max_len)  # fresh samples, eval mode
        mixture = mix(real, TokenBatch(fake.tokens, fake.lengths))
        logp = sequence_log_probs(discriminator, mixture.tokens, mixture.lengths)  # (2B, T) through the wrapper
        loss = -logp.sum() / mixture.lengths.sum()
        batch = real.tokens.size(0)
        with torch.no_grad():
            nll_real = -logp[:batch].sum() / real.lengths.sum()
            nll_fake = -logp[batch:].sum() / fake.lengths.sum().clamp(min=1)
        return loss, {"d_loss": float(loss.detach()), "mediator_nll_real": float(nll_real),
                      "mediator_nll_fake": float(nll_fake)}

    def state_dict(self) -> dict[str, Any]:
        return {}  # the mediator and its optimizer are the run's discriminator and D optimizer

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        pass


def mix(real: TokenBatch, fake: TokenBatch) -> TokenBatch:
    """Real rows then fake rows (2B, T), both padded with PAD to the longer width."""
    width = max(real.tokens.size(1), fake.tokens.size(1))
    tokens = torch.cat([F.pad(t, (0, width - t.size(1)), value=PAD_ID) for t in (real.tokens, fake.tokens)])
    return TokenBatch(tokens, torch.cat([real.lengths, fake.lengths]))

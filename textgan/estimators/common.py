"""Plain helpers shared by estimators: sequence log-probabilities, fake samples, the token-level D loss."""

from __future__ import annotations

import torch
from torch import nn

from textgan.data.batching import TokenBatch
from textgan.estimators import losses
from textgan.estimators.interface import Logs
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import unwrap


def sequence_log_probs(generator: nn.Module, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T) log G(y_t | y_<t) by teacher forcing from BOS through `generator`'s forward (DDP-safe); 0 on padding."""
    logits, _ = generator(RNNGenerator.shift_right(tokens))  # (B, T, V)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
    steps = torch.arange(tokens.size(1), device=tokens.device)
    return logp.masked_fill(steps.unsqueeze(0) >= lengths.unsqueeze(1), 0.0)


def accuracy_logs(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> Logs:
    """Discriminator accuracy on real (logit > 0) and fake (logit < 0) inputs, and d_auc: the share of (real,
    fake) pairs in which the real one scores higher. Relativistic, Wasserstein and hinge critics put no meaning
    in the sign of a logit (an RSGAN D may score everything positive), so for them read d_auc."""
    auc = (real_logits.reshape(-1, 1) > fake_logits.reshape(1, -1)).float().mean()  # (B_r, B_f) comparisons
    return {"d_acc_real": float((real_logits > 0).float().mean()),
            "d_acc_fake": float((fake_logits < 0).float().mean()), "d_auc": float(auc)}


def token_discriminator_loss(generator: nn.Module, discriminator: nn.Module, real: TokenBatch, *, max_len: int,
                             gan_loss: str, label_smoothing: float) -> tuple[torch.Tensor, Logs]:
    """D loss on `real` against as many fresh token samples from the (unwrapped) generator."""
    fake = unwrap(generator).sample(real.tokens.size(0), max_len)
    real_logits = discriminator(real.tokens)  # (B,)
    fake_logits = discriminator(fake.tokens)  # (B,)
    loss = losses.discriminator_loss(gan_loss, real_logits, fake_logits, label_smoothing=label_smoothing)
    return loss, {"d_loss": float(loss.detach()), **accuracy_logs(real_logits.detach(), fake_logits.detach())}

"""Plain helpers shared by estimators: sequence log-probabilities, the token-level D loss, the WGAN-GP term,
accuracy logs, refusing class labels."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import PAD_ID
from textgan.errors import UserError
from textgan.estimators import losses
from textgan.estimators.class_head import class_head_loss, discriminator_labels, fake_labels
from textgan.estimators.interface import Logs
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import unwrap


def no_labels(real: TokenBatch, estimator: str) -> None:
    """One-line error for class labels given to an estimator that cannot condition on them."""
    if real.labels is not None:
        raise UserError(f"the {estimator} estimator does not support class labels; train it on unlabelled data")


def with_gradient_penalty(loss: torch.Tensor, logs: Logs, *, gan_loss: str, weight: float,
                          critic: Callable[[torch.Tensor], torch.Tensor],
                          inputs: Callable[[], tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """`loss` + weight * WGAN-GP penalty (Gulrajani et al. 2017) of `critic` between the (real, fake) critic
    inputs that `inputs()` builds, for gan_loss=wgan-gp with weight > 0 while autograd is on (held-out scoring
    runs without it); `loss` unchanged otherwise. Logs the penalty as gradient_penalty."""
    if gan_loss != "wgan-gp" or weight <= 0 or not torch.is_grad_enabled():
        return loss
    real, fake = inputs()
    penalty = losses.gradient_penalty(critic, real, fake)
    logs["gradient_penalty"] = float(penalty.detach())
    return loss + weight * penalty


def sequence_log_probs(generator: nn.Module, tokens: torch.Tensor, lengths: torch.Tensor,
                       labels: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T) log G(y_t | y_<t[, class]) by teacher forcing from BOS through `generator`'s forward (DDP-safe);
    0 on padding. `labels` (B,): each row's class (a conditional generator)."""
    logits, _ = generator(RNNGenerator.shift_right(tokens), labels=labels)  # (B, T, V)
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


def gan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, *, gan_loss: str,
                           label_smoothing: float, conditional: str = "none") -> tuple[torch.Tensor, Logs]:
    """D's loss and logs on its real and fake logits: the run's GAN loss, or with the (K+1)-class head
    (conditional=classes) its cross-entropy, real rows scored with their class and fake rows without
    (`class_head.class_head_loss`)."""
    if conditional == "classes":
        return class_head_loss(real_logits, fake_logits)
    loss = losses.discriminator_loss(gan_loss, real_logits, fake_logits,  # type: ignore[arg-type]
                                     label_smoothing=label_smoothing)
    return loss, {"d_loss": float(loss.detach()), **accuracy_logs(real_logits.detach(), fake_logits.detach())}


def token_discriminator_loss(generator: nn.Module, discriminator: nn.Module, real: TokenBatch, *, max_len: int,
                             gan_loss: str, label_smoothing: float,
                             conditional: str = "none") -> tuple[torch.Tensor, Logs]:
    """D loss on `real` against as many fresh token samples from the (unwrapped) generator, of the real rows'
    classes on labelled data; a conditional D (`conditional`, as `EstimatorContext.conditional`) reads the labels
    as `estimators/class_head.py` says. Real and fake rows go through D in one call when they read the same kind
    of labels (one pass over D's weights, one gradient; each row is scored on its own)."""
    fake = unwrap(generator).sample(real.tokens.size(0), max_len, labels=real.labels)
    width = max(real.tokens.size(1), fake.tokens.size(1))
    both = torch.cat([F.pad(real.tokens, (0, width - real.tokens.size(1)), value=PAD_ID),
                      F.pad(fake.tokens, (0, width - fake.tokens.size(1)), value=PAD_ID)])  # (2B, T)
    labels, fakes = discriminator_labels(conditional, real.labels), fake_labels(conditional, real.labels)
    if labels is None:
        real_logits, fake_logits = discriminator(both).split(real.tokens.size(0))  # (B,), (B,)
    elif fakes is not None:  # projection: (x, y) pairs, the fakes of the real rows' classes
        real_logits, fake_logits = discriminator(both, torch.cat([labels, fakes])).split(real.tokens.size(0))
    else:  # the (K+1)-class head: real rows under their class, fakes without
        real_logits, fake_logits = (discriminator(both[:real.tokens.size(0)], labels),
                                    discriminator(both[real.tokens.size(0):]))
    return gan_discriminator_loss(real_logits, fake_logits, gan_loss=gan_loss, label_smoothing=label_smoothing,
                                  conditional=conditional)

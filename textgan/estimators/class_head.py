"""The (K+1)-class discriminator head's objective and reward (SentiGAN, Wang & Wan 2018; CatGAN, Liu et al. 2020).

D classifies a sequence into one of K real classes or "fake" (class K). Its loss is the cross-entropy over K+1
classes, real sequences labelled with their own class and generated ones with fake; REINFORCE's reward for a
sequence generated for class y is P(class = y | x), which `CNNDiscriminator(conditional="classes")` returns as
sigmoid of its logit ``d(x, labels)`` (so the table scorer and every rollout path give it too). Only the
cross-entropy GAN loss means anything for such a head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from textgan.errors import UserError
from textgan.estimators.interface import Logs
from textgan.models.discriminator import CNNDiscriminator


def check_class_head_loss(gan_loss: str) -> None:
    """One-line error unless `gan_loss` is the cross-entropy ("bce") the (K+1)-class head is trained with."""
    if gan_loss != "bce":
        raise UserError(f"the (K+1)-class discriminator head is trained by cross-entropy, not gan_loss={gan_loss}; "
                        f"use gan_loss=bce or discriminator.conditional=projection")


def class_discriminator_loss(real_logits: torch.Tensor, real_labels: torch.Tensor,
                             fake_logits: torch.Tensor) -> tuple[torch.Tensor, Logs]:
    """Cross-entropy over K+1 classes of real rows (B, K+1) against their classes (B,) and fake rows (B', K+1)
    against class K, the mean over all B + B' rows; logs the loss and each side's accuracy (argmax)."""
    fake_class = real_logits.size(-1) - 1
    fake_labels = torch.full((fake_logits.size(0),), fake_class, dtype=torch.long, device=fake_logits.device)
    loss = F.cross_entropy(torch.cat([real_logits, fake_logits]), torch.cat([real_labels, fake_labels]))
    with torch.no_grad():
        acc_real = (real_logits.argmax(-1) == real_labels).float().mean()
        acc_fake = (fake_logits.argmax(-1) == fake_class).float().mean()
    return loss, {"d_loss": float(loss.detach()), "d_acc_real": float(acc_real), "d_acc_fake": float(acc_fake)}


def class_reward(d: CNNDiscriminator, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """P(class = y | x) (B,) of token rows (B, T) under the (K+1)-class head, y = `labels` (B,), the class each
    sequence was generated for: SentiGAN's reward."""
    if d.conditional != "classes":
        raise ValueError(f"class_reward needs a (K+1)-class head (conditional='classes'), not {d.conditional!r}")
    return torch.sigmoid(d(tokens, labels))  # sigmoid(log P(y|x) - log(1 - P(y|x))) = P(y|x)

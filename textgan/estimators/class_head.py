"""The (K+1)-class discriminator head's objective and reward (SentiGAN, Wang & Wan 2018; CatGAN, Liu et al. 2020).

D classifies a sequence into one of K real classes or "fake" (class K). Its loss is the cross-entropy over K+1
classes, real sequences labelled with their own class and generated ones with fake; REINFORCE's reward for a
sequence generated for class y is P(class = y | x), which `CNNDiscriminator(conditional="classes")` returns as
sigmoid of its logit ``d(x, labels)`` (so the table scorer and every rollout path give it too). Only the
cross-entropy GAN loss means anything for such a head.

How an estimator's discriminator reads labels (`EstimatorContext.conditional`): every score of a generated
sequence is d(x, y) with y the class it was generated for (rewards, generator losses); a projection D's own loss
scores real and generated pairs (x, y) alike; the (K+1)-class head's loss is `class_head_loss`, the K+1
cross-entropy read from D's forward (real rows under their class, generated rows without labels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textgan.errors import UserError
from textgan.estimators.interface import EstimatorContext, Logs


def check_class_head_loss(gan_loss: str) -> None:
    """One-line error unless `gan_loss` is the cross-entropy ("bce") the (K+1)-class head is trained with."""
    if gan_loss != "bce":
        raise UserError(f"the (K+1)-class discriminator head is trained by cross-entropy, not gan_loss={gan_loss}; "
                        f"use gan_loss=bce or discriminator.conditional=projection")


def check_labelled(conditional: str, num_classes: int) -> None:
    """One-line error for a class-conditional discriminator (`conditional` other than "none") without labelled
    data (`num_classes` < 1)."""
    if conditional != "none" and num_classes < 1:
        raise UserError(f"discriminator.conditional={conditional} needs labelled training data; set "
                        f"discriminator.conditional=none or give data with class labels")


def check_conditioning(context: EstimatorContext) -> None:
    """One-line errors, when an estimator is built, for a conditional discriminator it cannot train: no labelled
    data, or a (K+1)-class head with a GAN loss other than cross-entropy or with label smoothing."""
    check_labelled(context.conditional, context.num_classes)
    if context.conditional == "classes":
        check_class_head_loss(context.gan_loss)
        if context.label_smoothing > 0:
            raise UserError(f"the (K+1)-class discriminator head takes no label smoothing (got "
                            f"adversarial.label_smoothing={context.label_smoothing}); set it to 0")


def discriminator_labels(conditional: str, labels: torch.Tensor | None) -> torch.Tensor | None:
    """The class ids (B,) a discriminator (`conditional`: `EstimatorContext.conditional`) reads with the sequences
    `labels` belong to: the labels themselves for a
    conditional D (its score of a sequence generated for class y is d(x, y)), None for an unconditional one."""
    return None if conditional == "none" else labels


def fake_labels(conditional: str, labels: torch.Tensor | None) -> torch.Tensor | None:
    """The class ids D's own loss scores generated sequences with: their classes for a projection D (it learns
    real (x, y) pairs against generated ones), None for the (K+1)-class head (its fake class is "fake" whatever a
    sequence was generated for) and for an unconditional D."""
    return labels if conditional == "projection" else None


def class_head_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, Logs]:
    """The cross-entropy over K+1 classes (real rows against their own class, fake rows against class K) from D's
    forward logits: real rows scored with their own class, d(x, y) =
    log P(y|x) - log(1 - P(y|x)), so -log P(y|x) = softplus(-d(x, y)); fake rows scored without labels,
    d(x) = log P(real|x) - log P(fake|x), so -log P(fake|x) = softplus(d(x)). The mean over all rows; read
    through D's forward, so DDP averages its gradients. Logs d_acc_real: the
    share of real rows with P(y|x) > 1/2, d_acc_fake: of fake rows with P(fake|x) > 1/2."""
    loss = torch.cat([F.softplus(-real_logits).reshape(-1), F.softplus(fake_logits).reshape(-1)]).mean()
    with torch.no_grad():
        acc_real, acc_fake = (real_logits > 0).float().mean(), (fake_logits < 0).float().mean()
    return loss, {"d_loss": float(loss.detach()), "d_acc_real": float(acc_real), "d_acc_fake": float(acc_fake)}


def score(discriminator: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """`discriminator(x, labels)`, or `discriminator(x)` without labels (an unconditional D, which may take none)."""
    return discriminator(x) if labels is None else discriminator(x, labels)

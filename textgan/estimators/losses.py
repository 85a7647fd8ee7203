"""GAN objectives shared by every estimator (REINFORCE, Gumbel-softmax, professor forcing).

All functions take raw discriminator/critic outputs ("logits", real = positive), use
numerically stable BCE-with-logits, and return the mean over the batch. Both the
discriminator and the generator *minimise* the returned values.

Kinds:

* ``"bce"``     -- standard GAN (Goodfellow et al. 2014). D: BCE(real, 1) + BCE(fake, 0);
  G: the saturating minimax objective log(1 - D(fake)) = -BCE(fake, 0).
* ``"nsgan"``   -- same D; G: the non-saturating BCE(fake, 1) (Goodfellow et al. 2014, sec. 3).
* ``"rsgan"``   -- relativistic standard GAN (Jolicoeur-Martineau 2018; used by RelGAN,
  Nie et al. 2019). D: BCE(real - fake, 1); G: BCE(fake - real, 1), pairing real and fake
  elementwise.
* ``"wgan-gp"`` -- Wasserstein critic (Arjovsky et al. 2017) with gradient penalty
  (Gulrajani et al. 2017). D: mean(fake) - mean(real) (the caller adds
  ``lambda * gradient_penalty(...)``); G: -mean(fake).
* ``"hinge"``   -- hinge loss (Lim & Ye 2017; Miyato et al. 2018). D: mean(relu(1 - real)) +
  mean(relu(1 + fake)); G: -mean(fake).

One-sided label smoothing (Salimans et al. 2016): ``label_smoothing=s`` sets the real target
to 1 - s (0.1 <-> targets 0.9) in the discriminator loss for bce/nsgan/rsgan; it has no
meaning for wgan-gp and hinge, where a non-zero value is rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

GanLossName = Literal["bce", "nsgan", "rsgan", "wgan-gp", "hinge"]
LOSS_NAMES: tuple[str, ...] = get_args(GanLossName)
_SMOOTHABLE: tuple[str, ...] = ("bce", "nsgan", "rsgan")


def _check_kind(kind: str) -> None:
    if kind not in LOSS_NAMES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(LOSS_NAMES)}")


def check_label_smoothing(kind: GanLossName, label_smoothing: float) -> None:
    """Raise ValueError if ``label_smoothing`` is out of [0, 1) or meaningless for ``kind`` (wgan-gp, hinge)."""
    _check_kind(kind)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if label_smoothing != 0.0 and kind not in _SMOOTHABLE:
        raise ValueError(
            f"label_smoothing={label_smoothing} has no meaning for the {kind!r} loss; "
            f"set it to 0 or use one of {', '.join(_SMOOTHABLE)}"
        )


def _bce(logits: Tensor, target: float) -> Tensor:
    """Mean BCE-with-logits against a constant target."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _check_paired(real_logits: Tensor, fake_logits: Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            f"rsgan pairs real and fake elementwise; got shapes {tuple(real_logits.shape)} and "
            f"{tuple(fake_logits.shape)}; use equal batch sizes"
        )


def discriminator_loss(
    kind: GanLossName, real_logits: Tensor, fake_logits: Tensor, *, label_smoothing: float = 0.0
) -> Tensor:
    """Discriminator/critic loss (to minimise) for outputs on real and fake batches; scalar."""
    check_label_smoothing(kind, label_smoothing)
    real_target = 1.0 - label_smoothing
    if kind in ("bce", "nsgan"):
        return _bce(real_logits, real_target) + _bce(fake_logits, 0.0)
    if kind == "rsgan":
        _check_paired(real_logits, fake_logits)
        return _bce(real_logits - fake_logits, real_target)
    if kind == "wgan-gp":
        return fake_logits.mean() - real_logits.mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    raise AssertionError(f"unhandled loss kind {kind!r}")  # _check_kind covers LOSS_NAMES


def generator_loss(kind: GanLossName, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """Generator loss (to minimise) from D's outputs on fake (and, for rsgan, real) data; scalar.

    ``real_logits`` is only needed by ``"rsgan"``; the other kinds ignore it (may be None).
    """
    _check_kind(kind)
    if kind == "bce":
        # Saturating minimax form: minimise log(1 - sigmoid(f)) = -BCE(f, 0) = -softplus(f).
        return -_bce(fake_logits, 0.0)
    if kind == "nsgan":
        return _bce(fake_logits, 1.0)
    if kind == "rsgan":
        if real_logits is None:
            raise ValueError("the 'rsgan' generator loss needs real_logits (D's outputs on a real batch)")
        _check_paired(real_logits, fake_logits)
        return _bce(fake_logits - real_logits, 1.0)
    if kind in ("wgan-gp", "hinge"):
        return -fake_logits.mean()
    raise AssertionError(f"unhandled loss kind {kind!r}")


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E[(||grad_x critic(x_hat)||_2 - 1)^2]; scalar.

    x_hat = eps * real + (1 - eps) * fake with eps ~ U(0, 1) per sample. ``real`` and ``fake``
    have shape (B, ...) (e.g. embedded sequences (B, T, E) fed to
    ``CNNDiscriminator.forward_embedded``); the norm is over all non-batch dims. The inputs are
    detached, so the penalty is a function of the critic's parameters only; the graph is kept
    (create_graph=True) so it can be backpropagated. Multiply by lambda (10 in the paper) and
    add it to ``discriminator_loss("wgan-gp", ...)``.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape for interpolation, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if real.dim() < 2:
        raise ValueError(f"real/fake must be batched (B, ...) with at least 2 dims, got shape {tuple(real.shape)}")
    batch = real.shape[0]
    eps_shape = (batch,) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, dtype=real.dtype, device=real.device)  # (B, 1, ..., 1)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)  # (B, ...)
    scores = critic(x_hat)
    if scores.shape != (batch,):
        raise ValueError(f"critic must return one score per sample, shape ({batch},), got {tuple(scores.shape)}")
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # (B, ...)
    # sqrt(sum sq + tiny) instead of .norm() keeps the gradient finite when grad == 0.
    norms = torch.sqrt(grad.flatten(1).pow(2).sum(dim=1) + 1e-12)  # (B,)
    return ((norms - 1.0) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018, eq. 9 without gamma/2): E ||grad_x critic(x)||^2 at the real inputs x (B, ...).

    ``real`` is detached and made a leaf, so the penalty is a function of the critic's parameters; the graph is
    kept (create_graph=True) for backpropagation. Multiply by gamma / 2 and add it to the discriminator loss."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()

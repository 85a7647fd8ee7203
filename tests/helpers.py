"""Small builders the tests share."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch
import torch.nn.functional as F

from textgan.api.builders import build_cnn, make_estimator
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.estimators.interface import Estimator, Logs
from textgan.models import kernels
from textgan.models.discriminator import CNNDiscriminator

T = TypeVar("T")


def estimator(name: str, *, max_len: int, total_steps: int = 0, **options: Any) -> Estimator:
    """The registered estimator `name` with these options (gan_loss, label_smoothing too), as a run builds it."""
    return make_estimator(name, max_len=max_len, total_generator_steps=total_steps, **options)


def preset_cnn(name: str, input_mode: str = "tokens", vocab_size: int = 0, feature_size: int = 0,
               num_classes: int = 0, **overrides: Any) -> CNNDiscriminator:
    """A CNN of a `DISCRIMINATOR_PRESETS` entry (fields overridden by `overrides`; `num_classes` of labelled data
    for a conditional one)."""
    preset = dataclasses.replace(DISCRIMINATOR_PRESETS[name], **overrides)
    return build_cnn(preset, input_mode, vocab_size, feature_size, num_classes)  # type: ignore[arg-type]


def class_discriminator_loss(real_logits: torch.Tensor, real_labels: torch.Tensor,
                             fake_logits: torch.Tensor) -> tuple[torch.Tensor, Logs]:
    """Reference for the (K+1)-class head's loss (`class_head.class_head_loss` reads it from D's forward):
    cross-entropy over K+1 classes of real rows (B, K+1) against their classes (B,) and fake rows (B', K+1)
    against class K, the mean over all B + B' rows; logs the loss and each side's accuracy (argmax)."""
    fake_class = real_logits.size(-1) - 1
    fake_labels = torch.full((fake_logits.size(0),), fake_class, dtype=torch.long, device=fake_logits.device)
    loss = F.cross_entropy(torch.cat([real_logits, fake_logits]), torch.cat([real_labels, fake_labels]))
    with torch.no_grad():
        acc_real = (real_logits.argmax(-1) == real_labels).float().mean()
        acc_fake = (fake_logits.argmax(-1) == fake_class).float().mean()
    return loss, {"d_loss": float(loss.detach()), "d_acc_real": float(acc_real), "d_acc_fake": float(acc_fake)}


def class_reward(d: CNNDiscriminator, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Reference for the (K+1)-class head's reward (SentiGAN's): P(class = y | x) (B,) of token rows (B, T),
    y = `labels` (B,), the class each sequence was generated for."""
    if d.conditional != "classes":
        raise ValueError(f"class_reward needs a (K+1)-class head (conditional='classes'), not {d.conditional!r}")
    return torch.sigmoid(d(tokens, labels))  # sigmoid(log P(y|x) - log(1 - P(y|x))) = P(y|x)


@contextlib.contextmanager
def thread_count_kept() -> Iterator[None]:
    """Within: the code may set torch's thread count; it is set back on leaving."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


def at_thread_counts(counts: Sequence[int], fn: Callable[[], T]) -> list[T]:
    """fn()'s results at each of torch's thread counts `counts` in turn (the count set back after)."""
    results = []
    with thread_count_kept():
        for count in counts:
            torch.set_num_threads(count)
            results.append(fn())
    return results


@contextlib.contextmanager
def eight_lane_kernels(cache: Path) -> Iterator[Any]:
    """Within: the compiled kernels built with AVX-512 off (8 lanes) into `cache`, as kernels.library() gives them
    (the library is yielded); on leaving, the compiler and cache settings are restored and the next call builds or
    loads the process's own kernels again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CC", f"{kernels.compiler()} -mno-avx512f")
        patch.setenv("TEXTGAN_CACHE", str(cache))
        kernels.library.cache_clear()
        try:
            yield kernels.library()
        finally:
            kernels.library.cache_clear()

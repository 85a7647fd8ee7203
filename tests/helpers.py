"""Small builders the tests share."""

from __future__ import annotations

from typing import Any

from textgan.api.builders import build_cnn
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.estimators.interface import Estimator, EstimatorContext
from textgan.estimators.registry import ESTIMATORS, build_estimator
from textgan.models.discriminator import CNNDiscriminator


def estimator(name: str, *, max_len: int, gan_loss: str = "bce", label_smoothing: float = 0.0,
              total_steps: int = 0, **options: Any) -> Estimator:
    """The registered estimator `name` with these options, as the run builder makes it."""
    context = EstimatorContext(max_len=max_len, gan_loss=gan_loss, label_smoothing=label_smoothing,
                               total_generator_steps=total_steps)
    return build_estimator(name, ESTIMATORS[name].Options(**options), context)


def preset_cnn(name: str, input_mode: str = "tokens", vocab_size: int = 0, feature_size: int = 0,
               **overrides: Any) -> CNNDiscriminator:
    """A CNN of a `DISCRIMINATOR_PRESETS` entry (fields overridden by `overrides`)."""
    import dataclasses

    return build_cnn(dataclasses.replace(DISCRIMINATOR_PRESETS[name], **overrides), input_mode,  # type: ignore[arg-type]
                     vocab_size, feature_size)

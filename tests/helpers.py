"""Small builders the tests share."""

from __future__ import annotations

import dataclasses
from typing import Any

from textgan.api.builders import build_cnn, make_estimator
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.estimators.interface import Estimator
from textgan.models.discriminator import CNNDiscriminator


def estimator(name: str, *, max_len: int, total_steps: int = 0, **options: Any) -> Estimator:
    """The registered estimator `name` with these options (gan_loss, label_smoothing too), as a run builds it."""
    return make_estimator(name, max_len=max_len, total_generator_steps=total_steps, **options)


def preset_cnn(name: str, input_mode: str = "tokens", vocab_size: int = 0, feature_size: int = 0,
               num_classes: int = 0, **overrides: Any) -> CNNDiscriminator:
    """A CNN of a `DISCRIMINATOR_PRESETS` entry (fields overridden by `overrides`; `num_classes` of labelled data
    for a conditional one)."""
    preset = dataclasses.replace(DISCRIMINATOR_PRESETS[name], **overrides)
    return build_cnn(preset, input_mode, vocab_size, feature_size, num_classes)  # type: ignore[arg-type]

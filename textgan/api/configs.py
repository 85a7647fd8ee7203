"""Configs with the registries filled in: estimator names and GAN losses as choices, estimator option sections."""

from __future__ import annotations

from collections.abc import Sequence

from textgan.config import Config
from textgan.config_io import load_config
from textgan.estimators.losses import LOSS_NAMES
from textgan.estimators.registry import ESTIMATORS, option_sections


def registry_choices() -> dict[str, list[str]]:
    """Allowed values of config keys whose options come from registries."""
    return {"adversarial.estimator": list(ESTIMATORS), "adversarial.gan_loss": list(LOSS_NAMES)}


def config(path: str | None = None, overrides: Sequence[str] = ()) -> Config:
    """A run config: defaults <- YAML file or shipped config name <- `section.key=value` overrides, validated with
    every registered estimator's options (one UserError listing every problem)."""
    return load_config(path, overrides, choices=registry_choices(), sections=option_sections())

"""A trained generator rebuilt from a checkpoint: its config, tokenizer and weights, nothing unpickled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from textgan.cli.builders import build_generator, resolve_device
from textgan.config import Config
from textgan.config_io import config_from_dict
from textgan.data.batching import strip_special
from textgan.data.tokenizers import Tokenizer, tokenizer_from_state
from textgan.errors import UserError
from textgan.models.generator import RNNGenerator
from textgan.training.checkpoint import load_checkpoint


@dataclass
class LoadedGenerator:
    cfg: Config
    tokenizer: Tokenizer
    generator: RNNGenerator
    max_len: int
    fixed_length: bool
    payload: dict[str, Any]

    def sample_text(self, num: int, *, temperature: float = 1.0, top_k: int = 0, max_len: int | None = None,
                    batch_size: int = 512) -> list[str]:
        """`num` decoded samples."""
        lines: list[str] = []
        for start in range(0, num, batch_size):
            s = self.generator.sample(min(batch_size, num - start), max_len or self.max_len,
                                      temperature=temperature, top_k=top_k)
            lines.extend(self.tokenizer.decode(ids) for ids in strip_special(s.tokens.cpu(), s.lengths.cpu()))
        return lines


def load_generator(path: str, device: str | None = None) -> LoadedGenerator:
    """Rebuild the generator of a run directory or checkpoint file (on `device`, default the run's device)."""
    payload = load_checkpoint(path)
    try:
        cfg = config_from_dict(payload["config"])
        tokenizer = tokenizer_from_state(payload["tokenizer"])
        generator = build_generator(cfg, tokenizer, payload["fixed_length"])
        generator.load_state_dict(payload["models"]["generator"])
    except (KeyError, RuntimeError) as err:
        raise UserError(f"checkpoint {path} does not match this textgan version ({str(err).splitlines()[0][:100]})") from None
    dev = resolve_device(device or ("cpu" if cfg.run.device.startswith("cuda") and not torch.cuda.is_available()
                                    else cfg.run.device))
    generator.to(dev).eval()
    return LoadedGenerator(cfg, tokenizer, generator, payload["max_len"], payload["fixed_length"], payload)

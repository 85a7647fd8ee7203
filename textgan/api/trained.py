"""A trained generator rebuilt from a run or checkpoint: its config, tokenizer and weights, nothing unpickled.

    gen = textgan.load("runs/quickstart")
    gen.sample(5, temperature=0.8, seed=1)          # five sentences, the global RNG untouched
    gen.sample(5, label="pos", seed=1)              # a class-conditional run: five of class "pos"
    gen.score(["a man riding a horse ."])           # {"nll": ..., "ppl": ..., "tokens": ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from textgan.api.builders import build_generator, resolve_device
from textgan.config import Config
from textgan.config_io import config_from_dict
from textgan.data.batching import encode_lines, strip_special
from textgan.data.labels import LabelSet
from textgan.data.tokenizers import Tokenizer, tokenizer_from_state
from textgan.errors import UserError
from textgan.estimators.registry import option_sections
from textgan.models.generator import RNNGenerator
from textgan.training.checkpoint import load_checkpoint
from textgan.training.mle import evaluate_nll


@dataclass
class TrainedGenerator:
    """A generator with the tokenizer and settings of its run, in eval mode."""

    cfg: Config
    tokenizer: Tokenizer
    generator: RNNGenerator
    max_len: int          # the run's sampling length
    fixed_length: bool    # oracle data: no EOS, every sequence max_len tokens
    payload: dict[str, Any]
    labels: LabelSet | None = None  # a class-conditional run's classes (names, ids, priors)

    @property
    def device(self) -> torch.device:
        return self.generator.head.weight.device

    def sample(self, num: int, *, label: str | None = None, temperature: float = 1.0, top_k: int = 0,
               seed: int | None = None, max_len: int | None = None, batch_size: int = 512) -> list[str]:
        """`num` decoded samples; of class `label` for a class-conditional run (without it, each sample's class
        is drawn from the class priors: `sample_labelled` says which). With `seed`, drawn from that seed in a
        forked RNG (the global RNG is left as it was; the same seed gives the same text); without, from the
        global RNG."""
        return [line for _, line in self.sample_labelled(num, label=label, temperature=temperature, top_k=top_k,
                                                         seed=seed, max_len=max_len, batch_size=batch_size)]

    def sample_labelled(self, num: int, *, label: str | None = None, temperature: float = 1.0, top_k: int = 0,
                        seed: int | None = None, max_len: int | None = None,
                        batch_size: int = 512) -> list[tuple[str | None, str]]:
        """As `sample`, each sample with its class name (None for an unconditional run)."""
        if num < 0 or temperature < 0 or top_k < 0 or (max_len is not None and max_len < 1):
            raise UserError("num must be >= 0, temperature and top_k >= 0, max_len >= 1")
        class_id = self._class_id(label)
        if seed is None:
            return self._sample(num, class_id, temperature, top_k, max_len, batch_size)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return self._sample(num, class_id, temperature, top_k, max_len, batch_size)

    def _class_id(self, label: str | None) -> int | None:
        if label is None:
            return None
        if self.labels is None:
            raise UserError(f"label {label!r} given, but this run was trained without class labels; sample "
                            f"without a label")
        return self.labels.id(label)

    def _sample(self, num: int, class_id: int | None, temperature: float, top_k: int, max_len: int | None,
                batch_size: int) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            labels = None if class_id is None else torch.full((n,), class_id, dtype=torch.long, device=self.device)
            s = self.generator.sample(n, max_len or self.max_len, temperature=temperature, top_k=top_k,
                                      labels=labels)
            names = [None] * n if s.labels is None or self.labels is None else \
                [self.labels.names[i] for i in s.labels.tolist()]
            lines = [self.tokenizer.decode(ids) for ids in strip_special(s.tokens.cpu(), s.lengths.cpu())]
            out.extend(zip(names, lines))
        return out

    def score(self, sentences: Sequence[str], batch_size: int = 512, *, label: str | None = None) -> dict[str, float]:
        """NLL per token (natural log; EOS included on text, padding excluded), perplexity and the token count
        of `sentences` under the generator (the run's tokenizer; longer sentences are cut to the run's max_len).
        A class-conditional run scores them given class `label`, or without it under its mixture of classes."""
        if not sentences:
            raise UserError("score needs at least one sentence")
        class_id = self._class_id(label)
        labels = None if class_id is None else [class_id] * len(sentences)
        data = encode_lines(list(sentences), self.tokenizer.encode, self.max_len, add_eos=not self.fixed_length,
                            labels=labels)
        return evaluate_nll(self.generator, data, batch_size, self.device)


def load(path: str | Path, device: str | torch.device | None = None) -> TrainedGenerator:
    """The generator of a run directory (its newest checkpoint) or of a checkpoint file, on `device` (default:
    the run's device, or the CPU when the run was on CUDA and none is present)."""
    payload = load_checkpoint(path)
    try:
        cfg = config_from_dict(payload["config"], sections=option_sections(), strict=False)
        tokenizer = tokenizer_from_state(payload["tokenizer"])
        labels = LabelSet.from_state(payload["labels"]) if payload.get("labels") else None  # older: none stored
        generator = build_generator(cfg, tokenizer, payload["fixed_length"], labels)
        generator.load_state_dict(payload["models"]["generator"])
    except (KeyError, RuntimeError, UserError) as err:
        first = str(err).splitlines()[0][:100] if str(err) else type(err).__name__
        raise UserError(f"checkpoint {path} does not match this textgan version ({first})") from None
    if device is None:
        device = "cpu" if cfg.run.device.startswith("cuda") and not torch.cuda.is_available() else cfg.run.device
    generator.to(resolve_device(device)).eval()
    return TrainedGenerator(cfg, tokenizer, generator, payload["max_len"], payload["fixed_length"], payload, labels)

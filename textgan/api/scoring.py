"""Model-based metrics of a trained generator's samples: LM score, reverse-LM score, FED and MAUVE.

    scorer = textgan.Scorer.for_generator(textgan.load("runs/coco"), cache_dir="data/cache")
    scorer.evaluate(gen, ["lm_score", "reverse_lm_score", "fed"], num_samples=2000, temperature=0.9)
    textgan.evaluate("runs/coco", ["lm_score", "mauve"], feature_fn=my_encoder)   # one call, same numbers

The scorer prepares what a data set needs once (its data, the reference LM, the real test features) and scores
any number of sample sets against it. On the oracle the reference LM is the oracle itself; on text it is trained
once by `REFERENCE_LM_RECIPE` and cached under `cache_dir` keyed by the training file's hash
(`textgan.evaluation.reference_lm`). Definitions and sources: docs/evaluation.md.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from textgan.api.builders import PreparedData, build_data
from textgan.api.trained import TrainedGenerator, load
from textgan.config import Config
from textgan.data.batching import TokenData, encode_lines, strip_special
from textgan.data.tokenizers import EOS_ID
from textgan.errors import UserError
from textgan.evaluation.fed import FeatureFn, fed, sentence_features, text_features
from textgan.evaluation.lm_score import lm_score, oracle_lm_score, reverse_lm_score
from textgan.evaluation.mauve_score import mauve_score
from textgan.evaluation.reference_lm import file_sha256, reference_lm
from textgan.models.generator import RNNGenerator

__all__ = ["MODEL_METRICS", "DEFAULT_CACHE_DIR", "Scorer", "evaluate"]

# name -> what it measures; every one depends on the sample count, which its output carries.
MODEL_METRICS: dict[str, str] = {
    "lm_score": "NLL per token of the samples under the reference LM (oracle: the oracle; Semeniuta et al. 2018)",
    "reverse_lm_score": "NLL per token of real test data under a fresh LM trained on the samples (Semeniuta et al.)",
    "fed": "Frechet distance of sample features to real test features (ScratchGAN; default: reference LM states)",
    "mauve": "MAUVE of sample features against real test features (Pillutla et al. 2021; needs textgan[mauve])",
}
DEFAULT_CACHE_DIR = Path("data/cache")  # git-ignored; the reference LMs of text data sets live here


@dataclass
class Scorer:
    """One data set's reference LM, test data and real test features, reused for every sample set scored."""

    data: PreparedData
    fixed_length: bool
    cache_dir: Path
    source_sha256: str                                  # names the training data in the reference LM's cache key
    feature_fn: FeatureFn | None = None
    seed: int = 0                                       # reverse-LM and reference-LM seed, MAUVE's k-means seed
    _reference: RNNGenerator | None = field(default=None, repr=False)
    _test_features: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    @classmethod
    def for_generator(cls, generator: TrainedGenerator, *, cache_dir: str | Path | None = None,
                      feature_fn: FeatureFn | None = None, seed: int = 0) -> Scorer:
        """The scorer of `generator`'s data set (its config's data files, encoded with its own tokenizer)."""
        with torch.random.fork_rng(devices=[]):  # building oracle data draws from the RNG: leave the caller's alone
            data = build_data(generator.cfg, None, tokenizer_state=generator.tokenizer.state())
        if data.test is None or len(data.test) == 0:
            raise UserError("the model-based metrics need real test data; set data.test to a file of test lines")
        return cls(data, generator.fixed_length, Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR,
                   _source_sha256(generator.cfg), feature_fn, seed)

    # ---- inputs ----------------------------------------------------------------------------------------------
    def encode(self, lines: Sequence[str]) -> TokenData:
        """Lines of text (or, on the oracle, of token ids) encoded as the generator's training data was."""
        tokenizer = self.data.tokenizer
        return encode_lines(list(lines), tokenizer.encode, self.data.max_len, add_eos=not self.fixed_length)

    def reference(self) -> RNNGenerator:
        """The text reference LM: loaded from the cache, or trained once (minutes on COCO) and cached."""
        if self._reference is None:
            data, tokenizer = self.data, self.data.tokenizer
            eos = None if self.fixed_length else EOS_ID
            self._reference = reference_lm(self.cache_dir, self.source_sha256, data.train, tokenizer.vocab_size,
                                           tokenizer.never_generated(), eos, seed=self.seed)
        return self._reference

    def features(self, lines: Sequence[str], encoded: TokenData) -> torch.Tensor:
        """(N, D) sentence features: the user's feature function of the text, else the reference LM's states."""
        if self.feature_fn is not None:
            return text_features(self.feature_fn, lines)
        return sentence_features(self.reference(), encoded)

    def test_features(self, count: int) -> torch.Tensor:
        """Features of the first `count` real test sentences (all of them if fewer)."""
        if count not in self._test_features:
            test = self.data.test
            assert test is not None  # checked in for_generator
            n = min(count, len(test))
            real = test.subset(torch.arange(n))
            lines = self.data.test_lines[:n] if self.data.test_lines else \
                [self.data.tokenizer.decode(ids) for ids in strip_special(real.tokens, real.lengths)]
            self._test_features[count] = self.features(lines, real)
        return self._test_features[count]

    # ---- scoring ---------------------------------------------------------------------------------------------
    def score(self, lines: Sequence[str], metrics: Sequence[str]) -> dict[str, float]:
        """The chosen model metrics of sample `lines` (plus the counts each depends on)."""
        unknown = [m for m in metrics if m not in MODEL_METRICS]
        if unknown:
            raise UserError(f"unknown model metric {unknown[0]!r}; choose from {', '.join(MODEL_METRICS)}")
        if len(lines) < 2:
            raise UserError(f"the model metrics need at least 2 samples, got {len(lines)}")
        encoded = self.encode(lines)
        tokenizer, test = self.data.tokenizer, self.data.test
        assert test is not None
        out: dict[str, float] = {}
        if "lm_score" in metrics:
            if self.data.oracle is not None:
                out.update(oracle_lm_score(self.data.oracle, encoded))
            else:
                out.update(lm_score(self.reference(), encoded))
        if "reverse_lm_score" in metrics:
            eos = None if self.fixed_length else EOS_ID
            out.update(reverse_lm_score(encoded, test, tokenizer.vocab_size, tokenizer.never_generated(), eos,
                                        seed=self.seed))
        if "fed" in metrics or "mauve" in metrics:
            samples = self.features(lines, encoded)
            real = self.test_features(len(lines))
            if "fed" in metrics:
                out.update(fed(samples, real))
            if "mauve" in metrics:
                out.update(mauve_score(samples, real, seed=self.seed))
        return out

    def evaluate(self, generator: TrainedGenerator, metrics: Sequence[str], *, num_samples: int = 2000,
                 temperature: float = 1.0, seed: int = 0) -> dict[str, float]:
        """`num_samples` samples of `generator` at `temperature` (drawn from `seed`), scored by `score`."""
        lines = generator.sample(num_samples, temperature=temperature, seed=seed)
        return {"temperature": temperature, "num_samples": num_samples, **self.score(lines, metrics)}


def evaluate(generator: TrainedGenerator | str | Path, metrics: Sequence[str] = tuple(MODEL_METRICS), *,
             num_samples: int = 2000, temperature: float = 1.0, seed: int = 0, cache_dir: str | Path | None = None,
             feature_fn: FeatureFn | None = None) -> dict[str, float]:
    """The model metrics of a run's (or loaded generator's) samples: one `Scorer` built and used once."""
    gen = generator if isinstance(generator, TrainedGenerator) else load(generator)
    scorer = Scorer.for_generator(gen, cache_dir=cache_dir, feature_fn=feature_fn, seed=seed)
    return scorer.evaluate(gen, metrics, num_samples=num_samples, temperature=temperature, seed=seed)


def _source_sha256(cfg: Config) -> str:
    """sha256 naming the training data: the training file's bytes (text), the generator's settings (oracle,
    K-mode benchmark), or, for a glob of files, their names and bytes in sorted order (for one file per class,
    each class's name and files)."""
    d = cfg.data
    if d.source in ("oracle", "kmode"):
        return hashlib.sha256(repr(d.oracle if d.source == "oracle" else d.kmode).encode()).hexdigest()
    if not d.train and d.classes:  # one file (or glob) per class: each class's name and files
        digest = hashlib.sha256()
        for label, pattern in sorted(d.classes.items()):
            digest.update(label.encode())
            for name in sorted(glob.glob(str(Path(pattern).expanduser()))):
                digest.update(name.encode() + file_sha256(Path(name)).encode())
        return digest.hexdigest()
    path = Path(d.train).expanduser()
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for name in sorted(glob.glob(str(path))):
        digest.update(name.encode() + file_sha256(Path(name)).encode())
    return digest.hexdigest()


"""Builders at the edge: the only code that reads `Config` objects and turns them into data, models, optimizers
and the estimator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textgan.config import Config, DiscriminatorConfig
from textgan.data.batching import TokenData, encode_lines, pad_rows
from textgan.data.corpus import TextSplits, read_labelled_splits, read_splits
from textgan.data.kmode import KModeData, KModeSpec
from textgan.data.labels import LabelSet
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import (
    EOS_ID,
    SPECIALS,
    OracleTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    WordTokenizer,
    tokenizer_from_state,
)
from textgan.errors import UserError
from textgan.estimators.class_head import check_labelled
from textgan.estimators.interface import DiscriminatorShelf, Estimator, EstimatorContext
from textgan.estimators.registry import ESTIMATORS
from textgan.estimators.registry import build_estimator as registry_build
from textgan.models.discriminator import CNNDiscriminator, InputMode
from textgan.models.generator import RNNGenerator


@dataclass
class PreparedData:
    """Everything the data side hands to training and evaluation."""

    tokenizer: Tokenizer
    train: TokenData
    valid: TokenData
    test: TokenData | None
    max_len: int                       # sampling length (exact for fixed-length data)
    fixed_length: bool                 # oracle data: no EOS, every sequence max_len tokens
    oracle: Oracle | None = None
    kmode: KModeData | None = None     # the K-mode benchmark's parser (data.source=kmode)
    train_lines: list[str] = field(default_factory=list)
    test_lines: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    labels: LabelSet | None = None     # labelled data: class names, ids and priors (TokenData.labels hold ids)

    @property
    def num_classes(self) -> int:
        """Classes of labelled data (0: unlabelled)."""
        return 0 if self.labels is None else len(self.labels)


def resolve_device(name: str | torch.device) -> torch.device:
    """'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device; a one-line error when CUDA is asked for but absent."""
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"run.device={name!r} is not a device; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"run.device={name} but CUDA is not available here; use run.device=cpu (or auto)")
    return device


def build_oracle(cfg: Config) -> Oracle:
    o = cfg.data.oracle
    return Oracle(o.vocab_size, o.embedding_size, o.hidden_size, o.init_std, o.seed)


def build_data(cfg: Config, cache_dir: Path | None, tokenizer_state: dict[str, Any] | None = None) -> PreparedData:
    """Load and encode the configured data; reuse `tokenizer_state` (resume, checkpoints) instead of fitting."""
    d = cfg.data
    if d.source == "oracle":
        return _oracle_data(cfg)
    if d.source == "kmode":
        return _kmode_data(cfg)
    labelled = d.format == "labelled" or bool(d.classes)
    drop = d.long_sentences == "drop"
    # with the word tokenizer a sentence's length is its number of words: long ones are dropped as read, before
    # any split is carved (so the carved splits are stratified over the sentences kept); with sentencepiece
    # (lengths need the model, fit on the training split) they are dropped when encoded
    keep = (lambda line: len(line.split()) < d.max_len) if drop and d.tokenizer == "word" else None
    if labelled:
        splits = read_labelled_splits(d.train, d.valid, d.test, d.classes, valid_fraction=d.valid_fraction,
                                      test_fraction=d.test_fraction, seed=cfg.run.seed, keep=keep)
    else:
        splits = read_splits(d.train, d.valid, d.test, valid_fraction=d.valid_fraction, seed=cfg.run.seed,
                             cache_dir=str(cache_dir) if cache_dir else None, test_fraction=d.test_fraction,
                             keep=keep)
    if tokenizer_state is not None:
        tokenizer = tokenizer_from_state(tokenizer_state)
    elif d.tokenizer == "word":
        tokenizer = WordTokenizer.fit(splits.train, d.lowercase, d.min_freq, d.max_vocab)
    else:
        tokenizer = SentencePieceTokenizer.fit(splits.train, d.sp_vocab_size, d.sp_model_type, d.lowercase)
    encoded = {name: encode_lines(lines, tokenizer.encode, d.max_len, labels=splits.labels.get(name),
                                  drop_long=drop)
               for name, lines in (("train", splits.train), ("valid", splits.valid), ("test", splits.test)) if lines}
    report = {"blank_lines": splits.blank_lines, "valid_from_train": splits.valid_from_train,
              "truncated": {k: v.truncated for k, v in encoded.items()},
              "sizes": {k: len(v) for k, v in encoded.items()}, "vocab_size": tokenizer.vocab_size}
    label_set = _label_set(splits, encoded, report) if labelled else None
    if d.test_fraction > 0:
        report["test_from_train"] = splits.test_from_train
    if drop:  # per file read (train, valid, test), or per split when dropped at encoding
        report["dropped"] = {k: splits.dropped.get(k, 0) + v.dropped for k, v in encoded.items()}
    for split in ("train", "valid"):
        if split not in encoded:
            raise UserError(f"the {split} split is empty (every sentence dropped, or too few to carve); raise "
                            f"data.max_len" + (" or data.valid_fraction" if split == "valid" else ""))
    test = encoded.get("test")
    test_lines = splits.test if not drop or test is None else [
        line for line in splits.test if len(tokenizer.encode(line)) < d.max_len]
    return PreparedData(tokenizer, encoded["train"], encoded["valid"], test, d.max_len, False,
                        train_lines=splits.train, test_lines=test_lines, report=report, labels=label_set)


def _label_set(splits: TextSplits, encoded: dict[str, TokenData], report: dict[str, Any]) -> LabelSet:
    """The label set of the encoded training split (priors: its class shares); class counts into `report`."""
    names = splits.label_names
    train = encoded["train"].labels
    assert train is not None
    labels = LabelSet.from_training(names, train.tolist())
    report["classes"] = {split: dict(zip(names, torch.bincount(data.labels, minlength=len(names)).tolist()))
                         for split, data in encoded.items() if data.labels is not None}
    return labels


def _oracle_data(cfg: Config) -> PreparedData:
    o = cfg.data.oracle
    oracle = build_oracle(cfg)
    offset = len(SPECIALS)
    # Three disjoint draws from the oracle, each from its own seed derived from oracle.seed.
    train = pad_rows((oracle.generate(o.num_train, o.seq_len, seed=o.seed + 1) + offset).tolist())
    valid = pad_rows((oracle.generate(o.num_valid, o.seq_len, seed=o.seed + 2) + offset).tolist())
    test = pad_rows((oracle.generate(o.num_test, o.seq_len, seed=o.seed + 3) + offset).tolist())
    report = {"sizes": {"train": len(train), "valid": len(valid), "test": len(test)},
              "vocab_size": o.vocab_size, "oracle_nll_of_own_test_samples": oracle.nll(test.tokens - offset)}
    return PreparedData(OracleTokenizer(o.vocab_size), train, valid, test, o.seq_len, True, oracle=oracle,
                        report=report)


def build_kmode(cfg: Config) -> KModeData:
    """The K-mode benchmark of `data.kmode` (its modes and parser)."""
    k = cfg.data.kmode
    try:
        return KModeData(KModeSpec(k.num_modes, k.vocab_size, k.seq_len, k.templates, k.slot_choices, k.seed))
    except ValueError as err:
        raise UserError(f"data.kmode: {err}") from None


def _kmode_data(cfg: Config) -> PreparedData:
    k = cfg.data.kmode
    benchmark = build_kmode(cfg)
    offset = len(SPECIALS)
    # three draws, each from its own seed derived from kmode.seed (as the oracle's)
    train, valid, test = (pad_rows((benchmark.sample(n, k.seed + i)[0] + offset).tolist())
                          for i, n in ((1, k.num_train), (2, k.num_valid), (3, k.num_test)))
    report = {"sizes": {"train": len(train), "valid": len(valid), "test": len(test)}, "vocab_size": k.vocab_size,
              "num_modes": k.num_modes}
    return PreparedData(OracleTokenizer(k.vocab_size), train, valid, test, k.seq_len, True, kmode=benchmark,
                        report=report)


def build_generator(cfg: Config, tokenizer: Tokenizer, fixed_length: bool,
                    labels: LabelSet | None = None) -> RNNGenerator:
    """The generator for this vocabulary; fixed-length data also bans EOS; labelled data (`labels`) makes it
    class-conditional, its priors the mixture it samples from without labels."""
    g = cfg.generator
    banned = list(tokenizer.never_generated()) + ([EOS_ID] if fixed_length else [])
    classes: dict[str, Any] = {} if labels is None else {
        "num_classes": len(labels), "class_embedding_size": g.class_embedding_size,
        "class_initial_state": g.class_initial_state, "class_priors": labels.priors}
    return RNNGenerator(vocab_size=tokenizer.vocab_size, embedding_size=g.embedding_size, hidden_size=g.hidden_size,
                        num_layers=g.num_layers, cell=g.cell, dropout=g.dropout, tie_weights=g.tie_weights,
                        init_std=g.init_std, banned_ids=banned, eos_id=None if fixed_length else EOS_ID,
                        compiled_sampler=g.compiled_sampler, **classes)


def check_same_vocabulary(source: str, theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    """One-line error when a checkpoint was made with another vocabulary than this run's data and tokenizer settings
    give (the vocabularies and encoding settings are compared, not the bytes of a serialised model)."""
    a, b = tokenizer_from_state(theirs), tokenizer_from_state(ours)
    if a.vocabulary_signature() != b.vocabulary_signature():
        raise UserError(f"checkpoint {source} was made with another vocabulary ({a.kind}, {a.vocab_size} ids; "
                        f"this run: {b.kind}, {b.vocab_size} ids); use a checkpoint trained on the same data "
                        f"and tokenizer settings")


def build_cnn(d: DiscriminatorConfig, input_mode: InputMode, vocab_size: int = 0,
              feature_size: int = 0, num_classes: int = 0) -> CNNDiscriminator:
    """The CNN discriminator of config section `d` (or a `DISCRIMINATOR_PRESETS` entry) with the given front end,
    spectral norm, minibatch discrimination and class conditioning (over `num_classes` classes of labelled data)
    as configured (every estimator gets them through `shelf.cnn`)."""
    if d.minibatch_kernels and input_mode == "features":
        raise UserError("discriminator.minibatch_kernels needs a discriminator reading tokens or distributions; "
                        "this estimator's reads features: set discriminator.minibatch_kernels=0")
    check_labelled(d.conditional, num_classes)
    return CNNDiscriminator(input_mode=input_mode, vocab_size=vocab_size, embedding_size=d.embedding_size,
                            feature_size=feature_size, filter_sizes=d.filter_sizes, num_filters=d.num_filters,
                            dropout=d.dropout, highway=d.highway, precision=d.precision,
                            spectral_norm=d.spectral_norm, minibatch_kernels=d.minibatch_kernels,
                            minibatch_kernel_dims=d.minibatch_kernel_dims, minibatch_reference=d.minibatch_reference,
                            conditional=d.conditional, num_classes=num_classes if d.conditional != "none" else 0,
                            winning_window_grad=d.winning_window_grad, fused_highway_step=d.fused_highway_step)


def build_estimator(cfg: Config, max_len: int, num_classes: int = 0) -> Estimator:
    """The configured estimator (`adversarial.estimator`) from its config section and the run's context
    (`num_classes`: of labelled data, 0 for none)."""
    a = cfg.adversarial
    context = EstimatorContext(max_len=max_len, gan_loss=a.gan_loss, label_smoothing=a.label_smoothing,
                               total_generator_steps=a.rounds * a.g_steps, num_classes=num_classes,
                               conditional=cfg.discriminator.conditional)
    estimator = registry_build(a.estimator, cfg.estimator_options(a.estimator), context)
    if cfg.discriminator.fake_pool and not getattr(estimator, "token_fakes", False):
        raise UserError(f"discriminator.fake_pool pools token samples, which the {a.estimator} estimator's "
                        f"discriminator does not read: set discriminator.fake_pool=0")
    return estimator


def make_estimator(name: str, *, max_len: int, gan_loss: str = "bce", label_smoothing: float = 0.0,
                   total_generator_steps: int = 0, num_classes: int = 0, conditional: str = "none",
                   **options: Any) -> Estimator:
    """A registered estimator by hand: `make_estimator("reinforce", max_len=20, num_rollouts=8)` (options as in
    its config section, validated the same way; `conditional`: the discriminator's class conditioning, as
    `discriminator.conditional`)."""
    if name not in ESTIMATORS:
        raise UserError(f"unknown estimator {name!r}; registered: {', '.join(ESTIMATORS)}")
    try:
        chosen = ESTIMATORS[name].Options(**options)
    except TypeError as err:  # an option the dataclass does not have
        raise UserError(f"{name} estimator: {err}") from None
    context = EstimatorContext(max_len=max_len, gan_loss=gan_loss, label_smoothing=label_smoothing,
                               total_generator_steps=total_generator_steps, num_classes=num_classes,
                               conditional=conditional)
    return registry_build(name, chosen, context)


def build_discriminator(d: DiscriminatorConfig, estimator: Estimator, vocab_size: int,
                        feature_size: int, *, generator: RNNGenerator | None = None,
                        num_classes: int | None = None) -> torch.nn.Module:
    """The model `estimator` trains against the generator: the CNN of config section `d` with the front end the
    estimator reads, or a model of its own. `generator` (unwrapped) tells the shelf its embedding size, banned ids
    and EOS id (a model over the same tokens, as CoT's mediator, bans the same ids); without it, the defaults of
    `RNNGenerator`. `num_classes`: the classes a conditional CNN (`d.conditional`) reads (None: the generator's,
    0 without one)."""
    tokens: dict[str, Any] = {}
    if num_classes is None:
        num_classes = generator.num_classes if generator is not None else 0
    if generator is not None:
        banned = torch.isinf(generator.logit_mask).nonzero().flatten().tolist()  # the -inf logits
        tokens = {"embedding_size": generator.embedding.embedding_dim, "banned_ids": tuple(banned),
                  "eos_id": generator.eos_id}
    shelf = DiscriminatorShelf(vocab_size=vocab_size, feature_size=feature_size, num_classes=num_classes,
                               cnn=lambda mode: build_cnn(d, mode, vocab_size, feature_size, num_classes), **tokens)
    return estimator.build_discriminator(shelf)


def adam(params: Any, lr: float, betas: list[float] | tuple[float, float], fused: bool = False) -> torch.optim.Adam:
    """Adam with the given learning rate and betas (every optimizer of a run); `fused`: one fused kernel."""
    return torch.optim.Adam(params, lr=lr, betas=(float(betas[0]), float(betas[1])), fused=fused or None)


def discriminator_optimizer(cfg: Config, discriminator: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam at the D-pretraining rate; on the configured CNN SeqGAN's L2 on the output layer only, as weight decay
    of the head's parameter group."""
    head = list(discriminator.head_parameters()) if isinstance(discriminator, CNNDiscriminator) else []
    head_ids = {id(p) for p in head}
    body = [p for p in discriminator.parameters() if id(p) not in head_ids]
    groups = [{"params": body}] + ([{"params": head, "weight_decay": cfg.discriminator.l2_head}] if head else [])
    return adam(groups, cfg.d_pretrain.lr, cfg.d_pretrain.betas, fused=cfg.discriminator.fused_optimizer)


def set_rate(optimizer: torch.optim.Optimizer, lr: float, betas: list[float]) -> None:
    """Every parameter group of `optimizer` to learning rate `lr` and Adam `betas` (a new phase's settings)."""
    for group in optimizer.param_groups:
        group["lr"], group["betas"] = lr, (float(betas[0]), float(betas[1]))

"""The run configuration: nested dataclasses, one documented default per field.

Loading, validation and `section.key=value` overrides live in `textgan.config_io`. Only the builders at the
edge (`textgan.api`) read these objects; models take flat keyword arguments. Each registered estimator's options
dataclass (declared in its own file) is the config section named like its registry key, kept in
`Config.estimators`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


def opt(default: Any, help: str, **bounds: float) -> Any:
    """A dataclass field with a help text and optional numeric bounds (min, max, gt, lt) checked on load."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **bounds})
    return field(default=default, metadata={"help": help, **bounds})


@dataclass
class RunConfig:
    dir: str = opt("runs/default", "run directory: config, tokenizer, metrics.jsonl and checkpoints go here")
    seed: int = opt(42, "seed of every random draw (sampling, shuffling, init); same seed + device = same numbers")
    device: str = opt("cpu", "'cpu', 'cuda', 'cuda:N' or 'auto' (cuda when available)")
    progress: bool = opt(True, "tqdm progress bars (shown only on a terminal)")
    threads: int = opt(0, "CPU threads of torch (0: torch's default, one per core; 1 is often faster for the "
                          "small SeqGAN models and when other jobs share the machine)", min=0)


@dataclass
class OracleConfig:
    vocab_size: int = opt(5000, "oracle vocabulary size (SeqGAN: 5000)", min=2)
    embedding_size: int = opt(32, "oracle LSTM embedding size (SeqGAN: 32)", min=1)
    hidden_size: int = opt(32, "oracle LSTM hidden size (SeqGAN: 32)", min=1)
    seq_len: int = opt(20, "length of every oracle sequence (SeqGAN: 20)", min=1)
    init_std: float = opt(1.0, "std of the oracle's N(0, std) parameters (SeqGAN: 1.0)", gt=0)
    num_train: int = opt(10000, "oracle training sequences (SeqGAN: 10,000)", min=1)
    num_valid: int = opt(1000, "oracle validation sequences (early stopping, validation NLL)", min=1)
    num_test: int = opt(10000, "held-out oracle sequences for NLL-test", min=1)
    seed: int = opt(0, "seed of the oracle's parameters and of its data (independent of run.seed)")


@dataclass
class KModeConfig:
    num_modes: int = opt(8, "K: number of modes (each a marker token and its templates; data/kmode.py)", min=1)
    vocab_size: int = opt(64, "content vocabulary: K markers, the rest fill template slots", min=2)
    seq_len: int = opt(8, "length of every sentence, marker included (fixed length, no EOS)", min=2)
    templates: int = opt(2, "templates per mode", min=1)
    slot_choices: int = opt(4, "tokens each template slot accepts", min=1)
    num_train: int = opt(5000, "training sentences, uniform over modes", min=1)
    num_valid: int = opt(500, "validation sentences", min=1)
    num_test: int = opt(2000, "held-out sentences for NLL-test", min=1)
    coverage_share: float = opt(0.5, "a mode is covered when it holds >= coverage_share / K of the samples", gt=0)
    seed: int = opt(0, "seed of the modes and of their data (independent of run.seed)")


@dataclass
class DataConfig:
    source: Literal["oracle", "text", "kmode"] = opt(
        "oracle", "'oracle': synthetic SeqGAN data; 'text': files below; 'kmode': the K-mode benchmark")
    train: str = opt("", "training text file or glob, one sentence per line (source=text)")
    valid: str = opt("", "validation file or glob; empty: a seeded valid_fraction of train is held out")
    test: str = opt("", "test file or glob (NLL-test, perplexity and BLEU references)")
    valid_fraction: float = opt(0.05, "fraction of train held out for validation when data.valid is empty", gt=0, lt=1)
    tokenizer: Literal["word", "sentencepiece"] = opt("word", "'word': whitespace split; 'sentencepiece': BPE/unigram")
    lowercase: bool = opt(False, "lower-case text before tokenizing")
    min_freq: int = opt(1, "word tokenizer: words seen fewer times in train become UNK", min=1)
    max_vocab: int = opt(0, "word tokenizer: keep at most this many words (0: no limit)", min=0)
    sp_vocab_size: int = opt(4000, "sentencepiece vocabulary size", min=8)
    sp_model_type: Literal["bpe", "unigram"] = opt("bpe", "sentencepiece model type")
    max_len: int = opt(40, "max tokens per sequence, EOS included; longer ones are truncated (and counted)", min=2)
    long_sentences: Literal["truncate", "drop"] = opt(
        "truncate", "sentences longer than max_len: cut to max_len, or left out of every split (both counted)")
    format: Literal["plain", "labelled"] = opt(
        "plain", "text files: one sentence a line, or 'label<TAB>sentence' a line (class-conditional training)")
    classes: dict[str, str] = opt(
        {}, "labelled training data as one file or glob per class, {label: path} (instead of data.train; "
            "on the command line data.classes.pos=FILE); valid and test are then carved from it")
    test_fraction: float = opt(0.0, "fraction of train held out as the test split when data.test is empty (0: none; "
                                    "seeded, stratified by class on labelled data)", min=0, lt=1)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    kmode: KModeConfig = field(default_factory=KModeConfig)


@dataclass
class GeneratorConfig:
    cell: Literal["lstm", "gru"] = opt("lstm", "recurrent cell")
    embedding_size: int = opt(32, "token embedding size", min=1)
    hidden_size: int = opt(32, "recurrent hidden size", min=1)
    num_layers: int = opt(1, "stacked recurrent layers", min=1)
    dropout: float = opt(0.0, "dropout on embeddings and outputs during teacher forcing", min=0, lt=1)
    tie_weights: bool = opt(False, "share input embedding and output projection (needs embedding == hidden)")
    init_std: float = opt(0.1, "std of N(0, std) parameter init (SeqGAN: 0.1)", gt=0)
    class_embedding_size: int = opt(16, "labelled data: size of the class embedding fed beside each token", min=1)
    class_initial_state: bool = opt(False, "labelled data: also map the class embedding into the initial state")
    compiled_sampler: bool = opt(False, "draws without top-k (samples at any temperature, rollouts, fakes) by a "
                                        "compiled kernel that fuses the output layer with the draw on the CPU at "
                                        "fp32: the same distribution, 2-11x faster, other float round-off (an id "
                                        "differs where a uniform falls within round-off of a boundary); elsewhere, "
                                        "or without a C compiler, torch's sampler")


@dataclass
class DiscriminatorConfig:
    embedding_size: int = opt(64, "token embedding size of the CNN discriminator", min=1)
    filter_sizes: list[int] = opt([2, 3, 4, 5], "convolution widths (SeqGAN: 1..10,15,20)")
    num_filters: list[int] = opt([64, 64, 64, 64], "filters per width, same length as filter_sizes")
    dropout: float = opt(0.25, "dropout before the head (SeqGAN: keep-prob 0.75)", min=0, lt=1)
    highway: bool = opt(True, "highway layer after pooling (SeqGAN)")
    l2_head: float = opt(0.2, "L2 on the output layer only, as Adam weight decay (SeqGAN: 0.2)", min=0)
    precision: Literal["fp32", "bf16"] = opt(
        "fp32", "arithmetic of D's convolutions and head in training and scoring: bf16 autocast (CPU or CUDA) is "
                "faster where the hardware has bf16 units; logits move by ~1e-2 (docs/benchmarks.md)")
    length_buckets: int = opt(0, "D training: shuffled real batches cut from pools of this many batches sorted by "
                                 "length, in a seeded random order (less padding; 0: off)", min=0)
    fused_optimizer: bool = opt(False, "D's Adam as one fused kernel: the same update, a faster step, float "
                                       "round-off in a different order")
    winning_window_grad: bool = opt(False, "D training on the CPU at fp32: the convolutions and max-pool by C "
                                           "kernels built with the system's C compiler (without one, torch's): "
                                           "the forward fused with the max-pool, the backward from the window "
                                           "that won each max-pool alone; the same values and gradients to float "
                                           "round-off; the convolutions' training step 2.5-4.4x faster")
    fused_highway_step: bool = opt(False, "D training with fused_optimizer on the CPU: the highway's weight "
                                          "gradient is not written out but kept as its two thin factors, for the "
                                          "norm (from Gram matrices) and a step that forms it in cache-sized "
                                          "blocks, and its forward in training by a compiled product; the same "
                                          "update to float round-off, a faster step (elsewhere, or with another "
                                          "optimizer, the gradient is written out as usual)")
    fake_pool: int = opt(0, "D training: draw a D phase's generator fakes this many rows at a time instead of one "
                            "batch at a time (G is fixed within the phase): faster, the same distribution, other "
                            "random draws; for estimators whose D reads token samples (0: per batch)", min=0)
    fake_reuse: int = opt(1, "D training with fake_pool: serve each pooled fake this many times, each pass in a new "
                             "random order (SeqGAN reuses one negative set for its d_epochs epochs)", min=1)
    spectral_norm: bool = opt(False, "spectral normalisation of the conv, highway and output layers (Miyato 2018)")
    minibatch_kernels: int = opt(0, "minibatch discrimination (Salimans 2016): C kernels on the pooled features "
                                    "against a per-round reference batch of generator samples (0: off)", min=0)
    minibatch_kernel_dims: int = opt(16, "width W of each minibatch-discrimination kernel", min=1)
    minibatch_reference: int = opt(64, "generator samples in the per-round reference batch", min=1)
    r1_weight: float = opt(0.0, "gamma of the R1 penalty gamma/2 E||grad D(real)||^2 on D's embedded real inputs "
                                "(Mescheder 2018; 0: off; not with gan_loss=wgan-gp)", min=0)
    conditional: Literal["none", "projection", "classes"] = opt(
        "none", "class-conditional CNN on labelled data: 'projection' (Miyato & Koyama 2018: a class embedding's "
                "inner product with the pooled features added to the logit) or 'classes' (a (K+1)-way head, "
                "SentiGAN/CatGAN; needs adversarial.gan_loss=bce)")


# The home of the named discriminator sizes (benchmarks and tests read them from here).
DISCRIMINATOR_PRESETS: dict[str, DiscriminatorConfig] = {
    # SeqGAN's published discriminator (Yu et al. 2017, reference code): widths 1..10, 15, 20 with
    # 100/200/.../160 feature maps, embedding 64, dropout keep-probability 0.75, L2 0.2 on the output layer.
    "seqgan": DiscriminatorConfig(64, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20],
                                  [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160], 0.25, True, 0.2),
    # A smaller discriminator for real data and fast CPU runs (~15x fewer conv FLOPs than SeqGAN's).
    "small": DiscriminatorConfig(64, [2, 3, 4, 5], [64, 64, 64, 64], 0.25, True, 0.0),
}


@dataclass
class PretrainConfig:
    epochs: int = opt(120, "MLE (teacher-forcing) epochs (SeqGAN oracle: 120)", min=0)
    batch_size: int = opt(64, "sequences per batch", min=1)
    lr: float = opt(0.01, "Adam learning rate (SeqGAN: 0.01)", gt=0)
    betas: list[float] = opt([0.9, 0.999], "Adam betas of the generator during MLE")
    clip: float = opt(5.0, "gradient-norm clip (0: off)", min=0)
    patience: int = opt(0, "early stopping: epochs without validation improvement (0: off); the generator then "
                           "ends with the weights of its best validation epoch", min=0)


@dataclass
class DiscriminatorPretrainConfig:
    rounds: int = opt(50, "rounds of fresh generator samples (SeqGAN: 50)", min=0)
    epochs: int = opt(3, "epochs per round (SeqGAN: 3)", min=1)
    num_samples: int = opt(10000, "real (and as many fake) sequences per epoch", min=1)
    batch_size: int = opt(64, "real sequences per batch (as many fakes are drawn fresh)", min=1)
    lr: float = opt(1e-4, "Adam learning rate of the discriminator (SeqGAN: 1e-4)", gt=0)
    betas: list[float] = opt([0.9, 0.999], "Adam betas of the discriminator during its pretraining")


@dataclass
class AdversarialConfig:
    estimator: str = opt("reinforce", "gradient estimator: see `textgan train --help` for the choices")
    rounds: int = opt(200, "adversarial rounds (SeqGAN: 200)", min=0)
    g_steps: int = opt(1, "generator updates per round (SeqGAN: 1)", min=0)
    d_steps: int = opt(5, "discriminator steps per round (SeqGAN: 5)", min=0)
    d_epochs: int = opt(3, "epochs per discriminator step (SeqGAN: 3)", min=1)
    d_num_samples: int = opt(10000, "real (and as many fake) sequences per discriminator epoch", min=1)
    batch_size: int = opt(64, "sequences per batch", min=1)
    g_lr: float = opt(0.01, "generator Adam learning rate", gt=0)
    d_lr: float = opt(1e-4, "discriminator Adam learning rate", gt=0)
    g_betas: list[float] = opt([0.9, 0.999], "generator Adam betas (ScratchGAN: [0.5, 0.999])")
    d_betas: list[float] = opt([0.9, 0.999], "discriminator Adam betas (ScratchGAN: [0.5, 0.999])")
    clip: float = opt(5.0, "gradient-norm clip of both networks (0: off)", min=0)
    mle_steps: int = opt(0, "interleaved teacher-forcing generator steps per round", min=0)
    gan_loss: str = opt("bce", "GAN loss: bce, nsgan, rsgan, wgan-gp, hinge")
    label_smoothing: float = opt(0.0, "one-sided label smoothing of real targets (0.1: targets 0.9)", min=0, lt=1)
    eval_every: int = opt(10, "evaluate every this many rounds (and after the last)", min=1)
    checkpoint_every: int = opt(1, "write checkpoints/last.pt every this many rounds (and after the last); a "
                                   "resumed run redoes the rounds since", min=1)


@dataclass
class EvaluationConfig:
    num_samples: int = opt(2000, "generator samples drawn for sample metrics", min=1)
    batch_size: int = opt(512, "batch size of evaluation forwards and sampling", min=1)
    temperature: float = opt(1.0, "sampling temperature for sample metrics", min=0)
    bleu_tokenizer: Literal["whitespace", "treebank"] = opt(
        "whitespace", "BLEU tokenization: whitespace, or nltk Treebank as the published tables")
    max_references: int = opt(0, "BLEU references: first K test lines (Texygen: 500; 0: all)", min=0)
    max_hypotheses: int = opt(0, "BLEU / self-BLEU hypotheses: first K samples (Texygen: 500; 0: all)", min=0)
    bleu_samples: int = opt(
        200, "periodic evaluation on text: samples scored by test-BLEU (vs all test lines) and self-BLEU (0: off)",
        min=0)


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    d_pretrain: DiscriminatorPretrainConfig = field(default_factory=DiscriminatorPretrainConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    # {section: options}: each registered estimator's options dataclass (a plain dict for a section whose
    # estimator is not registered in this process, e.g. a run read back for sampling). Top-level in YAML.
    estimators: dict[str, Any] = field(default_factory=dict, metadata={"help": "estimator option sections"})

    def estimator_options(self, name: str) -> Any:
        """The options of estimator `name` (None when its section is absent)."""
        return self.estimators.get(name)

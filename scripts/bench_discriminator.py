"""Benchmark: the discriminator unit of SeqGAN's protocol, the code at commit 60ac689 against today's, interleaved.

The D unit (issue 20): 2 epochs against 10,000 real sequences at batch 32 real + 32 fresh fakes (626 updates of
64 sequences), SeqGAN's CNN (widths 1..10, 15, 20), Adam, clipping, through `training.adversarial.
train_discriminator`. Sizes: COCO as the peer runs it (T = 37, V ~ 4,660, generator 32/32, after one MLE epoch)
and the SeqGAN oracle (T = 20, V = 5,004). Each round times `--updates` updates of every variant, in turn, on the
same real batches and the same random state, and scales them to 626 updates:

  old          the discriminator module and the token D loss as they are at commit 60ac689 (read with
               `git show`), each batch trimmed to its longest row, real and fake through D in two calls;
  fp32         today's default: rows scored as if alone, grouped by length, real and fake in one call;
  fp32+bucket  ... and real batches from length-sorted pools of 8 batches (`discriminator.length_buckets=8`);
  fp32+fused   ... and D's Adam as one fused kernel (`discriminator.fused_optimizer=true`);
  bf16+fused   ... and bf16 autocast (`discriminator.precision=bf16`);
  fp32+pool    fp32+fused, and the unit's fakes drawn in chunks and each served twice (`discriminator.fake_pool=
               10000`, `fake_reuse=2`: the peer's protocol, 10,000 fakes for the 2 epochs), in length-sorted
               batches like the real ones;
  bf16+pool    ... and bf16 autocast (which keeps the dense backward);
  fp32+window  fp32+pool with the convolutions and max-pool by compiled kernels: the forward fused with the
               pooling, the backward from each max-pool's winning window alone
               (`discriminator.winning_window_grad=true`, `models/pooled_conv.py`);
  fp32+step    ... and the highway's weight gradient kept as its two 64-row factors, its norm from Gram
               matrices and its Adam step formed in cache-sized blocks (`discriminator.fused_highway_step=true`,
               `training/fused_step.py`).

It prints per-round ratios old / variant (medians), the D FLOPs each variant executes per sequence (conv forward
counted at the widths actually convolved, x3 for training; with the compiled kernels, the windows each row reads x1
plus 2 x 2 x w x E per winning window; plus highway and head), the share of the old code's FLOPs spent on padding,
the achieved rate against a square fp32 GEMM timed in the same round (for the variant analysed below, also each
round's unit against that round's GEMM), and the full SeqGAN COCO protocol (120 MLE epochs, D pretraining 5 x 3
epochs = 7.5 units, 200 rounds of 1 G step + 4 D units) from measured units, beside the peer's figures quoted in
issue 20.

It first times SeqGAN's CNN layers alone (convolutions with max-pool, and the highway, forward and backward on one
64-row batch): their rate against the same GEMM is the ceiling of a D unit's rate with torch's kernels. Beside
them, one update's dropout mask by the compiled generator against torch's. For the first of fp32+step, fp32+window
and fp32+pool timed, it splits the unit into its layers alone on the unit's own groups, the work any
implementation must do besides (drawing the fakes, the clipped Adam steps) and the rest, and prints the unit's
ceiling: the highway's three products at the rates torch gets for their shapes alone (for fp32+step with the
compiled kernels, the weight gradient's product and its Adam step as the fused step takes alone), every other FLOP
at the square GEMM's rate, the required work as measured, nothing else.

With --precision-check it instead trains two copies of the same D on the same batches and fakes, one at fp32 and
one under bf16 autocast, and prints their loss and accuracy curves and the rollout rewards each gives the same
samples (the effect of bf16 at the same seed).

    python scripts/bench_discriminator.py [--rounds 3] [--updates 60] [--skip-oracle] [--skip-protocol]
                                          [--variants fp32 fp32+pool ...]
    python scripts/bench_discriminator.py --precision-check [--updates 300]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from textgan.api.builders import build_cnn, build_data, build_estimator, build_generator, discriminator_optimizer
from textgan.api.configs import config as load_config
from textgan.config import DISCRIMINATOR_PRESETS, Config
from textgan.data.batching import TokenBatch, TokenData
from textgan.estimators import losses
from textgan.estimators.common import accuracy_logs
from textgan.models import dropout, kernels, pooled_conv
from textgan.models.wrapping import unwrap
from textgan.training.context import Models, Runtime
from textgan.training.mle import train_mle
from textgan.training.schedules import MLEProgress, MLESchedule

BASELINE = "60ac689"
UPDATES_PER_UNIT = 626  # 2 epochs of 10,000 real at batch 32 (313 batches each)
BATCH = 32
SEQUENCES_PER_UNIT = 2 * BATCH * UPDATES_PER_UNIT  # real and fake rows through D in one unit
PEER = {"mle_epoch": 24.7, "g_step": 231.0, "d_unit": 267.0, "metric_pass": 563.0}  # issue 20, seconds
TEXTGAN_60AC689 = {"mle_epoch": 4.4, "g_step": 5.8, "d_unit": 169.0, "metric_pass": 5.9}  # issue 20, seconds
SEQGAN = dict(DISCRIMINATOR_PRESETS["seqgan"].__dict__)
VARIANTS: dict[str, dict[str, Any]] = {
    "old": {},
    "fp32": {},
    "fp32+bucket": {"length_buckets": 8},
    "fp32+fused": {"length_buckets": 8, "fused_optimizer": True},
    "bf16+fused": {"length_buckets": 8, "fused_optimizer": True, "precision": "bf16"},
    "fp32+pool": {"length_buckets": 8, "fused_optimizer": True, "fake_pool": 10000, "fake_reuse": 2},
    "bf16+pool": {"length_buckets": 8, "fused_optimizer": True, "fake_pool": 10000, "fake_reuse": 2,
                  "precision": "bf16"},
    "fp32+window": {"length_buckets": 8, "fused_optimizer": True, "fake_pool": 10000, "fake_reuse": 2,
                    "winning_window_grad": True},
    "fp32+step": {"length_buckets": 8, "fused_optimizer": True, "fake_pool": 10000, "fake_reuse": 2,
                  "winning_window_grad": True, "fused_highway_step": True},
}
# the first of these timed gets the layers-alone and required-work split
ANALYSED = ("fp32+step", "fp32+window", "fp32+pool")


def old_discriminator_module() -> types.ModuleType:
    """`textgan/models/discriminator.py` as it is at the baseline commit, imported from `git show`."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "show", f"{BASELINE}:textgan/models/discriminator.py"], cwd=root, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("discriminator_60ac689")
    sys.modules[module.__name__] = module
    exec(compile(source, f"{BASELINE}:textgan/models/discriminator.py", "exec"), module.__dict__)
    return module


class OldTokenLoss:
    """The REINFORCE D loss as `estimators/common.py::token_discriminator_loss` is at the baseline commit."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len

    def discriminator_loss(self, generator: torch.nn.Module, discriminator: torch.nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, dict[str, float]]:
        fake = unwrap(generator).sample(real.tokens.size(0), self.max_len)
        real_logits = discriminator(real.tokens)  # (B,)
        fake_logits = discriminator(fake.tokens)  # (B,)
        loss = losses.discriminator_loss("bce", real_logits, fake_logits, label_smoothing=0.0)
        return loss, {"d_loss": float(loss.detach()), **accuracy_logs(real_logits.detach(), fake_logits.detach())}


class FlopCounter:
    """Training FLOPs of a CNN discriminator counted from the convolutions and linear layers it runs."""

    def __init__(self, d: torch.nn.Module) -> None:
        self._total = 0.0
        self.sequences = 0
        self.windows: list[tuple[torch.Tensor, list[int], list[int], int, int]] = []
        self.forwards: list[tuple[list[torch.Tensor], list[int], int]] = []
        for conv in d.convs:
            conv.register_forward_hook(self._conv)
        for linear in [d.highway.proj, d.head]:
            linear.register_forward_hook(self._linear)

    @property
    def total(self) -> float:
        """The FLOPs counted so far, the compiled forwards' and backwards' included."""
        return self._total + self._compiled_flops()

    def _conv(self, module: torch.nn.Conv1d, inputs: Any, out: torch.Tensor) -> None:
        # forward + 2x backward (the compiled forward of the winning-window path does not come here)
        self._total += 3 * 2 * out.numel() * module.in_channels * module.kernel_size[0]

    @contextlib.contextmanager
    def counting_windows(self) -> Iterator[None]:
        """Record the arguments of every compiled forward and winning-window backward run inside (counted
        afterwards, out of the timing)."""
        forward, backward = pooled_conv._conv_max, pooled_conv._window_grads

        def recorded_forward(x: torch.Tensor, read: Any, weights: Any, biases: Any) -> Any:
            self.forwards.append(([r.valid for r in read], [w.shape[0] * w.shape[2] for w in weights], x.shape[2]))
            return forward(x, read, weights, biases)

        def recorded_backward(x: torch.Tensor, starts: torch.Tensor, weights: Any, grad: torch.Tensor,
                              need_x: bool, need_weights: bool) -> Any:
            self.windows.append((starts, [w.shape[2] for w in weights], [w.shape[0] for w in weights],
                                 x.shape[2], int(need_x) + int(need_weights)))
            return backward(x, starts, weights, grad, need_x, need_weights)

        pooled_conv._conv_max, pooled_conv._window_grads = recorded_forward, recorded_backward  # type: ignore[assignment]
        try:
            yield
        finally:
            pooled_conv._conv_max, pooled_conv._window_grads = forward, backward  # type: ignore[assignment]

    def _compiled_flops(self) -> float:
        """The compiled forward's windows, 2 x C x w x E each (only those a row reads are convolved), and 2 x w x E
        per winning window that was convolved (not a bias column), for the weight gradient and again for the input
        gradient (each when needed)."""
        flops = 0.0
        for valid, sizes, dim in self.forwards:
            flops += sum(int(v.sum()) * 2 * size * dim for v, size in zip(valid, sizes))
        for starts, widths, channels, dim, gradients in self.windows:
            columns = starts.split(channels, dim=1)
            for column, width in zip(columns, widths):
                flops += int((column >= 0).sum()) * 2 * width * dim * gradients
        return flops

    def _linear(self, module: torch.nn.Linear, inputs: Any, out: torch.Tensor) -> None:
        self._total += 3 * 2 * out.numel() * module.in_features
        if module.out_features == 1:
            self.sequences += out.shape[0]


def useful_flops(lengths: torch.Tensor, max_width: int = 20) -> float:
    """Training FLOPs of SeqGAN's CNN on sequences of `lengths`, each as if alone: a row of length L >= the widest
    filter convolved at its own width; a shorter one, zero-padded to the widest filter, only at the windows that
    start on a token (the others cover zeros alone: their output is the bias)."""
    lengths = lengths.double()
    conv = sum((torch.where(lengths >= max_width, lengths - w + 1, lengths.clamp(max=max_width - w + 1))
                * w * n * 64 * 2).sum() for w, n in zip(SEQGAN["filter_sizes"], SEQGAN["num_filters"]))
    pooled = sum(SEQGAN["num_filters"])
    return float(3 * (conv + lengths.numel() * (pooled * 2 * pooled * 2 + pooled * 2)))


def gemm_rate(dtype: torch.dtype = torch.float32, size: int = 1024, repeats: int = 10, batches: int = 5) -> float:
    """Achieved FLOP/s of a square matrix product: the median of `batches` timings of `repeats` products each,
    after three unmeasured ones. (One timing of a process's first products read ~105 GFLOP/s on a machine whose
    GEMM runs at ~200, so the shares against it came out above 100%.)"""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    for _ in range(3):
        a @ b
    seconds = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        seconds.append(time.perf_counter() - start)
    return repeats * 2 * size ** 3 / statistics.median(seconds)


def stream_rate(megabytes: int = 96, repeats: int = 5) -> float:
    """Achieved memory bandwidth, bytes/s, of a = b + s * c over arrays of `megabytes` each (well past the last-level
    cache): two reads and one write per element, as Adam's moments stream. The unit's memory-bound work (its Adam
    steps, the highway's weight read after them) moves with it where the square GEMM does not."""
    n = megabytes * 2**20 // 4
    a, b, c = torch.empty(n), torch.rand(n), torch.rand(n)
    torch.add(b, c, alpha=0.5, out=a)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.add(b, c, alpha=0.5, out=a)
    return repeats * 3 * 4 * n / (time.perf_counter() - start)


def setup(name: str) -> tuple[Config, TokenData, torch.nn.Module, int]:
    """Config, training data and a generator after one MLE epoch, at the peer's COCO sizes or the oracle's."""
    overrides = ["generator.embedding_size=32", "generator.hidden_size=32"]
    if name == "coco":
        overrides.append("data.max_len=37")
    cfg = load_config(name, overrides)
    data = build_data(cfg, None)
    generator = build_generator(cfg, data.tokenizer, data.fixed_length)
    g_opt = torch.optim.Adam(generator.parameters(), lr=cfg.pretrain.lr)
    train_mle(Models(generator, g_opt), data.train, data.valid, MLESchedule(1, 64), MLEProgress(),
              Runtime(progress=False))
    return cfg, data.train, generator, int(data.train.tokens.size(1))


def variant_config(cfg: Config, options: dict[str, Any]) -> Config:
    """A copy of `cfg` whose discriminator section is SeqGAN's CNN with a variant's `options`."""
    run_cfg = copy.deepcopy(cfg)
    for key, value in {**SEQGAN, **options}.items():
        setattr(run_cfg.discriminator, key, value)
    return run_cfg


def step_epochs() -> Callable[[int, int], float]:
    """epoch(updates, index): ms an update of `updates` fp32+step D updates at the peer's COCO sizes on epoch
    `index`'s batches, one D trained throughout (the in-unit A/B benchmarks: bench_kernel_width.py,
    bench_fused_step.py); two warm-up epochs already run."""
    from textgan.training.adversarial import train_discriminator

    torch.manual_seed(0)
    cfg, real, generator, max_len = setup("coco")
    run_cfg = variant_config(cfg, VARIANTS["fp32+step"])
    d = build_cnn(run_cfg.discriminator, "tokens", vocab_size=unwrap(generator).vocab_size)
    optimizer = discriminator_optimizer(run_cfg, d)
    estimator = build_estimator(cfg, max_len)

    def epoch(updates: int, index: int) -> float:
        torch.manual_seed(index)
        start = time.perf_counter()
        train_discriminator(estimator, Models(generator, None, d, optimizer), real, epochs=1,  # type: ignore[arg-type]
                            num_samples=updates * BATCH, batch_size=BATCH, clip=5.0, seed=0, epoch_base=index,
                            step=0, runtime=Runtime(progress=False), length_buckets=8, fake_pool=10000, fake_reuse=2)
        return (time.perf_counter() - start) / updates * 1e3

    for index in range(2):  # warm-up, not counted
        epoch(30, index)
    return epoch


def d_unit_part(cfg: Config, variant: str, old: types.ModuleType, state: dict[str, torch.Tensor],
                generator: torch.nn.Module, real: TokenData, max_len: int, updates: int,
                epoch: int, record: list[list[tuple[torch.Tensor, torch.Tensor, int | None]]] | None = None,
                ) -> tuple[float, float, int, float]:
    """(seconds, executed FLOPs, sequences, useful FLOPs) of `updates` D updates of one variant; with `record`
    (today's code), the convolved groups of every forward (embedded rows, lengths, longest) are appended to it."""
    from textgan.training.adversarial import train_discriminator

    options = VARIANTS[variant]
    run_cfg = variant_config(cfg, options)
    section = run_cfg.discriminator
    vocab = unwrap(generator).vocab_size
    if variant == "old":
        d = old.CNNDiscriminator(input_mode="tokens", vocab_size=vocab, embedding_size=64,
                                 filter_sizes=SEQGAN["filter_sizes"], num_filters=SEQGAN["num_filters"],
                                 dropout=SEQGAN["dropout"], highway=True)
        estimator: Any = OldTokenLoss(max_len)
    else:
        d = build_cnn(section, "tokens", vocab_size=vocab)
        estimator = build_estimator(cfg, max_len)
    d.load_state_dict(state)
    optimizer = discriminator_optimizer(run_cfg, d)
    counter = FlopCounter(d)
    lengths = []
    sample = unwrap(generator).sample

    def recording_sample(num: int, max_len: int, **kw: Any) -> Any:
        out = sample(num, max_len, **kw)
        lengths.append(out.lengths)
        return out

    unwrap(generator).sample = recording_sample  # type: ignore[method-assign]
    real_lengths = []
    batches = real.batches

    def recording_batches(*args: Any, **kw: Any) -> Any:
        for batch in batches(*args, **kw):
            real_lengths.append(batch.lengths)
            yield batch

    real.batches = recording_batches  # type: ignore[method-assign]
    if record is not None:
        record_groups(d, record)
    torch.manual_seed(epoch)
    with counter.counting_windows():
        start = time.perf_counter()
        train_discriminator(estimator, Models(generator, None, d, optimizer), real,  # type: ignore[arg-type]
                            epochs=1, num_samples=updates * BATCH, batch_size=BATCH, clip=5.0, seed=0,
                            epoch_base=epoch, step=0, runtime=Runtime(progress=False),
                            length_buckets=options.get("length_buckets", 0), fake_pool=options.get("fake_pool", 0),
                            fake_reuse=options.get("fake_reuse", 1))
        seconds = time.perf_counter() - start
    del unwrap(generator).sample, real.batches
    seen = torch.cat(real_lengths[:updates] + lengths)
    return seconds, counter.total, counter.sequences, useful_flops(seen)


def record_groups(d: torch.nn.Module, record: list[list[tuple[torch.Tensor, torch.Tensor, int | None]]]) -> None:
    """Make `d` append the groups it convolves in each forward to `record` (one list per forward)."""
    pooled, head = d._pooled, d.head_logits
    current: list[tuple[torch.Tensor, torch.Tensor, int | None]] = []

    def recording_pooled(e: torch.Tensor, lengths: torch.Tensor | None, longest: int | None = None) -> torch.Tensor:
        current.append((e.detach().clone(), lengths, longest))
        return pooled(e, lengths, longest)

    def recording_head(h: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        record.append(list(current))
        current.clear()
        return head(h, labels)

    d._pooled, d.head_logits = recording_pooled, recording_head


def layers_alone(state: dict[str, torch.Tensor], vocab: int,
                 forwards: list[list[tuple[torch.Tensor, torch.Tensor, int | None]]],
                 options: dict[str, Any]) -> tuple[float, float]:
    """(seconds, FLOPs) of the CNN's layers alone on recorded forwards: every group's convolutions, masks and
    max-pool, then the highway and output layer over the whole batch, forward and backward, and nothing else (no
    sampling, embedding lookup or its gradient, dropout, loss, clipping or optimizer); the convolutions' backward
    as the variant's `options` say. Where the variant's highway step is compiled (`compiled_step`), the highway's
    weight gradient is not formed here (the fused step forms it, timed by `required_work`), but its FLOPs are
    counted."""
    preset = dataclasses.replace(DISCRIMINATOR_PRESETS["seqgan"],
                                 winning_window_grad=options.get("winning_window_grad", False))
    d = build_cnn(preset, "tokens", vocab_size=vocab)
    d.load_state_dict(state)
    d.eval()  # dropout off: it is not one of the layers
    if compiled_step(options):
        d.highway.proj.weight.requires_grad_(False)
    counter = FlopCounter(d)
    inputs = [[(e.requires_grad_(), lengths, longest) for e, lengths, longest in groups] for groups in forwards]
    with counter.counting_windows():
        start = time.perf_counter()
        for groups in inputs:
            d.zero_grad(set_to_none=True)
            pooled = torch.cat([d._pooled(e, lengths, longest) for e, lengths, longest in groups])
            d.head_logits(pooled).sum().backward()
        seconds = time.perf_counter() - start
    return seconds, counter.total


def compiled_step(options: dict[str, Any]) -> bool:
    """Whether a variant's highway weight takes the compiled factored step (``models/factored_adam.c``): its
    gradient product and Adam step in one pass."""
    return bool(options.get("fused_highway_step")) and kernels.available()


def required_work(cfg: Config, state: dict[str, torch.Tensor], generator: torch.nn.Module,
                  max_len: int, options: dict[str, Any]) -> tuple[float, float, float]:
    """(seconds, seconds, seconds) a unit spends outside the CNN's layers: drawing its 10,000 fakes (in the fake
    pool's 2,048-row passes), which any kernels must do; 626 optimizer steps with gradient clipping over D's
    parameters (with `fused_highway_step`, the highway weight's Adam a block of rows at a time on a gradient block
    already in cache: its product is layer work); and, where that step is compiled (`compiled_step`), 626 of its
    fused steps (the weight gradient's product and the weight's Adam, on factors of 64 rows), which the optimizer
    steps then leave out."""
    from textgan.models.fake_pool import DRAW_ROWS
    from textgan.training import fused_step
    from textgan.training.mle import clip_and_step

    start = time.perf_counter()
    for rows in [DRAW_ROWS] * (10_000 // DRAW_ROWS) + [10_000 % DRAW_ROWS]:
        unwrap(generator).draw(rows, max_len)
    sampling = time.perf_counter() - start
    run_cfg = variant_config(cfg, options)
    d = build_cnn(run_cfg.discriminator, "tokens", vocab_size=unwrap(generator).vocab_size)
    d.load_state_dict(state)
    optimizer = discriminator_optimizer(run_cfg, d)
    deferred = d.highway.proj.weight if options.get("fused_highway_step") else None
    for p in d.parameters():
        if p is not deferred:
            p.grad = torch.randn_like(p) * 1e-3
    block = torch.randn(fused_step.BLOCK_ROWS, d.highway.proj.in_features) * 1e-3
    compiled = compiled_step(options)
    steps = 60
    start = time.perf_counter()
    for _ in range(steps):
        clip_and_step(d, optimizer, 5.0)
        if deferred is not None and not compiled:
            group = fused_step.param_group(deferred, optimizer)
            assert group is not None
            fused_step.adam_blocks(deferred, optimizer.state[deferred], group, lambda first, stop: block[:stop - first])
    stepping = (time.perf_counter() - start) * UPDATES_PER_UNIT / steps
    fused = 0.0
    if compiled:
        layer = d.highway.proj
        dy, x = torch.randn(2 * BATCH, layer.out_features) * 1e-3, torch.randn(2 * BATCH, layer.in_features).relu()
        start = time.perf_counter()
        for _ in range(steps):
            layer.deferred.parts.append((dy, x))
            fused_step.step_fused(layer, optimizer, torch.tensor(0.5))
        fused = (time.perf_counter() - start) * UPDATES_PER_UNIT / steps
    return sampling, stepping, fused


def bench_d_unit(name: str, rounds: int, updates: int,
                 old: types.ModuleType) -> dict[str, tuple[float, float]]:
    """Interleaved rounds of every variant at the sizes of `name`; prints the table, returns (median unit seconds,
    median old / variant) per variant."""
    cfg, real, generator, max_len = setup(name)
    torch.manual_seed(1)
    state = build_cnn(DISCRIMINATOR_PRESETS["seqgan"], "tokens", vocab_size=unwrap(generator).vocab_size).state_dict()
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    flops: dict[str, list[float]] = {v: [] for v in VARIANTS}
    useful: list[float] = []
    gemm: list[float] = []
    gemm_bf16: list[float] = []
    stream: list[float] = []
    alone: list[tuple[float, float]] = []  # (layers-alone seconds per unit, their rate) of the pooled fp32 unit
    required: list[tuple[float, float, float]] = []  # (sampling, optimizer, compiled step) seconds per unit
    shares: list[dict[str, float]] = []  # the highway's products at their own shapes, as shares of the GEMM
    analysed = next((v for v in ANALYSED if v in VARIANTS), None)
    for r in range(rounds + 1):  # round 0 warms up and is not counted
        gemm.append(gemm_rate())
        stream.append(stream_rate())
        if any(v.startswith("bf16") for v in VARIANTS):  # slow where bf16 is emulated (no bf16 units)
            gemm_bf16.append(gemm_rate(torch.bfloat16))
        for variant in VARIANTS:
            record: list[Any] | None = [] if variant == analysed else None
            seconds, executed, sequences, used = d_unit_part(cfg, variant, old, state, generator, real, max_len,
                                                             updates if r else 3, epoch=r, record=record)
            if record is not None:
                layer_s, layer_flops = layers_alone(state, unwrap(generator).vocab_size, record, VARIANTS[variant])
                if r:
                    work = required_work(cfg, state, generator, max_len, VARIANTS[variant])
                    layer_s += work[2] * updates / UPDATES_PER_UNIT  # the weight gradient, in the fused step
                    alone.append((layer_s * UPDATES_PER_UNIT / updates, layer_flops / layer_s))
                    required.append(work)
                    shares.append(highway_shares(sum(SEQGAN["num_filters"])))
            if r:
                times[variant].append(seconds * UPDATES_PER_UNIT / updates)
                flops[variant].append(executed / sequences)
                if variant == "old":
                    useful.append(used / sequences)
        if not r:
            gemm.clear()
            gemm_bf16.clear()
            stream.clear()
    g32, g16 = statistics.median(gemm), statistics.median(gemm_bf16 or [float("nan")])
    print(f"\n[{name}] D unit ({UPDATES_PER_UNIT} updates of {BATCH} real + {BATCH} fakes, T <= {max_len}, "
          f"V = {unwrap(generator).vocab_size}, generator 32/32, SeqGAN CNN), {updates} updates timed per variant "
          f"per round, {rounds} interleaved rounds, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"  square GEMM 1024: fp32 {g32 / 1e9:.1f} GFLOP/s, bf16 {g16 / 1e9:.1f} GFLOP/s; memory, a = b + s c over "
          f"96 MB arrays: {statistics.median(stream) / 1e9:.1f} GB/s (medians)")
    old_flops = statistics.median(flops["old"])
    print(f"  D training FLOPs per sequence, old code: {old_flops / 1e6:.0f} M; each row as if alone, windows on "
          f"its tokens only: {statistics.median(useful) / 1e6:.0f} M; padding share of the old code: "
          f"{1 - statistics.median(useful) / old_flops:.1%}")
    floor = statistics.median(useful) * SEQUENCES_PER_UNIT / g32
    print(f"  fp32 floor of a dense backward (x3 the forward): those FLOPs at the GEMM rate, sampling free: "
          f"{floor:.1f} s a unit, so old / variant can be at most {statistics.median(times['old']) / floor:.2f}x "
          f"without the winning-window backward")
    print(f"  {'variant':<12} {'unit s':>8} {'old/variant':>12} {'MFLOP/seq':>10} {'GFLOP/s':>8} {'of GEMM':>8}")
    medians = {}
    for variant in VARIANTS:
        unit = statistics.median(times[variant])
        ratio = statistics.median(o / t for o, t in zip(times["old"], times[variant]))
        medians[variant] = unit, ratio
        per_seq = statistics.median(flops[variant])
        rate = per_seq * SEQUENCES_PER_UNIT / unit
        reference = g16 if variant.startswith("bf16") else g32
        print(f"  {variant:<12} {unit:>8.1f} {ratio:>11.2f}x {per_seq / 1e6:>10.0f} {rate / 1e9:>8.1f} "
              f"{rate / reference:>7.0%}")
    if analysed is not None:
        per_round = [flops[analysed][k] * SEQUENCES_PER_UNIT / times[analysed][k] / gemm[k] for k in range(rounds)]
        print(f"  {analysed}, each round's unit against that round's GEMM: "
              f"{', '.join(f'{share:.0%}' for share in per_round)} of the GEMM")
    if "fp32+pool" in VARIANTS and "fp32+window" in VARIANTS:
        dense = statistics.median(flops["fp32+pool"])
        rate = dense * SEQUENCES_PER_UNIT / medians["fp32+window"][0]
        print(f"  fp32+window counted at fp32+pool's FLOPs ({dense / 1e6:.0f} MFLOP/seq, the dense backward's): "
              f"{rate / 1e9:.1f} GFLOP/s, {rate / g32:.0%} of the GEMM (a speed figure: it counts FLOPs not done)")
    if alone:
        layer_unit = statistics.median(a for a, _ in alone)
        layer_rate = statistics.median(b for _, b in alone)
        unit = medians[analysed][0]
        fused = statistics.median(c for _, _, c in required)
        with_step = f" (the highway's weight gradient in the compiled fused step with its Adam, {fused:.1f} s)" \
            if fused else ""
        print(f"  {analysed}, its CNN layers alone on its own groups (convolutions, masks, max-pool, highway, output "
              f"layer; forward and backward{with_step}): {layer_unit:.1f} s a unit at {layer_rate / g32:.0%} of the "
              f"GEMM, the most the unit's rate can be with these kernels; the rest of the unit (sampling, embedding, "
              f"dropout, loss, clipping, optimizer) {unit - layer_unit:.1f} s, {1 - layer_unit / unit:.0%} of it")
        sampling = statistics.median(a for a, _, _ in required)
        stepping = statistics.median(b for _, b, _ in required)
        bound = layer_rate * layer_unit / (layer_unit + sampling + stepping)
        others = " of the other parameters" if fused else ""
        print(f"  of that rest, required whatever the kernels: drawing the 10,000 fakes {sampling:.1f} s, 626 clipped "
              f"Adam steps{others} {stepping:.1f} s; with nothing else the unit would run at {bound / g32:.0%} of the "
              f"GEMM")
        ceilings = [ceiling(flops[analysed][k], gemm[k], shares[k], required[k]) for k in range(rounds)]
        products = [n for n in shares[0] if not (fused and n.startswith("weight gradient"))]
        print(f"  ceiling of {analysed} with its kernels: the highway's products at the rates torch's kernels get for "
              f"their shapes alone ({', '.join(f'{n} {statistics.median(s[n] for s in shares):.0%}' for n in products)}"
              f" of the GEMM){with_step}, every other FLOP at the square GEMM's rate, the required work above and "
              f"nothing else: "
              f"{statistics.median(c for c, _ in ceilings):.1f} s a unit, "
              f"{statistics.median(share for _, share in ceilings):.0%} of the GEMM (per round: "
              f"{', '.join(f'{share:.0%}' for _, share in ceilings)})")
    return medians


def ceiling(per_seq: float, gemm: float, shares: dict[str, float], required: tuple[float, float, float]
            ) -> tuple[float, float]:
    """(seconds, share of the GEMM) of a unit doing `per_seq` FLOPs a sequence in which the highway's three products
    run at `shares` of a `gemm` FLOP/s square GEMM (the weight gradient's in the compiled fused step instead, when
    `required` times one), all its other FLOPs at the GEMM's rate, plus the `required` (sampling, optimizer,
    compiled step) seconds and no other work."""
    product = 2 * sum(SEQGAN["num_filters"]) * 2 * sum(SEQGAN["num_filters"])  # one product, FLOPs a sequence
    rates = [share for name, share in shares.items() if not (required[2] and name.startswith("weight gradient"))]
    seconds = SEQUENCES_PER_UNIT * (sum(product / (share * gemm) for share in rates)
                                    + (per_seq - len(shares) * product) / gemm) + sum(required)
    return seconds, per_seq * SEQUENCES_PER_UNIT / seconds / gemm


def machine() -> str:
    """The CPU this runs on, as a results section states it: model name, vector units that set its GEMM rate, and
    logical CPUs (from /proc/cpuinfo where there is one)."""
    import os
    import platform

    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    units = [u for u in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if u in flags]
    return f"{name}; {', '.join(units) or 'no AVX2/AVX-512 flags read'}; {os.cpu_count()} logical CPUs"


def kernel_ceiling(repeats: int = 20) -> None:
    """The rate of SeqGAN's CNN layers alone, forward and backward on one 64-row batch with nothing else (no
    sampling, optimizer, masks, dropout, loss): the most a D unit's rate can reach with torch's kernels."""
    torch.manual_seed(0)
    convs = [torch.nn.Conv1d(64, n, w) for w, n in zip(SEQGAN["filter_sizes"], SEQGAN["num_filters"])]
    pooled = sum(SEQGAN["num_filters"])
    highway = torch.nn.Linear(pooled, 2 * pooled)
    preset = dataclasses.replace(DISCRIMINATOR_PRESETS["seqgan"], winning_window_grad=True)
    d = build_cnn(preset, "features", feature_size=64)  # the CNN's own path
    for conv, own in zip(d.convs, convs):
        conv.load_state_dict(own.state_dict())
    print(f"\n[kernels] SeqGAN's CNN layers alone, forward + backward, 64 rows, {torch.get_num_threads()} thread(s)")
    highway_products(pooled)
    if kernels.available():
        dropout_masks(pooled)
    for width in (20, 37):
        x = torch.randn(64, 64, width)

        def convolutions() -> None:
            for conv in convs:
                conv.zero_grad(set_to_none=True)
            inputs = x.detach().requires_grad_()  # noqa: B023
            torch.cat([conv(inputs).max(2).values for conv in convs], 1).sum().backward()

        h = torch.randn(64, pooled)

        def highway_layer() -> None:
            highway.zero_grad(set_to_none=True)  # as a training step: no accumulation into last call's gradient
            highway(h.detach().requires_grad_()).sum().backward()  # noqa: B023

        gemm = gemm_rate()
        conv_flops = 3 * 64 * sum((width - w + 1) * w * n * 64 * 2 for w, n in zip(SEQGAN["filter_sizes"],
                                                                                   SEQGAN["num_filters"]))
        conv_s, highway_s = timed(convolutions, repeats), timed(highway_layer, repeats)
        highway_flops = 3 * 64 * pooled * 2 * pooled * 2
        both = (conv_flops + highway_flops) / (conv_s + highway_s)
        print(f"  T = {width}: convolutions + max-pool {conv_flops / conv_s / 1e9:.1f} GFLOP/s "
              f"({conv_flops / conv_s / gemm:.0%} of the square GEMM's {gemm / 1e9:.1f}), highway "
              f"{highway_flops / highway_s / 1e9:.1f} GFLOP/s ({highway_flops / highway_s / gemm:.0%}), both "
              f"{both / gemm:.0%}")
        if kernels.available():
            e = x.transpose(1, 2).contiguous()  # (64, T, 64)

            def winning() -> None:
                d.zero_grad(set_to_none=True)
                d._pooled(e.detach().requires_grad_(), None).sum().backward()  # noqa: B023

            window_s = timed(winning, repeats)
            window_flops = conv_flops / 3 + 64 * 2 * 2 * 64 * sum(w * n for w, n in zip(SEQGAN["filter_sizes"],
                                                                                      SEQGAN["num_filters"]))
            print(f"    convolutions + max-pool by the compiled kernels: {window_s * 1e3:.1f} ms against "
                  f"{conv_s * 1e3:.1f} ms ({conv_s / window_s:.2f}x), {window_flops / window_s / 1e9:.1f} GFLOP/s "
                  f"executed ({window_flops / window_s / gemm:.0%} of the GEMM)")


def highway_products(features: int, rows: int = 64, repeats: int = 20) -> None:
    """Print the rate of each of the highway's three products at its own shape against the square GEMM."""
    shares = highway_shares(features, rows, repeats)
    print(f"  highway products at {rows} rows, F = {features} (each {2 * rows * features * 2 * features / 1e6:.0f} "
          "MFLOP): " + ", ".join(f"{name} {share:.0%}" for name, share in shares.items()) + " of the square GEMM")


def dropout_masks(features: int, rows: int = 64, repeats: int = 50) -> None:
    """Print the time of one update's dropout mask (`rows` x `features`, p = SeqGAN's) by the compiled generator
    (``models/dropout.py``) against torch's own (bernoulli_ on the CPU)."""
    p, shape = SEQGAN["dropout"], torch.Size([rows, features])
    ours = timed(lambda: dropout.mask(shape, p), repeats)
    torchs = timed(lambda: torch.empty(shape).bernoulli_(1 - p), repeats)
    print(f"  dropout mask {rows} x {features}: compiled {ours * 1e3:.3f} ms, torch's bernoulli_ {torchs * 1e3:.3f} ms "
          f"({torchs / ours:.1f}x)")


def highway_shares(features: int, rows: int = 64, repeats: int = 20) -> dict[str, float]:
    """The rate of each of the highway's three products at its own shape (gate and transform together, `rows`
    sequences), into warm output buffers, as a share of a square GEMM timed alongside: what torch's matrix kernels
    give the largest part of the D unit's FLOPs."""
    x, dy = torch.randn(rows, features), torch.randn(rows, 2 * features)
    weight, bias = torch.randn(2 * features, features), torch.randn(2 * features)
    out_y, out_x, out_w = torch.empty(rows, 2 * features), torch.empty(rows, features), torch.empty(2 * features,
                                                                                                  features)
    products = {"forward x W^T": lambda: torch.addmm(bias, x, weight.t(), out=out_y),
                "input gradient dy W": lambda: torch.mm(dy, weight, out=out_x),
                "weight gradient dy^T x": lambda: torch.mm(dy.t(), x, out=out_w)}
    flops = 2 * rows * features * 2 * features
    gemm = gemm_rate()
    return {name: flops / timed(product, repeats) / gemm for name, product in products.items()}


def timed(fn: Callable[[], Any], rounds: int) -> float:
    """Median seconds of `fn` over `rounds` calls after one warm-up call."""
    fn()
    values = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return statistics.median(values)


def bench_protocol(rounds: int, d_units: dict[str, tuple[float, float]]) -> None:
    """The SeqGAN COCO protocol from measured units (today's code for the MLE epoch and the G step): as timed here,
    and scaled to issue 20's quiet-machine figures for the code at the baseline (its D unit divided by the
    old / variant ratio measured here, its MLE epoch and G step as they are: this change leaves them alone)."""
    cfg, real, generator, max_len = setup("coco")
    g_opt = torch.optim.Adam(generator.parameters(), lr=cfg.pretrain.lr)
    mle_epoch = timed(lambda: train_mle(Models(generator, g_opt), real, real.subset(torch.arange(64)),
                                        MLESchedule(1, 64), MLEProgress(), Runtime(progress=False)), rounds)
    g_steps = {}
    for precision in sorted({"bf16" if v.startswith("bf16") else "fp32" for v in d_units} | {"fp32"}):
        d = build_cnn(variant_config(cfg, {"precision": precision}).discriminator, "tokens",
                      vocab_size=unwrap(generator).vocab_size).eval()
        estimator = build_estimator(cfg, max_len)
        batch = next(real.batches(64, shuffle=True))

        def g_step() -> None:
            loss, _ = estimator.generator_loss(generator, d, batch, 0)  # noqa: B023
            loss.backward()
            g_opt.step()
            g_opt.zero_grad(set_to_none=True)

        g_steps[precision] = timed(g_step, rounds)

    def hours(mle: float, g: float, d: float) -> float:
        return (120 * mle + 7.5 * d + 200 * (g + 4 * d)) / 3600

    peer = hours(PEER["mle_epoch"], PEER["g_step"], PEER["d_unit"])
    print(f"\n[protocol] SeqGAN COCO: 120 MLE epochs + D pretraining 5 x 3 epochs (7.5 D units) + 200 x (1 G step + "
          f"4 D units), metric passes excluded; measured: MLE epoch {mle_epoch:.1f} s, G step fp32 "
          f"{g_steps['fp32']:.1f} s, bf16 {g_steps.get('bf16', float('nan')):.1f} s")
    print(f"  peer (issue 20 figures): {peer:.1f} h; textgan at {BASELINE} (issue 20 figures): "
          f"{hours(TEXTGAN_60AC689['mle_epoch'], TEXTGAN_60AC689['g_step'], TEXTGAN_60AC689['d_unit']):.1f} h")
    base = TEXTGAN_60AC689
    for variant, (unit, ratio) in d_units.items():
        g = g_steps["bf16" if variant.startswith("bf16") else "fp32"]
        total = hours(mle_epoch, g, unit)
        scaled = hours(base["mle_epoch"], base["g_step"], base["d_unit"] / ratio)
        print(f"  textgan {variant:<12} timed here: D unit {unit:6.1f} s -> {total:5.1f} h, peer / textgan "
              f"{peer / total:.2f}x; scaled: D unit {base['d_unit'] / ratio:6.1f} s -> {scaled:5.1f} h, "
              f"peer / textgan {peer / scaled:.2f}x")


def precision_check(name: str, updates: int) -> None:
    """Loss/accuracy curves and rollout rewards of D trained at fp32 and at bf16 from the same start and seed."""
    from textgan.training.adversarial import train_discriminator

    cfg, real, generator, max_len = setup(name)
    torch.manual_seed(1)
    vocab = unwrap(generator).vocab_size
    state = build_cnn(DISCRIMINATOR_PRESETS["seqgan"], "tokens", vocab_size=vocab).state_dict()
    estimator = build_estimator(cfg, max_len)
    models, curves = {}, {}
    for precision in ("fp32", "bf16"):
        run_cfg = variant_config(cfg, {"precision": precision})
        d = build_cnn(run_cfg.discriminator, "tokens", vocab_size=vocab)
        d.load_state_dict(state)
        optimizer = discriminator_optimizer(run_cfg, d)
        torch.manual_seed(7)
        curve = []
        for block in range(0, updates, 25):  # the mean logs of every 25 updates
            curve.append(train_discriminator(estimator, Models(generator, None, d, optimizer),  # type: ignore[arg-type]
                                             real, epochs=1, num_samples=25 * BATCH, batch_size=BATCH, clip=5.0,
                                             seed=0, epoch_base=block, step=0, runtime=Runtime(progress=False)))
        models[precision], curves[precision] = d, curve
    print(f"\n[precision, {name}] SeqGAN CNN trained {updates} updates (batch {BATCH} + {BATCH}) from the same "
          f"weights, batches and seed; means of each 25 updates, fp32 / bf16")
    for k, (a, b) in enumerate(zip(curves["fp32"], curves["bf16"])):
        print(f"  updates {25 * k + 1:>4}-{25 * (k + 1):<4} d_loss {a['d_loss']:.4f} / {b['d_loss']:.4f}   "
              f"acc real {a['d_acc_real']:.3f} / {b['d_acc_real']:.3f}   acc fake {a['d_acc_fake']:.3f} / "
              f"{b['d_acc_fake']:.3f}")
    samples = unwrap(generator).sample(64, max_len)
    rewards = {}
    for label, d, precision in [("fp32 D, fp32 scoring", models["fp32"], "fp32"),
                                ("bf16 D, bf16 scoring", models["bf16"], "bf16"),
                                ("bf16 D, fp32 scoring", models["bf16"], "fp32")]:
        d.precision = precision
        torch.manual_seed(11)
        with torch.no_grad():
            rewards[label] = estimator.scorer(d.eval(), samples.tokens).sequence_rewards()
            torch.manual_seed(11)
            logits = d(samples.tokens)
        rewards[label + " logits"] = logits
    base = rewards["fp32 D, fp32 scoring"]
    for label in ("bf16 D, bf16 scoring", "bf16 D, fp32 scoring"):
        diff = (rewards[label] - base).abs()
        print(f"  sequence rewards (D probabilities) of 64 samples, {label} vs fp32: mean |diff| "
              f"{float(diff.mean()):.4f}, max {float(diff.max()):.4f}, mean reward {float(rewards[label].mean()):.4f}"
              f" vs {float(base.mean()):.4f}")
    scoring = (rewards["bf16 D, bf16 scoring logits"] - rewards["bf16 D, fp32 scoring logits"]).abs()
    print(f"  the same bf16-trained weights scored in bf16 vs fp32: logits mean |diff| {float(scoring.mean()):.4f}, "
          f"max {float(scoring.max()):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds (default 3)")
    parser.add_argument("--updates", type=int, default=60, help="D updates timed per variant and round (default 60)")
    parser.add_argument("--skip-oracle", action="store_true", help="only the COCO sizes")
    parser.add_argument("--skip-protocol", action="store_true", help="no end-to-end extrapolation")
    parser.add_argument("--precision-check", action="store_true", help="only the fp32 / bf16 training comparison")
    parser.add_argument("--kernels-only", action="store_true", help="only the CNN layers' rate (the ceiling)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="a subset of the variants ('old' is "
                        "always timed: the ratios are against it)")
    args = parser.parse_args()
    if args.rounds < 1 or args.updates < 1:
        parser.error("--rounds and --updates must be at least 1")
    if args.variants:
        for name in [v for v in VARIANTS if v != "old" and v not in args.variants]:
            del VARIANTS[name]
    print(f"machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    if args.precision_check:
        precision_check("coco", args.updates)
        return
    if args.kernels_only:
        kernel_ceiling()
        return
    old = old_discriminator_module()
    kernel_ceiling()
    coco = bench_d_unit("coco", args.rounds, args.updates, old)
    if not args.skip_oracle:
        bench_d_unit("oracle", args.rounds, args.updates, old)
    if not args.skip_protocol:
        bench_protocol(args.rounds, coco)


if __name__ == "__main__":
    main()

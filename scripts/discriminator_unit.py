"""SeqGAN's discriminator unit at the peer's sizes, as the discriminator benchmarks run it (issue 20): the variants,
the code at the baseline commit, the FLOP counter, the square GEMM and memory rates, and one variant's timed updates
(``bench_discriminator.py``, ``bench_kernel_width.py``, ``bench_fused_step.py``)."""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import platform
import statistics
import subprocess
import sys
import tempfile
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
from textgan.models import kernels, pooled_conv
from textgan.models.wrapping import unwrap
from textgan.training.context import Models, Runtime
from textgan.training.mle import train_mle
from textgan.training.schedules import MLEProgress, MLESchedule

BASELINE = "60ac689"
UPDATES_PER_UNIT = 626  # 2 epochs of 10,000 real at batch 32 (313 batches each)
BATCH = 32
SEQUENCES_PER_UNIT = 2 * BATCH * UPDATES_PER_UNIT  # real and fake rows through D in one unit
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
    "fp32+sampler": {"length_buckets": 8, "fused_optimizer": True, "fake_pool": 10000, "fake_reuse": 2,
                     "winning_window_grad": True, "fused_highway_step": True, "compiled_sampler": True},
}
GENERATOR_OPTIONS = ("compiled_sampler",)  # variant options of the generator's section (the fakes' sampler)


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
        self._hooks = [conv.register_forward_hook(self._conv) for conv in d.convs]
        self._hooks += [linear.register_forward_hook(self._linear) for linear in [d.highway.proj, d.head]]

    def remove(self) -> None:
        """Stop counting: the hooks on D's layers are removed."""
        for hook in self._hooks:
            hook.remove()

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


# the machine's fp32 multiply-add peak on one thread: 12 independent chains of vector multiply-adds (enough to cover
# the latency of two pipes), in the kernels' vector type, so the width is the one they are built for
_PEAK_PROBE = r"""
#include <stdio.h>
#include <time.h>
#include "vectors.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
    vf acc[12], scale = (vf){0} + 0.999999f, shift = (vf){0} + 1e-7f;
    const long steps = 20000000;
    double best = 1e9;
    for (int i = 0; i < 12; i++) acc[i] = (vf){0} + (float)i;
    for (int round = 0; round < 5; round++) {
        const double start = now();
        for (long k = 0; k < steps; k++)
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) acc[i] = fmaw(acc[i], scale, shift);
        const double took = now() - start;
        if (took < best) best = took;
    }
    float sum = 0;
    for (int i = 0; i < 12; i++) sum += acc[i][0];
    printf("%.6e %g\\n", steps * 12.0 * LANES * 2 / best, sum);
    return 0;
}
"""


def fma_peak() -> float | None:
    """The fp32 FLOP/s of one thread's vector multiply-adds with nothing else to do (a probe built with the
    kernels' compiler, flags and vector type), a ceiling no product reaches; None without a compiler. The square
    GEMM's share of it says how close torch's product comes to the machine, so a share of the GEMM can be read
    across machines."""
    cc = kernels.compiler()
    if cc is None:
        return None
    with tempfile.TemporaryDirectory() as work:
        source, program = Path(work) / "peak.c", Path(work) / "peak"
        source.write_text(_PEAK_PROBE)
        flags = ["-O2", "-std=gnu99", f"-I{kernels.HEADERS[0].parent}"]
        if not kernels.build(cc, [source], program, flags, (kernels.NATIVE, [])):
            return None
        ran = subprocess.run([str(program)], capture_output=True, text=True)
        return float(ran.stdout.split()[0]) if ran.returncode == 0 else None


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


def machine() -> str:
    """The CPU this runs on, as a results section states it: model name, vector units that set its GEMM rate, and
    logical CPUs (from /proc/cpuinfo where there is one)."""
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


def timed(fn: Callable[[], Any], rounds: int) -> float:
    """Median seconds of `fn` over `rounds` calls after one warm-up call."""
    fn()
    values = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return statistics.median(values)


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
    """A copy of `cfg` whose discriminator section is SeqGAN's CNN with a variant's `options` (those in
    `GENERATOR_OPTIONS` set in its generator section)."""
    run_cfg = copy.deepcopy(cfg)
    for key, value in {**SEQGAN, **options}.items():
        setattr(run_cfg.generator if key in GENERATOR_OPTIONS else run_cfg.discriminator, key, value)
    return run_cfg


def pool_options(options: dict[str, Any]) -> dict[str, int]:
    """`train_discriminator`'s length_buckets, fake_pool and fake_reuse as a variant's `options` set them (else off)."""
    return {key: options.get(key, default) for key, default in (("length_buckets", 0), ("fake_pool", 0),
                                                                 ("fake_reuse", 1))}


@contextlib.contextmanager
def sampling_as(generator: torch.nn.Module, options: dict[str, Any]) -> Iterator[None]:
    """Within: `generator` draws with the sampler a variant's `options` choose (`generator.compiled_sampler`)."""
    g = unwrap(generator)
    before = g.compiled_sampler
    g.compiled_sampler = bool(options.get("compiled_sampler", False))
    try:
        yield
    finally:
        g.compiled_sampler = before


def step_epochs() -> Callable[[int, int], float]:
    """epoch(updates, index): ms an update of `updates` fp32+step D updates at the peer's COCO sizes on epoch
    `index`'s batches, one D trained throughout (the in-unit A/B benchmarks: bench_kernel_width.py,
    bench_fused_step.py); two warm-up epochs already run."""
    return variant_epochs("fp32+step")[0]


def variant_epochs(variant: str) -> tuple[Callable[[int, int], float], torch.nn.Module, torch.optim.Optimizer]:
    """(epoch, D, D's optimizer): epoch(updates, index) gives ms an update of `updates` D updates of `variant` (its
    discriminator and generator options, its buckets and fake pool) at the peer's COCO sizes on epoch `index`'s
    batches, one D trained throughout; two warm-up epochs already run."""
    from textgan.training.adversarial import train_discriminator

    torch.manual_seed(0)
    cfg, real, generator, max_len = setup("coco")
    options = VARIANTS[variant]
    run_cfg = variant_config(cfg, options)
    d = build_cnn(run_cfg.discriminator, "tokens", vocab_size=unwrap(generator).vocab_size)
    optimizer = discriminator_optimizer(run_cfg, d)
    estimator = build_estimator(cfg, max_len)
    pool = pool_options(options)

    def epoch(updates: int, index: int) -> float:
        torch.manual_seed(index)
        with sampling_as(generator, options):
            start = time.perf_counter()
            train_discriminator(estimator, Models(generator, None, d, optimizer), real,  # type: ignore[arg-type]
                                epochs=1, num_samples=updates * BATCH, batch_size=BATCH, clip=5.0, seed=0,
                                epoch_base=index, step=0, runtime=Runtime(progress=False), **pool)
            return (time.perf_counter() - start) / updates * 1e3

    for index in range(2):  # warm-up, not counted
        epoch(30, index)
    return epoch, d, optimizer


def alternating_epochs(arms: dict[str, Callable[[], None]], pairs: int, updates: int) -> dict[str, list[float]]:
    """ms an update of each arm's `step_epochs` epochs (one D trained throughout): `pairs` pairs of `updates`-update
    epochs, each pair on the same batches, the order flipped every pair, each arm switched on by its callable
    before its epoch (the in-unit A/B benchmarks)."""
    epoch = step_epochs()
    times: dict[str, list[float]] = {name: [] for name in arms}
    for pair in range(pairs):
        for name in list(arms) if pair % 2 == 0 else list(arms)[::-1]:
            arms[name]()
            times[name].append(epoch(updates, 100 + pair))
    return times


def other_build(cache: str, flags: str = "", sources: dict[str, Path] | None = None) -> Any:
    """The compiled kernels built into `cache` with `flags` added to the compiler's command line, from the files
    in `sources` (file name -> path) where given instead of the package's own (the in-unit A/B benchmarks:
    bench_kernel_width.py, bench_kernel_sources.py); None if that build fails. The process's own build is left as
    it was."""
    saved_env = {name: os.environ.get(name) for name in ("CC", "TEXTGAN_CACHE")}
    saved_files = kernels.SOURCES, kernels.HEADERS
    os.environ["CC"], os.environ["TEXTGAN_CACHE"] = f"{kernels.compiler()} {flags}".strip(), cache
    if sources is not None:
        kernels.SOURCES, kernels.HEADERS = (tuple(sources.get(f.name, f) for f in files) for files in saved_files)
    kernels.library.cache_clear()
    try:
        return kernels.library()
    finally:
        kernels.SOURCES, kernels.HEADERS = saved_files
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        kernels.library.cache_clear()


def pairwise(fast: list[float], slow: list[float]) -> tuple[float, int]:
    """(median of slow / fast over the pairs, pairs in which `fast` was faster)."""
    ratios = [s / f for f, s in zip(fast, slow)]
    return statistics.median(ratios), sum(r > 1 for r in ratios)


def epoch_options(parser: argparse.ArgumentParser) -> None:
    """--pairs and --updates of the in-unit A/B benchmarks (`alternating_epochs`)."""
    parser.add_argument("--pairs", type=int, default=8, help="alternating pairs of epochs (default 8)")
    parser.add_argument("--updates", type=int, default=60, help="D updates an epoch (default 60)")


def checked(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed arguments, --pairs and --updates (and --repeats where there is one) at least 1."""
    args = parser.parse_args()
    counts = {name: value for name, value in vars(args).items() if name in ("pairs", "updates", "repeats")}
    if min(counts.values()) < 1:
        parser.error(f"{', '.join('--' + name for name in counts)} must be at least 1")
    return args


def build_epochs(builds: dict[str, Any], pairs: int, updates: int) -> dict[str, list[float]]:
    """`alternating_epochs` with each arm's compiled kernels (name -> library): the code asks `kernels.library()`
    at each call, so it is pointed at the arm's build before its epoch (and back at the process's own after)."""
    own, chosen = kernels.library, [next(iter(builds.values()))]
    kernels.library = lambda: chosen[0]  # type: ignore[assignment]
    try:
        return alternating_epochs({name: lambda lib=lib: chosen.__setitem__(0, lib) for name, lib in builds.items()},
                                  pairs, updates)
    finally:
        kernels.library = own  # type: ignore[method-assign]


def print_arms(title: str, times: dict[str, list[float]], unit_name: str = "ms an update") -> None:
    """`title`, each arm's median and values, and the second arm / the first, pairwise."""
    print(title)
    for name, values in times.items():
        each = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name}: median {statistics.median(values):.2f} {unit_name} ({each})")
    (fast, fast_times), (slow, slow_times) = list(times.items())[:2]
    ratio, faster = pairwise(fast_times, slow_times)
    print(f"  {slow} / {fast}, pairwise: median {ratio:.3f}; {faster} of {len(fast_times)} faster with {fast}")


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
    with counter.counting_windows(), sampling_as(generator, options):
        start = time.perf_counter()
        train_discriminator(estimator, Models(generator, None, d, optimizer), real,  # type: ignore[arg-type]
                            epochs=1, num_samples=updates * BATCH, batch_size=BATCH, clip=5.0, seed=0,
                            epoch_base=epoch, step=0, runtime=Runtime(progress=False),
                            **pool_options(options))
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

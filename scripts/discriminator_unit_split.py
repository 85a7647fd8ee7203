"""Where the discriminator unit's time goes (``bench_discriminator.py``): its CNN layers alone, the work any kernels
must do besides (the fakes, the optimizer steps), the highway's products at their own shapes, and the unit's
ceiling from them."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
from discriminator_unit import (
    BATCH,
    SEQGAN,
    SEQUENCES_PER_UNIT,
    UPDATES_PER_UNIT,
    FlopCounter,
    gemm_rate,
    sampling_as,
    timed,
    variant_config,
)

from textgan.api.builders import build_cnn, discriminator_optimizer
from textgan.config import DISCRIMINATOR_PRESETS, Config
from textgan.models import dropout, kernels, thin_linear
from textgan.models.deferred_linear import DeferredGrad, armed
from textgan.models.wrapping import unwrap


def layers_alone(state: dict[str, torch.Tensor], vocab: int,
                 forwards: list[list[tuple[torch.Tensor, torch.Tensor, int | None]]],
                 options: dict[str, Any]) -> tuple[float, float]:
    """(seconds, FLOPs) of the CNN's layers alone on recorded forwards: every group's convolutions, masks and
    max-pool, then the highway and output layer over the whole batch, forward and backward, and nothing else (no
    sampling, embedding lookup or its gradient, dropout, loss, clipping or optimizer); the convolutions' backward
    as the variant's `options` say. Where the variant's highway step is compiled (`compiled_step`), the highway's
    weight gradient is not formed here (the backward is armed, as in training, and its factors dropped: the fused
    step forms it, timed by `required_work`), but its FLOPs are counted; its forward and input gradient are the
    compiled products training runs."""
    preset = dataclasses.replace(DISCRIMINATOR_PRESETS["seqgan"],
                                 winning_window_grad=options.get("winning_window_grad", False),
                                 fused_highway_step=options.get("fused_highway_step", False))
    d = build_cnn(preset, "tokens", vocab_size=vocab)
    d.load_state_dict(state)
    d.eval()  # dropout off: it is not one of the layers
    fused = compiled_step(options)
    counter = FlopCounter(d)
    inputs = [[(e.requires_grad_(), lengths, longest) for e, lengths, longest in groups] for groups in forwards]
    with counter.counting_windows(), armed(d, fused):
        start = time.perf_counter()
        for groups in inputs:
            d.zero_grad(set_to_none=True)
            pooled = torch.cat([d._pooled(e, lengths, longest) for e, lengths, longest in groups])
            d.head_logits(pooled).sum().backward()
            if fused:
                d.highway.proj.deferred.parts.clear()  # the weight gradient's factors: the fused step's input
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

    with sampling_as(generator, options):
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


# highway_shares' names for the highway's products
FORWARD, INPUT_GRAD, WEIGHT_GRAD = "forward x W^T", "input gradient dy W", "weight gradient dy^T x"  # torch's
COMPILED_FORWARD = "forward by thin_linear.c"  # the compiled forward of the fused step's layer
COMPILED_INPUT_GRAD = "input gradient by thin_linear.c"  # its compiled input gradient (any deferring layer's)


def ceiling_products(shares: dict[str, float], fused: bool) -> list[str]:
    """The highway's products a unit runs with its kernels, by their names in `shares`: with the fused step, the
    compiled forward and input gradient (where built), the weight gradient being in the step; else torch's
    three."""
    if not fused:
        return [FORWARD, INPUT_GRAD, WEIGHT_GRAD]
    return [COMPILED_FORWARD if COMPILED_FORWARD in shares else FORWARD,
            COMPILED_INPUT_GRAD if COMPILED_INPUT_GRAD in shares else INPUT_GRAD]


def ceiling(per_seq: float, gemm: float, shares: dict[str, float], required: tuple[float, float, float]
            ) -> tuple[float, float]:
    """(seconds, share of the GEMM) of a unit doing `per_seq` FLOPs a sequence in which the highway's products
    (`ceiling_products`) run at `shares` of a `gemm` FLOP/s square GEMM (the weight gradient's in the compiled fused
    step instead, when `required` times one), all its other FLOPs at the GEMM's rate, plus the `required`
    (sampling, optimizer, compiled step) seconds and no other work."""
    product = 2 * sum(SEQGAN["num_filters"]) * 2 * sum(SEQGAN["num_filters"])  # one product, FLOPs a sequence
    rates = [shares[name] for name in ceiling_products(shares, bool(required[2]))]
    seconds = SEQUENCES_PER_UNIT * (sum(product / (share * gemm) for share in rates)
                                    + (per_seq - 3 * product) / gemm) + sum(required)  # 3: the highway's products
    return seconds, per_seq * SEQUENCES_PER_UNIT / seconds / gemm


def highway_shares(features: int, rows: int = 64, repeats: int = 20) -> dict[str, float]:
    """The rate of each of the highway's three products at its own shape (gate and transform together, `rows`
    sequences), into warm output buffers, as a share of a square GEMM timed alongside: what torch's matrix kernels
    give the largest part of the D unit's FLOPs; and the forward and input gradient by the compiled products the
    fused step's layer runs in training (``models/thin_linear.c``), where the kernels are built."""
    x, dy = torch.randn(rows, features), torch.randn(rows, 2 * features)
    weight, bias = torch.randn(2 * features, features), torch.randn(2 * features)
    out_y, out_x, out_w = torch.empty(rows, 2 * features), torch.empty(rows, features), torch.empty(2 * features,
                                                                                                  features)
    products = {FORWARD: lambda: torch.addmm(bias, x, weight.t(), out=out_y),
                INPUT_GRAD: lambda: torch.mm(dy, weight, out=out_x),
                WEIGHT_GRAD: lambda: torch.mm(dy.t(), x, out=out_w)}
    lib = thin_linear.in_training(x, weight, bias)  # where training runs the compiled products
    if lib is not None:
        buffers = DeferredGrad().buffer  # the layer's reused buffers, as in training (x_t, dy_t, dx_t)
        xt = thin_linear.transposed(lib, x, buffers)
        products[COMPILED_FORWARD] = lambda: thin_linear.rows(lib, weight, xt, rows, bias, out_y, 0, 2 * features)
        products[COMPILED_INPUT_GRAD] = lambda: thin_linear.input_grad(lib, weight, dy, buffers)
    flops = 2 * rows * features * 2 * features
    gemm = gemm_rate()
    return {name: flops / timed(product, repeats) / gemm for name, product in products.items()}


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

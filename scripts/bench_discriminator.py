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
               `training/fused_step.py`);
  fp32+sampler ... and the fakes (and, in the protocol, the G step's rollouts) drawn by the compiled sampler
               (`generator.compiled_sampler=true`, `models/sample_head.c`).

It prints per-round ratios old / variant (medians), the D FLOPs each variant executes per sequence (conv forward
counted at the widths actually convolved, x3 for training; with the compiled kernels, the windows each row reads x1
plus 2 x 2 x w x E per winning window; plus highway and head), the share of the old code's FLOPs spent on padding,
the achieved rate against a square fp32 GEMM timed in the same round (for the variant analysed below, also each
round's unit against that round's GEMM, and against the machine's fp32 multiply-add peak from a compiled probe:
the GEMM's own share of that peak differs between machines, so the share of the peak is the one to compare
across them), and the full SeqGAN COCO protocol (120 MLE epochs, D pretraining 5 x 3
epochs = 7.5 units, 200 rounds of 1 G step + 4 D units) from measured units, beside the peer's figures quoted in
issue 20.

It first times SeqGAN's CNN layers alone (convolutions with max-pool, and the highway, forward and backward on one
64-row batch): their rate against the same GEMM is the ceiling of a D unit's rate with torch's kernels. Beside
them, one update's dropout mask by the compiled generator against torch's. For the first of fp32+sampler,
fp32+step, fp32+window and fp32+pool timed, it splits the unit into its layers alone on the unit's own groups,
the work any implementation must do besides (drawing the fakes, the clipped Adam steps) and the rest, and prints
the unit's ceiling: the highway's three products at the rates torch gets for their shapes alone (for fp32+step with the
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
import statistics
import types
from typing import Any

import torch
from discriminator_unit import (
    BASELINE,
    BATCH,
    SEQGAN,
    SEQUENCES_PER_UNIT,
    UPDATES_PER_UNIT,
    VARIANTS,
    d_unit_part,
    fma_peak,
    gemm_rate,
    machine,
    old_discriminator_module,
    sampling_as,
    setup,
    stream_rate,
    timed,
    variant_config,
)
from discriminator_unit_split import (
    ceiling,
    ceiling_products,
    highway_shares,
    kernel_ceiling,
    layers_alone,
    required_work,
)

from textgan.api.builders import build_cnn, build_estimator, discriminator_optimizer
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.models.wrapping import unwrap
from textgan.training.context import Models, Runtime
from textgan.training.mle import train_mle
from textgan.training.schedules import MLEProgress, MLESchedule

PEER = {"mle_epoch": 24.7, "g_step": 231.0, "d_unit": 267.0, "metric_pass": 563.0}  # issue 20, seconds
TEXTGAN_60AC689 = {"mle_epoch": 4.4, "g_step": 5.8, "d_unit": 169.0, "metric_pass": 5.9}  # issue 20, seconds
# the first of these timed gets the layers-alone and required-work split
ANALYSED = ("fp32+sampler", "fp32+step", "fp32+window", "fp32+pool")


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
    peak: list[float] = []  # the probe's multiply-add peak (none without a compiler)
    alone: list[tuple[float, float]] = []  # (layers-alone seconds per unit, their rate) of the pooled fp32 unit
    required: list[tuple[float, float, float]] = []  # (sampling, optimizer, compiled step) seconds per unit
    shares: list[dict[str, float]] = []  # the highway's products at their own shapes, as shares of the GEMM
    analysed = next((v for v in ANALYSED if v in VARIANTS), None)
    for r in range(rounds + 1):  # round 0 warms up and is not counted
        gemm.append(gemm_rate())
        stream.append(stream_rate())
        if (probe := fma_peak()) is not None:
            peak.append(probe)
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
            peak.clear()
    g32, g16 = statistics.median(gemm), statistics.median(gemm_bf16 or [float("nan")])
    print(f"\n[{name}] D unit ({UPDATES_PER_UNIT} updates of {BATCH} real + {BATCH} fakes, T <= {max_len}, "
          f"V = {unwrap(generator).vocab_size}, generator 32/32, SeqGAN CNN), {updates} updates timed per variant "
          f"per round, {rounds} interleaved rounds, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    bf16 = f"{g16 / 1e9:.1f} GFLOP/s" if gemm_bf16 else "not timed (no bf16 variant)"
    print(f"  square GEMM 1024: fp32 {g32 / 1e9:.1f} GFLOP/s, bf16 {bf16}; memory, a = b + s c over "
          f"96 MB arrays: {statistics.median(stream) / 1e9:.1f} GB/s (medians)")
    if peak:
        print(f"  fp32 multiply-add peak of one thread (a compiled probe, nothing but independent multiply-adds): "
              f"{statistics.median(peak) / 1e9:.1f} GFLOP/s; the square GEMM at {g32 / statistics.median(peak):.0%} "
              f"of it (a share of the GEMM reads higher where torch's product runs further below the peak)")
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
        if peak:
            at_peak = [flops[analysed][k] * SEQUENCES_PER_UNIT / times[analysed][k] / peak[k] for k in range(rounds)]
            print(f"  {analysed} against each round's multiply-add peak: "
                  f"{', '.join(f'{share:.0%}' for share in at_peak)} (median {statistics.median(at_peak):.0%})")
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
        products = ceiling_products(shares[0], bool(fused))
        print(f"  ceiling of {analysed} with its kernels: the highway's products at the rates its kernels get for "
              f"their shapes alone ({', '.join(f'{n} {statistics.median(s[n] for s in shares):.0%}' for n in products)}"
              f" of the GEMM){with_step}, every other FLOP at the square GEMM's rate, the required work above and "
              f"nothing else: "
              f"{statistics.median(c for c, _ in ceilings):.1f} s a unit, "
              f"{statistics.median(share for _, share in ceilings):.0%} of the GEMM (per round: "
              f"{', '.join(f'{share:.0%}' for _, share in ceilings)})")
    return medians


def bench_protocol(rounds: int, d_units: dict[str, tuple[float, float]]) -> None:
    """The SeqGAN COCO protocol from measured units (today's code for the MLE epoch and the G step): as timed here,
    and scaled to issue 20's quiet-machine figures for the code at the baseline (its D unit divided by the
    old / variant ratio measured here, its MLE epoch and G step as they are: the D options leave them alone; the
    compiled sampler of fp32+sampler speeds up the G step's rollouts too, which the scaled figure leaves out)."""
    cfg, real, generator, max_len = setup("coco")
    g_opt = torch.optim.Adam(generator.parameters(), lr=cfg.pretrain.lr)
    mle_epoch = timed(lambda: train_mle(Models(generator, g_opt), real, real.subset(torch.arange(64)),
                                        MLESchedule(1, 64), MLEProgress(), Runtime(progress=False)), rounds)
    g_steps = {}
    for kind in sorted({g_step_kind(v) for v in d_units} | {"fp32"}):
        precision = kind.split("+")[0]
        d = build_cnn(variant_config(cfg, {"precision": precision}).discriminator, "tokens",
                      vocab_size=unwrap(generator).vocab_size).eval()
        estimator = build_estimator(cfg, max_len)
        batch = next(real.batches(64, shuffle=True))

        def g_step() -> None:
            loss, _ = estimator.generator_loss(generator, d, batch, 0)  # noqa: B023
            loss.backward()
            g_opt.step()
            g_opt.zero_grad(set_to_none=True)

        with sampling_as(generator, {"compiled_sampler": kind.endswith("+sampler")}):
            g_steps[kind] = timed(g_step, rounds)

    def hours(mle: float, g: float, d: float) -> float:
        return (120 * mle + 7.5 * d + 200 * (g + 4 * d)) / 3600

    peer = hours(PEER["mle_epoch"], PEER["g_step"], PEER["d_unit"])
    print(f"\n[protocol] SeqGAN COCO: 120 MLE epochs + D pretraining 5 x 3 epochs (7.5 D units) + 200 x (1 G step + "
          f"4 D units), metric passes excluded; measured: MLE epoch {mle_epoch:.1f} s, G step "
          f"{', '.join(f'{kind} {seconds:.1f} s' for kind, seconds in g_steps.items())}")
    print(f"  peer (issue 20 figures): {peer:.1f} h; textgan at {BASELINE} (issue 20 figures): "
          f"{hours(TEXTGAN_60AC689['mle_epoch'], TEXTGAN_60AC689['g_step'], TEXTGAN_60AC689['d_unit']):.1f} h")
    base = TEXTGAN_60AC689
    for variant, (unit, ratio) in d_units.items():
        g = g_steps[g_step_kind(variant)]
        total = hours(mle_epoch, g, unit)
        scaled = hours(base["mle_epoch"], base["g_step"], base["d_unit"] / ratio)
        print(f"  textgan {variant:<12} timed here: D unit {unit:6.1f} s -> {total:5.1f} h, peer / textgan "
              f"{peer / total:.2f}x; scaled: D unit {base['d_unit'] / ratio:6.1f} s -> {scaled:5.1f} h, "
              f"peer / textgan {peer / scaled:.2f}x")


def g_step_kind(variant: str) -> str:
    """The G step a variant's protocol takes: its D's precision, and its sampler for the rollouts."""
    precision = "bf16" if variant.startswith("bf16") else "fp32"
    return precision + "+sampler" if VARIANTS.get(variant, {}).get("compiled_sampler") else precision


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

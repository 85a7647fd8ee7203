"""Benchmark: where a D update of SeqGAN's unit spends its time, by taking its large kernels out one at a time, and
what the unit's 60% of the GEMM (issue 20) asks of them.

A D of a variant (default fp32+sampler) at the peer's COCO sizes (discriminator_unit.py's setup) is trained for an
epoch not timed. Every arm then starts from copies of its weights and optimizer state (fresh copies each time:
torch's load_state_dict keeps the tensors it is given where their dtype and device fit, and an arm writes garbage
into them) and times an epoch of `--updates` updates on the same batches as the other arms of its round, with some
kernels replaced by calls that do nothing, the order of the arms reversed every round:

  whole              nothing taken out;
  -highway step      the highway's compiled Adam step on its factored gradient (factored_adam);
  -highway forward   the highway's compiled forward product (thin_linear);
  -highway dx        the highway's input-gradient product (thin_linear_input_grad; torch's mm on its weight
                     where the kernels are not built);
  -window grads      the convolutions' winning-window backward (window_grads);
  -convolutions      the convolutions' forward with max-pool, its filter packing and the winning-window backward
                     (the forward cannot go alone: the backward reads the windows it picks);
  -other Adam        torch's fused Adam for the other parameters;
  -kernels           all of the above, the convolutions' forward and filter packing, the highway's gate and the
                     dropout mask: what is left is Python, autograd, torch's small operations and the fakes.

An arm's outputs are left unwritten, so its numbers are meaningless (a non-finite loss is let through) and only
its time is read. The parts slow each other (they share the caches), so the time an arm saves is that part's cost
inside the update, not its cost alone, and the savings do not add up to the -kernels arm's.

It then prints the FLOPs an update executes (counted as bench_discriminator.py counts them, on an epoch not timed),
the square fp32 GEMM and Adam's pass over memory measured in each round, the whole update's share of the GEMM and
of the machine's multiply-add peak (discriminator_unit.fma_peak, once at the end), and what 60% would take: an
update of at most FLOPs / (0.6 x GEMM), of which the -kernels arm's time is not kernels; against the kernels' own
floor: their FLOPs at the GEMM's rate and the pass over memory any Adam step makes (every parameter and its two
moments read and written once, timed as three tensors of D's parameter count each scaled in place by torch; the
fastest of the rounds).

    python scripts/bench_update_parts.py [--rounds 3] [--updates 150] [--variant fp32+sampler]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import discriminator_unit as unit  # noqa: E402  (the D unit's setup, at the peer's sizes)

from textgan.models import kernels  # noqa: E402
from textgan.training import adversarial  # noqa: E402

COMPILED = ("factored_adam", "thin_linear", "thin_linear_input_grad", "window_grads", "conv_max_all", "pack_all",
            "highway_gate", "highway_gate_backward", "dropout_mask")
ARMS: dict[str, tuple[str, ...]] = {  # arm -> the parts it takes out ("dx" and "adam" are torch's)
    "whole": (),
    "-highway step": ("factored_adam",),
    "-highway forward": ("thin_linear",),
    "-highway dx": ("dx", "thin_linear_input_grad"),
    "-window grads": ("window_grads",),
    "-convolutions": ("conv_max_all", "pack_all", "window_grads"),
    "-other Adam": ("adam",),
    "-kernels": COMPILED + ("dx", "adam"),
}
COMPILED_VARIANTS = [name for name, options in unit.VARIANTS.items()
                     if options.get("winning_window_grad") and options.get("fused_highway_step")]


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


@contextmanager
def without(parts: tuple[str, ...], highway_weight: torch.Tensor) -> Iterator[None]:
    """Within: the `parts` do nothing (the compiled kernels by name; "dx": torch's product for the highway's input
    gradient, an uninitialised tensor of its shape; "adam": torch's fused Adam), and a non-finite D loss passes."""
    lib = kernels.library()
    saved = {name: getattr(lib, name) for name in parts if name in COMPILED}
    mm, adam, finite = torch.Tensor.mm, torch._fused_adam_, adversarial._finite

    def skipped_dx(self: torch.Tensor, other: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if other is highway_weight:
            return self.new_empty(self.shape[0], other.shape[1])
        return mm(self, other, *args, **kwargs)

    try:
        for name in saved:
            setattr(lib, name, _nothing)
        if "dx" in parts:
            torch.Tensor.mm = skipped_dx  # type: ignore[method-assign]
        if "adam" in parts:
            torch._fused_adam_ = _nothing
        if parts:
            adversarial._finite = _nothing  # type: ignore[assignment]
        yield
    finally:
        for name, fn in saved.items():
            setattr(lib, name, fn)
        torch.Tensor.mm, torch._fused_adam_ = mm, adam  # type: ignore[method-assign]
        adversarial._finite = finite  # type: ignore[assignment]


def counted_flops(epoch: Callable[[int, int], float], d: torch.nn.Module, updates: int) -> float:
    """FLOPs an update executes, counted over one epoch of `updates` updates (not timed); the counter's hooks are
    removed afterwards."""
    counter = unit.FlopCounter(d)
    with counter.counting_windows():
        epoch(updates, 1)
    counter.remove()
    return counter.total / updates


def adam_pass(d: torch.nn.Module, repeats: int = 5) -> float:
    """Seconds of the pass over memory any Adam step of `d` makes: three tensors of its parameter count (a weight
    and two moments) each scaled in place, the median of `repeats` after one not timed."""
    state = [torch.rand(sum(p.numel() for p in d.parameters())) for _ in range(3)]

    def scale() -> None:
        for t in state:
            t.mul_(1.0)

    return unit.timed(scale, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every arm (default 3)")
    parser.add_argument("--updates", type=int, default=150, help="D updates an arm and round (default 150)")
    parser.add_argument("--variant", choices=COMPILED_VARIANTS, default="fp32+sampler",
                        help="the unit's variant (default fp32+sampler)")
    args = parser.parse_args()
    if args.rounds < 1 or args.updates < 1:
        parser.error("--rounds and --updates must be at least 1")
    if kernels.library() is None:
        sys.exit("bench_update_parts.py: the compiled kernels are not built here (no C compiler); nothing to take out")
    print(f"machine: {unit.machine()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    epoch, d, optimizer = unit.variant_epochs(args.variant)
    flops = counted_flops(epoch, d, args.updates)
    start = copy.deepcopy((d.state_dict(), optimizer.state_dict()))
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    gemm, memory = [], []
    for r in range(args.rounds):
        gemm.append(unit.gemm_rate())
        memory.append(adam_pass(d))
        for arm in list(ARMS) if r % 2 == 0 else list(ARMS)[::-1]:
            d.load_state_dict(start[0])
            optimizer.load_state_dict(copy.deepcopy(start[1]))  # a copy: the optimizer keeps what it loads
            with without(ARMS[arm], d.highway.proj.weight):
                times[arm].append(epoch(args.updates, 100 + r))
    g, adam_s = statistics.median(gemm), min(memory)  # a floor: the pass at its fastest in the run
    whole = statistics.median(times["whole"])
    print(f"\n{args.variant} at the peer's COCO sizes, {args.updates} updates an arm, {args.rounds} rounds; square "
          f"fp32 GEMM {g / 1e9:.1f} GFLOP/s (median), Adam's pass over memory {adam_s * 1e3:.2f} ms (fastest of "
          f"{', '.join(f'{m * 1e3:.2f}' for m in memory)})")
    print(f"  {'arm':<18} {'ms an update':>13} {'saves':>7}  rounds")
    for arm, values in times.items():
        median = statistics.median(values)
        print(f"  {arm:<18} {median:>13.2f} {whole - median:>7.2f}  {', '.join(f'{v:.2f}' for v in values)}")
    rest = statistics.median(times["-kernels"])
    at_gemm, adam_ms = flops / g * 1e3, adam_s * 1e3
    target = flops / (0.6 * g) * 1e3
    print(f"  FLOPs an update: {flops / 1e9:.3f} G, {at_gemm:.2f} ms at the GEMM's rate; the whole update at "
          f"{at_gemm / whole:.0%} of the GEMM")
    peak = unit.fma_peak()
    if peak is not None:
        print(f"  fp32 multiply-add peak (a compiled probe): {peak / 1e9:.1f} GFLOP/s; the GEMM at {g / peak:.0%} "
              f"of it, the whole update at {flops / whole * 1e3 / peak:.0%}")
    print(f"  60% of the GEMM: an update of at most {target:.2f} ms; less the {rest:.2f} ms that are not kernels, "
          f"{target - rest:.2f} ms for the kernels, which take {whole - rest:.2f} ms and whose floor is "
          f"{at_gemm + adam_ms:.2f} ms (their FLOPs at the GEMM's rate, {at_gemm:.2f}; Adam's pass over memory, "
          f"{adam_ms:.2f})")


if __name__ == "__main__":
    main()

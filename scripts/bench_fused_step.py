"""Benchmark: the highway's Adam step on its factored gradient by the compiled kernel (``textgan/models/
factored_adam.c``: each register tile of dW summed from the factors and stepped at once) against torch's blocks
(each 512-row block of dW formed by torch's product in a buffer, then torch's fused Adam), in the same process.

1. The step alone at SeqGAN's highway (a 3,440 x 1,720 weight, factors of 64 rows), `--repeats` steps of each in
   turn: median ms a step, and the ratio.
2. Inside SeqGAN's D unit: COCO fp32+step at the peer's sizes (discriminator_unit.py's setup), one D trained
   throughout, the two steps taking alternate epochs of `--updates` updates on the same batches, the order flipped
   every pair: each one's median ms an update and the median pairwise ratio. The two steps differ by round-off
   only, so the epochs see the same work.

    python scripts/bench_fused_step.py [--pairs 8] [--updates 60] [--repeats 15]
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import discriminator_unit as unit  # noqa: E402  (the D unit's setup, at the peer's sizes)

from textgan.models import kernels  # noqa: E402
from textgan.models.deferred_linear import DeferredLinear  # noqa: E402
from textgan.training import fused_step  # noqa: E402

# fused_step reads the kernels through its module attribute: these switch the step alone (the convolutions keep
# their compiled kernels)
STEPS = {"compiled": kernels, "torch's blocks": types.SimpleNamespace(library=lambda: None)}


def step_alone(repeats: int) -> dict[str, list[float]]:
    """ms of one step of each kind at the highway's size, `repeats` each, in turn."""
    torch.manual_seed(0)
    layer = DeferredLinear(1720, 3440)
    optimizer = torch.optim.Adam([layer.weight], lr=1e-4, fused=True)
    dy, x = torch.randn(64, 3440) * 1e-3, torch.randn(64, 1720).relu()
    times: dict[str, list[float]] = {name: [] for name in STEPS}
    for repeat in range(repeats + 2):
        for name, module in STEPS.items():
            fused_step.kernels = module  # type: ignore[assignment]
            layer.deferred.parts.append((dy, x))
            start = time.perf_counter()
            fused_step.step_fused(layer, optimizer, torch.tensor(0.5))
            if repeat >= 2:  # two warm-up steps each
                times[name].append((time.perf_counter() - start) * 1e3)
    fused_step.kernels = kernels
    return times


def in_unit(pairs: int, updates: int) -> dict[str, list[float]]:
    """ms an update of alternate fp32+step epochs with each kind of step."""
    def switch(module: object) -> Callable[[], None]:
        return lambda: setattr(fused_step, "kernels", module)

    times = unit.alternating_epochs({name: switch(module) for name, module in STEPS.items()}, pairs, updates)
    fused_step.kernels = kernels
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit.epoch_options(parser)
    parser.add_argument("--repeats", type=int, default=15, help="steps of each kind alone (default 15)")
    args = unit.checked(parser)
    if not kernels.available():
        sys.exit("bench_fused_step.py: the compiled kernels are not built here (no C compiler); nothing to compare")
    threads = torch.get_num_threads()
    unit.print_arms(f"[fused step alone] the highway's 3440 x 1720 weight, factors of 64 rows, {args.repeats} steps "
                    f"each, {threads} thread(s), torch {torch.__version__}", step_alone(args.repeats), "ms a step")
    unit.print_arms(f"[in the unit] COCO fp32+step, {args.pairs} pairs of {args.updates}-update epochs, {threads} "
                    f"thread(s)", in_unit(args.pairs, args.updates))


if __name__ == "__main__":
    main()

"""Benchmark: the compiled sampler (`generator.compiled_sampler`, `textgan/models/sample_head.c`) against torch's
fused, blocked sampler (`sampling.sample_outputs`), at the SeqGAN oracle's sizes (V = 5,000 + 4 specials,
hidden 32; no data needed):

  (1) the sampler alone, one call on R rows (R = 16 .. 4,096), the compiled layout of the output layer made once
      as the generator keeps it between calls: microseconds a row;
  (2) `RNNGenerator.draw` of 10,000 sequences of 20 tokens, at temperature 1 (torch's fused, blocked sampler) and
      0.7 (torch's logits, then `sampling.sample_logits`);
  (3) one REINFORCE generator step (16 rollouts of 64 sequences of 20 tokens, SeqGAN's CNN scoring through its
      tables, the policy-gradient backward), as `bench_rollout.py` times it.

Each is timed in `--rounds` interleaved rounds (the two samplers in turn, the order flipped every round; one
warm-up call each first). Prints each arm's median and the median of the per-round ratios torch / compiled.
The draws differ from torch's only where a uniform falls within float round-off of a boundary; the tests show how
often (tests/models/test_sample_head.py), this script only times.

    python scripts/bench_sampling.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rollout import build, median_ratio, textgan_step  # noqa: E402  (oracle-size G, SeqGAN's D, G step)

from textgan.models import kernels, sampling  # noqa: E402

ROWS = (16, 64, 256, 1024, 4096)


def interleaved(arms: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each arm's call in `rounds` rounds, the arms in turn, the order flipped every round."""
    for fn in arms.values():
        fn()  # warm-up: allocations, the compiled layout, torch's first calls
    times: dict[str, list[float]] = {name: [] for name in arms}
    for r in range(rounds):
        for name in list(arms) if r % 2 == 0 else list(arms)[::-1]:
            start = time.perf_counter()
            arms[name]()
            times[name].append(time.perf_counter() - start)
    return times


def report(label: str, times: dict[str, list[float]], scale: float, unit: str) -> None:
    """One line: each arm's median times `scale` in `unit`, and the median per-round ratio torch / compiled."""
    ratio = median_ratio(times, "torch", "compiled")
    medians = ", ".join(f"{name} {statistics.median(values) * scale:.2f} {unit}" for name, values in times.items())
    print(f"  {label}: {medians}; torch / compiled {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds (default 5)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    lib = kernels.library()
    if lib is None:
        sys.exit("bench_sampling.py: the compiled kernels are not built here (no C compiler); nothing to compare")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), kernels built for {lib.pack_lanes()} "
          f"lanes")
    g, d = build()
    weight, bias = g.head.weight.detach(), (g.head.bias + g.logit_mask).detach()
    head = sampling.compiled_head(lib, weight, bias)
    print(f"(1) the sampler alone, V = {weight.shape[0]}, H = {weight.shape[1]}, microseconds a row:")
    for rows in ROWS:
        out, u = torch.randn(rows, weight.shape[1]), torch.rand(rows, 1)
        times = interleaved({"torch": lambda: sampling.sample_outputs(out, weight, bias, u=u),  # noqa: B023
                             "compiled": lambda: sampling.sample_compiled(lib, out, head, u)},  # noqa: B023
                            args.rounds)
        report(f"R = {rows:>5}", times, 1e6 / rows, "us")

    def drawing(compiled: bool, temperature: float) -> Callable[[], None]:
        def run() -> None:
            g.compiled_sampler = compiled
            g.draw(10_000, 20, temperature=temperature)
        return run

    def stepping(compiled: bool) -> Callable[[], None]:
        def run() -> None:
            g.compiled_sampler = compiled
            textgan_step(g, d, 20)
        return run

    print("(2) drawing 10,000 sequences of 20 tokens, seconds:")
    for temperature in (1.0, 0.7):
        report(f"draw at T = {temperature}", interleaved({"torch": drawing(False, temperature),
                                                          "compiled": drawing(True, temperature)}, args.rounds),
               1.0, "s")
    print("(3) one REINFORCE generator step (B = 64, N = 16 rollouts, T = 20, SeqGAN's CNN), seconds:")
    report("G step", interleaved({"torch": stepping(False), "compiled": stepping(True)}, args.rounds), 1.0, "s")
    g.compiled_sampler = False


if __name__ == "__main__":
    main()

"""Benchmark: the compiled kernels (the convolutions of ``textgan/models/pooled_conv.c``, and the highway's Adam step
of ``factored_adam.c``) built for the machine's full vector width against the same sources built for 8 lanes,
inside SeqGAN's D unit.

On a CPU with AVX-512 the kernels are built with 16-float vectors (a 12-window forward tile, 4 x 64-column Adam
tiles); the baseline is the same sources built with `-mno-avx512f` (8 lanes, 6-window tile, 4 x 16 columns), as
on an AVX2 machine. Both builds give bit-identical numbers (tests/models/test_pooled_conv.py,
tests/training/test_factored_adam.py), so one D is trained throughout, and the two builds take
alternate epochs of `--updates` fp32+step updates at the peer's COCO sizes (discriminator_unit.py's setup), each
pair on the same batches, the order flipped every pair. Prints each build's median ms an update and the median of
the pairwise ratios. Needs a C compiler and a CPU with AVX-512 (else it says so and exits).

    python scripts/bench_kernel_width.py [--pairs 8] [--updates 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import discriminator_unit as unit  # noqa: E402  (the D unit's setup, at the peer's sizes)

from textgan.models import kernels  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit.epoch_options(parser)
    args = unit.checked(parser)
    wide = kernels.library()
    if wide is None or wide.pack_lanes() != 16:
        sys.exit("bench_kernel_width.py: the kernels here are not built for 16 lanes (no AVX-512 or no C compiler); "
                 "nothing to compare")
    with tempfile.TemporaryDirectory() as cache:
        narrow = unit.other_build(cache, "-mno-avx512f")  # AVX-512 off: 8 lanes
        if narrow is None or narrow.pack_lanes() != 8:
            sys.exit("bench_kernel_width.py: the 8-lane build failed; nothing to compare")
        times = unit.build_epochs({"16 lanes": wide, "8 lanes": narrow}, args.pairs, args.updates)
    unit.print_arms(f"[kernel width] COCO fp32+step, {args.pairs} pairs of {args.updates}-update epochs, "
                    f"{torch.get_num_threads()} thread(s), torch {torch.__version__}", times)


if __name__ == "__main__":
    main()

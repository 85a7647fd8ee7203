"""Benchmark: the compiled kernels (``textgan/models/*.c``) built from this checkout's sources against the same
files at a baseline revision, inside SeqGAN's D unit.

The baseline's sources are read with `git show REV:textgan/models/<file>` and built like the package's own (the
machine's vector units, a temporary cache). The Python code is this checkout's for both, so the baseline must
export the same functions with the same arguments: a function it lacks is reported and the script exits, but a
changed argument list cannot be seen from here (pick a baseline whose calls match). One D is trained
throughout; the two builds take alternate epochs of `--updates` fp32+step updates at the peer's COCO sizes
(discriminator_unit.py's setup), each pair on the same batches, the order flipped every pair. Prints each build's
median ms an update and the median of the pairwise ratios. Whether the two builds give the same numbers is for the
tests to show (tests/models/test_pooled_conv.py, tests/training/test_factored_adam.py), not this script.

    python scripts/bench_kernel_sources.py --baseline REV [--pairs 8] [--updates 60]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import discriminator_unit as unit  # noqa: E402  (the D unit's setup, at the peer's sizes)

from textgan.models import kernels  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def baseline_sources(rev: str, into: Path) -> dict[str, Path]:
    """The kernels' source files at `rev`, written into `into`: file name -> path. Exits with a message when git
    cannot read one."""
    files = {}
    for source in kernels.SOURCES + kernels.HEADERS:
        name = f"textgan/models/{source.name}"
        shown = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode != 0:
            sys.exit(f"bench_kernel_sources.py: cannot read {name} at {rev!r} ({shown.stderr.strip()}); give a "
                     f"revision that has every kernel source this checkout builds (docs/benchmarks.md says which)")
        files[source.name] = into / source.name
        files[source.name].write_text(shown.stdout)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision whose kernel sources are the baseline")
    unit.epoch_options(parser)
    args = unit.checked(parser)
    current = kernels.library()
    if current is None:
        sys.exit("bench_kernel_sources.py: the compiled kernels are not built here (no C compiler); nothing to "
                 "compare")
    with tempfile.TemporaryDirectory() as work:
        try:
            baseline = unit.other_build(work, sources=baseline_sources(args.baseline, Path(work)))
        except AttributeError as missing:  # binding found a function the baseline does not export
            sys.exit(f"bench_kernel_sources.py: the baseline's kernels do not match this checkout's calls "
                     f"({missing}); pick a later baseline")
        if baseline is None:
            sys.exit(f"bench_kernel_sources.py: the kernels at {args.baseline} did not build here")
        times = unit.build_epochs({"this checkout": current, args.baseline: baseline}, args.pairs, args.updates)
    unit.print_arms(f"[kernel sources] COCO fp32+step, {args.pairs} pairs of {args.updates}-update epochs, "
                    f"{torch.get_num_threads()} thread(s), torch {torch.__version__}", times)


if __name__ == "__main__":
    main()

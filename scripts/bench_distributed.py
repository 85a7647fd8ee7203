"""Benchmark: MLE pretraining throughput (tokens/s) of one process against two data-parallel processes.

The SeqGAN oracle sizes (`--config oracle`: 10,000 x 20 tokens, vocabulary 5,000 + 4 specials, LSTM 32/32,
Adam, clip 5), `train_mle` as `textgan pretrain` runs it (validation pass included), on the CPU. Two processes
run under torchrun with gloo over loopback, each on its own thread, the generator in DistributedDataParallel.
Settings, run alternately `--repeats` times each (a fresh launch every time; per launch one warm-up epoch,
then `--epochs` timed epochs):

    1 proc x 1 thread,  batch 64        one core's worth (the reference of the last column)
    1 proc x 2 threads, batch 64        what one process does with the whole machine
    2 procs x 1 thread, batch 32 each   global batch 64: the same updates as one process (tests/training)
    2 procs x 1 thread, batch 64 each   global batch 128: half the optimizer steps per epoch

tokens/s = tokens trained per epoch / epoch wall time; medians over all timed epochs. With 2 processes the
worker also times a bare gloo all-reduce of one gradient's worth of floats (what DDP sends per step; DDP
overlaps it with the backward pass in buckets, so this bounds its cost from above). The machine's load average
is printed with the figures: on a shared machine they move with it.

    python scripts/bench_distributed.py [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = [  # (processes, threads per process, batch size per process); the first is the reference
    (1, 1, 64),
    (1, 2, 64),
    (2, 1, 32),
    (2, 1, 64),
]


def worker(epochs: int, batch_size: int, out: Path) -> None:
    """One rank: oracle data, the oracle-config generator (DDP-wrapped with 2 ranks), timed `train_mle` epochs."""
    import torch

    from textgan.api.builders import build_data, build_generator
    from textgan.api.configs import config as load_config
    from textgan.training import distributed
    from textgan.training.context import Hooks, Models, Runtime
    from textgan.training.mle import train_mle
    from textgan.training.schedules import MLEProgress, MLESchedule

    distributed.init_from_environment("cpu")
    rank, world_size = distributed.rank_and_world()
    cfg = load_config("oracle", [])
    torch.manual_seed(0)
    data = build_data(cfg, None)
    generator = distributed.wrap(build_generator(cfg, data.tokenizer, data.fixed_length), torch.device("cpu"))
    optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.pretrain.lr)
    stamps = [time.perf_counter()]
    runtime = Runtime(torch.device("cpu"), rank, world_size, None, False, distributed.mean_metrics)
    train_mle(Models(generator, optimizer), data.train, data.valid,
              MLESchedule(epochs + 1, batch_size, clip=cfg.pretrain.clip), MLEProgress(), runtime,
              Hooks(checkpoint=lambda: stamps.append(time.perf_counter())))
    steps = distributed.per_rank_batches(data.train.num_batches(batch_size), world_size, "benchmark")
    sequences = min(steps * world_size * batch_size, len(data.train))  # every batch but a dropped tail is full
    tokens = sequences * data.max_len  # oracle sequences all have max_len tokens
    allreduce_ms = None
    if world_size > 1:  # one step's gradient traffic, alone
        flat = torch.zeros(sum(p.numel() for p in generator.parameters()))
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            torch.distributed.all_reduce(flat)
            samples.append(1000 * (time.perf_counter() - start))
        allreduce_ms = statistics.median(samples[5:])
    if rank == 0:
        epoch_times = [b - a for a, b in zip(stamps[1:], stamps[2:])]  # the first epoch warms up
        (out / "result.json").write_text(json.dumps({"epoch_times": epoch_times, "tokens": tokens, "steps": steps,
                                                     "allreduce_ms": allreduce_ms,
                                                     "floats": sum(p.numel() for p in generator.parameters())}))
    distributed.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(processes: int, threads: int, batch_size: int, epochs: int) -> dict:
    """Run one setting in fresh processes; returns the worker's result."""
    with tempfile.TemporaryDirectory() as tmp:
        worker_args = [__file__, "--worker", "--epochs", str(epochs), "--batch-size", str(batch_size), "--out", tmp]
        if processes == 1:
            command = [sys.executable, *worker_args]
        else:
            command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                       "--master_addr=127.0.0.1", f"--master_port={free_port()}", *worker_args]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GLOO_SOCKET_IFNAME": "lo"}
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads((Path(tmp) / "result.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="launches per setting (default 3)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per launch, after one warm-up (2)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.repeats, args.epochs, args.batch_size) < 1:
        parser.error("--repeats, --epochs and --batch-size must be at least 1")
    if args.worker:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        worker(args.epochs, args.batch_size, args.out)
        return
    times: dict[tuple[int, int, int], list[float]] = {s: [] for s in SETTINGS}
    allreduce: dict[tuple[int, int, int], list[float]] = {s: [] for s in SETTINGS}
    last: dict[tuple[int, int, int], dict] = {}
    loads = [os.getloadavg()[0]]
    for repeat in range(args.repeats):
        for setting in SETTINGS:
            result = launch(*setting, epochs=args.epochs)
            times[setting].extend(result["epoch_times"])
            if result["allreduce_ms"] is not None:
                allreduce[setting].append(result["allreduce_ms"])
            last[setting] = result
            loads.append(os.getloadavg()[0])
            print(f"repeat {repeat + 1}: {setting[0]} proc x {setting[1]} thread(s), batch {setting[2]}/proc: "
                  f"epochs {', '.join(f'{t:.2f}' for t in result['epoch_times'])} s", file=sys.stderr)
    reference = last[SETTINGS[0]]["tokens"] / statistics.median(times[SETTINGS[0]])
    print(f"MLE pretraining, oracle config ({last[SETTINGS[0]]['tokens']:,} tokens/epoch), CPU, gloo; "
          f"{args.repeats} launches x {args.epochs} timed epochs per setting; "
          f"1-min load average during the run: median {statistics.median(loads):.1f} "
          f"(min {min(loads):.1f}, max {max(loads):.1f}) on {os.cpu_count()} cores")
    print(f"{'setting':<49} {'epoch s':>8} {'tokens/s':>9} {'vs 1x1':>7} {'all-reduce ms/step':>19}")
    for setting in SETTINGS:
        procs, threads, batch = setting
        median = statistics.median(times[setting])
        speed = last[setting]["tokens"] / median
        label = f"{procs} proc x {threads} thread(s), batch {batch}/proc (global {procs * batch})"
        comm = ""
        if allreduce[setting]:
            ms = statistics.median(allreduce[setting])
            comm = f"{ms:.2f} ({100 * ms * last[setting]['steps'] / 1000 / median:.0f}% of epoch)"
        print(f"{label:<49} {median:>8.2f} {speed:>9,.0f} {speed / reference:>7.2f} {comm:>19}")
    print(f"(all-reduce: {last[SETTINGS[-1]]['floats']:,} float32 per step over gloo/loopback, timed alone)")


if __name__ == "__main__":
    main()

"""Benchmark: one REINFORCE generator step (Monte-Carlo rollouts + D scoring + policy-gradient backward).

Three measurements in one run, at the SeqGAN oracle sizes (B=64, T=20, N=16 rollouts, V=5000 + 4 specials,
emb/hidden 32, SeqGAN's CNN discriminator):
  (a) textgan: `Reinforce.generator_loss` + backward: all N x (T-1) continuations of all B sequences advanced
      together from cached states, the fused blocked sampler, D scoring through per-token conv tables;
  (b) the common way (as the public PyTorch SeqGAN ports do it): Python loops over rollouts and prefixes; each
      prefix is re-run through the generator, the continuation sampled step by step with torch.multinomial,
      D called per batch of 64;
  (c) the bare work: one batched sampling of the same number of tokens plus one D pass over the same number
      of sequences (with the same fast sampler and D tables, so (a)/(c) is textgan's own overhead);
  (d) the floor: only the two matrix products no fp32 implementation of the step avoids, the generator's
      output layer over every sampled token (H -> V) and D's highway over every scored sequence (F -> 2F),
      in cache-sized pieces. (b)/(d) bounds (b)/(a) on the machine it runs on, at this precision.
It prints (b)/(a) (goal >= 20) and (a)/(c) (goal <= 2) as medians of per-round ratios, then how (a) grows
with T.

    python scripts/bench_rollout.py [--repeats 3] [--seq-len 20] [--lengths 20,40,80] [--skip-loop]
                                    [--discriminator seqgan|small]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from textgan.api.builders import build_cnn
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.estimators.interface import EstimatorContext
from textgan.estimators.reinforce import Reinforce, ReinforceOptions
from textgan.models.conv_tables import TokenConvTables
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator

B, N, V, EMB, HID = 64, 16, 5000 + 4, 32, 32


def build(seed: int = 0, discriminator: str = "seqgan") -> tuple[RNNGenerator, CNNDiscriminator]:
    torch.manual_seed(seed)
    g = RNNGenerator(vocab_size=V, embedding_size=EMB, hidden_size=HID, banned_ids=[PAD_ID, BOS_ID, UNK_ID, EOS_ID],
                     eos_id=None)
    d = build_cnn(DISCRIMINATOR_PRESETS[discriminator], "tokens", vocab_size=V).eval()
    return g, d


def textgan_step(g: RNNGenerator, d: CNNDiscriminator, seq_len: int) -> None:
    """(a) one generator step as the adversarial loop runs it (loss + backward)."""
    estimator = Reinforce(ReinforceOptions(num_rollouts=N), EstimatorContext(max_len=seq_len))
    real = TokenBatch(torch.zeros(B, seq_len, dtype=torch.long), torch.full((B,), seq_len))
    loss, _ = estimator.generator_loss(g, d, real, 0)
    loss.backward()
    g.zero_grad(set_to_none=True)


def loop_step(g: RNNGenerator, d: CNNDiscriminator, seq_len: int) -> None:
    """(b) the common way, structured as the public PyTorch SeqGAN ports are (e.g. TextGAN-PyTorch's rollout):
    for each rollout and each given prefix length 1..T, the generator re-reads the prefix teacher-forced (its
    forward returns log-softmax at every position), the continuation is drawn step by step with torch.multinomial
    over exp(log-softmax), and D scores the batch of 64; prefix length T re-reads the whole sequence. Unlike
    some ports, BOS is kept in front of the prefix, so the continuation is conditioned on the right history."""
    with torch.no_grad():
        samples = g.sample(B, seq_len).tokens  # (B, T)
        rewards = torch.zeros(seq_len, B)
        for _ in range(N):
            for given in range(1, seq_len + 1):
                inputs = torch.cat([torch.full((B, 1), BOS_ID), samples[:, :given]], dim=1)  # (B, given + 1)
                logits, state = g(inputs)  # (B, given + 1, V)
                log_probs = torch.log_softmax(logits, -1)[:, -1]  # (B, V): the next token after the prefix
                completion = [samples[:, :given]]
                for _ in range(given, seq_len):
                    token = torch.multinomial(torch.exp(log_probs), 1)  # (B, 1)
                    completion.append(token)
                    logits, _, state = g.step(token.squeeze(1), state)
                    log_probs = torch.log_softmax(logits, -1)
                full = torch.cat(completion, dim=1)  # (B, T)
                rewards[given - 1] += torch.sigmoid(d(full))
        rewards = (rewards / N).t()  # (B, T)
    logits, _ = g(RNNGenerator.shift_right(samples))
    logp = torch.log_softmax(logits, -1).gather(-1, samples.unsqueeze(-1)).squeeze(-1)
    loss = -(logp * rewards).sum(1).mean()
    loss.backward()
    g.zero_grad(set_to_none=True)


def bare_work(g: RNNGenerator, d: CNNDiscriminator, seq_len: int) -> None:
    """(c) sampling as many tokens as the rollouts do, in one batched call, and one D pass over as many sequences
    with textgan's fastest scorer for a fixed D (the conv tables, built inside the timing as (a) builds them)."""
    tokens = B * N * seq_len * (seq_len - 1) // 2  # sum over prefixes t of (T - t) continuation tokens
    rows = B * N * (seq_len - 1) + B
    with torch.no_grad():
        g.sample(tokens // seq_len, seq_len)
        sequences = torch.randint(4, V, (rows, seq_len))
        TokenConvTables(d)(sequences)


def matmul_floor(g: RNNGenerator, d: CNNDiscriminator, seq_len: int) -> None:
    """(d) the output-layer GEMM of every sampled token and the highway GEMM of every scored sequence."""
    tokens = B * N * seq_len * (seq_len - 1) // 2
    rows = B * N * (seq_len - 1) + B
    with torch.no_grad():
        hidden = torch.randn(256, HID)
        for _ in range(tokens // 256):  # the sampler's block size
            torch.addmm(g.head.bias, hidden, g.head.weight.t())
        if d.highway is not None:
            features = torch.randn(1024, d.highway.proj.in_features)
            for _ in range(rows // 1024):  # ~one rollout prefix-length group
                d.highway.proj(features)


def once(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rounds(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Times of every fn in `repeats` rounds, each round running all of them in turn: a VM's speed may drift by
    up to ~1.5x over minutes, and interleaving keeps that drift out of the ratios (taken per round)."""
    for name, fn in fns.items():
        if name != "b":  # warm-up (the allocator, the first tables); (b) is long enough to need none
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(once(fn))
    return times


def median_ratio(times: dict[str, list[float]], top: str, bottom: str) -> float:
    return statistics.median(x / y for x, y in zip(times[top], times[bottom]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of (a), (c), (d) and (b), interleaved (default 3; (b) takes ~40 s a round)")
    parser.add_argument("--lengths", default="20,40,80", help="sequence lengths for the scaling of (a)")
    parser.add_argument("--seq-len", type=int, default=20,
                        help="T of the (a)-(d) comparison (default 20, SeqGAN's oracle; COCO captions are 37)")
    parser.add_argument("--skip-loop", action="store_true", help="skip (b), the slow Python-loop baseline")
    parser.add_argument("--discriminator", choices=("seqgan", "small"), default="seqgan",
                        help="SeqGAN's CNN (default; its scoring dominates every variant) or the small preset")
    args = parser.parse_args()
    try:
        lengths = [int(x) for x in args.lengths.split(",")]
    except ValueError:
        parser.error(f"--lengths takes comma-separated integers, got {args.lengths!r}")
    if min(lengths + [args.seq_len]) < 2 or args.repeats < 1:
        parser.error("sequence lengths must be at least 2 and --repeats at least 1")
    g, d = build(discriminator=args.discriminator)
    print(f"REINFORCE generator step: B={B}, N={N}, V={V}, emb/hidden {EMB}/{HID}, {args.discriminator} CNN "
          "discriminator "
          f"({sum(p.numel() for p in d.parameters()):,} parameters); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; medians of {args.repeats} interleaved rounds")
    fns = {"a": lambda: textgan_step(g, d, args.seq_len), "c": lambda: bare_work(g, d, args.seq_len),
           "d": lambda: matmul_floor(g, d, args.seq_len)}
    if not args.skip_loop:
        fns["b"] = lambda: loop_step(g, d, args.seq_len)
    times = rounds(fns, args.repeats)
    labels = {"a": "(a) textgan step", "c": "(c) bare sampling + D work", "d": "(d) the two unavoidable GEMMs",
              "b": "(b) Python-loop step"}
    for name in fns:
        print(f"  {labels[name] + ', T=' + str(args.seq_len) + ':':<38}{statistics.median(times[name]):8.2f} s")
    print(f"  (a)/(c) = {median_ratio(times, 'a', 'c'):.2f}   (goal <= 2)")
    if not args.skip_loop:
        print(f"  (b)/(a) = {median_ratio(times, 'b', 'a'):.1f}   (goal >= 20)")
        print(f"  (b)/(c) = {median_ratio(times, 'b', 'c'):.1f}   "
              "(the most (b)/(a) can be while (a) does the bare work (c))")
        print(f"  (b)/(d) = {median_ratio(times, 'b', 'd'):.1f}   (the most (b)/(a) can be at fp32 here)")
    for seq_len in lengths:
        t = statistics.median(rounds({"a": lambda seq_len=seq_len: textgan_step(g, d, seq_len)}, 1)["a"])
        print(f"  (a) at T={seq_len:<3}: {t:8.2f} s   ({B * N * (seq_len - 1):,} rollouts, "
              f"{B * N * seq_len * (seq_len - 1) // 2:,} sampled tokens)")


if __name__ == "__main__":
    main()

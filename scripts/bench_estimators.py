"""Benchmark: rollout-free (dense) REINFORCE against SeqGAN's Monte-Carlo rollout REINFORCE.

At B=64, N=16 rollouts, V=5,004, generator E=H=32, fixed length, at 1 and at 2 threads, as medians of per-round
ratios over interleaved rounds:
  (1) one generator step (sampling, rewards, loss, backward; no D update) of rollout REINFORCE and of dense
      REINFORCE with the same CNN weights (SeqGAN's CNN and the small one; dense scores every prefix in one pass of
      the CNN's prefix mode) at T = 20, 40, 80; beside it the dense step's own GEMM floor (f): only the products no
      fp32 implementation of it avoids: G's output layer over every sampled token (sampling, teacher forcing and
      its two backward products, H -> V) and D's highway over every prefix (F -> 2F);
  (2) one round at the shipped recipes' settings (G step plus that round's D batches): rollout REINFORCE as
      oracle_budget.yaml, dense REINFORCE from scratch as oracle_scratch.yaml;
  (3) the recurrent per-step D of oracle_scratch.yaml: one training step (loss, backward, Adam), its parameter
      count and FLOPs per prefix;
  (4) gradient quality per second at T = 20 (1 thread): the reference is plain REINFORCE with terminal reward
      sigmoid(D(y)) and a batch-mean baseline averaged over >= 20,000 sampled sequences (unbiased for the
      objective SeqGAN's rollouts estimate), D SeqGAN's CNN trained a few hundred steps on oracle data; for each
      estimator K = 20 single-batch estimates scored by cosine to the reference (mean +- s.e.), seconds per
      estimate, and the cosine of the average of the estimates that fit in 10 s. Dense rewards target a
      per-prefix objective, so their cosine mixes bias and variance.

    python scripts/bench_estimators.py [--quick] [--rounds 3] [--threads 1,2] [--rollout-lengths 20,40,80]
                                       [--parts 1,2,3,4]

--quick: T = 20 only, one round, 1 thread, and a small gradient-quality check (K = 3, 2,000 reference sequences,
estimates averaged over a 2 s window instead of 10 s):
a smoke run of the script, not its figures.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch

import textgan
from textgan.api.builders import (
    adam,
    build_cnn,
    build_data,
    build_discriminator,
    build_estimator,
    build_generator,
    discriminator_optimizer,
    make_estimator,
)
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.data.batching import TokenBatch
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.models.prefix_discriminator import PrefixCNNDiscriminator
from textgan.models.recurrent_discriminator import RecurrentDiscriminator
from textgan.training.adversarial import train_adversarial
from textgan.training.context import Models
from textgan.training.schedules import AdversarialSchedule, RoundProgress

B, N, V, EMB, HID = 64, 16, 5000 + len(SPECIALS), 32, 32


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def generator(seed: int = 0) -> RNNGenerator:
    torch.manual_seed(seed)
    return RNNGenerator(vocab_size=V, embedding_size=EMB, hidden_size=HID,
                        banned_ids=[PAD_ID, BOS_ID, UNK_ID, EOS_ID], eos_id=None)


def cnn(name: str, seed: int = 1) -> CNNDiscriminator:
    torch.manual_seed(seed)
    return build_cnn(DISCRIMINATOR_PRESETS[name], "tokens", vocab_size=V).eval()


def real_batch(seq_len: int, batch: int = B) -> TokenBatch:
    return TokenBatch(torch.zeros(batch, seq_len, dtype=torch.long), torch.full((batch,), seq_len))


def rollout_step(g: RNNGenerator, d: CNNDiscriminator, seq_len: int) -> None:
    """One rollout-REINFORCE generator step: N x (T-1) rollouts per sequence scored by D, loss, backward."""
    estimator = make_estimator("reinforce", max_len=seq_len, num_rollouts=N)
    loss, _ = estimator.generator_loss(g, d, real_batch(seq_len), 0)
    loss.backward()
    g.zero_grad(set_to_none=True)


def dense_step(g: RNNGenerator, d: PrefixCNNDiscriminator, seq_len: int) -> None:
    """One dense-REINFORCE generator step: one sampling pass, one D pass over every prefix, one teacher-forced pass."""
    estimator = make_estimator("dense_reinforce", max_len=seq_len, discriminator="cnn")
    loss, _ = estimator.generator_loss(g, d, real_batch(seq_len), 0)
    loss.backward()
    g.zero_grad(set_to_none=True)


def dense_floor(g: RNNGenerator, d: CNNDiscriminator, seq_len: int) -> None:
    """(f) the GEMMs of a dense step no fp32 implementation avoids: G's output layer while sampling (T products of
    (B, H) x (H, V)), in teacher forcing and its two backward products, and D's highway over B x T prefixes."""
    with torch.no_grad():
        weight = g.head.weight  # (V, H)
        hidden = torch.randn(B * seq_len, HID)
        for part in hidden.split(B):
            part @ weight.T  # (B, V) per sampling step
        logits = hidden @ weight.T  # (B T, V) teacher forcing
        logits @ weight  # (B T, H) gradient of the hidden states
        logits.T @ hidden  # (V, H) gradient of the output layer
        assert d.highway is not None
        features = torch.randn(B * seq_len, d.highway.proj.in_features)
        features @ d.highway.proj.weight.T  # (B T, 2F)


def step_table(rounds: int, lengths: list[int], threads: int,
               rollout_lengths: list[int]) -> dict[tuple[str, int], list[float]]:
    """Interleaved rounds of (rollout, dense, floor) per CNN and length (rollouts only at `rollout_lengths`);
    per-round ratios, printed as they come."""
    torch.set_num_threads(threads)
    ratios: dict[tuple[str, int], list[float]] = {}
    times: dict[tuple[str, str, int], list[float]] = {}
    for r in range(rounds):
        for name in ("seqgan", "small"):
            d = cnn(name)
            prefix = PrefixCNNDiscriminator.like(d).eval()  # the same weights, every prefix scored
            for seq_len in lengths:
                g = generator(r)
                torch.manual_seed(100 + r)
                rollout = timed(rollout_step, g, d, seq_len) if seq_len in rollout_lengths else math.nan
                torch.manual_seed(100 + r)
                dense = timed(dense_step, g, prefix, seq_len)
                floor = timed(dense_floor, g, d, seq_len)
                for key, value in (("rollout", rollout), ("dense", dense), ("floor", floor)):
                    times.setdefault((key, name, seq_len), []).append(value)
                ratios.setdefault((name, seq_len), []).append(rollout / dense)
                print(f"  [{threads} thread(s), round {r + 1}] {name} T={seq_len}: rollout {rollout:.3f} s, dense "
                      f"{dense:.3f} s, floor {floor:.3f} s", flush=True)
    print(f"\n(1) generator step at {threads} thread(s), B={B}, N={N}, V={V}, E=H={EMB}; medians over {rounds} "
          f"interleaved round(s)")
    print(f"  {'D':7s} {'T':>3s} {'rollout s':>10s} {'dense s':>9s} {'floor s':>8s} {'rollout/dense':>14s} "
          f"{'dense/floor':>12s}")
    for name in ("seqgan", "small"):
        for seq_len in lengths:
            rollout, dense, floor = (times[(key, name, seq_len)] for key in ("rollout", "dense", "floor"))
            over_floor = statistics.median(a / b for a, b in zip(dense, floor))
            print(f"  {name:7s} {seq_len:3d} {statistics.median(rollout):10.3f} {statistics.median(dense):9.3f} "
                  f"{statistics.median(floor):8.3f} {statistics.median(ratios[(name, seq_len)]):14.1f} "
                  f"{over_floor:12.2f}")
        if len(lengths) > 1:
            dense = [times[("dense", name, t)] for t in (lengths[-1], lengths[0])]
            growth = statistics.median(a / b for a, b in zip(*dense))
            print(f"  {name}: t_dense({lengths[-1]}) / t_dense({lengths[0]}) = {growth:.2f} (median of per-round "
                  f"ratios)")
    return ratios


def recipe_round(config: str, seed: int) -> tuple[float, int]:
    """Seconds of one adversarial round (G step + that round's D batches) at a shipped config's settings (no
    pretraining, no evaluation, no checkpoint), and the number of D batches in it."""
    cfg = textgan.config(config, ["adversarial.rounds=1", f"run.seed={seed}"])
    torch.manual_seed(seed)
    data = build_data(cfg, None)
    estimator = build_estimator(cfg, data.max_len)
    g = build_generator(cfg, data.tokenizer, data.fixed_length)
    d = build_discriminator(cfg.discriminator, estimator, data.tokenizer.vocab_size, cfg.generator.hidden_size)
    a = cfg.adversarial
    d_opt = discriminator_optimizer(cfg, d)
    for group in d_opt.param_groups:
        group["lr"], group["betas"] = a.d_lr, tuple(a.d_betas)
    models = Models(g, adam(g.parameters(), a.g_lr, a.g_betas), d, d_opt)
    schedule = AdversarialSchedule(1, a.g_steps, a.d_steps, a.d_epochs, a.d_num_samples, a.batch_size, a.clip,
                                   seed=seed, eval_every=1)
    d_batches = a.d_steps * a.d_epochs * math.ceil(min(a.d_num_samples, len(data.train)) / a.batch_size)
    return timed(train_adversarial, estimator, models, data.train, schedule, RoundProgress()), d_batches


def round_table(rounds: int, threads: int) -> None:
    torch.set_num_threads(threads)
    recipes = (("oracle_budget", "rollout REINFORCE"), ("oracle_scratch", "dense REINFORCE, from scratch"))
    times: dict[str, list[float]] = {name: [] for name, _ in recipes}
    batches = {}
    for r in range(rounds):
        for name, _ in recipes:
            seconds, batches[name] = recipe_round(name, r)
            times[name].append(seconds)
    ratio = statistics.median(a / b for a, b in zip(times["oracle_budget"], times["oracle_scratch"]))
    print(f"\n(2) one adversarial round at the shipped recipes' settings, {threads} thread(s), median of {rounds}")
    for name, label in recipes:
        cfg = textgan.config(name).adversarial
        print(f"  {name:15s} {label:30s} batch {cfg.batch_size:4d}, {batches[name]:3d} D batches: "
              f"{statistics.median(times[name]):7.2f} s")
    print(f"  round-time ratio oracle_budget / oracle_scratch = {ratio:.1f} (median of per-round ratios)")


def recurrent_table(rounds: int, threads: int) -> None:
    torch.set_num_threads(threads)
    cfg = textgan.config("oracle_scratch")
    o, a = cfg.estimator_options("dense_reinforce"), cfg.adversarial
    torch.manual_seed(0)
    d = RecurrentDiscriminator(vocab_size=V, embedding_size=o.embedding_size, hidden_size=o.hidden_size,
                               embedding_dropout=o.embedding_dropout, layer_norm=o.layer_norm,
                               positional_size=o.positional_size)
    g = generator(0)
    estimator = make_estimator("dense_reinforce", max_len=20)
    optimizer = adam(d.parameters(), a.d_lr, a.d_betas)
    real = TokenBatch(torch.randint(len(SPECIALS), V, (a.batch_size, 20)), torch.full((a.batch_size,), 20))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = estimator.discriminator_loss(g, d, real, 0)
        loss.backward()
        optimizer.step()

    seconds = statistics.median(timed(step) for _ in range(max(rounds, 3)))
    params = sum(p.numel() for p in d.parameters())
    print(f"\n(3) recurrent per-step D of oracle_scratch.yaml (E={o.embedding_size}, H={o.hidden_size}, layer norm "
          f"{o.layer_norm}), {threads} thread(s)")
    print(f"  training step on {a.batch_size} real + {a.batch_size} fake sequences of 20 tokens (incl. sampling the "
          f"fakes): {seconds:.3f} s; {params:,} parameters; {d.flops_per_prefix():,} FLOPs per prefix (forward, "
          f"after the embedding lookup)")


# ---- gradient quality ----------------------------------------------------------------------------------------
def flat_grad(g: RNNGenerator) -> torch.Tensor:
    grad = torch.cat([p.grad.reshape(-1) for p in g.parameters() if p.grad is not None])
    g.zero_grad(set_to_none=True)
    return grad


def trained_cnn(g: RNNGenerator, steps: int, seq_len: int) -> CNNDiscriminator:
    """SeqGAN's CNN trained `steps` Adam steps on oracle data (as SeqGAN's oracle.yaml) against samples of g."""
    oracle = Oracle(5000, 32, 32, 1.0, 0)
    real = oracle.generate(steps * B, seq_len, seed=1) + len(SPECIALS)  # (steps B, T)
    d = cnn("seqgan").train()
    optimizer = torch.optim.Adam(d.parameters(), lr=1e-3)
    for batch in real.split(B):
        fake = g.sample(B, seq_len).tokens
        logits = d(torch.cat([batch, fake]))
        target = torch.cat([torch.ones(B), torch.zeros(B)])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return d.eval()


def reference_gradient(g: RNNGenerator, d: CNNDiscriminator, sequences: int, seq_len: int,
                       batch: int = 1000) -> torch.Tensor:
    """Plain REINFORCE with terminal reward sigmoid(D(y)) and a batch-mean baseline, averaged over `sequences`."""
    from textgan.estimators.common import sequence_log_probs

    total = None
    count = math.ceil(sequences / batch)
    for _ in range(count):
        samples = g.sample(batch, seq_len)
        with torch.no_grad():
            reward = torch.sigmoid(d(samples.tokens))  # (b,)
        logp = sequence_log_probs(g, samples.tokens, samples.lengths).sum(1)  # (b,)
        (-(logp * (reward - reward.mean())).mean() / count).backward()
        grad = flat_grad(g)
        total = grad if total is None else total + grad
    assert total is not None
    return total


class TerminalReinforce:
    """The reference's estimator on one batch of B: terminal reward sigmoid(D(y)), batch-mean baseline (variance
    only, no bias: a sanity row)."""

    def generator_loss(self, g: RNNGenerator, d: torch.nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, dict[str, float]]:
        from textgan.estimators.common import sequence_log_probs

        samples = g.sample(real.tokens.size(0), real.tokens.size(1))
        with torch.no_grad():
            reward = torch.sigmoid(d(samples.tokens))  # (B,)
        logp = sequence_log_probs(g, samples.tokens, samples.lengths).sum(1)  # (B,)
        return -(logp * (reward - reward.mean())).mean(), {}


def gradient_quality(k: int, reference_sequences: int, d_steps: int, window: float) -> None:
    torch.set_num_threads(1)
    seq_len = 20
    g = generator(0)
    torch.manual_seed(7)
    d = trained_cnn(g, d_steps, seq_len)
    prefix = PrefixCNNDiscriminator.like(d).eval()
    with torch.no_grad():
        spread = float(torch.sigmoid(d(g.sample(1000, seq_len).tokens)).std())
    torch.manual_seed(8)
    start = time.perf_counter()
    reference = reference_gradient(g, d, reference_sequences, seq_len)
    reference_seconds = time.perf_counter() - start
    estimators: dict[str, tuple[object, torch.nn.Module]] = {
        "terminal-reward REINFORCE, one batch": (TerminalReinforce(), d),
        "rollout REINFORCE (N=16, D prob)": (make_estimator("reinforce", max_len=seq_len, num_rollouts=N), d),
        "dense, 2 sigmoid - 1, gamma 0.23, EMA": (make_estimator("dense_reinforce", max_len=seq_len,
                                                                 discriminator="cnn"), prefix),
        "dense, sigmoid, gamma 1, batch mean": (make_estimator("dense_reinforce", max_len=seq_len,
                                                               discriminator="cnn", reward="sigmoid", gamma=1.0,
                                                               baseline="mean"), prefix),
        "dense, MaliGAN weights": (make_estimator("dense_reinforce", max_len=seq_len, discriminator="cnn",
                                                  weighting="maligan"), prefix),
    }
    print(f"\n(4) gradient quality at T={seq_len}, 1 thread: reference = terminal-reward REINFORCE over "
          f"{reference_sequences:,} sequences ({reference_seconds:.0f} s); D = SeqGAN's CNN after {d_steps} steps "
          f"on oracle data (sd of sigmoid(D) over G's samples: {spread:.3f}); K = {k} single-batch estimates each")
    print(f"  {'estimator':40s} {'cosine mean +- s.e.':>20s} {'s / estimate':>13s} {f'n in {window:g} s':>10s} "
          f"{'cosine of their mean':>21s}")
    for label, (estimator, discriminator) in estimators.items():
        grads, seconds = [], []
        torch.manual_seed(9)
        while len(grads) < k or (len(grads) < window / statistics.median(seconds)):
            start = time.perf_counter()
            loss, _ = estimator.generator_loss(g, discriminator, real_batch(seq_len), len(grads))  # type: ignore
            loss.backward()
            grads.append(flat_grad(g))
            seconds.append(time.perf_counter() - start)
        cosines = [float(torch.nn.functional.cosine_similarity(x, reference, dim=0)) for x in grads[:k]]
        per_estimate = statistics.median(seconds)
        fit = max(1, int(window / per_estimate))
        averaged = float(torch.nn.functional.cosine_similarity(torch.stack(grads[:fit]).mean(0), reference, dim=0))
        error = statistics.stdev(cosines) / math.sqrt(len(cosines)) if len(cosines) > 1 else float("nan")
        print(f"  {label:40s} {statistics.mean(cosines):+9.3f} +- {error:.3f} {per_estimate:13.3f} {fit:10d} "
              f"{averaged:+21.3f}")
    print("  Dense rewards target a per-prefix objective, not the terminal reward of the reference: their cosine "
          "mixes bias and variance.")


def counts(parser: argparse.ArgumentParser, option: str, text: str) -> list[int]:
    """The comma-separated positive integers of `option`, or a usage error naming it."""
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        parser.error(f"{option} takes comma-separated positive integers, e.g. 1,2; got {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="T=20, one round, 1 thread, small quality check")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 3 for the figures)")
    parser.add_argument("--threads", default="1,2", help="thread counts to run at")
    parser.add_argument("--rollout-lengths", default="20,40,80",
                        help="lengths at which rollout REINFORCE is timed too (dense: always 20, 40, 80)")
    parser.add_argument("--parts", default="1,2,3,4", help="which measurements to run (see above)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    lengths, rounds = ([20], 1) if args.quick else ([20, 40, 80], args.rounds)
    rollout_lengths = [20] if args.quick else counts(parser, "--rollout-lengths", args.rollout_lengths)
    threads = [1] if args.quick else counts(parser, "--threads", args.threads)
    parts = set(counts(parser, "--parts", args.parts))
    if not parts <= {1, 2, 3, 4}:
        parser.error(f"--parts takes 1, 2, 3 and 4, got {args.parts}")
    started = time.perf_counter()
    for count in threads:
        if 1 in parts:
            step_table(rounds, lengths, count, rollout_lengths)
        if 2 in parts:
            round_table(rounds, count)
        if 3 in parts:
            recurrent_table(rounds, count)
    if 4 in parts:
        if args.quick:
            gradient_quality(k=3, reference_sequences=2000, d_steps=50, window=2.0)
        else:
            gradient_quality(k=20, reference_sequences=20000, d_steps=300, window=10.0)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; torch {torch.__version__}")


if __name__ == "__main__":
    main()

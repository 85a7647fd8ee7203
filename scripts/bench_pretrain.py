"""Benchmark: MLE (teacher-forcing) training throughput of textgan against a minimal hand-written PyTorch loop.

Same model sizes, same data (SeqGAN oracle: 10,000 x 20 tokens, vocabulary 5,000 + 4 specials), same batch
size, same optimizer, in one process; the two are timed alternately and the medians compared. The sides differ:

* textgan's epoch is everything `train_mle` does: the loss through `models/fused_loss.py` (output projection and
  cross-entropy fused, in row chunks that stay in cache; banned ids masked; padding ignored), gradient clipping,
  progress bookkeeping, metrics.jsonl, and a validation pass over 1,000 sequences;
* the hand-written loop only trains, with the textbook nn.Linear + F.cross_entropy over the full (B*T, V) logits,
  no clipping, no mask, no validation.

So the ratio measures what a user gets from `textgan pretrain` against the obvious minimal loop, not the same
computation done twice.

    python scripts/bench_pretrain.py [--repeats 3] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from textgan.api.builders import build_data, build_generator
from textgan.api.configs import config as load_config
from textgan.training.context import Models, Runtime
from textgan.training.metrics_log import MetricsLog
from textgan.training.mle import train_mle
from textgan.training.schedules import MLEProgress, MLESchedule


class HandWritten(nn.Module):
    """The minimal LSTM language model anyone would write."""

    def __init__(self, vocab: int, emb: int, hidden: int) -> None:
        super().__init__()
        self.emb, self.lstm, self.out = nn.Embedding(vocab, emb), nn.LSTM(emb, hidden, batch_first=True), \
            nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(self.emb(x))[0])


def hand_written_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, tokens: torch.Tensor,
                       batch_size: int) -> None:
    order = torch.randperm(tokens.size(0))
    for start in range(0, tokens.size(0), batch_size):
        y = tokens[order[start:start + batch_size]]
        x = torch.cat([torch.ones_like(y[:, :1]), y[:, :-1]], 1)
        loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per side (default 3)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64, SeqGAN)")
    args = parser.parse_args()
    if args.repeats < 1 or args.batch_size < 1:
        parser.error("--repeats and --batch-size must be at least 1")
    torch.manual_seed(0)
    cfg = load_config("oracle", [])
    data = build_data(cfg, None)
    ours = build_generator(cfg, data.tokenizer, data.fixed_length)
    ours_opt = torch.optim.Adam(ours.parameters(), lr=0.01)
    g = cfg.generator
    theirs = HandWritten(data.tokenizer.vocab_size, g.embedding_size, g.hidden_size)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=0.01)
    tokens = data.train.tokens
    num_tokens = data.train.num_tokens()
    times: dict[str, list[float]] = {"textgan": [], "hand-written": []}
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(log=MetricsLog(Path(tmp) / "metrics.jsonl"), progress=False)
        progress = MLEProgress()
        for repeat in range(args.repeats + 1):  # the first round warms up both sides and is not counted
            start = time.perf_counter()
            train_mle(Models(ours, ours_opt), data.train, data.valid, MLESchedule(repeat + 1, args.batch_size),
                      progress, runtime)
            t_ours = time.perf_counter() - start
            start = time.perf_counter()
            hand_written_epoch(theirs, theirs_opt, tokens, args.batch_size)
            t_theirs = time.perf_counter() - start
            if repeat:
                times["textgan"].append(t_ours)
                times["hand-written"].append(t_theirs)
    print(f"MLE throughput, SeqGAN oracle sizes: {len(tokens)} sequences x {tokens.size(1)} tokens, "
          f"V={data.tokenizer.vocab_size}, emb {g.embedding_size}, hidden {g.hidden_size}, batch {args.batch_size}, "
          f"{args.repeats} epochs each (median), torch {torch.__version__}, {torch.get_num_threads()} threads")
    rates = {}
    for name, values in times.items():
        rates[name] = num_tokens / statistics.median(values)
        print(f"  {name:<13} {rates[name]:>10,.0f} tokens/s   (epochs: {', '.join(f'{v:.2f}s' for v in values)})")
    print(f"  ratio textgan / hand-written: {rates['textgan'] / rates['hand-written']:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()

"""A run started from another run's generator (`init_from`) skips MLE, also when its phases are called in order."""

from __future__ import annotations

from pathlib import Path

import textgan
from textgan.training.metrics_log import read_metrics


def test_init_from_trains_no_mle_epoch(tiny_oracle_args: list[str], tmp_path: Path, one_thread: None) -> None:
    textgan.pretrain("oracle_quick", [*tiny_oracle_args, f"run.dir={tmp_path / 'mle'}"])
    textgan.train("oracle_quick", [*tiny_oracle_args, f"run.dir={tmp_path / 'gan'}", "pretrain.epochs=3"],
                  init_from=tmp_path / "mle" / "checkpoints" / "mle.pt")
    events = [e["event"] for e in read_metrics(tmp_path / "gan" / "metrics.jsonl")]
    assert events[0] == "init_from" and "mle" not in events and events.count("adversarial") == 2

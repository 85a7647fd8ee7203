"""The code in the README's Python API section and in docs/writing-an-estimator.md runs as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

import textgan
from textgan.cli.main import main
from textgan.training.metrics_log import read_metrics

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "run_v0_1"


def python_blocks(path: Path, after: str = "") -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = text[text.index(after):] if after else text
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_api_examples_run(capsys: pytest.CaptureFixture[str], one_thread: None) -> None:
    load_and_sample, by_hand = python_blocks(ROOT / "README.md", "## Python API")[:2]
    exec(load_and_sample.replace('"runs/quickstart/mle"', repr(str(FIXTURE))), {})  # the quickstart's run, stood in
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("[") and "'nll'" in printed[1]
    namespace: dict = {}
    exec(by_hand, namespace)
    assert namespace["models"].generator is namespace["g"]


def test_writing_an_estimator_example_registers_and_trains(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           tiny_oracle_args: list[str], one_thread: None) -> None:
    (block,) = python_blocks(ROOT / "docs" / "writing-an-estimator.md")
    module = types.ModuleType("writing_an_estimator_example")  # a real module: dataclasses look theirs up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(block, module.__dict__)
        assert "terminal" in textgan.ESTIMATORS
        assert main(["train", "--config", "oracle_quick", *tiny_oracle_args, f"run.dir={tmp_path}",
                     "adversarial.estimator=terminal", "terminal.reward_scale=2"]) == 0
    finally:
        textgan.ESTIMATORS.pop("terminal", None)  # the registry as it was
    rounds = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r["event"] == "adversarial"]
    assert rounds and all(0 < r["reward"] <= 2 for r in rounds)

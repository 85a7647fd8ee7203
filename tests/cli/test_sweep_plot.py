"""`textgan sweep` and `textgan plot` on tiny checkpoints: CSV rows, valid PNGs, the no-matplotlib message."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from tests.cli.test_evaluate import run_failing
from tests.conftest import TINY_KMODE
from textgan.cli.main import main
from textgan.models import generator as generator_module
from textgan.models import kernels
from textgan.training.metrics_log import read_metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import matplotlib` fail as if it were not installed."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)


def test_text_sweep_two_checkpoints(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--checkpoint", str(tiny_text_run / "checkpoints" / "mle.pt"),
                 "--checkpoint", str(tiny_text_run), "--labels", "MLE", "last", "--temperatures", "0.8,1.3",
                 "--num-samples", "20", "--out-dir", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    assert [(r["label"], float(r["temperature"])) for r in rows] == [
        ("MLE", 0.8), ("MLE", 1.3), ("last", 0.8), ("last", 1.3)]
    for row in rows:
        assert all(0.0 <= float(row[f"{kind}_{n}"]) <= 1.0 for kind in ("bleu", "self_bleu") for n in (2, 3, 4, 5))
        assert row["num_samples"] == "20"
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC
    assert "wrote" in capsys.readouterr().out


def test_oracle_sweep_nll_test_at_one_is_the_plain_nll(tiny_oracle_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--checkpoint", str(tiny_oracle_run), "--temperatures", "0.5:1.5:0.5",
                 "--num-samples", "30", "--out-dir", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    assert [float(r["temperature"]) for r in rows] == [0.5, 1.0, 1.5]
    assert set(rows[0]) >= {"label", "checkpoint", "temperature", "nll_oracle", "nll_test"}
    logged = read_metrics(tiny_oracle_run / "metrics.jsonl")[-1]["nll_test"]
    assert float(rows[1]["nll_test"]) == pytest.approx(logged, rel=1e-5)
    assert len({r["nll_test"] for r in rows}) == 3  # temperature-scaled: a curve, not one repeated number
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC


def test_sweep_without_matplotlib_still_writes_the_csv(tiny_oracle_run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    without_matplotlib(monkeypatch)
    out = tmp_path / "sweep"
    assert main(["sweep", "--checkpoint", str(tiny_oracle_run), "--temperatures", "1", "--num-samples", "10",
                 "--out-dir", str(out)]) == 0
    assert len(read_csv(out / "sweep.csv")) == 1 and not (out / "sweep.png").exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'textgan[plot]'" in err


@pytest.mark.parametrize(("args", "expected"), [
    (["--temperatures", "0,1"], "must be a number > 0"),
    (["--temperatures", "a"], "comma-separated list"),
    (["--labels", "a", "b"], "--labels has 2 labels for 1 --checkpoint"),
    (["--num-samples", "1"], "--num-samples must be >= 2"),
    (["--references", "{tmp}/missing.txt"], "does not exist"),
])
def test_sweep_errors(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      args: list[str], expected: str) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    err = run_failing(capsys, ["sweep", "--checkpoint", str(tiny_text_run), "--out-dir", str(tmp_path / "o"), *args])
    assert expected in err


def test_sweep_refuses_mixed_runs_and_existing_output(tiny_text_run: Path, tiny_oracle_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(capsys, ["sweep", "--checkpoint", str(tiny_text_run), "--checkpoint", str(tiny_oracle_run),
                               "--out-dir", str(tmp_path / "o")])
    assert "mix oracle and text" in err
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "sweep.csv").write_text("keep me")
    err = run_failing(capsys, ["sweep", "--checkpoint", str(tiny_oracle_run), "--out-dir", str(tmp_path / "o")])
    assert "already exist" in err and "--overwrite" in err
    assert (tmp_path / "o" / "sweep.csv").read_text() == "keep me"


def test_plot_training_curves(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "curves.png"
    assert main(["plot", "--run", str(tiny_text_run), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    printed = capsys.readouterr().out
    assert "NLL per token" in printed and "test-BLEU" in printed  # the periodic evaluator logged BLEU
    err = run_failing(capsys, ["plot", "--run", str(tiny_text_run), "--out", str(out)])
    assert "already exists" in err


def test_plot_errors(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert "does not exist" in run_failing(capsys, ["plot", "--run", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.jsonl").write_text('{"event": "data", "step": 0}\n')
    assert "no training metrics yet" in run_failing(capsys, ["plot", "--run", str(tmp_path / "empty")])
    assert not (tmp_path / "empty" / "training_curves.png").exists()
    without_matplotlib(monkeypatch)
    err = run_failing(capsys, ["plot", "--run", str(tiny_text_run), "--out", str(tmp_path / "c.png")])
    assert "pip install 'textgan[plot]'" in err


def test_text_sweep_with_model_metrics_and_a_verdict(tiny_text_run: Path, tmp_path: Path, one_thread: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A curve against itself is "equal" with zero gap on both text axes pairs; model metrics carry their count."""
    import json

    out = tmp_path / "sweep"
    assert main(["sweep", "--checkpoint", str(tiny_text_run / "checkpoints" / "mle.pt"), "--checkpoint",
                 str(tiny_text_run), "--labels", "MLE", "same", "--reference", "MLE", "--temperatures", "0.8,1.3",
                 "--num-samples", "20", "--metrics", "lm_score,reverse_lm_score,fed", "--cache-dir",
                 str(tmp_path / "cache"), "--out-dir", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    assert all(r["reverse_lm_samples"] == r["fed_samples"] == "20" for r in rows)
    judged = json.loads((out / "verdict.json").read_text())
    assert [(v["label"], v["quality"], v["diversity"], v["verdict"], v["mean_gap"]) for v in judged] == [
        ("same", "bleu_5", "self_bleu_5", "equal", 0.0), ("same", "lm_score", "reverse_lm_score", "equal", 0.0)]
    assert "verdict same vs MLE" in capsys.readouterr().out


def test_oracle_sweep_reference_run_is_added(tiny_oracle_run: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "sweep"
    assert main(["sweep", "--checkpoint", str(tiny_oracle_run / "checkpoints" / "mle.pt"), "--reference",
                 str(tiny_oracle_run), "--temperatures", "0.8,1.2", "--num-samples", "20", "--tolerance", "0.01",
                 "--out-dir", str(out)]) == 0
    judged = json.loads((out / "verdict.json").read_text())
    assert [(v["quality"], v["diversity"], v["verdict"], v["tolerance"]) for v in judged] == [
        ("nll_oracle", "nll_test", "equal", 0.01)]
    err = run_failing(capsys, ["sweep", "--checkpoint", str(tiny_oracle_run), "--reference", "nowhere",
                               "--out-dir", str(tmp_path / "x")])
    assert "--reference nowhere is neither" in err


def test_kmode_sweep_is_the_parser_on_the_same_samples_with_a_verdict(tiny_kmode_run: Path, tmp_path: Path,
                                                                      one_thread: None) -> None:
    """Each K-mode row is the exact parser's metrics of the samples drawn from the sweep's seed at that T; the
    verdict and plot use (kmode_valid, kmode_coverage); a curve against itself is "equal" with zero gap."""
    import json

    import torch

    from textgan.api.builders import build_kmode
    from textgan.api.trained import load
    from textgan.data.tokenizers import SPECIALS
    from textgan.evaluation.kmode import kmode_metrics_of_lines

    out = tmp_path / "sweep"
    assert main(["sweep", "--checkpoint", str(tiny_kmode_run / "checkpoints" / "mle.pt"), "--checkpoint",
                 str(tiny_kmode_run), "--labels", "MLE", "same", "--reference", "MLE", "--temperatures", "0.5,1,2",
                 "--num-samples", "60", "--seed", "3", "--out-dir", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    assert [(r["label"], float(r["temperature"])) for r in rows] == [
        ("MLE", 0.5), ("MLE", 1.0), ("MLE", 2.0), ("same", 0.5), ("same", 1.0), ("same", 2.0)]
    gen = load(tiny_kmode_run)
    benchmark = build_kmode(gen.cfg)
    keys = ("kmode_valid", "kmode_invalid", "kmode_coverage", "kmode_js", "kmode_within_diversity")
    for row in rows[:3]:
        torch.manual_seed(3)
        lines = gen.sample(60, temperature=float(row["temperature"]), batch_size=128)
        expected = kmode_metrics_of_lines(benchmark, lines, gen.tokenizer.encode, len(SPECIALS), 0.5)
        assert {k: float(row[k]) for k in keys} == {k: expected[k] for k in keys}
    valid = [float(r["kmode_valid"]) for r in rows[:3]]
    assert valid[0] > valid[2] > 0  # a curve: sharper sampling parses more often
    judged = json.loads((out / "verdict.json").read_text())
    assert [(v["label"], v["quality"], v["diversity"], v["verdict"], v["mean_gap"]) for v in judged] == [
        ("same", "kmode_valid", "kmode_coverage", "equal", 0.0)]
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC


def test_sweep_refuses_kmode_runs_mixed_with_others(tiny_kmode_run: Path, tiny_oracle_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(capsys, ["sweep", "--checkpoint", str(tiny_kmode_run), "--checkpoint", str(tiny_oracle_run),
                               "--out-dir", str(tmp_path / "o")])
    assert "mix kmode and oracle runs" in err
    other = tmp_path / "other"  # another benchmark: its modes differ, so its coverage is not comparable
    assert main(["pretrain", "--config", "kmode", f"run.dir={other}", *TINY_KMODE, "data.kmode.seed=1"]) == 0
    err = run_failing(capsys, ["sweep", "--checkpoint", str(tiny_kmode_run), "--checkpoint", str(other),
                               "--out-dir", str(tmp_path / "o")])
    assert "different K-mode benchmarks" in err


@pytest.mark.skipif(not kernels.available(), reason="no C compiler: the compiled kernels are not built")
def test_sweep_draws_with_the_compiled_sampler_when_asked(tiny_oracle_run: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = generator_module.sample_compiled
    monkeypatch.setattr(generator_module, "sample_compiled", lambda *a: calls.append(1) or real(*a))
    args = ["sweep", "--checkpoint", str(tiny_oracle_run), "--temperatures", "0.7,1", "--num-samples", "10"]
    assert main([*args, "--out-dir", str(tmp_path / "a")]) == 0 and not calls  # the run's setting: off
    assert main([*args, "--out-dir", str(tmp_path / "b"), "--compiled-sampler"]) == 0 and calls
    assert [float(r["temperature"]) for r in read_csv(tmp_path / "b" / "sweep.csv")] == [0.7, 1.0]

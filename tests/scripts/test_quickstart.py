"""scripts/quickstart.py's choices: the leaderboard's best oracle arm and the rounds that fit its budget."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import textgan

ROOT = Path(__file__).resolve().parents[2]


def quickstart():
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "scripts" / "quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SUMMARY = {"oracle": {"arms": {
    "mle": {"seeds": [0, 1]},
    "reinforce": {"mean_gaps": [-0.03, -0.01]},
    "gumbel": {"mean_gaps": [0.02, -0.01]},      # mean 0.005: the best of the arms that start from MLE
    "scratch": {"mean_gaps": [0.5]},              # starts from scratch: not a quickstart arm
    "dense": {"mean_gaps": [0.004]},
}}}
ARMS = {"reinforce": {"start": "mle"}, "gumbel": {"start": "mle"}, "scratch": {"start": "scratch"}, "dense": {}}


def test_best_arm_is_the_largest_mean_gap_among_arms_starting_from_mle() -> None:
    assert quickstart().best_arm(SUMMARY, ARMS) == "gumbel"


def test_no_oracle_arm_is_a_one_line_error() -> None:
    with pytest.raises(textgan.UserError, match="no oracle arm"):
        quickstart().best_arm({"oracle": {"arms": {"mle": {}}}}, ARMS)


@pytest.mark.parametrize(("d_pretrain", "round_s", "minutes", "rounds"), [
    (30.0, 1.5, 3.0, 100),   # (180 - 30) / 1.5
    (30.0, 7.0, 3.0, 21),    # floor
    (200.0, 5.0, 3.0, 1),    # D pretraining alone is over budget: one round
])
def test_scaled_rounds_fit_the_budget(d_pretrain: float, round_s: float, minutes: float, rounds: int) -> None:
    calibration = {"d_pretrain_cpu_s": d_pretrain, "round_cpu_s": round_s}
    assert quickstart().scaled_rounds(calibration, minutes) == rounds


@pytest.mark.parametrize("argv", [["--minutes", "0"], ["--minutes", "-1"], ["--threads", "0"]])
def test_a_bad_budget_or_thread_count_is_a_usage_error_before_any_run(argv: list[str], tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        quickstart().main([*argv, "--run-dir", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    assert "--minutes must be above 0 and --threads at least 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()

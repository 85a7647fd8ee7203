"""scripts/leaderboard.py on a tiny oracle: two arms, one seed; a second invocation reuses both runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import TINY_ORACLE

ROOT = Path(__file__).resolve().parents[2]


def leaderboard(tmp_path: Path, arms: list[dict]) -> str:
    settings = {"seeds": [0], "arms": arms, "datasets": {"tiny": {
        "kind": "oracle", "mle": {"recipe": "oracle_quick", "overrides": TINY_ORACLE}, "shared": [],
        "cpu_minutes": 0.02, "temperatures": [0.8, 1.0, 1.25], "num_samples": 40, "tolerance": 0.01}}}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py"), "--config", str(config),
                           "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                           "--results", str(tmp_path / "results.md")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return (tmp_path / "results.md").read_text(encoding="utf-8")


def logs(tmp_path: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (tmp_path / "runs" / "tiny" / "seed0").glob("*/metrics.jsonl")}


def test_tiny_leaderboard_reuses_runs_and_retrains_a_changed_one(tmp_path: Path) -> None:
    arms = [{"name": "reinforce", "start": "mle", "recipes": {"tiny": {"recipe": "oracle_quick",
                                                                      "overrides": TINY_ORACLE, "rounds": 2}}},
            {"name": "gumbel", "start": "mle", "calibration_rounds": 2,
             "recipes": {"tiny": {"recipe": "oracle_gumbel", "overrides": TINY_ORACLE}}}]
    table = leaderboard(tmp_path, arms)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert {"real training data", "mle", "reinforce", "gumbel"} <= set(rows)
    assert "| reinforce | 2 |" in table and "reference" in rows["mle"]
    calibration = yaml.safe_load((tmp_path / "board_calibration.yaml").read_text())["tiny"]["gumbel"]
    assert calibration["rounds"] >= 2 and f"| gumbel | {calibration['rounds']} |" in table
    first = logs(tmp_path)
    assert set(first) == {"mle", "reinforce", "gumbel"}

    leaderboard(tmp_path, arms)  # everything reused: no training event appended anywhere
    assert logs(tmp_path) == first

    arms[0]["recipes"]["tiny"]["rounds"] = 3  # a changed config is retrained; the others stay reused
    table = leaderboard(tmp_path, arms)
    now = logs(tmp_path)
    assert now["reinforce"] != first["reinforce"] and now["mle"] == first["mle"] and now["gumbel"] == first["gumbel"]
    assert "| reinforce | 3 |" in table

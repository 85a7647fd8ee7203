"""Tiny end-to-end runs of every registered estimator on both data kinds, and of every shipped config."""

from __future__ import annotations

from pathlib import Path

import pytest

import textgan
from textgan.config_io import shipped_configs
from textgan.estimators.registry import ESTIMATORS

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("data", ["oracle", "coco"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_trains_through_the_api(name: str, data: str, request: pytest.FixtureRequest,
                                                tmp_path: Path) -> None:
    args = request.getfixturevalue(f"tiny_{data}_args")
    before, after = textgan.train("oracle_quick", [*args, f"run.dir={tmp_path}", f"adversarial.estimator={name}"])
    assert before and after and set(before) == set(after)
    payload = textgan.load(tmp_path).payload
    assert payload["phase"] == "done" and payload["progress"]["adversarial"]["round"] == 2
    assert (tmp_path / "checkpoints" / "adversarial.pt").is_file()


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_runs(name: str, tiny_oracle_args: list[str], tiny_coco_args: list[str],
                                   tmp_path: Path) -> None:
    cfg = textgan.config(name)
    args = tiny_oracle_args if cfg.data.source == "oracle" else tiny_coco_args
    _, after = textgan.train(name, [*args, f"run.dir={tmp_path}"])
    assert after and all(v == v for v in after.values())  # finite metrics, no NaN

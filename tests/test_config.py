"""Config loading: every problem reported at once, overrides, shipped configs."""

from __future__ import annotations

import dataclasses
import re

import pytest

from textgan.api.configs import config as load_run_config
from textgan.cli.main import main
from textgan.config_io import config_to_dict, load_config, shipped_configs
from textgan.errors import UserError


@pytest.mark.parametrize("name", shipped_configs())
def test_shipped_configs_load(name: str) -> None:
    cfg = load_run_config(name, [])
    assert config_to_dict(cfg)["run"]["dir"]


def test_all_problems_in_one_error() -> None:
    with pytest.raises(UserError) as err:
        load_config(None, ["pretrain.epoch=3", "run.seed=abc", "pretrain.lr=-1", "generator.cell=transformer"])
    message = str(err.value)
    assert "\n" not in message
    assert "pretrain.epoch: unknown key (did you mean pretrain.epochs?)" in message
    assert "run.seed='abc': expected an integer" in message
    assert "pretrain.lr=-1: must be > 0" in message
    assert "generator.cell='transformer': must be one of lstm, gru" in message


@pytest.mark.parametrize("override, key, expected", [
    ("run.seed=7", ("run", "seed"), 7),
    ("pretrain.lr=1e-3", ("pretrain", "lr"), 1e-3),
    ("pretrain.lr=2", ("pretrain", "lr"), 2.0),
    ("run.progress=false", ("run", "progress"), False),
    ("discriminator.filter_sizes=[2,3]", ("discriminator", "filter_sizes"), [2, 3]),
    ("data.train=a b.txt", ("data", "train"), "a b.txt"),
])
def test_overrides(override: str, key: tuple[str, str], expected: object) -> None:
    cfg = load_config(None, [override, "discriminator.num_filters=[1,1]"] if "filter" in override else [override])
    assert getattr(getattr(cfg, key[0]), key[1]) == expected


def test_cross_checks_and_choices() -> None:
    with pytest.raises(UserError, match="tie_weights"):
        load_config(None, ["generator.tie_weights=true", "generator.embedding_size=8", "generator.hidden_size=16"])
    with pytest.raises(UserError, match="adversarial.estimator='nope': must be one of reinforce"):
        load_config(None, ["adversarial.estimator=nope"], choices={"adversarial.estimator": ["reinforce"]})
    with pytest.raises(UserError, match="not found"):
        load_config("no/such/file.yaml", [])


def leaf_keys(obj: object, prefix: str = "") -> list[str]:
    """Dotted names of every non-section field of a config dataclass."""
    keys = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        keys += leaf_keys(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return keys


def test_dump_documents_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--config", "oracle"]) == 0
    lines = capsys.readouterr().out.splitlines()
    keys = [line for line in lines if not re.fullmatch(r" *\w+:", line)]  # all but the section headers
    # every key line is `name: value  # help` with a non-empty help
    undocumented = [line for line in keys if not re.fullmatch(r" *\w+: \S.*?  # \S.*", line)]
    assert not undocumented
    cfg = load_run_config("oracle", [])
    expected = [k for k in leaf_keys(cfg) if k != "estimators"]
    expected += [k for name, options in cfg.estimators.items() for k in leaf_keys(options, f"{name}.")]
    assert keys and len(keys) == len(expected)  # one line per key, none missing
    assert "  num_rollouts: 16  # Monte-Carlo rollouts per prefix (SeqGAN: 16)" in keys

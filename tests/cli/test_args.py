"""Command-line parsing: section.key=value overrides may stand anywhere among the options."""

from __future__ import annotations

import pytest

from textgan.cli.common import parse_args
from textgan.cli.main import build_parser, main


@pytest.mark.parametrize("argv, overrides", [
    (["train", "--config", "coco", "run.dir=x", "--init-from", "C.pt", "data.max_len=20"],
     ["run.dir=x", "data.max_len=20"]),
    (["train", "run.seed=1", "--config", "coco", "--resume", "run.seed=2", "--init-from", "C.pt", "run.seed=3"],
     ["run.seed=1", "run.seed=2", "run.seed=3"]),
    (["pretrain", "--config", "oracle", "--resume", "pretrain.epochs=2"], ["pretrain.epochs=2"]),
    (["pretrain", "--config", "oracle"], []),
])
def test_overrides_on_both_sides_of_options(argv: list[str], overrides: list[str]) -> None:
    args = parse_args(build_parser(), argv)
    assert args.overrides == overrides  # in command-line order: the last one wins
    assert args.config in ("coco", "oracle")


def test_intermixed_overrides_reach_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "run.seed=7", "--config", "oracle", "data.max_len=33", "run.seed=8"]) == 0
    out = capsys.readouterr().out
    assert "  seed: 8  #" in out and "  max_len: 33  #" in out


@pytest.mark.parametrize("argv", [
    ["train", "--config", "coco", "run.seed=1", "--init-from", "C.pt", "stray"],
    ["sample", "--checkpoint", "runs/x", "run.seed=1"],  # sample takes no overrides
])
def test_other_extra_arguments_are_still_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err

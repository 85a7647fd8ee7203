"""Tiny trained runs shared by the evaluate, sweep and plot tests (trained once per pytest run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from textgan.cli.main import main


@pytest.fixture(scope="session")
def tiny_text_run(tiny_coco_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COCO-config checkpoint after one MLE epoch on 300 captions (test file: 100 captions)."""
    from tests.conftest import TINY_MODELS

    train, test = tiny_coco_files
    run = tmp_path_factory.mktemp("eval") / "coco"
    assert main(["pretrain", "--config", "coco", f"run.dir={run}", "data.source=text", f"data.train={train}",
                 f"data.test={test}", "data.max_len=20", *TINY_MODELS, "evaluation.bleu_samples=20"]) == 0
    return run


@pytest.fixture(scope="session")
def tiny_oracle_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import TINY_ORACLE

    run = tmp_path_factory.mktemp("eval") / "oracle"
    assert main(["pretrain", "--config", "oracle", f"run.dir={run}", *TINY_ORACLE]) == 0
    return run


@pytest.fixture(scope="session")
def tiny_kmode_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A K-mode checkpoint after 10 MLE epochs on 200 sentences of 3 modes: most samples parse, every mode is hit."""
    from tests.conftest import TINY_KMODE

    run = tmp_path_factory.mktemp("eval") / "kmode"
    assert main(["pretrain", "--config", "kmode", f"run.dir={run}", *TINY_KMODE, "pretrain.epochs=10",
                 "generator.hidden_size=32", "pretrain.lr=0.02"]) == 0
    return run

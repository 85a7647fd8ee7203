"""Shared fixtures: tiny configs that run the real code paths in seconds, and the COCO corpus location."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.helpers import thread_count_kept

COCO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco"


@pytest.fixture(autouse=True)
def _same_global_draws() -> None:
    """Every test starts from one global random state, whichever tests ran before it: torch seeds its global
    generator at random in each process, so an unseeded draw would otherwise differ from run to run."""
    torch.manual_seed(0)


TINY_MODELS = [
    "generator.embedding_size=16", "generator.hidden_size=16",
    "discriminator.embedding_size=16", "discriminator.filter_sizes=[2,3]", "discriminator.num_filters=[8,8]",
    "pretrain.epochs=1", "pretrain.batch_size=32",
    "d_pretrain.rounds=1", "d_pretrain.num_samples=64", "d_pretrain.batch_size=32",
    "adversarial.rounds=2", "adversarial.d_num_samples=64", "adversarial.batch_size=32", "adversarial.eval_every=1",
    "reinforce.num_rollouts=2", "evaluation.num_samples=40", "run.progress=false",
]
TINY_ORACLE = [
    "data.source=oracle", "data.oracle.vocab_size=50", "data.oracle.seq_len=8", "data.oracle.num_train=200",
    "data.oracle.num_valid=50", "data.oracle.num_test=100", "data.oracle.embedding_size=8",
    "data.oracle.hidden_size=8", *TINY_MODELS,
]

TINY_KMODE = [
    "data.source=kmode", "data.kmode.num_modes=3", "data.kmode.vocab_size=16", "data.kmode.seq_len=6",
    "data.kmode.num_train=200", "data.kmode.num_valid=50", "data.kmode.num_test=100", *TINY_MODELS,
]


@pytest.fixture
def tiny_kmode_args() -> list[str]:
    return list(TINY_KMODE)


@pytest.fixture(scope="session")
def coco_dir() -> Path:
    if not (COCO_DIR / "image_coco.txt").is_file():
        pytest.skip(f"COCO corpus not found at {COCO_DIR}")
    return COCO_DIR


@pytest.fixture(scope="session")
def tiny_coco_files(coco_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The first 300 train / 100 test COCO captions, so text runs take seconds."""
    folder = tmp_path_factory.mktemp("coco")
    train, test = folder / "train.txt", folder / "test.txt"
    train.write_text("".join((coco_dir / "image_coco.txt").open(encoding="utf-8").readlines()[:300]), encoding="utf-8")
    test.write_text("".join((coco_dir / "test_coco.txt").open(encoding="utf-8").readlines()[:100]), encoding="utf-8")
    return train, test


@pytest.fixture
def tiny_oracle_args() -> list[str]:
    return list(TINY_ORACLE)


@pytest.fixture
def tiny_coco_args(tiny_coco_files: tuple[Path, Path]) -> list[str]:
    train, test = tiny_coco_files
    return ["data.source=text", f"data.train={train}", f"data.test={test}", "data.max_len=20", *TINY_MODELS]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one thread during the test: tiny models run faster, and a shared machine keeps its other core."""
    with thread_count_kept():
        torch.set_num_threads(1)
        yield


MR_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mr"
POS_WORDS = "good great fine superb lovely warm bright".split()
NEG_WORDS = "bad awful dull poor grim weak bleak".split()


@pytest.fixture(scope="session")
def mr_dir() -> Path:
    if not (MR_DIR / "rt-polarity.pos.txt").is_file():
        pytest.skip(f"MR corpus not found at {MR_DIR}")
    return MR_DIR


def write_two_class_corpus(folder: Path, num: int = 60, seed: int = 0) -> dict[str, Path]:
    """Two classes with disjoint vocabularies (pos.txt, neg.txt; `num` sentences each), seeded."""
    import random

    draw = random.Random(seed)
    files = {}
    for name, words in (("pos", POS_WORDS), ("neg", NEG_WORDS)):
        lines = [" ".join(draw.choice(words) for _ in range(draw.randint(2, 6))) for _ in range(num)]
        files[name] = folder / f"{name}.txt"
        files[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


@pytest.fixture
def tiny_labelled_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A tiny two-class corpus (one file per class) and the tiny models."""
    files = write_two_class_corpus(tmp_path_factory.mktemp("labelled"))
    return ["data.source=text", *(f"data.classes.{name}={path}" for name, path in files.items()),
            "data.max_len=10", "data.test_fraction=0.2", "data.valid_fraction=0.2", *TINY_MODELS]

"""Without labels a run computes exactly what it computed before class-conditional generation existed: the final
metrics and generator weights of tiny unlabelled runs, one per estimator, equal a fixture made at the commit
before it (tests/fixtures/unconditional_runs.json; regenerate only on purpose: TEXTGAN_WRITE_FIXTURE=1). Equal to
float round-off (1e-6 relative): the fixture was written on one CPU, and another CPU's vector kernels (AVX2 against
AVX-512, say) sum the same products in another order; a code path that changed would move the numbers far more.

The discriminator's dropout masks moved from torch's generator to the compiled one (models/dropout.py) after the
fixture was made. The cases whose discriminator trains with dropout were then remade on purpose: at that change,
these runs with torch's dropout patched back in still equalled the fixture as first made."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_MODELS
from tests.helpers import thread_count_kept
from textgan.api.run import train
from textgan.training.checkpoint import load_checkpoint

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "unconditional_runs.json"
WORDS = "a man woman dog cat sits runs on the in red blue big small car street park".split()
CASES = {
    "reinforce": ("coco", []),
    "gumbel": ("coco_gumbel", ["adversarial.rounds=3"]),
    "professor": ("coco_professor", ["adversarial.g_steps=1"]),
    "dense_reinforce": ("coco", ["adversarial.estimator=dense_reinforce"]),
    "cot": ("coco_cot", ["cot.mediator_embedding_size=8", "cot.mediator_hidden_size=8", "d_pretrain.rounds=0"]),
    "feature_matching": ("coco_fm", ["feature_matching.ot_iterations=5"]),
}


def write_corpus(folder: Path) -> tuple[Path, Path]:
    """A small seeded word corpus (train 120 lines, test 40), the same on every machine."""
    draw = random.Random(7)
    lines = [" ".join(draw.choice(WORDS) for _ in range(draw.randint(2, 9))) for _ in range(160)]
    train, test = folder / "train.txt", folder / "test.txt"
    train.write_text("\n".join(lines[:120]) + "\n", encoding="utf-8")
    test.write_text("\n".join(lines[120:]) + "\n", encoding="utf-8")
    return train, test


def run_numbers(case: str, folder: Path) -> dict[str, float]:
    """Final metrics and two weight checksums of a tiny unlabelled run of `case`."""
    train_file, test_file = write_corpus(folder)
    config, extra = CASES[case]
    with thread_count_kept():  # run.threads=1 sets it
        _, final = train(config, ["data.source=text", f"data.train={train_file}", f"data.test={test_file}",
                                  "data.max_len=12", *TINY_MODELS, "run.threads=1", f"run.dir={folder / 'run'}",
                                  "evaluation.bleu_samples=20", *extra])
    weights = load_checkpoint(folder / "run")["models"]["generator"]
    flat = torch.cat([w.flatten().double() for w in weights.values() if w.is_floating_point() and w.isfinite().all()])
    numbers = {k: float(v) for k, v in final.items() if isinstance(v, (int, float))}
    numbers["weight_sum"] = float(flat.sum())
    numbers["weight_abs_sum"] = float(flat.abs().sum())
    return numbers


@pytest.mark.parametrize("case", list(CASES))
def test_unlabelled_run_is_unchanged(case: str, tmp_path: Path) -> None:
    numbers = run_numbers(case, tmp_path)
    if os.environ.get("TEXTGAN_WRITE_FIXTURE"):
        stored = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}
        stored[case] = numbers
        FIXTURE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    expected = json.loads(FIXTURE.read_text())[case]
    assert numbers == pytest.approx(expected, rel=1e-6, abs=1e-9)

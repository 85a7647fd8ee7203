"""The model metrics through the public API: `textgan.Scorer` / `textgan.evaluate`, and a user's feature function."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import textgan


@pytest.fixture(scope="module")
def tiny_text_gen(tiny_coco_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                  ) -> textgan.TrainedGenerator:
    from tests.conftest import TINY_MODELS

    train, test = tiny_coco_files
    run = tmp_path_factory.mktemp("scoring") / "coco"
    textgan.pretrain("coco", [f"run.dir={run}", "data.source=text", f"data.train={train}", f"data.test={test}",
                              "data.max_len=20", *TINY_MODELS, "run.threads=1"])
    return textgan.load(run)


def bag_of_letters(lines: list[str]) -> torch.Tensor:
    """A user feature function: (N, 26) letter counts per line."""
    rows = torch.zeros(len(lines), 26)
    for i, line in enumerate(lines):
        for char in line.lower():
            if "a" <= char <= "z":
                rows[i, ord(char) - ord("a")] += 1
    return rows


def test_a_feature_function_plugs_into_fed(tiny_text_gen: textgan.TrainedGenerator, tmp_path: Path,
                                           one_thread: None) -> None:
    from textgan.evaluation.fed import frechet_distance

    scorer = textgan.Scorer.for_generator(tiny_text_gen, cache_dir=tmp_path, feature_fn=bag_of_letters)
    lines = tiny_text_gen.sample(30, seed=3)
    result = scorer.score(lines, ["fed"])
    expected = frechet_distance(bag_of_letters(lines), bag_of_letters(scorer.data.test_lines[:30]))
    assert result == {"fed": pytest.approx(expected, abs=1e-9), "fed_samples": 30, "fed_references": 30}
    assert not list(tmp_path.iterdir())  # the user's features need no reference LM


@pytest.mark.parametrize("feature_fn, message", [
    (lambda lines: torch.zeros(len(lines) + 1, 4), "one row of features per line"),
    (lambda lines: torch.full((len(lines), 4), float("nan")), "NaN"),
    (lambda lines: "features", "returned str"),
])
def test_a_bad_feature_function_is_one_line(tiny_text_gen: textgan.TrainedGenerator, tmp_path: Path,
                                            feature_fn, message: str) -> None:
    scorer = textgan.Scorer.for_generator(tiny_text_gen, cache_dir=tmp_path, feature_fn=feature_fn)
    with pytest.raises(textgan.UserError, match=message):
        scorer.score(["a man", "a dog"], ["fed"])


def test_unknown_metric_and_too_few_samples(tiny_text_gen: textgan.TrainedGenerator, tmp_path: Path) -> None:
    scorer = textgan.Scorer.for_generator(tiny_text_gen, cache_dir=tmp_path)
    with pytest.raises(textgan.UserError, match="unknown model metric 'bleu'"):
        scorer.score(["a man", "a dog"], ["bleu"])
    with pytest.raises(textgan.UserError, match="at least 2 samples"):
        scorer.score(["a man"], ["fed"])


def test_lm_score_of_the_test_file_is_the_reference_nll_test(tiny_text_gen: textgan.TrainedGenerator,
                                                             tmp_path: Path, one_thread: None) -> None:
    """Acceptance (issue 14): the LM score of the real test lines equals the reference LM's NLL-test."""
    scorer = textgan.Scorer.for_generator(tiny_text_gen, cache_dir=tmp_path)
    nll_test = textgan.evaluate_nll(scorer.reference(), scorer.data.test, 64, torch.device("cpu"))["nll"]
    assert scorer.score(scorer.data.test_lines, ["lm_score"])["lm_score"] == pytest.approx(nll_test, abs=1e-6)


def test_a_kmode_run_is_scored_with_its_reference_lm_keyed_by_the_benchmark(tmp_path: Path, one_thread: None) -> None:
    """K-mode data has no training file: the reference LM's cache key is the benchmark's settings, so two
    benchmarks get two reference LMs and the same benchmark reuses one."""
    from tests.conftest import TINY_KMODE
    from textgan.api.scoring import _source_sha256

    run = tmp_path / "kmode"
    textgan.pretrain("kmode", [f"run.dir={run}", *TINY_KMODE, "run.threads=1"])
    gen = textgan.load(run)
    out = textgan.evaluate(gen, ["lm_score"], num_samples=20, cache_dir=tmp_path / "cache")
    assert out["num_samples"] == 20 and out["lm_score"] > 0
    keys = {seed: _source_sha256(textgan.config("kmode", [*TINY_KMODE, f"data.kmode.seed={seed}"])) for seed in (0, 1)}
    assert keys[0] == _source_sha256(gen.cfg) and keys[0] != keys[1]

"""MAUVE through the mauve-text package (the `mauve` extra, installed by the test set-up): 1 for a set against
itself, near 0 for disjoint clusters, counts in the output, and a one-line error without the package."""

from __future__ import annotations

import sys

import pytest
import torch

from textgan.errors import UserError
from textgan.evaluation.mauve_score import mauve_score


def cluster(centre: float, num: int = 200, dim: int = 8, seed: int = 0) -> torch.Tensor:
    """(num, dim) Gaussian features around centre * (1, ..., 1) with sd 0.3."""
    draw = torch.Generator().manual_seed(seed)
    return centre + 0.3 * torch.randn(num, dim, generator=draw)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_set_against_itself(seed: int) -> None:
    a = cluster(0.0, seed=seed)
    result = mauve_score(a, a.clone(), seed=seed, kmeans_num_redo=1)
    assert result["mauve"] >= 0.999
    assert (result["mauve_samples"], result["mauve_references"], result["mauve_buckets"]) == (200, 200, 20)


@pytest.mark.parametrize("seed", [0, 1])
def test_disjoint_clusters(seed: int) -> None:
    result = mauve_score(cluster(2.0, seed=seed), cluster(-2.0, num=150, seed=seed + 1), seed=seed,
                         kmeans_num_redo=1)
    assert result["mauve"] < 0.1
    assert (result["mauve_samples"], result["mauve_references"]) == (200, 150)


def test_without_the_package_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mauve", None)  # `import mauve` now raises ImportError
    with pytest.raises(UserError, match=r"pip install textgan\[mauve\]"):
        mauve_score(cluster(0.0), cluster(1.0))


def test_the_core_package_does_not_import_mauve() -> None:
    import subprocess

    code = ("import sys, textgan.evaluation.mauve_score, textgan.evaluation.fed, textgan.evaluation.lm_score, "
            "textgan.evaluation.verdict; print('mauve' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

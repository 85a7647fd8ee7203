"""The fake pool of a discriminator phase: what it serves, how often, and that it stays inside the phase."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_ORACLE
from textgan.cli.main import main
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from textgan.models import fake_pool
from textgan.models.generator import RNNGenerator
from textgan.training.checkpoint import load_checkpoint


def make(num_classes: int = 0) -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=20, embedding_size=8, hidden_size=12, init_std=0.5, banned_ids=[PAD_ID, BOS_ID],
                        eos_id=EOS_ID, num_classes=num_classes)


def rows(tokens: torch.Tensor) -> list[tuple[int, ...]]:
    return [tuple(t for t in row.tolist() if t != PAD_ID) for row in tokens]


def test_a_chunk_is_one_draw_served_in_a_random_order() -> None:
    g = make()
    torch.manual_seed(5)
    drawn = g.draw(24, 9)
    order = torch.randperm(24)
    torch.manual_seed(5)
    with fake_pool.serving(g, size=24) as pool:
        served = [g.sample(8, 9) for _ in range(3)]
    assert pool is not None and pool.served == 24
    assert rows(torch.cat([torch.nn.functional.pad(s.tokens, (0, 9 - s.tokens.size(1))) for s in served])) == \
        rows(drawn.tokens[order])
    for s in served:  # each slice trimmed to its longest row, lengths consistent with the tokens
        assert s.tokens.size(1) == int(s.lengths.max())
        assert torch.equal(s.lengths, (s.tokens != PAD_ID).sum(1))


@pytest.mark.parametrize("size, reuse, budget", [(10, 1, 40), (10, 2, 40), (16, 3, 48), (7, 2, None)])
def test_every_drawn_row_is_served_reuse_times(size: int, reuse: int, budget: int | None) -> None:
    g = make()
    drawn: list[tuple[int, ...]] = []
    with fake_pool.serving(g, size=size, reuse=reuse, budget=budget) as pool:
        assert pool is not None
        inner = pool.draw

        def recording(n: int, max_len: int, labels: torch.Tensor | None):  # type: ignore[no-untyped-def]
            out = inner(n, max_len, labels)
            drawn.extend(rows(out.tokens))
            return out

        pool.draw = recording  # type: ignore[method-assign]
        taken = [row for _ in range((budget or 28) // 4) for row in rows(g.sample(4, 6).tokens)]
    assert pool.served == len(taken) == (budget or 28)
    assert len(drawn) * reuse >= len(taken) and len(drawn) * reuse - len(taken) < size * reuse  # no chunk in vain
    if budget is not None:  # the budget caps the last chunk: each drawn row served exactly `reuse` times
        assert Counter(taken) == Counter({row: count * reuse for row, count in Counter(drawn).items()})


def test_requests_the_pool_does_not_answer_draw_fresh_and_the_pool_ends_with_the_block() -> None:
    g = make()
    with fake_pool.serving(g, size=32) as pool:
        assert pool is not None
        g.sample(4, 6, temperature=0.5)
        g.sample(4, 6, return_states=True)
        assert pool.served == 0
        g.sample(4, 6)
        g.sample(4, 7)  # another max_len than the pool's
        assert pool.served == 4
    assert g.fake_pool is None
    with pytest.raises(RuntimeError), fake_pool.serving(g, size=8):
        raise RuntimeError("a failing D update")
    assert g.fake_pool is None
    with fake_pool.serving(g, size=0) as none:
        assert none is None and g.fake_pool is None


def test_conditional_rows_come_from_draws_of_their_class() -> None:
    g = make(num_classes=3)
    drawn: dict[int | None, set[tuple[int, ...]]] = {}
    labels = torch.tensor([2, 0, 0, 1, 2, 2, 1, 0])
    with fake_pool.serving(g, size=16) as pool:
        assert pool is not None
        inner = pool.draw

        def recording(n: int, max_len: int, classes: torch.Tensor | None):  # type: ignore[no-untyped-def]
            out = inner(n, max_len, classes)
            key = None if classes is None else int(classes[0])
            assert classes is None or bool((out.labels == key).all())
            drawn.setdefault(key, set()).update(rows(out.tokens))
            return out

        pool.draw = recording  # type: ignore[method-assign]
        served = [g.sample(8, 5, labels=labels) for _ in range(5)]  # 40 rows: class pools refilled
        unlabelled = g.sample(6, 5)
    assert set(drawn) == {0, 1, 2, None}
    for s in served:
        assert torch.equal(s.labels, labels)
        for row, c in zip(rows(s.tokens), labels.tolist()):
            assert row in drawn[c]
    assert unlabelled.labels is not None and unlabelled.labels.shape == (6,)  # drawn from the class priors
    assert set(rows(unlabelled.tokens)) <= drawn[None]


def test_run_with_a_pool_is_seeded_and_resumes_bit_identically(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.training.test_resume import assert_same, kill_after_saves, params

    base = ["train", "--config", "oracle", *TINY_ORACLE, "adversarial.rounds=3", "discriminator.fake_pool=48",
            "discriminator.fake_reuse=2", "discriminator.length_buckets=2"]
    assert main([*base, f"run.dir={tmp_path / 'a'}"]) == 0
    assert main([*base, f"run.dir={tmp_path / 'b'}"]) == 0
    assert_same(params(tmp_path / "a"), params(tmp_path / "b"))
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 6)
        assert main([*base, f"run.dir={tmp_path / 'killed'}"]) == 130
    assert load_checkpoint(tmp_path / "killed")["progress"]["adversarial"]["round"] == 1
    assert main([*base, f"run.dir={tmp_path / 'killed'}", "--resume"]) == 0
    assert_same(params(tmp_path / "a"), params(tmp_path / "killed"))


@pytest.mark.parametrize("overrides, message", [
    (["discriminator.fake_reuse=2"], "discriminator.fake_reuse=2 reuses pooled fakes"),
    (["discriminator.fake_pool=64", "adversarial.estimator=gumbel"], "discriminator.fake_pool pools token samples"),
])
def test_bad_pool_settings_are_one_line_errors(overrides: list[str], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", "oracle", *TINY_ORACLE, *overrides, f"run.dir={tmp_path / 'r'}"]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bucketed_serving_gives_batches_of_similar_length_and_every_row_each_pass() -> None:
    g = make()
    drawn: list[torch.Tensor] = []
    with fake_pool.serving(g, size=64, reuse=2, budget=128, buckets=4, batch_rows=8) as pool:
        assert pool is not None
        inner = pool.draw

        def recording(n: int, max_len: int, labels: torch.Tensor | None):  # type: ignore[no-untyped-def]
            out = inner(n, max_len, labels)
            drawn.append(out.lengths)
            return out

        pool.draw = recording  # type: ignore[method-assign]
        served = [g.sample(8, 9).lengths for _ in range(16)]
    lengths = torch.cat(drawn)
    assert lengths.numel() == 64
    for one_pass in (served[:8], served[8:]):  # each pass serves every drawn row once
        assert sorted(torch.cat(one_pass).tolist()) == sorted(lengths.tolist())
    spread = sum(float(s.max() - s.min()) for s in served) / len(served)
    shuffled = torch.cat(served)[torch.randperm(128)].split(8)
    assert spread < sum(float(s.max() - s.min()) for s in shuffled) / len(shuffled)  # less spread than at random


@pytest.mark.parametrize("overrides", [
    ["adversarial.estimator=reinforce"],
    ["adversarial.estimator=reinforce", "reinforce.weighting=maligan"],
    ["adversarial.estimator=dense_reinforce"],
    ["adversarial.estimator=cot", "d_pretrain.rounds=0"],
], ids=["reinforce", "maligan", "dense", "cot"])
def test_every_token_fake_estimator_trains_with_a_pool_on_text(overrides: list[str], tmp_path: Path,
                                                               tiny_coco_args: list[str], one_thread: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[int] = []
    take = fake_pool.FakePool.take

    def counting(self, num, *args):  # type: ignore[no-untyped-def]
        served.append(num)
        return take(self, num, *args)

    monkeypatch.setattr(fake_pool.FakePool, "take", counting)
    args = ["train", "--config", "coco", *tiny_coco_args, *overrides, "adversarial.rounds=1",
            "discriminator.fake_pool=64", "discriminator.fake_reuse=2", "discriminator.length_buckets=2",
            f"run.dir={tmp_path / 'r'}"]
    assert main(args) == 0
    assert load_checkpoint(tmp_path / "r")["progress"]["adversarial"]["round"] == 1
    assert served and sum(served) >= 64  # the D phases' fakes came from the pool

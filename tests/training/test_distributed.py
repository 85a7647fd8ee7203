"""Data-parallel training under torchrun: 2 CPU processes on gloo over loopback (MASTER_ADDR=127.0.0.1).

Each torchrun launch runs `distributed_worker.py` (one rank per process) and leaves its results in files; the
tests compare them. Four launches in all (library checks, a CLI run, its resumption, the same run through the
Python API), about a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_ORACLE
from tests.training.distributed_worker import VARIANTS, mle_problem, train_mle_epochs
from textgan.training.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("distributed_worker.py")
RUN_FILES = {"config.yaml", "tokenizer.json", "metrics.jsonl", "checkpoints/last.pt", "checkpoints/mle.pt",
             "checkpoints/adversarial.pt"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m torch.distributed.run --nproc_per_node=2 ARGS`, gloo on the loopback interface only."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])


def check(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr[-3000:]


def parameters(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs between ranks"


# ---- library level -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def library_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("library")
    check(torchrun(str(WORKER), "library", str(out), "--mle-batch", "8"))
    return out


def test_mle_two_ranks_of_b_match_one_process_of_2b(library_results: Path) -> None:
    rank0, rank1 = (torch.load(library_results / f"mle_rank{r}.pt") for r in (0, 1))
    assert_identical(rank0, rank1)
    initial = parameters(mle_problem()[0])
    generator, optimizer, train, valid = mle_problem()
    train_mle_epochs(generator, optimizer, train, valid, batch_size=16)  # one process, the two halves together
    single = parameters(generator)
    assert any(not torch.allclose(single[k], initial[k]) for k in single)  # it trained
    for name, tensor in single.items():
        torch.testing.assert_close(rank0[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    # ... and the averaging is what makes them equal: one process on batches of b ends elsewhere.
    generator, optimizer, train, valid = mle_problem()
    train_mle_epochs(generator, optimizer, train, valid, batch_size=8)
    assert max(float((rank0[k] - p).abs().max()) for k, p in parameters(generator).items()) > 1e-3


@pytest.mark.parametrize("index", range(len(VARIANTS)),
                         ids=[" ".join([name, *overrides]) for name, overrides in VARIANTS])
def test_estimator_replicas_stay_identical(library_results: Path, index: int) -> None:
    rank0, rank1 = (torch.load(library_results / f"variant{index}_rank{r}.pt") for r in (0, 1))
    for model in ("generator", "discriminator"):
        assert_identical(rank0[model], rank1[model])
    # The ranks computed different losses (own shard, own samples): only the averaged gradients agree.
    own_losses = [[entry["g_loss"] for entry in ranked["local"] if "g_loss" in entry] for ranked in (rank0, rank1)]
    assert own_losses[0] and own_losses[0] != own_losses[1]
    if "LABELLED" in VARIANTS[index][1]:  # every real row of every rank's G batches came with its own label
        assert rank0["labels_checked"] > 0 and rank1["labels_checked"] > 0
        assert "class_embedding.weight" in rank0["generator"]


# ---- the CLI under torchrun ------------------------------------------------------------------------------------
CLI_ARGS = ["train", "--config", "oracle", *TINY_ORACLE, "reinforce.baseline=ema", "reinforce.rollout_policy=ema",
            "discriminator.dropout=0.5", "generator.dropout=0.2"]
SNAPSHOT_AFTER = 6  # saves: MLE epoch, MLE end (+ mle.pt), D round, D end, adversarial round 1


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A tiny `textgan train` on 2 ranks; rank 0 also copies the run directory after adversarial round 1."""
    root = tmp_path_factory.mktemp("cli")
    run, snapshot, out = root / "run", root / "snapshot", root / "out"
    out.mkdir()
    result = torchrun(str(WORKER), "cli", str(out), "--snapshot", str(SNAPSHOT_AFTER), str(snapshot), "--",
                      *CLI_ARGS, f"run.dir={run}")
    check(result)
    return {"run": run, "snapshot": snapshot, "out": out, "stdout": result.stdout}


def test_cli_ranks_identical_and_rank0_alone_writes(cli_run: dict) -> None:
    out, run = cli_run["out"], cli_run["run"]
    models = [torch.load(out / f"models_rank{r}.pt") for r in (0, 1)]
    assert set(models[0]) == {"generator", "discriminator"}
    for name in models[0]:
        assert_identical(models[0][name], models[1][name])
    written = [set(json.loads((out / f"written_rank{r}.json").read_text())) for r in (0, 1)]
    assert written[1] == set()
    assert RUN_FILES <= written[0]  # what rank 0 wrote was seen: rank 1's empty list means something
    assert RUN_FILES <= {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}
    assert cli_run["stdout"].count("after adversarial training") == 1
    checkpoint = load_checkpoint(run)
    assert checkpoint["phase"] == "done" and len(checkpoint["rank_states"]) == 2
    for name in models[0]:
        assert_identical(checkpoint["models"][name], models[0][name])


def test_cli_resume_under_torchrun_equals_uninterrupted(cli_run: dict) -> None:
    run, snapshot = cli_run["run"], cli_run["snapshot"]
    assert load_checkpoint(snapshot)["progress"]["adversarial"]["round"] == 1
    done = run.with_name("uninterrupted")
    run.rename(done)
    snapshot.rename(run)  # the config names run.dir: resume it where it was written
    check(torchrun("-m", "textgan", *CLI_ARGS, f"run.dir={run}", "--resume"))
    resumed, straight = load_checkpoint(run), load_checkpoint(done)
    assert resumed["progress"]["adversarial"]["round"] == 2
    for name in ("generator", "discriminator"):
        assert_identical(resumed["models"][name], straight["models"][name])


def test_api_under_torchrun_respects_the_group_and_equals_the_cli(cli_run: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    check(torchrun(str(WORKER), "api", str(out), "--", *CLI_ARGS, f"run.dir={tmp_path / 'run'}"))
    ranks = [torch.load(out / f"api_rank{r}.pt") for r in (0, 1)]
    assert all(r["still_open"] for r in ranks)  # the caller's process group is left to the caller
    assert ranks[0]["reported"] and not ranks[1]["reported"]  # metrics on rank 0 only
    cli_models = torch.load(cli_run["out"] / "models_rank0.pt")
    for name in ("generator", "discriminator"):
        assert_identical(ranks[0]["models"][name], cli_models[name])


# ---- device per rank (no process group needed: is_distributed is patched) -------------------------------------
@pytest.mark.parametrize(("requested", "local_rank", "expected"), [
    ("cuda", "3", "cuda:3"),  # each rank its own GPU
    ("cpu", "3", "cpu"),
    ("cuda:1", "0", None),  # refused: every rank would land on GPU 1
])
def test_device_for_rank(monkeypatch: pytest.MonkeyPatch, requested: str, local_rank: str,
                         expected: str | None) -> None:
    from textgan.errors import UserError
    from textgan.training import distributed

    monkeypatch.setattr(distributed, "is_distributed", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    if expected is None:
        with pytest.raises(UserError, match="CUDA_VISIBLE_DEVICES"):
            distributed.device_for_rank(torch.device(requested))
    else:
        assert distributed.device_for_rank(torch.device(requested)) == torch.device(expected)

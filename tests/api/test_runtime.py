"""The API's runtime behaviour: devices, a CUDA checkpoint on a CPU-only machine, threads only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import textgan
from tests.helpers import thread_count_kept
from textgan.training.checkpoint import load_checkpoint, save_checkpoint

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v0_1"


@pytest.mark.parametrize("device", ["cpu", "auto", torch.device("cpu")])
def test_devices_are_accepted_in_every_form(device: str | torch.device) -> None:
    assert textgan.load(FIXTURE, device=device).device.type in ("cpu", "cuda")


def test_a_cuda_run_loads_on_a_cpu_only_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    payload = load_checkpoint(FIXTURE)
    payload["config"]["run"]["device"] = "cuda"
    save_checkpoint(tmp_path / "cuda.pt", {k: v for k, v in payload.items() if k != "format"})
    gen = textgan.load(tmp_path / "cuda.pt")
    assert gen.device == torch.device("cpu") and gen.sample(2, seed=0)
    with pytest.raises(textgan.UserError, match="CUDA is not available"):
        textgan.load(tmp_path / "cuda.pt", device="cuda")


def test_threads_are_set_only_when_asked(tiny_oracle_args: list[str], tmp_path: Path) -> None:
    with thread_count_kept():
        torch.set_num_threads(1)
        run = textgan.TrainingRun.open(textgan.config("oracle_quick", [*tiny_oracle_args, f"run.dir={tmp_path}/a"]),
                                       adversarial=False)
        assert torch.get_num_threads() == 1 and run.runtime.device == torch.device("cpu")
        torch.set_num_threads(2)
        textgan.TrainingRun.open(textgan.config("oracle_quick", [*tiny_oracle_args, f"run.dir={tmp_path}/b",
                                                                 "run.threads=1"]), adversarial=False)
        assert torch.get_num_threads() == 1


def test_progress_and_errors_are_the_callers(tiny_oracle_args: list[str], tmp_path: Path) -> None:
    run = textgan.TrainingRun.open(textgan.config("oracle_quick", [*tiny_oracle_args, f"run.dir={tmp_path}"]),
                                   progress=False, adversarial=False)
    assert not run.runtime.bars
    run.phase = "d_pretrain"  # as after MLE
    with pytest.raises(textgan.UserError, match="MLE only"):  # an error the caller catches, never sys.exit
        run.pretrain_discriminator()
    with pytest.raises(textgan.UserError, match="did you mean"):
        textgan.train("oracle_quick", ["run.sed=1"])

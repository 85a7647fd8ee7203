"""Every user mistake gives one line on stderr, exit code 2, no traceback, and leaves files on disk alone."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from textgan.cli.main import main
from textgan.training.checkpoint import load_checkpoint


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import TINY_ORACLE

    run = tmp_path_factory.mktemp("runs") / "oracle"
    assert main(["pretrain", "--config", "oracle", f"run.dir={run}", *TINY_ORACLE]) == 0
    return run


def run_failing(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("make_train, expected", [
    (lambda d: str(d / "missing.txt"), "does not exist"),
    (lambda d: write(d / "empty.txt", b""), "is empty"),
    (lambda d: write(d / "latin1.txt", b"a caf\xe9 on a street\n"), "not UTF-8"),
    (lambda d: str(d / "nothing-*.txt"), "matches no file"),
    (lambda d: write(d / "blank.txt", b"\n\n  \n"), "only blank lines"),
])
def test_bad_data_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], make_train, expected: str) -> None:
    train = make_train(tmp_path)
    err = run_failing(capsys, ["pretrain", "--config", "coco", f"run.dir={tmp_path / 'run'}",
                               f"data.train={train}", "data.test=", "run.progress=false"])
    assert expected in err


def test_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(capsys, ["pretrain", "--config", "oracle", f"run.dir={tmp_path}", "pretrain.epcohs=1"])
    assert "did you mean pretrain.epochs?" in err
    assert not any(tmp_path.iterdir())


def test_run_dir_holds_a_run(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import TINY_ORACLE

    before = snapshot(trained_run)
    err = run_failing(capsys, ["pretrain", "--config", "oracle", f"run.dir={trained_run}", *TINY_ORACLE])
    assert "already holds a run" in err and "--resume" in err
    err = run_failing(capsys, ["pretrain", "--config", "oracle", f"run.dir={trained_run}", *TINY_ORACLE,
                               "generator.hidden_size=20", "--resume"])
    assert "holds a different run" in err and "generator.hidden_size" in err
    assert snapshot(trained_run) == before


def test_checkpoint_with_another_vocabulary(trained_run: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import TINY_ORACLE

    before = snapshot(trained_run)
    err = run_failing(capsys, ["train", "--config", "oracle", f"run.dir={tmp_path / 'new'}", *TINY_ORACLE,
                               "data.oracle.vocab_size=60", "--init-from", str(trained_run)])
    assert "another vocabulary" in err
    assert snapshot(trained_run) == before
    assert not (tmp_path / "new").exists()  # the refused start left nothing behind: the corrected rerun just runs


def test_init_from_a_sentencepiece_checkpoint_takes_its_tokenizer(tiny_coco_args: list[str], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sp = [*tiny_coco_args, "data.tokenizer=sentencepiece", "data.sp_vocab_size=120"]
    assert main(["pretrain", "--config", "coco", *sp, f"run.dir={tmp_path / 'mle'}"]) == 0
    mle = tmp_path / "mle" / "checkpoints" / "mle.pt"
    capsys.readouterr()
    assert main(["train", "--config", "coco", *sp, f"run.dir={tmp_path / 'gan'}", "--init-from", str(mle)]) == 0
    assert f"tokenizer taken from {mle}" in capsys.readouterr().out
    theirs, ours = (load_checkpoint(p)["tokenizer"] for p in (mle, tmp_path / "gan"))
    assert theirs == ours  # the very model proto of the checkpoint, not a refitted one


def test_bad_checkpoint_and_output(trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(capsys, ["sample", "--checkpoint", write(tmp_path / "x.pt", b"not a checkpoint")])
    assert "not a" in err
    out = tmp_path / "samples.txt"
    out.write_text("keep me")
    err = run_failing(capsys, ["sample", "--checkpoint", str(trained_run), "--out", str(out)])
    assert "already exists" in err and out.read_text() == "keep me"
    err = run_failing(capsys, ["sample", "--checkpoint", str(tmp_path / "nope")])
    assert "does not exist" in err


def test_console_script_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "textgan", "pretrain", "--config", "oracle",
                           f"run.dir={tmp_path}", "run.sed=1"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "did you mean run.seed?" in proc.stderr


def zip_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.pkl", b"junk")
    return buffer.getvalue()


@pytest.mark.parametrize("content", [b"a b c\n", b"", b"\x80\x04K\x01.", zip_bytes()],
                         ids=["text", "empty", "pickled-int", "zip-not-torch"])
def test_unreadable_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    from tests.conftest import TINY_ORACLE

    bad = write(tmp_path / "bad.pt", content)
    for argv in (["sample", "--checkpoint", bad], ["evaluate", "--checkpoint", bad]):
        assert "checkpoint" in run_failing(capsys, argv)
    run = tmp_path / "run"
    err = run_failing(capsys, ["train", "--config", "oracle", f"run.dir={run}", *TINY_ORACLE, "--init-from", bad])
    assert "checkpoint" in err
    assert not run.exists()  # refused before the run directory was made, so a corrected rerun needs no --resume


def test_unwritable_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import TINY_ORACLE

    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    err = run_failing(capsys, ["pretrain", "--config", "oracle", f"run.dir={blocker / 'run'}", *TINY_ORACLE])
    assert "cannot write run directory" in err and blocker.read_text() == "keep me"


def test_checkpoint_error_is_one_line_even_when_torch_warns(tmp_path: Path) -> None:
    # torch warns about the pickle protocol of this file before failing on it; the user sees only textgan's line
    bad = write(tmp_path / "bad.pt", b"\x80\x04K\x01.")
    proc = subprocess.run([sys.executable, "-m", "textgan", "sample", "--checkpoint", bad],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "checkpoint" in proc.stderr


@pytest.mark.parametrize("make_train, expected", [
    (lambda d: str(d), "is a directory"),
    (lambda d: str(d / "missing.txt"), "does not exist"),
    (lambda d: write(d / "empty.txt", b""), "is empty"),
], ids=["directory", "missing", "empty"])
@pytest.mark.parametrize("run_exists", [False, True], ids=["new-dir", "empty-dir"])
def test_failed_start_leaves_no_run_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str], make_train,
                                           expected: str, run_exists: bool) -> None:
    # a bad data file is found after the run directory was opened; the corrected rerun must not need --resume
    run = tmp_path / "runs" / "new"
    if run_exists:
        run.mkdir(parents=True)  # an empty directory the user made: kept, and left empty
    train = make_train(tmp_path)
    err = run_failing(capsys, ["pretrain", "--config", "coco", f"run.dir={run}", f"data.train={train}", "data.test="])
    assert expected in err
    assert (run.is_dir() and not any(run.iterdir())) if run_exists else not (tmp_path / "runs").exists()


def test_failed_resume_keeps_the_run(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import TINY_ORACLE

    before = snapshot(trained_run)
    (trained_run / "checkpoints" / "last.pt").rename(trained_run / "checkpoints" / "saved.pt")
    (trained_run / "checkpoints" / "last.pt").write_bytes(b"damaged")
    try:
        err = run_failing(capsys, ["pretrain", "--config", "oracle", f"run.dir={trained_run}", *TINY_ORACLE,
                                   "--resume"])
        assert "checkpoint" in err
    finally:
        (trained_run / "checkpoints" / "saved.pt").replace(trained_run / "checkpoints" / "last.pt")
    assert snapshot(trained_run) == before


@pytest.mark.parametrize("options, expected", [
    (["adversarial.estimator=professor", "discriminator.minibatch_kernels=2"], "reads features"),
    (["adversarial.estimator=professor", "discriminator.r1_weight=1"], "set discriminator.r1_weight=0"),
    (["adversarial.gan_loss=wgan-gp", "discriminator.r1_weight=1"], "already has its gradient penalty"),
    (["data.kmode.vocab_size=5", "data.kmode.slot_choices=4"], "data.kmode:"),
])
def test_mode_collapse_options_refused_where_meaningless(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         options: list[str], expected: str) -> None:
    from tests.conftest import TINY_KMODE

    err = run_failing(capsys, ["train", "--config", "kmode", f"run.dir={tmp_path}", *TINY_KMODE, *options])
    assert expected in err


@pytest.mark.parametrize("options, expected", [
    (["discriminator.conditional=classes", "adversarial.gan_loss=hinge"], "use adversarial.gan_loss=bce"),
    (["discriminator.conditional=projection"], "needs labelled training data"),
])
def test_conditional_discriminator_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       options: list[str], expected: str) -> None:
    from tests.conftest import TINY_ORACLE

    err = run_failing(capsys, ["train", "--config", "oracle", f"run.dir={tmp_path}", *TINY_ORACLE, *options])
    assert expected in err and len(err.strip().splitlines()) == 1

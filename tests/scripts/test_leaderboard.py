"""scripts/leaderboard.py on a tiny oracle: two arms, one seed; a second invocation reuses both runs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import textgan
from tests.conftest import TINY_KMODE, TINY_MODELS, TINY_ORACLE, write_two_class_corpus

ROOT = Path(__file__).resolve().parents[2]


def leaderboard(tmp_path: Path, arms: list[dict], runs: str = "runs") -> str:
    settings = {"seeds": [0], "arms": arms, "datasets": {"tiny": {
        "kind": "oracle", "mle": {"recipe": "oracle_quick", "overrides": TINY_ORACLE}, "shared": [],
        "cpu_minutes": 0.02, "temperatures": [0.8, 1.0, 1.25], "num_samples": 40, "tolerance": 0.01}}}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py"), "--config", str(config),
                           "--runs-dir", str(tmp_path / runs), "--cache-dir", str(tmp_path / "cache"),
                           "--results", str(tmp_path / "results.md")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return (tmp_path / "results.md").read_text(encoding="utf-8")


def logs(tmp_path: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (tmp_path / "runs" / "tiny" / "seed0").glob("*/metrics.jsonl")}


def test_tiny_leaderboard_reuses_runs_and_retrains_a_changed_one(tmp_path: Path) -> None:
    arms = [{"name": "reinforce", "start": "mle", "recipes": {"tiny": {"recipe": "oracle_quick",
                                                                      "overrides": TINY_ORACLE, "rounds": 2}}},
            {"name": "gumbel", "start": "mle", "calibration_rounds": 2,
             "recipes": {"tiny": {"recipe": "oracle_gumbel", "overrides": TINY_ORACLE}}}]
    table = leaderboard(tmp_path, arms)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert {"real training data", "mle", "reinforce", "gumbel"} <= set(rows)
    assert "| reinforce | 2 |" in table and "reference" in rows["mle"]
    calibration = yaml.safe_load((tmp_path / "board_calibration.yaml").read_text())["tiny"]["gumbel"]
    assert calibration["rounds"] >= 2 and f"| gumbel | {calibration['rounds']} |" in table
    first = logs(tmp_path)
    assert set(first) == {"mle", "reinforce", "gumbel"}

    summary = json.loads((tmp_path / "leaderboard_summary.json").read_text())["tiny"]
    assert set(summary["arms"]) == {"mle", "reinforce", "gumbel"} and summary["tolerance"] == 0.01
    assert len(summary["arms"]["gumbel"]["verdicts"]) == len(summary["arms"]["gumbel"]["mean_gaps"]) == 1
    assert summary["arms"]["reinforce"]["verdicts"][0] in {"above", "below", "crossing"}

    # everything reused, also when the runs directory is spelled differently and when stored manifests predate
    # an option (here: written before discriminator.conditional existed), the MLE's too, which the arms name by
    # its weights: no training event appended
    for run in ["gumbel", "mle"]:
        stored = tmp_path / "runs" / "tiny" / "seed0" / run / "manifest.json"
        manifest = json.loads(stored.read_text())
        del manifest["config"]["discriminator"]["conditional"]
        stored.write_text(json.dumps(manifest))
    leaderboard(tmp_path, arms, runs="runs/../runs")
    assert logs(tmp_path) == first

    arms[0]["recipes"]["tiny"]["rounds"] = 3  # a changed config is retrained; the others stay reused
    table = leaderboard(tmp_path, arms)
    now = logs(tmp_path)
    assert now["reinforce"] != first["reinforce"] and now["mle"] == first["mle"] and now["gumbel"] == first["gumbel"]
    assert "| reinforce | 3 |" in table

    # the arms name MLE by its weights: other MLE weights under the same MLE config retrain both arms
    checkpoint = tmp_path / "runs" / "tiny" / "seed0" / "mle" / "checkpoints" / "mle.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["models"]["generator"]["head.bias"] += 1e-3
    torch.save(state, checkpoint)
    leaderboard(tmp_path, arms)
    later = logs(tmp_path)
    assert later["mle"] == now["mle"] and later["reinforce"] != now["reinforce"] and later["gumbel"] != now["gumbel"]


def test_weights_digest_names_the_generator_weights_and_nothing_else(tmp_path: Path) -> None:
    board = script_module("leaderboard")
    weights = {"embedding.weight": torch.randn(5, 3), "head.bias": torch.zeros(5), "steps": torch.tensor(7)}
    checkpoint = {"models": {"generator": weights}, "progress": {"epoch": 1}}
    paths = [tmp_path / f"{name}.pt" for name in "abcd"]
    torch.save(checkpoint, paths[0])
    torch.save({**checkpoint, "progress": {"epoch": 2}}, paths[1])  # the same weights, other bookkeeping
    torch.save({"models": {"generator": {**weights, "head.bias": torch.full((5,), 1e-7)}}}, paths[2])
    torch.save({"models": {"generator": {**weights, "head.bias": torch.zeros(5, dtype=torch.float64)}}}, paths[3])
    digests = [board.weights_digest(path) for path in paths]
    assert digests[0] == digests[1] and len(set(digests)) == 3


LEGACY = """# Results

<!-- leaderboard:begin -->

*Generated by `python scripts/leaderboard.py` on 2026-12-02, commit abc1234.*

### oracle (oracle; 2000 samples per point)

| arm | rounds |
|---|---|
| mle | - |

### coco (text; 2000 samples per point)

| arm | rounds |
|---|---|
| mle | - |

<!-- leaderboard:end -->

## After
"""


def test_tiny_kmode_leaderboard_has_its_own_block_seeds_and_collapse_column(tmp_path: Path) -> None:
    """A `kind: kmode` data set with its own seeds: valid / coverage / JS / diversity columns, the collapse count,
    one block between its own markers; the older single block (oracle and COCO) is left byte for byte."""
    settings = {"seeds": [0], "datasets": {"kmode": {
        "kind": "kmode", "seeds": [0, 1], "mle": {"recipe": "kmode", "overrides": TINY_KMODE}, "shared": [],
        "cpu_minutes": 0.02, "temperatures": [0.8, 1.0, 1.25], "num_samples": 40, "tolerance": 0.125,
        "collapse": {"max_coverage": 0.5, "min_js": 0.3}}},
        "arms": [{"name": "reinforce", "start": "mle",
                  "calibration_rounds": 2,  # calibrated once (seed 0), its rounds used by seed 1 too
                  "recipes": {"kmode": {"recipe": "kmode", "overrides": TINY_KMODE},
                              "oracle": {"recipe": "oracle_quick", "overrides": []}}},
                 {"name": "oracle_only", "start": "mle", "recipes": {"oracle": {"recipe": "oracle_quick"}}}]}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    results = tmp_path / "results.md"
    results.write_text(LEGACY, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py"), "--config", str(config),
                           "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                           "--results", str(results), "--data", "kmode", "--workers", "1"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text(encoding="utf-8")
    legacy_block = LEGACY[LEGACY.index("<!-- leaderboard:begin -->"):LEGACY.index("\n\n## After")]
    assert legacy_block in text and text.endswith("## After\n")
    block = text[text.index("<!-- leaderboard:kmode:begin -->"):text.index("<!-- leaderboard:kmode:end -->")]
    assert text.index("<!-- leaderboard:end -->") < text.index("<!-- leaderboard:kmode:begin -->")
    assert "2 seed(s) 0, 1" in block and "coverage <= 0.5 or JS >= 0.3" in block
    rows = {line.split(" | ")[0].strip("| "): line.strip("| ").split(" | ")
            for line in block.splitlines() if line.startswith("| ")}
    head = rows["arm"]
    assert head[3:8] == ["valid T=1", "coverage T=1", "JS T=1 (nats)", "within-mode diversity T=1",
                         "collapsed (seeds)"]
    assert head[8] == "verdict vs MLE (valid vs coverage)"
    assert {"real training data", "mle", "reinforce"} <= set(rows)
    assert "oracle_only" not in rows  # an arm without a recipe for the data set has no row
    real = dict(zip(head, rows["real training data"]))
    assert (real["valid T=1"], real["coverage T=1"], real["collapsed (seeds)"]) == ("1.000 ± 0.000", "1.000 ± 0.000",
                                                                                  "0/2")
    assert float(real["JS T=1 (nats)"].split(" ")[0]) < 0.05  # 40 real sentences: near-uniform over modes
    assert dict(zip(head, rows["mle"]))["verdict vs MLE (valid vs coverage)"] == "reference"
    calibrated = yaml.safe_load((tmp_path / "board_calibration.yaml").read_text())["kmode"]["reinforce"]["rounds"]
    assert rows["reinforce"][1] == str(calibrated) and rows["reinforce"][7].endswith("/2")
    runs = tmp_path / "runs" / "kmode"
    assert [json.loads((runs / f"seed{s}" / "reinforce" / "manifest.json").read_text())["config"]["adversarial"]
            ["rounds"] for s in (0, 1)] == [calibrated, calibrated]
    assert [(runs / f"seed{s}" / "reinforce" / "calibration.json").is_file() for s in (0, 1)] == [True, False]


def script_module(name: str):
    """scripts/<name>.py, imported from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_plot_draws_each_arm_averaged_over_its_seeds(tmp_path: Path) -> None:
    table = script_module("leaderboard_table")
    axes = table.axes_of("oracle")

    def sweep(shift: float) -> list[dict[str, float]]:
        return [{"temperature": t, axes.quality: 8.0 + t + shift, axes.diversity: 9.0 - t + shift} for t in (0.8, 1.0)]

    quality, diversity = table.mean_curve([sweep(0.0), sweep(0.2)], axes)
    assert quality == pytest.approx([8.9, 9.1]) and diversity == pytest.approx([8.3, 8.1])
    results = {("tiny", arm, seed): {"eval": {"rows": sweep(seed / 10 + (arm == "gumbel"))}}
               for arm in ("mle", "gumbel") for seed in (0, 1)}
    settings = {"seeds": [0, 1], "datasets": {"tiny": {"kind": "oracle"}}}
    table.plot(results, settings, tmp_path)
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "leaderboard_tiny.png").stat().st_size > 1000


def test_rewriting_one_data_set_of_an_older_single_block_splits_it_and_keeps_the_others() -> None:
    table = script_module("leaderboard_table")
    oracle_begin, oracle_end = table.markers("oracle")
    coco_begin, coco_end = table.markers("coco")
    text = table.replace_block(LEGACY, "oracle", ["", "new oracle table", ""])
    assert table.LEGACY_BEGIN not in text and table.LEGACY_END not in text and text.endswith("\n\n## After\n")
    oracle = text[text.index(oracle_begin):text.index(oracle_end)]
    coco = text[text.index(coco_begin):text.index(coco_end)]
    assert "new oracle table" in oracle and "### oracle" not in oracle
    assert "*Generated by `python scripts/leaderboard.py` on 2026-12-02, commit abc1234.*" in coco
    assert "### coco (text; 2000 samples per point)\n\n| arm | rounds |\n|---|---|\n| mle | - |" in coco
    assert text.index(oracle_end) < text.index(coco_begin)
    again = table.replace_block(text, "coco", ["", "new coco table", ""])  # now per data set: only coco changes
    assert again[:again.index(coco_begin)] == text[:text.index(coco_begin)] and "new coco table" in again
    assert table.replace_block(LEGACY, "kmode", ["x"]).startswith(LEGACY[:LEGACY.index("\n\n## After")])


@pytest.mark.parametrize(("manifest", "seconds"), [
    ({"cpu_seconds": 90.0, "cpu_seconds_last_invocation": 60.0}, 90.0),  # every invocation's, when recorded
    ({"cpu_seconds_last_invocation": 60.0}, 60.0),  # a manifest from before runs counted them
    ({}, None),
])
def test_cpu_seconds_of_a_manifest(manifest: dict, seconds: float | None) -> None:
    assert script_module("leaderboard_table").cpu_seconds(manifest) == seconds


def _oracle_result(shift: float) -> dict:
    rows = [{"temperature": t, "nll_oracle": 8.8 + shift - (1 - t), "nll_test": 8.0 + 0.5 * (1.2 - t),
             "reverse_lm_score": 7.8} for t in (0.8, 1.0, 1.2)]
    return {"eval": {"rows": rows, "real": {"nll_oracle": 5.9, "reverse_lm_score": 7.7}, "weight_change": 0.01},
            "manifest": {"config": {"adversarial": {"rounds": 5}}, "cpu_seconds_last_invocation": 60.0},
            "calibration": None}


def test_matched_temperature_cells_say_pending_apart_from_outside_the_range() -> None:
    table = script_module("leaderboard_table")
    ds = {"kind": "oracle", "num_samples": 40, "temperatures": [0.8, 1.0, 1.2], "cpu_minutes": 1, "tolerance": 0.01}
    results = {("tiny", "mle", 0): _oracle_result(0.0), ("tiny", "a", 0): _oracle_result(-0.05),
               ("tiny", "b", 0): _oracle_result(-0.05)}

    def row(matched: dict, arm: str) -> str:
        lines = table.section("tiny", ds, [0], results, matched, ["a", "b"], {})
        return next(line for line in lines if line.startswith(f"| {arm} |"))

    assert "| not computed yet | - |" in row({}, "a")  # the invocation has not matched it yet
    assert "| outside MLE's range | - |" in row({("tiny", "a", 0): None}, "a")
    cells = row({("tiny", "a", 0): {"temperature": 0.95, "reverse_lm_score": 7.81}}, "a")
    assert "| 0.95 | 7.810 |" in cells
    assert "not computed yet" in row({("tiny", "a", 0): None}, "b")  # each arm's own entry


def test_tiny_labelled_leaderboard_has_a_per_class_table(tmp_path: Path) -> None:
    """A `kind: labelled` data set: the BLEU curve columns, and a per-class table at T = 1 (each class's BLEU,
    self-BLEU, NLL-test given the class, class accuracy) with the class classifier trained once in the cache."""
    files = write_two_class_corpus(tmp_path)
    data = ["data.source=text", *(f"data.classes.{name}={path}" for name, path in files.items()), "data.max_len=10",
            "data.test_fraction=0.2", "data.valid_fraction=0.2", *TINY_MODELS]
    settings = {"seeds": [0], "datasets": {"tinymr": {
        "kind": "labelled", "mle": {"recipe": "mr", "overrides": data}, "shared": [], "cpu_minutes": 0.02,
        "temperatures": [0.8, 1.0], "num_samples": 40, "tolerance": 0.005}},
        "arms": [{"name": "reinforce_classes", "start": "mle",
                  "recipes": {"tinymr": {"recipe": "mr", "rounds": 2,
                                         "overrides": [*data, "discriminator.conditional=classes"]}}}]}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard.py"), "--config", str(config),
                           "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                           "--results", str(tmp_path / "results.md"), "--workers", "1"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (tmp_path / "results.md").read_text(encoding="utf-8")
    block = text[text.index("<!-- leaderboard:tinymr:begin -->"):text.index("<!-- leaderboard:tinymr:end -->")]
    tables = block.split("Per class at T = 1")
    assert len(tables) == 2 and "MLE T matched" not in tables[0]
    main_rows = {line.strip("| ").split(" | ")[0]: line for line in tables[0].splitlines() if line.startswith("| ")}
    assert {"real training data", "mle", "reinforce_classes"} <= set(main_rows)
    assert "BLEU-5 T=1" in main_rows["arm"] and "verdict vs MLE (BLEU-5 vs self-BLEU-5)" in main_rows["arm"]
    rows = [line.strip("| ").split(" | ") for line in tables[1].splitlines() if line.startswith("| ")]
    assert rows[0] == ["arm", "class", "BLEU-2", "BLEU-5", "self-BLEU-2", "self-BLEU-5", "NLL-test given the class",
                       "class accuracy"]
    assert [row[:2] for row in rows[1:]] == [[arm, name] for arm in ("mle", "reinforce_classes")
                                            for name in ("neg", "pos", "all")]
    assert all(0.0 <= float(row[-1]) <= 1.0 for row in rows[1:])
    assert len(list((tmp_path / "cache" / "class_classifiers").glob("tinymr-*.pt"))) == 1  # one per data set


def test_mle_spread_script_compares_every_pair_of_mle_seeds(tmp_path: Path) -> None:
    settings = {"datasets": {"tiny": {"kind": "oracle", "tolerance": 0.01}}, "arms": []}
    (tmp_path / "board.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    for seed, shift in ((0, 0.0), (1, -0.05), (2, 0.0)):
        run = tmp_path / "runs" / "tiny" / f"seed{seed}" / "mle"
        run.mkdir(parents=True)
        (run / "leaderboard_eval.json").write_text(json.dumps(_oracle_result(shift)["eval"]), encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "leaderboard_spread.py"), "--config",
                           str(tmp_path / "board.yaml"), "--runs-dir", str(tmp_path / "runs")],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["MLE seed 1 vs seed 0", "MLE seed 2 vs seed 0",
                                                              "MLE seed 2 vs seed 1"]
    assert "mean gap +0.0000" in lines[1]  # the same curve: no gap
    assert lines[0].split("mean gap ")[1][0] != lines[2].split("mean gap ")[1][0]  # opposite pairs, opposite signs


def test_a_run_of_another_config_starts_again_and_any_other_error_leaves_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = script_module("leaderboard")
    run_dir = tmp_path / "r"
    first = textgan.config("oracle_quick", [*TINY_ORACLE, "pretrain.epochs=1", f"run.dir={run_dir}"])
    assert board.train_phases(board.open_or_restart(first, None, adversarial=False), adversarial=False) > 0
    killed = (run_dir / "checkpoints" / "last.pt").read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise textgan.UserError("train file data.txt does not exist")  # e.g. a corpus moved away

    with monkeypatch.context() as patch:
        patch.setattr(textgan.TrainingRun, "open", refuse)
        with pytest.raises(textgan.UserError, match="does not exist"):
            board.open_or_restart(first, None, adversarial=False)
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == killed  # kept for a later --resume

    other = textgan.config("oracle_quick", [*TINY_ORACLE, "pretrain.epochs=1", "run.seed=5", f"run.dir={run_dir}"])
    board.open_or_restart(other, None, adversarial=False).close()  # another config: started again from nothing
    assert yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))["run"]["seed"] == 5
    assert not (run_dir / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--workers", "0"], "--workers takes 1 or 2"),
    (["--workers", "3"], "--workers takes 1 or 2"),
    (["--config", "no-such.yaml"], "--config: no file"),
])
def test_bad_options_are_a_usage_error_before_any_run(argv: list[str], message: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results.md"
    results.write_text("kept\n")
    with pytest.raises(SystemExit) as exit_info:
        script_module("leaderboard").main([*argv, "--runs-dir", str(tmp_path / "runs"), "--results", str(results)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and results.read_text() == "kept\n"

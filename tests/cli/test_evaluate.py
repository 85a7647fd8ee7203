"""`textgan evaluate` on tiny COCO and oracle checkpoints: metrics, JSON, stated conventions, one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from textgan.cli.main import main
from textgan.evaluation.bleu import self_bleu, test_bleu
from textgan.evaluation.text_metrics import tokenize_for_bleu
from textgan.training.metrics_log import read_metrics


def evaluate(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[dict, str]:
    out = tmp_path / f"eval-{len(list(tmp_path.iterdir()))}.json"
    assert main(["evaluate", *argv, "--json", str(out)]) == 0, capsys.readouterr().err
    return json.loads(out.read_text()), capsys.readouterr().out


BLEU_KEYS = [f"{kind}_{n}" for kind in ("bleu", "self_bleu") for n in (2, 3, 4, 5)]


def test_checkpoint_defaults(tiny_text_run: Path, tiny_coco_files: tuple[Path, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    report, out = evaluate(capsys, tmp_path, "--checkpoint", str(tiny_text_run), "--num-samples", "30")
    metrics = report["metrics"]
    expected = ["nll", "perplexity", *BLEU_KEYS, "distinct_1", "distinct_2", "distinct_3", "distinct_4",
                "mean_length", "max_length", "copied_fraction"]
    assert list(metrics) == expected
    assert all(0.0 <= metrics[k] <= 1.0 for k in BLEU_KEYS + ["copied_fraction", "distinct_1"])
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["nll"]))
    assert 0 < metrics["mean_length"] <= metrics["max_length"]
    # NLL on the run's test file = what training logged for the same weights (one epoch, then evaluated)
    logged = [r for r in read_metrics(tiny_text_run / "metrics.jsonl") if r["event"] == "mle"][-1]
    assert metrics["nll"] == pytest.approx(logged["nll_test"], rel=1e-6)
    # conventions are stated: the run's config (coco.yaml) asks for Treebank tokenization, all references
    assert report["tokenization"] == "treebank" and report["samples"]["count"] == 30
    assert report["bleu"]["references"] == str(tiny_coco_files[1]) and report["bleu"]["references_used"] == 100
    assert report["bleu"]["texygen_first_500"] is False
    assert "treebank (nltk Treebank" in out and "Texygen first-500 convention: not used" in out
    assert "all 100 lines of" in out and "perplexity" in out
    assert set(report["skipped"]) == {"nll_oracle", "corpus_bleu", "kmode"}


def test_same_seed_same_numbers(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--checkpoint", str(tiny_text_run), "--num-samples", "20", "--metrics", "self_bleu,lengths"]
    first, _ = evaluate(capsys, tmp_path, *args, "--seed", "3")
    again, _ = evaluate(capsys, tmp_path, *args, "--seed", "3")
    assert first["metrics"] == again["metrics"]


def test_samples_file_equals_the_library(tiny_coco_files: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    train, test = tiny_coco_files
    samples = train.read_text().splitlines()[:25]
    (tmp_path / "in").mkdir()
    samples_file = tmp_path / "in" / "samples.txt"
    samples_file.write_text("\n".join(samples) + "\n")
    report, out = evaluate(capsys, tmp_path, "--samples", str(samples_file), "--references", str(test),
                           "--metrics", "bleu,self_bleu", "--max-references", "500", "--max-hypotheses", "500")
    hyps = tokenize_for_bleu(samples, "whitespace")  # no checkpoint: whitespace unless asked
    refs = tokenize_for_bleu(test.read_text().splitlines(), "whitespace")
    assert [report["metrics"][f"bleu_{n}"] for n in (2, 3, 4, 5)] == list(test_bleu(hyps, refs).scores.values())
    assert [report["metrics"][f"self_bleu_{n}"] for n in (2, 3, 4, 5)] == list(self_bleu(hyps).scores.values())
    assert report["bleu"]["texygen_first_500"] is True and "Texygen first-500 convention: used" in out
    assert report["samples"] == {"source": str(samples_file), "count": 25}


def test_corpus_bleu_of_aligned_files(tiny_coco_files: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    test = tiny_coco_files[1]
    report, _ = evaluate(capsys, tmp_path, "--samples", str(test), "--references", str(test))
    assert report["metrics"]["corpus_bleu"] == pytest.approx(100.0)  # computed by default for aligned files
    assert report["metrics"]["bleu_4"] == pytest.approx(1.0)


def test_oracle_checkpoint(tiny_oracle_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, out = evaluate(capsys, tmp_path, "--checkpoint", str(tiny_oracle_run), "--num-samples", "50")
    logged = read_metrics(tiny_oracle_run / "metrics.jsonl")
    assert report["metrics"]["nll"] == pytest.approx(logged[-1]["nll_test"], rel=1e-6)  # the oracle's test set
    assert 0 < report["metrics"]["nll_oracle"] < 10
    assert "bleu_2" not in report["metrics"] and "bleu" in report["skipped"]  # oracle runs have no references
    assert "fixed length, no EOS" in out
    # NLL-oracle of the oracle's own held-out sequences = the number the data step logged
    from textgan.api.builders import build_data
    from textgan.api.trained import load as load_generator

    loaded = load_generator(str(tiny_oracle_run))
    data = build_data(loaded.cfg, None)
    own = tmp_path / "own.txt"
    own.write_text("\n".join(data.tokenizer.decode(row) for row in data.test.tokens.tolist()) + "\n")
    report, _ = evaluate(capsys, tmp_path, "--checkpoint", str(tiny_oracle_run), "--samples", str(own),
                         "--metrics", "nll_oracle")
    assert report["metrics"]["nll_oracle"] == pytest.approx(logged[0]["oracle_nll_of_own_test_samples"], rel=1e-5)


def run_failing(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(("args", "expected"), [
    (["--metrics", "blue"], "did you mean bleu?"),
    (["--metrics", "bleu", "--references", "{tmp}/missing.txt"], "--references file {tmp}/missing.txt does not exist"),
    (["--data", "{tmp}/missing.txt", "--metrics", "nll"], "does not exist"),
    (["--samples", "{tmp}/missing.txt"], "does not exist"),
    (["--metrics", "nll_oracle"], "needs a checkpoint trained on oracle data"),
    (["--metrics", "corpus_bleu"], "needs --samples FILE and --references FILE"),
    (["--num-samples", "1", "--metrics", "self_bleu"], "at least 2"),
    (["--num-samples", "0"], "--num-samples must be >= 1"),
    (["--temperature", "-1"], "--temperature must be >= 0"),
])
def test_errors_with_checkpoint(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                args: list[str], expected: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    err = run_failing(capsys, ["evaluate", "--checkpoint", str(tiny_text_run), *args])
    assert expected.replace("{tmp}", str(tmp_path)) in err


@pytest.mark.parametrize(("args", "expected"), [
    ([], "nothing to evaluate"),
    (["--samples", "{test}", "--metrics", "nll"], "metric nll needs --checkpoint RUN"),
    (["--samples", "{test}", "--metrics", "copied"], "metric copied needs --train FILE"),
    (["--samples", "{test}", "--references", "{train}", "--metrics", "corpus_bleu"], "one reference per hypothesis"),
    (["--checkpoint", "{tmp}/nowhere"], "does not exist"),
])
def test_errors_without_checkpoint(tiny_coco_files: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    train, test = tiny_coco_files
    args = [a.format(tmp=tmp_path, test=test, train=train) for a in args]
    assert expected in run_failing(capsys, ["evaluate", *args])


def test_json_is_never_overwritten_without_permission(tiny_coco_files: tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    test = str(tiny_coco_files[1])
    out = tmp_path / "eval.json"
    out.write_text("keep me")
    err = run_failing(capsys, ["evaluate", "--samples", test, "--json", str(out)])
    assert "already exists" in err and "--overwrite" in err
    assert out.read_text() == "keep me"
    assert main(["evaluate", "--samples", test, "--json", str(out), "--overwrite", "--metrics", "lengths"]) == 0
    assert list(json.loads(out.read_text())["metrics"]) == ["mean_length", "max_length"]


def test_training_and_evaluate_split_lines_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from textgan.data.corpus import read_splits

    # U+0085 (NEL), U+2028 and a form feed inside sentences, CRLF endings: 4 lines for every reader
    text = "a man\u0085on a horse\r\ntwo dogs\u2028play\r\na plate\x0cof food\r\nthe end\r\n"
    path = tmp_path / "lines.txt"
    path.write_bytes(text.encode("utf-8"))
    splits = read_splits(str(path), str(path), str(path), valid_fraction=0.1, seed=0)
    report, _ = evaluate(capsys, tmp_path, "--samples", str(path), "--references", str(path),
                         "--metrics", "lengths,corpus_bleu")
    assert len(splits.train) == len(splits.test) == report["samples"]["count"] == 4
    assert report["metrics"]["corpus_bleu"] == pytest.approx(100.0)  # aligned line by line with itself


MODEL_KEYS = {"lm_score": "lm_score_tokens", "reverse_lm_score": "reverse_lm_samples", "fed": "fed_samples",
              "mauve": "mauve_samples"}


def test_model_metrics_on_a_text_run(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     one_thread: None) -> None:
    """The four model metrics, each with its count; the reference LM is cached and the API gives the same numbers."""
    import textgan

    cache = tmp_path / "cache"
    argv = ["--checkpoint", str(tiny_text_run), "--metrics", "lm_score,reverse_lm_score,fed,mauve",
            "--num-samples", "40", "--cache-dir", str(cache)]
    report, out = evaluate(capsys, tmp_path, *argv)
    metrics = report["metrics"]
    assert set(MODEL_KEYS) <= set(metrics) and "bleu_2" not in metrics
    assert metrics["reverse_lm_samples"] == metrics["fed_samples"] == metrics["mauve_samples"] == 40
    assert 0 < metrics["mauve"] <= 1 and metrics["fed"] >= 0 and metrics["lm_score"] > 0
    assert "lm_score" in out and len(list(cache.glob("reference_lm_*.pt"))) == 1
    again, _ = evaluate(capsys, tmp_path, *argv)  # the cached reference LM: the same numbers
    assert again["metrics"] == metrics
    api = textgan.evaluate(tiny_text_run, list(MODEL_KEYS), num_samples=40, cache_dir=cache)
    assert {k: api[k] for k in metrics} == metrics


def test_model_metrics_are_opt_in(tiny_text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, _ = evaluate(capsys, tmp_path, "--checkpoint", str(tiny_text_run), "--num-samples", "20")
    assert not set(MODEL_KEYS) & set(report["metrics"])


def test_lm_score_of_an_oracle_run_is_nll_oracle(tiny_oracle_run: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str], one_thread: None) -> None:
    report, _ = evaluate(capsys, tmp_path, "--checkpoint", str(tiny_oracle_run), "--metrics",
                         "nll_oracle,lm_score,reverse_lm_score", "--num-samples", "30",
                         "--cache-dir", str(tmp_path / "cache"))
    metrics = report["metrics"]
    assert metrics["lm_score"] == pytest.approx(metrics["nll_oracle"], abs=1e-6)
    assert metrics["reverse_lm_samples"] == 30 and not (tmp_path / "cache").exists()  # the oracle needs no LM


def test_kmode_checkpoint_and_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import TINY_KMODE
    from textgan.api.builders import build_data
    from textgan.api.trained import load as load_generator

    run = tmp_path / "kmode"
    assert main(["pretrain", "--config", "kmode", f"run.dir={run}", *TINY_KMODE]) == 0
    report, out = evaluate(capsys, tmp_path, "--checkpoint", str(run), "--num-samples", "50")
    assert {"kmode_valid", "kmode_coverage", "kmode_js", "kmode_within_diversity"} <= set(report["metrics"])
    assert "exact parser" in out
    # the benchmark's own held-out sentences: all valid, every mode covered
    loaded = load_generator(str(run))
    data = build_data(loaded.cfg, None)
    own = tmp_path / "own.txt"
    own.write_text("\n".join(data.tokenizer.decode(row) for row in data.test.tokens.tolist()) + "\n")
    report, _ = evaluate(capsys, tmp_path, "--checkpoint", str(run), "--samples", str(own), "--metrics", "kmode")
    assert report["metrics"]["kmode_valid"] == 1.0 and report["metrics"]["kmode_coverage"] == 1.0
    assert report["metrics"]["kmode_js"] < 0.01

"""The leaderboard: every estimator arm against MLE's temperature curve, per data set and seed, at equal CPU budgets.

For each data set and seed: train MLE once; train every arm of scripts/leaderboard.yaml from its shipped recipe
(arms with `start: mle` continue MLE's generator); sweep each at <= 9 temperatures with 2,000 samples (oracle:
NLL-oracle and NLL-test at T; text: BLEU-5, self-BLEU-5, LM score, FED, MAUVE at T; K-mode: valid share, mode
coverage, JS divergence and within-mode diversity by the exact parser; labelled text: BLEU-n and self-BLEU-n at T,
and at T = 1 the per-class metrics of `api/class_report.py`, the class classifier trained once per data set under
the cache dir); on oracle and text the reverse-LM score
only at T = 1 and, for MLE, at the temperature whose quality matches the arm's at T = 1; then the verdict of each
arm's curve against MLE's (docs/evaluation.md) and each data set's table between its markers of docs/results.md
(scripts/leaderboard_table.py).

Runs use one thread each, two side by side. Each run directory holds a manifest (resolved config, seed, textgan
version, a digest of the MLE weights it started from): a run whose manifest matches is reused, one that differs is
retrained, a killed one is resumed (`resume=True`). Rerun the same command to continue a killed leaderboard.

    python scripts/leaderboard.py [--config scripts/leaderboard.yaml] [--runs-dir runs/leaderboard]
                                  [--results docs/results.md] [--data oracle coco] [--arms reinforce gumbel]
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import hashlib
import json
import multiprocessing
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import textgan  # noqa: E402
from textgan.api.class_report import class_metrics, data_key  # noqa: E402
from textgan.api.run import normalized_config  # noqa: E402
from textgan.config_io import config_to_dict  # noqa: E402
from textgan.data.tokenizers import SPECIALS  # noqa: E402
from textgan.errors import DifferentRunError  # noqa: E402
from textgan.evaluation.kmode import kmode_metrics_of_lines  # noqa: E402
from textgan.evaluation.suite import bleu_metrics  # noqa: E402
from textgan.evaluation.sweep import tempered_nll  # noqa: E402
from textgan.evaluation.text_metrics import tokenize_for_bleu  # noqa: E402
from textgan.evaluation.verdict import CurvePoint, matched_temperature  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the table module beside this script
from leaderboard_summary import write_summary  # noqa: E402
from leaderboard_table import cpu_seconds, head_commit, plot, seeds_of, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVAL_FORMAT = "leaderboard-eval-1"  # bump when the sweep's metrics change: evaluations are then recomputed


@dataclass(frozen=True)
class Job:
    """One run to train (or reuse) and sweep: everything a worker process needs, as plain data."""

    data: str
    arm: str                    # "mle" or an arm's name
    seed: int
    kind: str                   # "oracle", "text", "kmode" or "labelled" (class-conditional text)
    recipe: str
    overrides: tuple[str, ...]
    run_dir: str
    start: str                  # "mle" (init_from the MLE run), "scratch", or "" for MLE itself
    mle_dir: str
    rounds: int | None          # None: calibrate from `budget_s` first
    calibration_rounds: int
    budget_s: float
    temperatures: tuple[float, ...]
    num_samples: int
    cache_dir: str


# ---- plain helpers -----------------------------------------------------------------------------------------------
def _digest(tree: Any) -> str:
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, tree: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(tree, indent=1, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)


def _overrides(job: Job, rounds: int | None) -> list[str]:
    extra = [f"run.dir={job.run_dir}", f"run.seed={job.seed}", "run.threads=1", "run.progress=false"]
    if job.arm != "mle":
        extra += ["adversarial.eval_every=1000000"]  # evaluate only after the last round
        if rounds is not None:
            extra += [f"adversarial.rounds={rounds}"]
    return [*job.overrides, *extra]


def resolved_config(job: Job, rounds: int | None) -> dict[str, Any]:
    return config_to_dict(textgan.config(job.recipe, _overrides(job, rounds)))


def manifest_of(job: Job, rounds: int | None) -> dict[str, Any]:
    """What a finished run must match to be reused; an arm that continues MLE also names the MLE generator it
    started from by a digest of its weights (not of its config, whose stored form changes as options are added)."""
    manifest = {"config": _placeless(resolved_config(job, rounds)), "seed": job.seed,
                "version": textgan.__version__, "start": job.start}
    if job.start == "mle":
        manifest["mle_weights"] = weights_digest(Path(job.mle_dir) / "checkpoints" / "mle.pt")
    return manifest


def weights_digest(checkpoint: Path) -> str:
    """A digest of the generator weights in `checkpoint` (names, dtypes, shapes and values, in name order)."""
    weights = torch.load(checkpoint, map_location="cpu", weights_only=True)["models"]["generator"]
    digest = hashlib.sha256()
    for name in sorted(weights):
        tensor = weights[name].contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def _placeless(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config as this version writes it (options added since it was stored at their defaults, so a
    new option does not retrain finished runs) and without `run.dir`: where a run lives does not decide what it
    is (a moved or differently spelled --runs-dir reuses its runs)."""
    config = normalized_config(config)
    return {**config, "run": {k: v for k, v in config["run"].items() if k != "dir"}}


# ---- the worker: train (or reuse / resume) one run, then sweep it ------------------------------------------------
def run_job(job: Job) -> dict[str, Any]:
    """Train or reuse `job`'s run and its sweep; returns {"manifest", "eval", "calibration"}."""
    torch.set_num_threads(1)
    run_dir = Path(job.run_dir)
    calibration = _read_json(run_dir / "calibration.json") if run_dir.is_dir() else None
    rounds = job.rounds if job.rounds is not None else (calibration or {}).get("rounds")
    wanted = manifest_of(job, rounds) if rounds is not None or job.arm == "mle" else None
    found = _read_json(run_dir / "manifest.json")
    if found is not None and "config" in found:
        found = {**found, "config": _placeless(found["config"])}
    if found is not None and wanted is not None and {k: found.get(k) for k in wanted} == wanted:
        manifest = found  # reused: nothing trained, nothing appended to metrics.jsonl
    else:
        if found is not None:  # finished under another config, seed or version: retrain from nothing
            shutil.rmtree(run_dir)
            calibration, rounds = None, job.rounds
        if job.arm != "mle" and rounds is None:
            shutil.rmtree(run_dir, ignore_errors=True)  # a calibration killed midway is measured again, whole
            calibration = _calibrate(job)
            _write_json(run_dir / "calibration.json", calibration)
            rounds = calibration["rounds"]
        spent = _train(job, rounds)
        manifest = {**manifest_of(job, rounds), "cpu_seconds": spent,
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write_json(run_dir / "manifest.json", manifest)
    return {"manifest": manifest, "eval": _evaluate(job), "calibration": calibration}


def _open(job: Job, rounds: int | None, *, adversarial: bool) -> textgan.TrainingRun:
    init_from = Path(job.mle_dir) / "checkpoints" / "mle.pt" if job.start == "mle" else None
    return open_or_restart(textgan.config(job.recipe, _overrides(job, rounds)), init_from, adversarial=adversarial)


def open_or_restart(cfg: textgan.Config, init_from: Path | None, *, adversarial: bool) -> textgan.TrainingRun:
    """cfg.run.dir resumed from its last checkpoint, or started (from `init_from`'s generator when given). A start
    killed before its first checkpoint, or a killed run of another config, starts again from nothing; any other
    error (a missing data file, say) reaches the caller with the run directory untouched."""
    run_dir = Path(cfg.run.dir)
    resume = (run_dir / "checkpoints" / "last.pt").is_file()
    if not resume and run_dir.exists():  # a start killed before its first checkpoint
        shutil.rmtree(run_dir)
    try:
        return textgan.TrainingRun.open(cfg, resume=resume, init_from=None if resume else init_from,
                                        adversarial=adversarial)
    except DifferentRunError:  # a killed run of another config: start it again
        shutil.rmtree(run_dir)
        return textgan.TrainingRun.open(cfg, init_from=init_from, adversarial=adversarial)


def train_phases(run: textgan.TrainingRun, *, adversarial: bool) -> float:
    """Run the phases `run` has left (each skips itself when done; MLE only unless `adversarial`), close it;
    returns its CPU seconds over every invocation."""
    try:
        run.pretrain()
        if adversarial:
            run.pretrain_discriminator()
            run.train_adversarial()
        return run.cpu_seconds
    finally:
        run.close()


def _train(job: Job, rounds: int | None) -> float:
    """Train (or finish) `job`'s run; returns its CPU seconds over every invocation (a calibration's included)."""
    adversarial = job.arm != "mle"
    return train_phases(_open(job, rounds, adversarial=adversarial), adversarial=adversarial)


def _calibrate(job: Job) -> dict[str, Any]:
    """Train `calibration_rounds` rounds, time D pretraining and a round (CPU seconds), size the budget."""
    k = job.calibration_rounds
    run = _open(job, k, adversarial=True)
    try:
        t0 = time.process_time()
        run.pretrain()  # from scratch only (an MLE start skips it)
        t1 = time.process_time()
        run.pretrain_discriminator()
        t2 = time.process_time()
        run.train_adversarial()
        t3 = time.process_time()
    finally:
        run.close()
    mle_s, d_s, round_s = t1 - t0, t2 - t1, (t3 - t2) / k
    # a from-scratch arm gets the data set's MLE budget (its MLE run's CPU time) on top of the arm's
    mle_budget = (cpu_seconds(_read_json(Path(job.mle_dir) / "manifest.json")) or 0.0) \
        if job.start == "scratch" else 0.0
    budget = job.budget_s + mle_budget
    rounds = max(k, round((budget - mle_s - d_s) / round_s))
    return {"rounds": rounds, "calibration_rounds": k, "round_cpu_s": round_s, "d_pretrain_cpu_s": d_s,
            "mle_cpu_s": mle_s, "mle_budget_cpu_s": mle_budget, "budget_cpu_s": budget,
            "planned_cpu_s": mle_s + d_s + rounds * round_s}


def _checkpoint(job: Job) -> Path:
    return Path(job.run_dir) / "checkpoints" / ("mle.pt" if job.arm == "mle" else "adversarial.pt")


def _evaluate(job: Job) -> dict[str, Any]:
    """The sweep of the run (cached in the run directory under a key of everything that determines it)."""
    path = Path(job.run_dir) / "leaderboard_eval.json"
    key = _digest([EVAL_FORMAT, job.temperatures, job.num_samples, _read_json(Path(job.run_dir) / "manifest.json")])
    cached = _read_json(path)
    if cached is not None and cached.get("key") == key:
        return cached
    gen = textgan.load(_checkpoint(job))
    scorer = textgan.Scorer.for_generator(gen, cache_dir=job.cache_dir, seed=job.seed)
    _CONFIGS[id(scorer.data)] = gen.cfg
    start = time.process_time()
    rows = [_point(job, gen, scorer, t) for t in job.temperatures]
    real = None
    if job.arm == "mle":  # the real-data reference row, same count, from the run's training data
        generator = torch.Generator().manual_seed(job.seed)
        train = scorer.data.train
        pick = torch.randperm(len(train), generator=generator)[:job.num_samples]
        lines = [scorer.data.train_lines[i] for i in pick.tolist()] if scorer.data.train_lines else \
            [scorer.data.tokenizer.decode(row[:n]) for row, n in
             zip(train.tokens[pick].tolist(), train.lengths[pick].tolist())]
        real = {"temperature": None, "num_samples": len(lines), **_score_lines(job, scorer, lines, True)}
    weight_change = None
    if job.arm != "mle":
        start_gen = textgan.load(Path(job.mle_dir) / "checkpoints" / "mle.pt") if job.start == "mle" else None
        if start_gen is not None:
            now = torch.cat([p.detach().flatten() for p in gen.generator.parameters()])
            before = torch.cat([p.detach().flatten() for p in start_gen.generator.parameters()])
            weight_change = float((now - before).norm() / before.norm())
    result = {"key": key, "rows": rows, "real": real, "weight_change": weight_change,
              "eval_cpu_s": time.process_time() - start}
    _write_json(path, result)
    return result


def _point(job: Job, gen: textgan.TrainedGenerator, scorer: textgan.Scorer, temperature: float) -> dict[str, Any]:
    lines = gen.sample(job.num_samples, temperature=temperature, seed=job.seed)
    row = {"temperature": temperature, "num_samples": job.num_samples,
           **_score_lines(job, scorer, lines, temperature == 1.0)}
    if job.kind == "oracle":  # NLL-test under softmax(logits / T): the coverage axis of the oracle curve
        row["nll_test"] = tempered_nll(gen.generator, scorer.data.test, temperature, batch_size=256,
                                       device=gen.device)
    if job.kind == "labelled" and temperature == 1.0:  # per class, the classifier shared by the data set's runs
        data = scorer.data
        classifier = Path(job.cache_dir) / "class_classifiers" / f"{job.data}-{data_key(data)}.pt"
        row["per_class"] = class_metrics(gen.generator, data, gen.cfg.evaluation, classifier_path=classifier,
                                         seed=job.seed, num_samples=job.num_samples, temperature=temperature)
    return row


def _score_lines(job: Job, scorer: textgan.Scorer, lines: list[str], with_reverse: bool) -> dict[str, Any]:
    if job.kind == "kmode":  # the benchmark's exact parser; no model metrics (no reference LM is trained)
        cfg = _CONFIGS[id(scorer.data)]
        return kmode_metrics_of_lines(scorer.data.kmode, lines, scorer.data.tokenizer.encode, len(SPECIALS),
                                      cfg.data.kmode.coverage_share)
    if job.kind == "labelled":  # the BLEU curve only (no reference LM on ~3,000 training sentences)
        ev = scorer_settings(scorer)
        return bleu_metrics(tokenize_for_bleu(lines, ev.bleu_tokenizer), _references(scorer),
                            max_references=ev.max_references or None)
    metrics = ["lm_score"] + (["reverse_lm_score"] if with_reverse else [])
    if job.kind == "text":
        metrics += ["fed", "mauve"]
    out = scorer.score(lines, metrics)
    if job.kind == "oracle":
        out["nll_oracle"] = out["lm_score"]
    else:
        ev = scorer_settings(scorer)
        out.update(bleu_metrics(tokenize_for_bleu(lines, ev.bleu_tokenizer), _references(scorer),
                                max_references=ev.max_references or None))
    return out


_CONFIGS: dict[int, Any] = {}             # id(scorer.data) -> the run's config
_REFERENCES: dict[int, list[list[str]]] = {}


def scorer_settings(scorer: textgan.Scorer) -> Any:
    return _CONFIGS[id(scorer.data)].evaluation


def _references(scorer: textgan.Scorer) -> list[list[str]]:
    """The test lines, tokenized for BLEU once per data set and process."""
    key = id(scorer.data)
    if key not in _REFERENCES:
        _REFERENCES[key] = tokenize_for_bleu(scorer.data.test_lines, scorer_settings(scorer).bleu_tokenizer)
    return _REFERENCES[key]


def matched_reverse_lm(job: Job, temperature: float) -> dict[str, Any]:
    """MLE's reverse-LM score at `temperature` (cached per temperature in the MLE run directory)."""
    torch.set_num_threads(1)
    path = Path(job.run_dir) / "leaderboard_matched.json"
    cached = _read_json(path) or {}
    manifest_key = _digest(_read_json(Path(job.run_dir) / "manifest.json"))
    name = f"{manifest_key}:{job.num_samples}:{temperature:.6f}"
    if name not in cached:
        gen = textgan.load(_checkpoint(job))
        scorer = textgan.Scorer.for_generator(gen, cache_dir=job.cache_dir, seed=job.seed)
        lines = gen.sample(job.num_samples, temperature=temperature, seed=job.seed)
        cached[name] = scorer.score(lines, ["reverse_lm_score"])
        _write_json(path, {**(_read_json(path) or {}), name: cached[name]})
    return cached[name]


# ---- orchestration -----------------------------------------------------------------------------------------------
def jobs_of(settings: dict[str, Any], calibration: dict[str, Any], runs_dir: Path, cache_dir: Path,
            data_names: list[str], arm_names: list[str]) -> tuple[list[Job], list[Job]]:
    """(MLE jobs, arm jobs) of the requested data sets and arms."""
    mle_jobs, arm_jobs = [], []
    for data in data_names:
        ds = settings["datasets"][data]
        for seed in seeds_of(settings, data):
            mle_dir = runs_dir / data / f"seed{seed}" / "mle"
            common = dict(data=data, seed=seed, kind=ds["kind"], mle_dir=str(mle_dir),
                          temperatures=tuple(ds["temperatures"]), num_samples=ds["num_samples"],
                          cache_dir=str(cache_dir), budget_s=60.0 * ds["cpu_minutes"])
            mle_jobs.append(Job(arm="mle", recipe=ds["mle"]["recipe"],
                                overrides=tuple(ds["mle"]["overrides"] + ds["shared"]), run_dir=str(mle_dir),
                                start="", rounds=None, calibration_rounds=0, **common))
            for arm in settings["arms"]:
                if arm["name"] not in arm_names or data not in arm["recipes"]:
                    continue
                recipe = arm["recipes"][data]
                rounds = recipe.get("rounds", calibration.get(data, {}).get(arm["name"], {}).get("rounds"))
                arm_jobs.append(Job(arm=arm["name"], recipe=recipe["recipe"],
                                    overrides=tuple(recipe.get("overrides", []) + ds["shared"]),
                                    run_dir=str(runs_dir / data / f"seed{seed}" / arm["name"]),
                                    start=arm.get("start", "mle"), rounds=rounds,
                                    calibration_rounds=recipe.get("calibration_rounds",
                                                                  arm.get("calibration_rounds", 2)), **common))
    return mle_jobs, arm_jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "scripts" / "leaderboard.yaml")
    parser.add_argument("--calibration", type=Path, help="calibrated rounds (default: <config>_calibration.yaml)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/leaderboard"))
    parser.add_argument("--cache-dir", type=Path, default=Path("data/cache"), help="reference LM cache")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results.md")
    parser.add_argument("--plots-dir", type=Path, help="PNG curves per data set (default: beside --results)")
    parser.add_argument("--data", nargs="+", help="data sets of the config to run (default: all)")
    parser.add_argument("--arms", nargs="+", help="arms of the config to run (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side (default 2, at most 2)")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 2:
        parser.error(f"--workers takes 1 or 2 (the machine's cores), got {args.workers}")
    if not args.config.is_file():
        parser.error(f"--config: no file {args.config}")
    settings = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    cal_path = args.calibration or args.config.with_name(f"{args.config.stem}_calibration.yaml")
    calibration = (yaml.safe_load(cal_path.read_text(encoding="utf-8")) if cal_path.is_file() else None) or {}
    data_names = args.data or list(settings["datasets"])
    arm_names = args.arms or [a["name"] for a in settings["arms"]]
    command = "python scripts/leaderboard.py " + " ".join(argv if argv is not None else sys.argv[1:])
    mle_jobs, arm_jobs = jobs_of(settings, calibration, args.runs_dir, args.cache_dir, data_names, arm_names)
    results: dict[tuple[str, str, int], dict[str, Any]] = {}
    matched: dict[tuple[str, str, int], Any] = {}
    started = time.perf_counter()
    shown_arms = list(arm_names)

    def publish() -> None:
        shown = {**settings, "datasets": {d: settings["datasets"][d] for d in data_names}}
        write_table(results, matched, shown, shown_arms, args.results, time.perf_counter() - started, command.strip(),
                    calibration)
        write_summary(results, shown, shown_arms, args.results.with_name("leaderboard_summary.json"), head_commit())

    def record(job: Job, result: dict[str, Any]) -> None:
        results[(job.data, job.arm, job.seed)] = result
        cal = result.get("calibration")
        if cal and job.arm != "mle":
            calibration.setdefault(job.data, {})[job.arm] = cal
            header = "# Calibrated rounds of scripts/leaderboard.py (CPU seconds on one thread, measured once)\n"
            cal_path.write_text(header + yaml.safe_dump(calibration, sort_keys=True), encoding="utf-8")
        print(f"done {job.data}/{job.arm}/seed{job.seed} "
              f"({time.perf_counter() - started:.0f} s since start)", flush=True)
        publish()

    workers = max(1, min(2, args.workers))
    with futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: dict[futures.Future, Job] = {}
        calibrating: set[tuple[str, str]] = set()       # (data set, arm) whose first run measures the round time
        waiting: dict[tuple[str, str], list[Job]] = {}  # its other seeds: they take the rounds it measures

        def submit(job: Job) -> None:
            key = (job.data, job.arm)
            if job.rounds is None and key in calibrating:  # calibrated once per arm and data set, not per seed
                waiting.setdefault(key, []).append(job)
                return
            if job.rounds is None and job.arm != "mle":
                calibrating.add(key)
            pending[pool.submit(run_job, job)] = job

        for job in mle_jobs:
            submit(job)
        while pending:
            done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                result = future.result()
                record(job, result)
                if job.arm == "mle":  # its arms can start now
                    for arm in arm_jobs:
                        if arm.data == job.data and arm.seed == job.seed:
                            submit(arm)
                elif job.rounds is None:  # calibrated: the arm's other seeds run its rounds
                    calibrating.discard((job.data, job.arm))
                    rounds = result["manifest"]["config"]["adversarial"]["rounds"]
                    for other in waiting.pop((job.data, job.arm), []):
                        submit(replace(other, rounds=rounds))
        # MLE's reverse-LM score at the temperature matching each arm's quality at T = 1
        # (quality = LM score, the axis the reverse-LM score is paired with; NLL-oracle on the oracle)
        wanted: dict[futures.Future, tuple[float, tuple[str, str, int]]] = {}
        for job in arm_jobs:
            if job.kind in ("kmode", "labelled"):  # no LM score on these data: nothing to match
                continue
            mle_job = next(m for m in mle_jobs if m.data == job.data and m.seed == job.seed)
            arm_t1 = next(r for r in results[(job.data, job.arm, job.seed)]["eval"]["rows"] if r["temperature"] == 1)
            mle_rows = results[(job.data, "mle", job.seed)]["eval"]["rows"]
            mle_curve = [CurvePoint(r["temperature"], r["lm_score"], 0.0) for r in mle_rows]  # quality only
            temperature = matched_temperature(mle_curve, arm_t1["lm_score"])
            if temperature is None:
                matched[(job.data, job.arm, job.seed)] = None
            else:
                wanted[pool.submit(matched_reverse_lm, mle_job, temperature)] = (temperature, (job.data, job.arm,
                                                                                               job.seed))
        for future in futures.as_completed(wanted):
            temperature, key = wanted[future]
            matched[key] = {"temperature": temperature, **future.result()}
    publish()
    plot(results, settings, args.plots_dir or args.results.parent)
    print(f"wrote {args.results} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

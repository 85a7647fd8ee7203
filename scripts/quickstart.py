"""The quickstart: MLE and the leaderboard's best oracle estimator on the synthetic oracle, in a few CPU minutes.

1. MLE: `oracle_quick`'s teacher-forcing phase (15 epochs).
2. The arm with the largest mean curve gap over MLE on the oracle in docs/leaderboard_summary.json (written by
   scripts/leaderboard.py), continued from that MLE generator with the arm's recipe from scripts/leaderboard.yaml,
   at a round count scaled from the leaderboard's calibration to `--minutes` CPU-minutes.
3. Both at temperature 1, and MLE at the temperature whose NLL-oracle matches the GAN's (found on a temperature
   sweep, then scored at that temperature): what the adversarial phase bought in NLL-oracle (quality) and what it
   cost in NLL-test (coverage of the real distribution). The miniature's verdict is compared with the
   leaderboard's and the printout says whether they agree.

Re-running continues or re-reports the same runs (`--run-dir`, default runs/quickstart).

    python scripts/quickstart.py [--minutes 3] [--run-dir runs/quickstart] [--arm NAME] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import yaml

import textgan
from textgan.evaluation.sweep import tempered_nll
from textgan.evaluation.verdict import CurvePoint, matched_temperature

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the leaderboard beside this script
from leaderboard import train_phases  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SWEEP = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3)
NUM_SAMPLES = 2000


def best_arm(summary: dict[str, Any], arms: dict[str, dict[str, Any]]) -> str:
    """The oracle arm starting from MLE with the largest mean gap over its seeds."""
    entries = {name: e for name, e in summary["oracle"]["arms"].items()
               if name != "mle" and e.get("mean_gaps") and all(math.isfinite(g) for g in e["mean_gaps"])
               and arms.get(name, {}).get("start", "mle") == "mle"}
    if not entries:
        raise textgan.UserError("docs/leaderboard_summary.json has no oracle arm; run scripts/leaderboard.py first")
    return max(entries, key=lambda name: sum(entries[name]["mean_gaps"]) / len(entries[name]["mean_gaps"]))


def scaled_rounds(calibration: dict[str, Any], minutes: float) -> int:
    """Rounds that fit `minutes` CPU-minutes by the leaderboard's calibration (one thread)."""
    spare = 60.0 * minutes - calibration["d_pretrain_cpu_s"]
    return max(1, int(spare / calibration["round_cpu_s"]))


def train(cfg: textgan.Config, *, init_from: Path | None, adversarial: bool) -> None:
    """Resume cfg.run.dir from its last checkpoint, or start it; a directory holding another run is refused (the
    one-line error names the keys), never replaced."""
    resume = (Path(cfg.run.dir) / "checkpoints" / "last.pt").is_file()
    train_phases(textgan.TrainingRun.open(cfg, resume=resume, init_from=None if resume else init_from,
                                          adversarial=adversarial), adversarial=adversarial)


def point(gen: textgan.TrainedGenerator, scorer: textgan.Scorer, temperature: float, seed: int) -> dict[str, float]:
    """NLL-oracle of samples drawn at `temperature` and NLL-test under softmax(logits / temperature)."""
    lines = gen.sample(NUM_SAMPLES, temperature=temperature, seed=seed)
    return {"temperature": temperature, "nll_oracle": scorer.score(lines, ["lm_score"])["lm_score"],
            "nll_test": tempered_nll(gen.generator, scorer.data.test, temperature, batch_size=256,
                                     device=gen.device)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="CPU-minutes of the adversarial arm (default 3)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/quickstart"),
                        help="where the MLE and GAN runs go (default runs/quickstart; a re-run re-reports them)")
    parser.add_argument("--arm", help="an arm of scripts/leaderboard.yaml (default: the leaderboard's best)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per run (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="run and sampling seed (default 0)")
    args = parser.parse_args(argv)
    if not args.minutes > 0 or args.threads < 1:
        parser.error("--minutes must be above 0 and --threads at least 1")
    started = time.perf_counter()
    settings = yaml.safe_load((ROOT / "scripts" / "leaderboard.yaml").read_text(encoding="utf-8"))
    calibration = yaml.safe_load((ROOT / "scripts" / "leaderboard_calibration.yaml").read_text(encoding="utf-8"))
    summary_path = ROOT / "docs" / "leaderboard_summary.json"
    if not summary_path.is_file():
        raise textgan.UserError(f"{summary_path} is missing: run scripts/leaderboard.py first")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    arms = {a["name"]: a for a in settings["arms"] if "oracle" in a["recipes"]}
    name = args.arm or best_arm(summary, arms)
    choices = [a for a in arms if a in calibration.get("oracle", {}) and arms[a].get("start", "mle") == "mle"]
    if name not in choices:
        raise textgan.UserError(f"--arm {name}: not a calibrated oracle arm starting from MLE; choose from "
                                f"{', '.join(choices)}")
    common = [f"run.seed={args.seed}", f"run.threads={args.threads}", "data.oracle.num_test=2000"]
    mle_cfg = textgan.config("oracle_quick", [f"run.dir={args.run_dir / 'mle'}", *common])
    rounds = scaled_rounds(calibration["oracle"][name], args.minutes)
    recipe = arms[name]["recipes"]["oracle"]
    gan_cfg = textgan.config(recipe["recipe"], [*recipe.get("overrides", []), f"run.dir={args.run_dir / name}",
                                                *common, f"adversarial.rounds={rounds}",
                                                "adversarial.eval_every=1000000"])
    print(f"1/3 MLE: oracle_quick, {mle_cfg.pretrain.epochs} epochs -> {args.run_dir / 'mle'}", flush=True)
    train(mle_cfg, init_from=None, adversarial=False)
    mle_ckpt = args.run_dir / "mle" / "checkpoints" / "mle.pt"
    print(f"2/3 {name} (the leaderboard's best oracle arm) from that generator: {rounds} rounds "
          f"(~{args.minutes:g} CPU-min by the leaderboard's calibration) -> {args.run_dir / name}", flush=True)
    train(gan_cfg, init_from=mle_ckpt, adversarial=True)
    print("3/3 scoring: NLL-oracle of 2,000 samples, NLL-test on 2,000 held-out oracle sequences", flush=True)
    mle = textgan.load(mle_ckpt)
    gan = textgan.load(args.run_dir / name / "checkpoints" / "adversarial.pt")
    scorer = textgan.Scorer.for_generator(mle, seed=args.seed)
    sweep = [point(mle, scorer, t, args.seed) for t in SWEEP]
    gan_t1 = point(gan, scorer, 1.0, args.seed)
    mle_t1 = next(p for p in sweep if p["temperature"] == 1.0)
    t_match = matched_temperature([CurvePoint(p["temperature"], -p["nll_oracle"], 0.0) for p in sweep],
                                  -gan_t1["nll_oracle"])
    rows = [("MLE, T = 1", mle_t1), (f"{name}, T = 1", gan_t1)]
    if t_match is not None:
        rows.append((f"MLE, T = {t_match:.3f} (NLL-oracle matched)", point(mle, scorer, t_match, args.seed)))
    print(f"\n{'':36s} {'NLL-oracle':>10s} {'NLL-test':>9s}   (lower is better; nats per token)")
    for label, p in rows:
        print(f"{label:36s} {p['nll_oracle']:10.3f} {p['nll_test']:9.3f}")
    tolerance = summary["oracle"]["tolerance"]
    print(f"\nThe adversarial phase moved NLL-oracle by {gan_t1['nll_oracle'] - mle_t1['nll_oracle']:+.3f} and "
          f"NLL-test by {gan_t1['nll_test'] - mle_t1['nll_test']:+.3f} at T = 1.")
    if t_match is None:
        mini = "outside"
        print(f"{name}'s NLL-oracle is outside MLE's sweep ({SWEEP[0]}..{SWEEP[-1]}): no matched temperature.")
    else:
        gap = rows[2][1]["nll_test"] - gan_t1["nll_test"]  # > 0: the GAN covers the data better at equal quality
        mini = "above" if gap > tolerance else "below" if gap < -tolerance else "on"
        print(f"At equal NLL-oracle, MLE at T = {t_match:.3f} has NLL-test {rows[2][1]['nll_test']:.3f}: {name} is "
              f"{mini} MLE's temperature curve ({gap:+.3f} nats, tolerance {tolerance}).")
    board = summary["oracle"]["arms"][name]
    verdicts = board.get("verdicts", [])
    agree = {"above": "above", "below": "below", "on": "equal"}.get(mini)
    print(f"The leaderboard ({len(verdicts)} seed(s), commit {summary['oracle']['commit']}): {name} "
          f"{', '.join(verdicts)}. This miniature " + ("agrees." if agree in verdicts else
                                                       "DISAGREES with it: one short seed is noise-prone; "
                                                       "trust the leaderboard (docs/results.md)."))
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except textgan.UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)

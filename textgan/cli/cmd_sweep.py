"""`textgan sweep`: quality against diversity over sampling temperatures, per checkpoint (CSV and PNG)."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import torch

from textgan.api.builders import build_data, build_kmode
from textgan.api.scoring import DEFAULT_CACHE_DIR, Scorer
from textgan.api.trained import TrainedGenerator, load
from textgan.cli.common import add_compiled_sampler_arg, use_compiled_sampler, write_text_atomic
from textgan.data.corpus import read_lines
from textgan.data.tokenizers import SPECIALS
from textgan.errors import UserError
from textgan.evaluation.kmode import KMODE_CURVE_AXES, kmode_metrics_of_lines
from textgan.evaluation.suite import MODEL_METRICS
from textgan.evaluation.sweep import (
    KMODE_AXES,
    ORACLE_AXES,
    oracle_point,
    parse_temperatures,
    text_axes,
    text_point,
    verdicts,
    write_csv,
)
from textgan.evaluation.text_metrics import tokenize_for_bleu
from textgan.evaluation.verdict import LM_CURVE_AXES, ORACLE_CURVE_AXES, CurveAxes, bleu_curve_axes
from textgan.training.checkpoint import resolve_checkpoint

DEFAULT_TEMPERATURES = "0.7,0.8,0.9,1.0,1.1,1.2,1.3,1.4,1.5"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sweep", help="quality-diversity curves over sampling temperatures (Caccia et al. 2020)",
        description=textwrap.fill(
            "Sample each checkpoint at each softmax temperature and record quality against diversity (\"Language "
            "GANs Falling Short\", Caccia et al. 2020): on text, test-BLEU-n against self-BLEU-n (BLEU-2..5 all go "
            "to the CSV); on oracle data, NLL-oracle of the samples against NLL-test of held-out oracle data under "
            "the temperature-scaled model softmax(logits / T); on the K-mode benchmark, the valid share of the samples "
            "against mode coverage by the exact parser (JS divergence and within-mode diversity in the CSV too). "
            "Writes OUT_DIR/sweep.csv (one row per checkpoint and "
            "temperature) and OUT_DIR/sweep.png (one curve per checkpoint; needs matplotlib: pip install "
            "'textgan[plot]'). --metrics adds model-based metrics at every temperature; --reference judges every "
            "other curve against one (MLE's): above, below, equal, crossing or no-overlap, with the mean gap "
            "(docs/evaluation.md), printed and written to OUT_DIR/verdict.json. Verdict axes: oracle NLL-oracle vs "
            "NLL-test; text BLEU-n vs self-BLEU-n, and LM score vs reverse-LM score when both are swept; K-mode valid "
            "share vs coverage.", 100)
                    + "\n\nExample:\n"
                    "  textgan sweep --checkpoint runs/coco/checkpoints/mle.pt --checkpoint runs/coco "
                    "--labels MLE SeqGAN --reference MLE --metrics lm_score,reverse_lm_score --out-dir runs/coco/sweep",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", required=True, metavar="RUN",
                        help="run directory or checkpoint .pt; repeat for several curves")
    parser.add_argument("--labels", nargs="+", metavar="LABEL",
                        help="one legend label per --checkpoint (default: run name and checkpoint file)")
    parser.add_argument("--temperatures", default=DEFAULT_TEMPERATURES, metavar="LIST",
                        help=f"comma-separated, or START:STOP:STEP (default {DEFAULT_TEMPERATURES})")
    parser.add_argument("--out-dir", required=True, metavar="DIR", help="directory for sweep.csv and sweep.png")
    parser.add_argument("--overwrite", action="store_true", help="allow replacing an existing sweep.csv / sweep.png")
    parser.add_argument("--num-samples", type=int, metavar="N",
                        help="samples per checkpoint and temperature (default: the first run's evaluation.num_samples)")
    parser.add_argument("--order", type=int, default=5, choices=[2, 3, 4, 5],
                        help="n of BLEU-n / self-BLEU-n on the plot's axes (text; default 5 as Caccia et al.)")
    parser.add_argument("--references", metavar="FILE", help="BLEU references (default: each run's data.test)")
    parser.add_argument("--bleu-tokenizer", choices=["whitespace", "treebank"],
                        help="BLEU tokenization (default: the first run's evaluation.bleu_tokenizer)")
    parser.add_argument("--max-references", type=int, metavar="K",
                        help="BLEU against the first K references (Texygen: 500; 0: all; default: the run's)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed, the same at every temperature (default 0)")
    add_compiled_sampler_arg(parser)
    parser.add_argument("--batch-size", type=int, default=128, help="batch size of NLL forwards and sampling")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the run's device if present)")
    parser.add_argument("--metrics", metavar="LIST", default="",
                        help=f"model-based metrics at every temperature: comma-separated subset of "
                             f"{', '.join(MODEL_METRICS)} (default: none; reverse_lm_score costs ~15 s a point)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR), metavar="DIR",
                        help=f"where text reference LMs are cached (default {DEFAULT_CACHE_DIR})")
    parser.add_argument("--reference", metavar="LABEL|RUN",
                        help="the reference curve (MLE's): a --labels label, a --checkpoint, or another run that "
                             "is then swept too; every other curve gets a verdict against it")
    parser.add_argument("--tolerance", type=float, default=0.0, metavar="GAP",
                        help="gap in diversity units counted as noise by the verdict (default 0; e.g. the "
                             "seed-to-seed sd)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from textgan.evaluation.plots import INSTALL_HINT, matplotlib_available, plot_sweep

    try:
        temperatures = parse_temperatures(args.temperatures)
    except ValueError as err:
        raise UserError(str(err)) from None
    model_metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in model_metrics if m not in MODEL_METRICS]
    if unknown:
        raise UserError(f"--metrics {unknown[0]!r} is not a model metric; choose from {', '.join(MODEL_METRICS)}")
    if not args.tolerance >= 0:
        raise UserError(f"--tolerance must be >= 0, got {args.tolerance}")
    reference = _reference(args)
    labels = _labels(args)
    if args.num_samples is not None and args.num_samples < 2:
        raise UserError(f"--num-samples must be >= 2 (self-BLEU scores each sample against the others), "
                        f"got {args.num_samples}")
    if args.batch_size < 1 or (args.max_references is not None and args.max_references < 0):
        raise UserError("--batch-size must be >= 1 and --max-references >= 0")
    out_dir = Path(args.out_dir)
    csv_path, png_path = out_dir / "sweep.csv", out_dir / "sweep.png"
    verdict_path = out_dir / "verdict.json"
    existing = [str(p) for p in (csv_path, png_path, verdict_path) if p.exists()]
    if existing and not args.overwrite:
        raise UserError(f"{' and '.join(existing)} already exist(s); choose another --out-dir or pass --overwrite")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out-dir {out_dir} is a file; give a directory")
    models = [load(path, args.device) for path in args.checkpoint]
    use_compiled_sampler(args, [m.generator for m in models])
    sources = {m.cfg.data.source for m in models}
    if len(sources) > 1:
        raise UserError(f"the checkpoints mix {' and '.join(sorted(sources))} runs; sweep runs of one kind together")
    source = sources.pop()
    if source == "kmode" and len({repr(m.cfg.data.kmode) for m in models}) > 1:
        raise UserError("the checkpoints are trained on different K-mode benchmarks (data.kmode differs); sweep runs "
                        "of one benchmark together")
    first = models[0].cfg.evaluation
    num = args.num_samples or first.num_samples
    out_dir.mkdir(parents=True, exist_ok=True)

    axes = {"oracle": ORACLE_AXES, "kmode": KMODE_AXES}.get(source) or text_axes(args.order)
    start = time.perf_counter()
    point = {"oracle": _oracle_points, "kmode": _kmode_points, "text": _text_points}[source](models, args, num)
    scorers: dict[str, Scorer] = {}
    rows: list[dict[str, Any]] = []
    for label, path, model in zip(labels, args.checkpoint, models):
        for temperature in temperatures:
            torch.manual_seed(args.seed)  # the same random draws at every T: smoother curves
            metrics, lines = point(model, temperature)
            if model_metrics:
                key = repr((model.cfg.data, model.tokenizer.state()))
                if key not in scorers:  # one reference LM and test set per data set
                    scorers[key] = Scorer.for_generator(model, cache_dir=args.cache_dir, seed=args.seed)
                if lines is None:
                    lines = model.sample(num, temperature=temperature, seed=args.seed, batch_size=args.batch_size)
                metrics.update(scorers[key].score(lines, model_metrics))
            rows.append({"label": label, "checkpoint": str(resolve_checkpoint(path)), "temperature": temperature,
                         "num_samples": num, **metrics})
            shown = ", ".join(f"{k}={metrics[k]:.4f}" for k in (axes.quality, axes.diversity))
            print(f"{label}  T={temperature:g}  {shown}", flush=True)
    write_csv(rows, csv_path)
    print(f"wrote {csv_path} ({len(rows)} rows, {time.perf_counter() - start:.1f} s)")
    if reference is not None:
        reference_label = labels[reference]
        pairs: list[CurveAxes] = {"oracle": [ORACLE_CURVE_AXES], "kmode": [KMODE_CURVE_AXES]}.get(source) or \
            [bleu_curve_axes(args.order), LM_CURVE_AXES]
        judged = verdicts(rows, reference_label, pairs, tolerance=args.tolerance)
        for v in judged:
            print(f"verdict {v['label']} vs {v['reference']} ({v['quality']} vs {v['diversity']}): {v['verdict']}, "
                  f"mean gap {v['mean_gap']:+.4f}, better on {v['share_above']:.0%} of the overlap")
        write_text_atomic(verdict_path, json.dumps(judged, indent=2) + "\n")
        print(f"wrote {verdict_path}")
    if not matplotlib_available():
        png_path.unlink(missing_ok=True)  # never leave a plot of an older sweep beside this CSV
        print(f"{png_path} not written: matplotlib is not installed; {INSTALL_HINT}", file=sys.stderr)
        return 0
    kind = {"oracle": "NLL-oracle vs NLL-test", "kmode": f"K-mode valid share vs mode coverage, {num} samples"}.get(
        source) or f"BLEU-{args.order} vs self-BLEU-{args.order}, {num} samples"
    plot_sweep(rows, axes, png_path, f"Quality-diversity sweep over temperature ({kind})")
    print(f"wrote {png_path}")
    return 0


def _reference(args: argparse.Namespace) -> int | None:
    """The index of the reference curve among the checkpoints (a run not among them is appended), or None."""
    if args.reference is None:
        return None
    if args.labels is not None and args.reference in args.labels:
        return args.labels.index(args.reference)
    if args.reference in args.checkpoint:
        return args.checkpoint.index(args.reference)
    if not os.path.exists(args.reference):
        raise UserError(f"--reference {args.reference} is neither a --labels label, a --checkpoint nor a run here")
    args.checkpoint.append(args.reference)
    if args.labels is not None:
        args.labels.append("reference")
    return len(args.checkpoint) - 1


def _labels(args: argparse.Namespace) -> list[str]:
    if args.labels is not None:
        if len(args.labels) != len(args.checkpoint):
            raise UserError(f"--labels has {len(args.labels)} labels for {len(args.checkpoint)} --checkpoint(s); "
                            f"give one per checkpoint")
        return list(args.labels)
    labels = []
    for path in args.checkpoint:
        p = Path(path)
        labels.append(p.name if p.is_dir() else f"{p.parent.parent.name}/{p.stem}" if p.parent.name == "checkpoints"
                      else p.stem)
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({index + 1})" for index, label in enumerate(labels)]
    return labels


def _text_points(models: list[TrainedGenerator], args: argparse.Namespace, num: int):
    """A function (model, T) -> metrics for text runs; references read and tokenized once per file."""
    ev = models[0].cfg.evaluation
    tokenization = args.bleu_tokenizer or ev.bleu_tokenizer
    max_refs = (ev.max_references if args.max_references is None else args.max_references) or None
    files = {args.references or m.cfg.data.test for m in models}
    if "" in files:
        raise UserError("a run has no data.test file; give --references FILE")
    if len({os.path.realpath(f) for f in files}) > 1:
        raise UserError(f"the runs use different test files ({', '.join(sorted(files))}); pass --references FILE "
                        f"to compare them on one")
    file = sorted(files)[0]
    if not glob.has_magic(file) and not os.path.isfile(os.path.expanduser(file)):
        where = "--references" if args.references else "the run's data.test"
        raise UserError(f"references file {file} ({where}) does not exist here; give --references FILE")
    lines, _ = read_lines(file, "references")
    lower = {m.cfg.data.lowercase for m in models} == {True}
    references = tokenize_for_bleu([x.lower() for x in lines] if lower else lines, tokenization)
    print(f"references: {len(references) if not max_refs else min(max_refs, len(references))} lines of {file}, "
          f"{tokenization} tokenization, {num} samples per point", flush=True)

    def point(model: TrainedGenerator, temperature: float) -> tuple[dict[str, float], list[str]]:
        lines = model.sample(num, temperature=temperature, batch_size=args.batch_size)
        return text_point(tokenize_for_bleu(lines, tokenization), references, max_references=max_refs), lines

    return point


def _oracle_points(models: list[TrainedGenerator], args: argparse.Namespace, num: int):
    """A function (model, T) -> metrics for oracle runs; each oracle and its held-out data built once."""
    prepared: dict[str, Any] = {}

    def point(model: TrainedGenerator, temperature: float) -> tuple[dict[str, float], None]:
        key = repr(model.cfg.data.oracle)
        if key not in prepared:  # same oracle config -> same oracle and held-out data
            with torch.random.fork_rng(devices=[]):
                prepared[key] = build_data(model.cfg, None)
        data = prepared[key]
        device = next(model.generator.parameters()).device
        return oracle_point(model.generator, data.oracle.to(device), data.test, temperature, num_samples=num,
                            seq_len=model.max_len, batch_size=args.batch_size, device=device), None

    return point


def _kmode_points(models: list[TrainedGenerator], args: argparse.Namespace, num: int):
    """A function (model, T) -> K-mode metrics of `num` samples by the exact parser (one benchmark for all runs)."""
    cfg = models[0].cfg
    with torch.random.fork_rng(devices=[]):
        benchmark = build_kmode(cfg)

    def point(model: TrainedGenerator, temperature: float) -> tuple[dict[str, float], list[str]]:
        lines = model.sample(num, temperature=temperature, batch_size=args.batch_size)
        return kmode_metrics_of_lines(benchmark, lines, model.tokenizer.encode, len(SPECIALS),
                                      cfg.data.kmode.coverage_share), lines

    return point

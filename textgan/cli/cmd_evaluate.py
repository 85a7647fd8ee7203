"""`textgan evaluate`: any subset of the metrics on a checkpoint and/or a samples file, as a table and JSON."""

from __future__ import annotations

import argparse
import glob
import json
import os
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textgan.api.builders import PreparedData, build_data, build_kmode, build_oracle
from textgan.api.class_report import CLASSIFIER_FILE, prepared_data, trained_class_metrics
from textgan.api.scoring import DEFAULT_CACHE_DIR, Scorer
from textgan.api.trained import TrainedGenerator, load
from textgan.cli.common import add_compiled_sampler_arg, check_output_path, use_compiled_sampler, write_text_atomic
from textgan.config import EvaluationConfig
from textgan.data.batching import TokenData, encode_lines
from textgan.data.corpus import expand_files, read_lines, read_text_lines
from textgan.data.tokenizers import SPECIALS
from textgan.errors import UserError
from textgan.evaluation.kmode import kmode_metrics_of_lines
from textgan.evaluation.report import metric_table
from textgan.evaluation.suite import METRICS, MODEL_METRICS, NEEDS, nll_oracle_of_lines, parse_metrics, text_metrics
from textgan.training.checkpoint import resolve_checkpoint
from textgan.training.mle import evaluate_nll

TEXYGEN_FIRST = 500  # Texygen's get_bleu_fast: first 500 references, first 500 samples for self-BLEU
CARVED = "<carved>"  # the run's test (or train) split carved at load time: data.test_fraction, labelled data

# How to provide each input named in suite.NEEDS (for one-line errors).
HOW = {
    "checkpoint": "--checkpoint RUN",
    "data": "--data FILE (held-out text)",
    "references": "--references FILE",
    "aligned": "--samples FILE and --references FILE (one reference line per sample line)",
    "training": "--train FILE",
    "oracle": "a checkpoint trained on oracle data (data.source=oracle)",
    "kmode": "a checkpoint trained on the K-mode benchmark (data.source=kmode)",
}

# Short notes printed beside each metric family in the table.
NOTES = {
    "nll": "generator NLL per token (natural log, EOS included); lower is better",
    "nll_oracle": "oracle NLL of the samples, per token; lower = better quality",
    "bleu": "test-BLEU, nltk method1 smoothing; higher = closer to the references",
    "self_bleu": "each sample vs the other samples (rises with their number); lower = more diverse",
    "corpus_bleu": "sacreBLEU on aligned lines, 0..100 scale",
    "distinct": "unique / total n-grams over all samples; higher = more diverse",
    "lengths": "tokens per sample",
    "copied": "fraction of samples found verbatim in the training data",
    "lm_score": "NLL per token under the reference LM (oracle runs: the oracle); lower = better quality",
    "reverse_lm_score": "test NLL per token of an LM trained on the samples; lower = better coverage",
    "fed": "Frechet distance to real test features (reference-LM states); lower is better",
    "mauve": "MAUVE against real test features (reference-LM states); higher is better",
    "kmode": "exact parser: valid share (quality) and mode coverage (diversity); higher = better, JS lower",
    "class_accuracy": "share of samples the class classifier assigns to their own class; higher is better",
    "classifier_test_accuracy": "the classifier's own accuracy on the real test split (its ceiling)",
}

TOKENIZATION_NAMES = {"whitespace": "whitespace (str.split)",
                      "treebank": "treebank (nltk Treebank word tokenizer, preserve_line=True)"}


def register(commands: argparse._SubParsersAction) -> None:
    metric_help = "\n".join(f"  {name:<12} {text}" for name, text in METRICS.items())
    parser = commands.add_parser(
        "evaluate", help="NLL/perplexity, NLL-oracle, test-BLEU, self-BLEU, corpus BLEU, distinct-n, lengths, copying",
        description=textwrap.fill(
            "Evaluate the generator of a run (samples are drawn from it, seeded) and/or a file of samples. Prints a "
            "table and, with --json, writes the numbers. Without --metrics every metric whose inputs are available "
            "is computed except the model-based ones (lm_score, reverse_lm_score, fed, mauve: name them, or give "
            "all); the run's data.test and data.train files (or the splits it carved with data.test_fraction) are "
            "the default --data/--references and --train. The reference LM of a text data set is trained once "
            "and cached under --cache-dir. A class-conditional run also gets per-class metrics of samples drawn "
            "for each class: test-BLEU against that class's test sentences, self-BLEU within the class, NLL-test "
            "given the class, and the class accuracy under a classifier trained once on the real training split "
            "(stored beside the run), its own test accuracy beside it.",
            100) + "\n\nMetrics:\n" + metric_help + "\n\nExamples:\n"
                    "  textgan evaluate --checkpoint runs/coco --json runs/coco/eval.json\n"
                    "  textgan evaluate --checkpoint runs/coco --metrics bleu,self_bleu --max-references 500 "
                    "--max-hypotheses 500   # Texygen's first-500 convention\n"
                    "  textgan evaluate --samples hyp.txt --references ref.txt --metrics corpus_bleu\n"
                    "  textgan evaluate --checkpoint runs/coco --metrics lm_score,reverse_lm_score,fed,mauve",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", metavar="RUN", help="run directory (checkpoints/last.pt) or checkpoint .pt")
    parser.add_argument("--data", metavar="FILE",
                        help="held-out text for nll/perplexity (default: the run's data.test; oracle runs: the "
                             "oracle's held-out sequences)")
    parser.add_argument("--samples", metavar="FILE",
                        help="generated sentences, one per line (default: draw --num-samples from the checkpoint)")
    parser.add_argument("--references", metavar="FILE",
                        help="BLEU references, one per line (default: the run's data.test); with --samples also "
                             "the aligned references of corpus_bleu")
    parser.add_argument("--train", metavar="FILE",
                        help="training sentences for `copied` (default: the run's data.train)")
    parser.add_argument("--metrics", metavar="LIST",
                        help=f"comma-separated subset of {', '.join(METRICS)}, or all (default: all available)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT (never overwritten)")
    parser.add_argument("--overwrite", action="store_true", help="allow --json to replace an existing file")
    parser.add_argument("--num-samples", type=int, metavar="N",
                        help="samples to draw from the checkpoint (default: the run's evaluation.num_samples)")
    parser.add_argument("--temperature", type=float, metavar="T",
                        help="sampling temperature (default: the run's evaluation.temperature)")
    parser.add_argument("--bleu-tokenizer", choices=["whitespace", "treebank"],
                        help="tokenization for BLEU, self-BLEU, distinct-n and lengths (default: the run's "
                             "evaluation.bleu_tokenizer; whitespace without a checkpoint)")
    parser.add_argument("--max-references", type=int, metavar="K",
                        help="BLEU against the first K references only (Texygen: 500; 0: all; default: the run's)")
    parser.add_argument("--max-hypotheses", type=int, metavar="K",
                        help="BLEU / self-BLEU of the first K samples only (Texygen: 500; 0: all; default: the run's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="sampling seed; also the reference / reverse LM and MAUVE seed (default 0)")
    add_compiled_sampler_arg(parser)
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR), metavar="DIR",
                        help=f"where text reference LMs are cached, keyed by the training file's hash "
                             f"(default {DEFAULT_CACHE_DIR})")
    parser.add_argument("--batch-size", type=int, default=256, help="batch size of NLL forwards (default 256)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the run's device if present)")
    parser.add_argument("--classifier", metavar="PT",
                        help=f"where the class classifier of a class-conditional run is stored (trained there "
                             f"once; default: {CLASSIFIER_FILE} beside the run)")
    parser.set_defaults(handler=run)


@dataclass
class Inputs:
    """Where each input comes from (None: absent, with the reason in `why_absent`)."""

    data: str | None = None                # a file, or "oracle" for an oracle run's held-out sequences
    references: str | None = None
    training: str | None = None
    carved: PreparedData | None = None     # the run's data, when a split it carved at load time is read
    aligned: bool = False                  # --samples and --references both given
    why_absent: dict[str, str] = field(default_factory=dict)

    def has(self, need: str, loaded: TrainedGenerator | None) -> bool:
        if need == "checkpoint":
            return loaded is not None
        if need in ("oracle", "kmode"):
            return loaded is not None and loaded.cfg.data.source == need
        if need == "aligned":
            return self.aligned
        return getattr(self, need) is not None


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        requested = parse_metrics(args.metrics) if args.metrics is not None else None
    except ValueError as err:
        raise UserError(str(err)) from None
    _check_numbers(args)
    if args.json and Path(args.json).exists() and not args.overwrite:
        raise UserError(f"--json file {args.json} already exists; choose another path or pass --overwrite")
    out = check_output_path(args.json, args.overwrite)
    if not args.checkpoint and not args.samples:
        raise UserError("nothing to evaluate: give --checkpoint RUN (samples are drawn from it) and/or --samples FILE")
    loaded = load(args.checkpoint, args.device) if args.checkpoint else None
    use_compiled_sampler(args, [loaded.generator] if loaded else [])
    inputs = _resolve_inputs(args, loaded)
    names, skipped = _choose_metrics(requested, inputs, loaded)
    ev = loaded.cfg.evaluation if loaded else EvaluationConfig()
    tokenization = args.bleu_tokenizer or (ev.bleu_tokenizer if loaded else "whitespace")
    max_refs = _limit(args.max_references, ev.max_references)
    max_hyps = _limit(args.max_hypotheses, ev.max_hypotheses)
    lower = bool(getattr(loaded.tokenizer, "lowercase", False)) if loaded else False

    report: dict[str, Any] = {"checkpoint": str(resolve_checkpoint(args.checkpoint)) if loaded else None}
    samples = _samples(args, loaded, ev, report)
    references = [x.lower() if lower else x for x in _lines(inputs, "references", loaded)] \
        if inputs.references and "bleu" in names else None
    training = [x.lower() if lower else x for x in _lines(inputs, "training", loaded)] \
        if inputs.training and "copied" in names else None
    aligned = _raw_lines(args.references, "--references") if "corpus_bleu" in names else None
    if requested is None and aligned is not None and len(aligned) != len(samples):
        names.remove("corpus_bleu")  # by default only for files of equal length (a conditional task's outputs)
        skipped["corpus_bleu"] = f"--samples has {len(samples)} lines, --references {len(aligned)}: not aligned"
        aligned = None
    metrics: dict[str, Any] = {}
    try:  # the sample metrics first: their input errors surface before the slower NLL
        sample_metrics = text_metrics([n for n in names if n not in ("nll", "nll_oracle", "kmode", *MODEL_METRICS)],
                                      samples,
                                      references=references, aligned_references=aligned, training=training,
                                      tokenization=tokenization, max_references=max_refs, max_hypotheses=max_hyps)
        if "nll" in names:
            metrics.update(_nll(args, loaded, inputs, report))
        if "nll_oracle" in names:
            metrics["nll_oracle"] = nll_oracle_of_lines(build_oracle(loaded.cfg), loaded.tokenizer.encode,
                                                        samples, loaded.max_len)
        model_names = [n for n in names if n in MODEL_METRICS]
        if model_names:
            assert loaded is not None  # NEEDS: checkpoint
            scorer = Scorer.for_generator(loaded, cache_dir=args.cache_dir, seed=args.seed)
            metrics.update(scorer.score(samples, model_names))
            report["model_metrics"] = {"cache_dir": args.cache_dir, "seed": args.seed,
                                       "features": "reference LM mean-pooled hidden states"}
        if "kmode" in names:
            metrics.update(kmode_metrics_of_lines(build_kmode(loaded.cfg), samples, loaded.tokenizer.encode,
                                                  len(SPECIALS), loaded.cfg.data.kmode.coverage_share))
    except ValueError as err:
        raise UserError(str(err)) from None
    metrics.update(sample_metrics)
    if loaded is not None and loaded.labels is not None and not args.samples:
        report["per_class"] = _per_class(args, loaded, inputs, report)

    report["tokenization"] = tokenization
    if references is not None or "self_bleu" in names:
        shown = "the run's carved test split" if inputs.references == CARVED else inputs.references
        report["bleu"] = {"references": shown if "bleu" in names else None,
                          "num_references": len(references) if references else None,
                          "references_used": min(len(references), max_refs or len(references)) if references else None,
                          "hypotheses_used": min(len(samples), max_hyps or len(samples)),
                          "references_lowercased": lower and references is not None,
                          "texygen_first_500": max_refs == TEXYGEN_FIRST and max_hyps == TEXYGEN_FIRST}
    report["metrics"] = metrics
    report["skipped"] = skipped
    report["seconds"] = round(time.perf_counter() - start, 2)
    print(_format(report, names))
    if out is not None:
        write_text_atomic(out, json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


def _check_numbers(args: argparse.Namespace) -> None:
    if args.num_samples is not None and args.num_samples < 1:
        raise UserError(f"--num-samples must be >= 1, got {args.num_samples}")
    if args.temperature is not None and args.temperature < 0:
        raise UserError(f"--temperature must be >= 0 (0 is greedy), got {args.temperature}")
    for flag in ("max_references", "max_hypotheses"):
        value = getattr(args, flag)
        if value is not None and value < 0:
            raise UserError(f"--{flag.replace('_', '-')} must be >= 0 (0: all), got {value}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")


def _limit(given: int | None, default: int) -> int | None:
    value = default if given is None else given
    return value or None  # 0: no limit


def _given_file(path: str, flag: str) -> str:
    if not glob.has_magic(path) and not os.path.isfile(os.path.expanduser(path)):
        what = "is a directory, not a file" if os.path.isdir(os.path.expanduser(path)) else "does not exist"
        raise UserError(f"{flag} file {path} {what}; check the path")
    return path


def _run_file(path: str, key: str) -> tuple[str | None, str]:
    """A file of the run's config if it can be read from here, else (None, why)."""
    if not path:
        return None, f"the run has no {key}"
    try:
        expand_files(path, key.split(".")[-1])
    except UserError:
        return None, f"the run's {key} {path} is not readable from here"
    return path, ""


def _resolve_inputs(args: argparse.Namespace, loaded: TrainedGenerator | None) -> Inputs:
    inputs = Inputs(aligned=bool(args.samples and args.references))
    text_run = loaded is not None and loaded.cfg.data.source == "text"
    for name, flag, key in (("data", "--data", "data.test"), ("references", "--references", "data.test"),
                            ("training", "--train", "data.train")):
        given = getattr(args, "train" if name == "training" else name)
        if given:
            setattr(inputs, name, _given_file(given, flag))
        elif text_run and _carves(loaded, key):
            setattr(inputs, name, CARVED)  # the split the run carved at load time, rebuilt on first use
        elif text_run:
            path, why = _run_file(getattr(loaded.cfg.data, key.split(".")[1]), key)
            setattr(inputs, name, path)
            inputs.why_absent[name] = why
        elif name == "data" and loaded is not None:
            inputs.data = "oracle"  # the oracle's held-out sequences, regenerated from its seed
        else:
            inputs.why_absent[name] = "no text checkpoint" if loaded is None else "oracle runs have no such file"
    return inputs


def _carves(loaded: TrainedGenerator, key: str) -> bool:
    """Whether the run's `key` split (data.test / data.train) is one it carved at load time rather than a file: a
    test split drawn from the training sentences (data.test_fraction), or the training split of one file per
    class (data.classes)."""
    d = loaded.cfg.data
    if key == "data.test":
        return not d.test and d.test_fraction > 0
    return not d.train and bool(d.classes)


def _prepared(inputs: Inputs, loaded: TrainedGenerator) -> PreparedData:
    """The run's data, rebuilt once (seeded splits: the sentences it trained and was tested on)."""
    if inputs.carved is None:
        inputs.carved = prepared_data(loaded)
    return inputs.carved


def _lines(inputs: Inputs, name: str, loaded: TrainedGenerator | None) -> list[str]:
    """The lines of input `name` (references / training): a file's, or the run's carved split's."""
    source = getattr(inputs, name)
    if source != CARVED:
        return read_lines(source, "train" if name == "training" else name)[0]
    assert loaded is not None  # a carved split is a run's
    data = _prepared(inputs, loaded)
    return data.test_lines if name == "references" else data.train_lines


def _per_class(args: argparse.Namespace, loaded: TrainedGenerator, inputs: Inputs,
               report: dict[str, Any]) -> dict[str, float]:
    """Per-class metrics of samples drawn for each class (`api/class_report.py`)."""
    checkpoint = resolve_checkpoint(args.checkpoint)
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    classifier = Path(args.classifier) if args.classifier else run_dir / CLASSIFIER_FILE
    s = report["samples"]
    try:
        metrics = trained_class_metrics(loaded, classifier_path=classifier, seed=args.seed, num_samples=s["count"],
                                        temperature=s["temperature"], data=_prepared(inputs, loaded))
    except ValueError as err:
        raise UserError(f"per-class evaluation: {err}") from None
    report["classifier"] = str(classifier)
    return metrics


def _choose_metrics(requested: list[str] | None, inputs: Inputs,
                    loaded: TrainedGenerator | None) -> tuple[list[str], dict[str, str]]:
    """The metrics to compute and the skipped ones with what they need; a requested one missing input fails."""
    names, skipped = [], {}
    for name in requested or [m for m in METRICS if m not in MODEL_METRICS]:
        missing = [need for need in NEEDS[name] if not inputs.has(need, loaded)]
        if not missing:
            names.append(name)
            continue
        why = inputs.why_absent.get(missing[0], "")
        message = f"needs {HOW[missing[0]]}" + (f" ({why})" if why else "")
        if requested is not None:
            raise UserError(f"metric {name} {message}")
        skipped[name] = message
    return names, skipped


def _raw_lines(path: str, flag: str) -> list[str]:
    """Every line of a file, blank ones included (an empty sample is a real output; alignment needs all)."""
    return [line.strip() for line in read_text_lines(_given_file(path, flag))]


def _samples(args: argparse.Namespace, loaded: TrainedGenerator | None, ev: EvaluationConfig,
             report: dict[str, Any]) -> list[str]:
    if args.samples:
        try:
            lines = _raw_lines(args.samples, "--samples")
        except UnicodeDecodeError:
            raise UserError(f"--samples file {args.samples} is not UTF-8 text; convert it") from None
        if not any(lines):
            raise UserError(f"--samples file {args.samples} has no sentences; give one sample per line")
        report["samples"] = {"source": args.samples, "count": len(lines)}
        return lines
    assert loaded is not None
    num = args.num_samples or ev.num_samples
    temperature = ev.temperature if args.temperature is None else args.temperature
    lines = loaded.sample(num, temperature=temperature, seed=args.seed)
    report["samples"] = {"source": "checkpoint", "count": num, "temperature": temperature, "seed": args.seed}
    return lines


def _nll(args: argparse.Namespace, loaded: TrainedGenerator | None, inputs: Inputs,
         report: dict[str, Any]) -> dict[str, float]:
    source = inputs.data
    assert loaded is not None and source is not None
    if source == "oracle":
        data: TokenData = build_data(loaded.cfg, None).test
        sentences, truncated = len(data), 0
    elif source == CARVED:  # labelled: each sentence scored given its class
        carved = _prepared(inputs, loaded).test
        assert carved is not None
        data, sentences, truncated = carved, len(carved), 0
        source = "the run's carved test split" + (" (given each sentence's class)" if carved.labels is not None
                                                   else "")
    else:
        lines, _ = read_lines(source, "data")
        data = encode_lines(lines, loaded.tokenizer.encode, loaded.max_len, add_eos=not loaded.fixed_length)
        sentences, truncated = len(lines), data.truncated
    device = next(loaded.generator.parameters()).device
    result = evaluate_nll(loaded.generator, data, batch_size=args.batch_size, device=device)
    report["data"] = {"source": "oracle held-out sequences" if source == "oracle" else source,
                      "sentences": sentences, "tokens": result["tokens"], "eos_counted": not loaded.fixed_length,
                      "truncated": truncated}
    return {"nll": result["nll"], "perplexity": result["ppl"]}


def _format(report: dict[str, Any], names: list[str]) -> str:
    lines = [f"checkpoint: {report['checkpoint']}"] if report["checkpoint"] else []
    s = report["samples"]
    lines.append(f"samples: {s['count']} from {s['source']}" if s["source"] != "checkpoint" else
                 f"samples: {s['count']} drawn from the checkpoint (temperature {s['temperature']}, seed {s['seed']})")
    if "data" in report:
        d = report["data"]
        eos = "EOS included" if d["eos_counted"] else "fixed length, no EOS"
        lines.append(f"nll data: {d['source']}: {d['sentences']} sentences, {d['tokens']} tokens ({eos}), "
                     f"{d['truncated']} truncated")
    if set(names) & {"bleu", "self_bleu", "distinct", "lengths"}:
        lines.append(f"tokenization (BLEU, self-BLEU, distinct, lengths): {TOKENIZATION_NAMES[report['tokenization']]}")
    if "bleu" in report:
        b = report["bleu"]
        if b["references"]:
            which = (f"all {b['num_references']}" if b["references_used"] == b["num_references"] else
                     f"the first {b['references_used']} of the {b['num_references']}")
            lowered = " (lowercased like the run's tokenizer)" if b["references_lowercased"] else ""
            lines.append(f"BLEU references: {which} lines of {b['references']}{lowered}")
        lines.append(f"BLEU / self-BLEU hypotheses: the first {b['hypotheses_used']} of {s['count']} samples")
        lines.append("Texygen first-500 convention: " + (
            "used (first 500 references, first 500 samples)" if b["texygen_first_500"] else
            "not used (--max-references 500 --max-hypotheses 500 to compare with papers that used it)"))
    lines += ["", metric_table(report["metrics"], NOTES)]
    if "per_class" in report:
        per_class = report["per_class"]
        lines += ["", f"per class ({s['count']} samples split evenly between the classes; BLEU against each "
                      f"class's test sentences, self-BLEU within the class; class classifier {report['classifier']}, "
                      f"its test accuracy {per_class['classifier_test_accuracy']:.3f}):",
                  metric_table(per_class, NOTES)]
    lines += [f"skipped {name}: {why}" for name, why in report["skipped"].items()]
    lines.append(f"evaluated in {report['seconds']:.1f} s")
    return "\n".join(lines)

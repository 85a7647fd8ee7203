"""The leaderboard's output: one markdown block per data set in docs/results.md, and one PNG of curves per data set.

Each data set's block lies between `<!-- leaderboard:NAME:begin -->` and `<!-- leaderboard:NAME:end -->`, so an
invocation that runs some data sets rewrites only their blocks. A file written before blocks were per data set
(one block between `<!-- leaderboard:begin -->` and `<!-- leaderboard:end -->`, a `### NAME ...` section per data
set) is read too: it stays as it is until one of its data sets is written, and is then split into per-data-set
blocks, each keeping the old block's header line.
"""

from __future__ import annotations

import math
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from textgan.evaluation.kmode import KMODE_CURVE_AXES
from textgan.evaluation.verdict import ORACLE_CURVE_AXES, CurveAxes, bleu_curve_axes, curve_from_rows, curve_verdict

ROOT = Path(__file__).resolve().parents[1]
LEGACY_BEGIN, LEGACY_END = "<!-- leaderboard:begin -->", "<!-- leaderboard:end -->"
Results = dict[tuple[str, str, int], dict[str, Any]]   # (data set, arm, seed) -> {"manifest", "eval", "calibration"}


def cpu_seconds(manifest: dict[str, Any]) -> float | None:
    """A finished run's CPU seconds over all its invocations (manifests written before runs counted them hold
    the CPU time of the invocation that finished the run)."""
    return manifest.get("cpu_seconds", manifest.get("cpu_seconds_last_invocation"))


def head_commit() -> str:
    """The repository's short HEAD commit, which the table and the summary name."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()


def markers(data: str) -> tuple[str, str]:
    """The begin and end markers of data set `data`'s block."""
    return f"<!-- leaderboard:{data}:begin -->", f"<!-- leaderboard:{data}:end -->"


def seeds_of(settings: dict[str, Any], data: str) -> list[int]:
    """The data set's own `seeds:` if it has them, else the global list."""
    return list(settings["datasets"][data].get("seeds", settings["seeds"]))


def axes_of(kind: str) -> CurveAxes:
    """The (quality, diversity) axes of the curve verdict on a data set of this kind."""
    return {"oracle": ORACLE_CURVE_AXES, "kmode": KMODE_CURVE_AXES}.get(kind) or bleu_curve_axes(5)


def collapsed(t1: dict[str, Any], threshold: dict[str, float]) -> bool:
    """The K-mode collapse threshold stated in leaderboard.yaml: coverage <= max_coverage or JS >= min_js."""
    return t1["kmode_coverage"] <= threshold["max_coverage"] or t1["kmode_js"] >= threshold["min_js"]


def mean_sd(values: list[float | None], digits: int = 3) -> str:
    """"m" for one value, "m ± sd" over several (None and NaN left out), "-" for none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


# ---- one data set's section --------------------------------------------------------------------------------------
def _columns(kind: str) -> tuple[list[str], list[str]]:
    """(metric keys at T = 1, their column headers) of a data set of this kind."""
    if kind == "oracle":
        return ["nll_oracle", "nll_test", "reverse_lm_score"], ["NLL-oracle T=1", "NLL-test T=1", "reverse-LM T=1"]
    if kind == "kmode":
        return (["kmode_valid", "kmode_coverage", "kmode_js", "kmode_within_diversity"],
                ["valid T=1", "coverage T=1", "JS T=1 (nats)", "within-mode diversity T=1"])
    if kind == "labelled":  # per-class metrics: their own table (`class_section`)
        return (["bleu_2", "bleu_5", "self_bleu_2", "self_bleu_5"],
                ["BLEU-2 T=1", "BLEU-5 T=1", "self-BLEU-2 T=1", "self-BLEU-5 T=1"])
    return (["bleu_5", "self_bleu_5", "lm_score", "fed", "mauve", "reverse_lm_score"],
            ["BLEU-5 T=1", "self-BLEU-5 T=1", "LM score T=1", "FED T=1", "MAUVE T=1", "reverse-LM T=1"])


def _verdict_cell(verdicts: list[str]) -> str:
    if len(verdicts) == 1:
        return verdicts[0]
    return ", ".join(f"{v} {verdicts.count(v)}/{len(verdicts)}" for v in sorted(set(verdicts)))


def section(data: str, ds: dict[str, Any], seeds: list[int], results: Results, matched: dict[Any, Any],
            arms: list[str], calibration: dict[str, Any]) -> list[str]:
    """The markdown lines of data set `data`'s table (heading included)."""
    kind = ds["kind"]
    if not any((data, "mle", s) in results for s in seeds):
        return [f"### {data}: not run yet", ""]
    axes = axes_of(kind)
    keys, key_heads = _columns(kind)
    names = {"oracle": ("NLL-oracle", "NLL-test"), "kmode": ("valid", "coverage")}.get(kind, ("BLEU-5", "self-BLEU-5"))
    threshold = ds.get("collapse") if kind == "kmode" else None
    head = ["arm", "rounds", "CPU-min (train)", *key_heads]
    if threshold:
        head.append("collapsed (seeds)")
    matched_columns = kind in ("oracle", "text")  # MLE's reverse-LM score at the arm's LM-score quality
    if matched_columns:
        head += ["MLE T matched", "MLE reverse-LM at matched T"]
    head += [f"verdict vs MLE ({names[0]} vs {names[1]})", "mean gap", "share above", "rel. weight change"]
    title = (f"### {data} ({kind}; {ds['num_samples']} samples per point, temperatures "
             f"{', '.join(map(str, ds['temperatures']))}; {len(seeds)} seed(s)"
             + (f" {', '.join(map(str, seeds))}" if len(seeds) > 1 else "")
             + f"; budget {ds['cpu_minutes']} CPU-min per adversarial arm; verdict tolerance {ds['tolerance']}")
    if threshold:
        title += (f"; collapsed at T=1 when coverage <= {threshold['max_coverage']} or JS >= "
                  f"{threshold['min_js']} nats, fixed before the runs")
    lines = [title + ")", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mle_curves = {s: curve_from_rows(results[(data, "mle", s)]["eval"]["rows"], axes)
                  for s in seeds if (data, "mle", s) in results}
    for arm in ["real", "mle", *arms]:
        per_seed = []
        for s in seeds:
            res = results.get((data, "mle" if arm == "real" else arm, s))
            if res is None:
                continue
            ev = res["eval"]
            t1 = ev["real"] if arm == "real" else next(r for r in ev["rows"] if r["temperature"] == 1.0)
            entry = {"t1": t1, "res": res}
            if arm not in ("real", "mle") and s in mle_curves:
                entry["verdict"] = curve_verdict(curve_from_rows(ev["rows"], axes), mle_curves[s], axes,
                                                 tolerance=ds["tolerance"])
                entry["matched"] = matched.get((data, arm, s), "pending")  # None: outside MLE's range
            per_seed.append(entry)
        if not per_seed:
            lines.append("| " + " | ".join([arm, "not run yet"] + [""] * (len(head) - 2)) + " |")
            continue
        first = per_seed[0]
        cal = calibration.get(arm) or first["res"].get("calibration") or {}  # the arm's budget, measured once
        rounds = first["res"]["manifest"]["config"]["adversarial"]["rounds"] if arm not in ("real", "mle") else "-"
        cpu = [cpu_seconds(e["res"]["manifest"]) for e in per_seed]
        cpu_txt = "-" if arm == "real" else mean_sd([c / 60 for c in cpu if c is not None], 2)
        if cal:
            cpu_txt += f" (planned {cal['planned_cpu_s'] / 60:.2f})"
        cells = [arm if arm != "real" else "real training data", str(rounds), cpu_txt,
                 *(mean_sd([e["t1"].get(k) for e in per_seed]) for k in keys)]
        if threshold:
            cells.append(f"{sum(collapsed(e['t1'], threshold) for e in per_seed)}/{len(per_seed)}")
        if "verdict" in first:
            if matched_columns:
                if any(e.get("matched") == "pending" for e in per_seed):  # matched after every run has finished
                    cells += ["not computed yet", "-"]
                else:
                    m = [e.get("matched") or {} for e in per_seed]
                    cells += [mean_sd([x.get("temperature") for x in m], 2) if all(m) else "outside MLE's range",
                              mean_sd([x.get("reverse_lm_score") for x in m]) if all(m) else "-"]
            cells += [_verdict_cell([e["verdict"].verdict for e in per_seed]),
                      mean_sd([e["verdict"].mean_gap for e in per_seed], 4),
                      mean_sd([e["verdict"].share_above for e in per_seed], 2)]
            change = [e["res"]["eval"].get("weight_change") for e in per_seed]
            cells.append(mean_sd(change, 4) + (" (did not move)" if all(c is not None and c < 1e-6 for c in change)
                                               else ""))
        else:
            cells += ["-"] * (2 if matched_columns else 0) + ["reference" if arm == "mle" else "-", "-", "-", "-"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    if kind == "labelled":
        lines += ["", *class_section(data, seeds, results, arms)]
    return lines + [""]


CLASS_COLUMNS = [("bleu_2", "BLEU-2"), ("bleu_5", "BLEU-5"), ("self_bleu_2", "self-BLEU-2"),
                 ("self_bleu_5", "self-BLEU-5"), ("nll_test", "NLL-test given the class"),
                 ("class_accuracy", "class accuracy")]


def class_section(data: str, seeds: list[int], results: Results, arms: list[str]) -> list[str]:
    """The per-class table of a labelled data set at T = 1: each arm's samples of each class against that class's
    test sentences, NLL-test given the class, and the class accuracy under the data set's class classifier."""
    rows: list[list[str]] = []
    classifier: dict[str, float] = {}
    for arm in ["mle", *arms]:
        per_seed = [next(r for r in results[(data, arm, s)]["eval"]["rows"] if r["temperature"] == 1.0)["per_class"]
                    for s in seeds if (data, arm, s) in results]
        if not per_seed:
            continue
        classifier = per_seed[0]
        names = sorted(key[len("nll_test_"):] for key in per_seed[0] if key.startswith("nll_test_"))
        for name in names:
            rows.append([arm, name, *(mean_sd([p.get(f"{key}_{name}") for p in per_seed]) for key, _ in CLASS_COLUMNS)])
        rows.append([arm, "all", "", "", "", "", "", mean_sd([p.get("class_accuracy") for p in per_seed])])
    if not rows:
        return []
    title = (f"Per class at T = 1 (samples split evenly between the classes; BLEU against that class's test "
             f"sentences only, about 160 per class, so not comparable with BLEU against COCO's 10,000 references; "
             f"the class classifier, a Kim (2014) CNN trained once on the real training split, has test accuracy "
             f"{classifier.get('classifier_test_accuracy', float('nan')):.3f} on the real test split)")
    head = ["arm", "class", *(label for _, label in CLASS_COLUMNS)]
    return [title, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(row) + " |" for row in rows)]


# ---- the file: blocks per data set -------------------------------------------------------------------------------
def split_legacy(text: str) -> str:
    """The single block of an older file turned into one block per `### NAME` section, each with its header line."""
    if LEGACY_BEGIN not in text or LEGACY_END not in text:
        return text
    start, end = text.index(LEGACY_BEGIN), text.index(LEGACY_END)
    body = text[start + len(LEGACY_BEGIN):end].strip("\n").split("\n")
    header: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in body:
        if line.startswith("### "):
            sections.append((line[4:].split(" ")[0].rstrip(":"), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            header.append(line)
    blocks = []
    for name, lines in sections:
        begin, stop = markers(name)
        blocks.append("\n".join([begin, "", *header, *lines]).rstrip("\n") + "\n\n" + stop)
    return text[:start] + "\n\n".join(blocks) + text[end + len(LEGACY_END):]


def legacy_names(text: str) -> list[str]:
    """The data sets with a section in an older file's single block."""
    if LEGACY_BEGIN not in text or LEGACY_END not in text:
        return []
    body = text[text.index(LEGACY_BEGIN):text.index(LEGACY_END)]
    return [line[4:].split(" ")[0].rstrip(":") for line in body.split("\n") if line.startswith("### ")]


def replace_block(text: str, data: str, block_lines: list[str]) -> str:
    """`text` with data set `data`'s block replaced (or added after the last leaderboard block, or at the end)."""
    begin, end = markers(data)
    if begin not in text and data in legacy_names(text):
        text = split_legacy(text)
    block = "\n".join([begin, *block_lines, end])
    if begin in text and end in text:
        return text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    ends = [m.end() for m in re.finditer(r"<!-- leaderboard:(?:[\w-]+:)?end -->", text)]
    if ends:
        return text[:ends[-1]] + "\n\n" + block + text[ends[-1]:]
    return text.rstrip("\n") + "\n\n## Leaderboard\n\n" + block + "\n"


def write_table(results: Results, matched: dict[Any, Any], settings: dict[str, Any], arms: list[str], path: Path,
                elapsed_s: float, command: str, calibration: dict[str, Any] | None = None) -> None:
    """One block per data set of `settings["datasets"]` in `path`, between its markers (the rest left as it is)."""
    commit = head_commit()
    header = [f"*Generated by `{command}` on {time.strftime('%Y-%m-%d')}, commit {commit}, 2-core AMD EPYC VM, "
              f"torch {torch.__version__} CPU, one thread per run, two runs side by side at most; wall time "
              f"{elapsed_s / 60:.1f} min for this invocation. Reused runs cost nothing here.*", ""]
    recipes = {a["name"]: a["recipes"] for a in settings["arms"]}
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    for data, ds in settings["datasets"].items():
        shown = [arm for arm in arms if data in recipes.get(arm, {})]
        lines = ["", *header, *section(data, ds, seeds_of(settings, data), results, matched, shown,
                                       (calibration or {}).get(data, {}))]
        text = replace_block(text, data, lines)
    path.write_text(text, encoding="utf-8")


def mean_curve(runs: list[list[dict[str, Any]]], axes: CurveAxes) -> tuple[list[float], list[float]]:
    """(quality, diversity) per temperature averaged over the sweeps `runs` (one row list per seed, each in the
    sweep's temperature order)."""
    points = min(len(rows) for rows in runs)
    return ([statistics.fmean(rows[i][axes.quality] for rows in runs) for i in range(points)],
            [statistics.fmean(rows[i][axes.diversity] for rows in runs) for i in range(points)])


def plot(results: Results, settings: dict[str, Any], out_dir: Path) -> None:
    """One PNG per data set: each arm's curve averaged over its seeds against MLE's, with MLE's curve of every seed
    drawn thin (its seed spread); skipped without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    for data, ds in settings["datasets"].items():
        axes = axes_of(ds["kind"])
        seeds = seeds_of(settings, data)
        per_arm: dict[str, list[list[dict[str, Any]]]] = {}
        for (d, arm, s), res in sorted(results.items()):
            if d == data and s in seeds:
                per_arm.setdefault(arm, []).append(res["eval"]["rows"])
        if not per_arm:
            continue
        fig, ax = plt.subplots(figsize=(7, 5))
        mle_runs = per_arm.get("mle", [])
        if len(mle_runs) > 1:  # MLE's seed spread, drawn thin under the mean curves
            for rows in mle_runs:
                ax.plot([r[axes.quality] for r in rows], [r[axes.diversity] for r in rows], color="grey",
                        linewidth=0.8, alpha=0.7)
        for index, (arm, runs) in enumerate(per_arm.items()):
            style = {"color": "black", "linewidth": 2.5} if arm == "mle" else \
                {"color": f"C{index % 10}", "linestyle": ("-", "--", ":")[index // 10 % 3]}  # > 10 arms: dashed
            quality, diversity = mean_curve(runs, axes)
            ax.plot(quality, diversity, marker="o", markersize=4, label=f"{arm} ({len(runs)} seeds)", **style)
        ax.set_xlabel(axes.quality)
        ax.set_ylabel(axes.diversity)
        ax.set_title(f"{data}: temperature curves, mean over seeds (grey: MLE per seed)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / f"leaderboard_{data}.png", dpi=100)
        plt.close(fig)

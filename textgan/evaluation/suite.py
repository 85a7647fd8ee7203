"""Which metrics exist, what each one needs, and one call that computes a chosen subset on generated text.

The model-free metrics (BLEU family, distinct-n, lengths, copying) are computed here from lines of text; the
likelihood metrics (`nll`, `nll_oracle`) need a generator or an oracle and are computed by the caller with
`textgan.training.mle.evaluate_nll` / `nll_oracle_of_lines` below; the model-based ones (`MODEL_METRICS`) by
`textgan.api.scoring.Scorer`. Metric keys in the returned dict (and in
`textgan evaluate --json`, `metrics.jsonl` and `sweep.csv`) are: nll, perplexity, nll_oracle, bleu_2..bleu_5,
self_bleu_2..self_bleu_5, corpus_bleu (0..100), distinct_1..distinct_4, mean_length, max_length, copied_fraction,
lm_score, reverse_lm_score, fed, mauve (each with the counts it depends on: *_samples, *_tokens, *_references).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

import torch

from textgan.data.oracle import Oracle
from textgan.data.tokenizers import SPECIALS
from textgan.evaluation.bleu import DEFAULT_ORDERS, self_bleu, test_bleu
from textgan.evaluation.text_metrics import (
    BleuTokenization,
    copied_fraction,
    corpus_bleu,
    distinct_n,
    length_stats,
    tokenize_for_bleu,
)

__all__ = ["METRICS", "MODEL_METRICS", "NEEDS", "DISTINCT_ORDERS", "parse_metrics", "text_metrics", "bleu_metrics",
           "nll_oracle_of_lines"]

# name -> what it measures (the `--metrics` choices and their help), in the order reports list them.
METRICS: dict[str, str] = {
    "nll": "generator NLL per token (natural log, EOS included) and perplexity of held-out text",
    "nll_oracle": "NLL of the samples under the synthetic oracle, per token (SeqGAN; oracle runs only)",
    "bleu": "test-BLEU-2..5: each sample against all references, nltk method1, averaged (Texygen convention)",
    "self_bleu": "self-BLEU-2..5: each sample against all other samples (Zhu et al. 2018); lower = more diverse",
    "corpus_bleu": "sacreBLEU corpus BLEU-4 (0..100) of samples vs aligned references, line i <-> line i",
    "distinct": "distinct-1..4: unique / total n-grams over all samples (Li et al. 2016)",
    "lengths": "mean and max sample length in tokens",
    "copied": "fraction of samples that occur verbatim in the training data (whitespace tokens)",
    "lm_score": "NLL per token of the samples under the reference LM (the oracle on oracle runs); Semeniuta 2018",
    "reverse_lm_score": "NLL per token of the real test data under a fresh LM trained on the samples; Semeniuta 2018",
    "fed": "Frechet distance of sample and real test sentence features (ScratchGAN); default features: reference LM",
    "mauve": "MAUVE of sample against real test features (Pillutla et al. 2021); needs pip install textgan[mauve]",
    "kmode": "K-mode benchmark: valid share, mode coverage, JS to the true mode histogram, within-mode diversity",
}
# Model-based metrics: computed with a reference LM (trained once per text data set, minutes) or a fresh LM per
# call (seconds), so only when named (or with "all"), never by default.
MODEL_METRICS: tuple[str, ...] = ("lm_score", "reverse_lm_score", "fed", "mauve")

# name -> the inputs it needs besides the samples themselves (the CLI says how to give each one).
NEEDS: dict[str, tuple[str, ...]] = {
    "nll": ("checkpoint", "data"),
    "nll_oracle": ("oracle",),
    "bleu": ("references",),
    "self_bleu": (),
    "corpus_bleu": ("aligned",),
    "distinct": (),
    "lengths": (),
    "copied": ("training",),
    "lm_score": ("checkpoint",),
    "reverse_lm_score": ("checkpoint",),
    "fed": ("checkpoint",),
    "mauve": ("checkpoint",),
    "kmode": ("kmode",),
}

_ALIASES = {"perplexity": "nll", "ppl": "nll", "nll_test": "nll", "test_bleu": "bleu", "selfbleu": "self_bleu",
            "sacrebleu": "corpus_bleu", "distinct_n": "distinct", "length": "lengths", "copy": "copied",
            "lm": "lm_score", "reverse_lm": "reverse_lm_score", "rlm": "reverse_lm_score"}

DISTINCT_ORDERS: tuple[int, ...] = (1, 2, 3, 4)


def parse_metrics(text: str) -> list[str]:
    """Metric names from a comma-separated list ("all" = every metric), in METRICS order, with did-you-mean."""
    wanted: set[str] = set()
    for raw in text.split(","):
        name = raw.strip().lower().replace("-", "_")
        if not name:
            continue
        if name == "all":
            wanted.update(METRICS)
            continue
        name = _ALIASES.get(name, name)
        if name not in METRICS:
            close = difflib.get_close_matches(name, [*METRICS, *_ALIASES], n=1)
            hint = f"did you mean {_ALIASES.get(close[0], close[0])}? " if close else ""
            raise ValueError(f"unknown metric {raw.strip()!r}; {hint}choose from {', '.join(METRICS)} (or all)")
        wanted.add(name)
    if not wanted:
        raise ValueError(f"no metric named in {text!r}; choose from {', '.join(METRICS)} (or all)")
    return [name for name in METRICS if name in wanted]


def bleu_metrics(samples: Sequence[Sequence[str]], references: Sequence[Sequence[str]] | None, *,
                 self_bleu_too: bool = True, orders: Sequence[int] = DEFAULT_ORDERS,
                 max_references: int | None = None, max_hypotheses: int | None = None) -> dict[str, float]:
    """bleu_n (against `references`, if given) and self_bleu_n (if `self_bleu_too`) of tokenized samples."""
    out: dict[str, float] = {}
    if references is not None:
        result = test_bleu(samples, references, orders, max_references=max_references, max_hypotheses=max_hypotheses)
        out.update({f"bleu_{n}": score for n, score in result.scores.items()})
    if self_bleu_too:
        result = self_bleu(samples, orders, max_hypotheses=max_hypotheses)
        out.update({f"self_bleu_{n}": score for n, score in result.scores.items()})
    return out


def text_metrics(names: Sequence[str], samples: Sequence[str], *, references: Sequence[str] | None = None,
                 aligned_references: Sequence[str] | None = None, training: Sequence[str] | None = None,
                 tokenization: BleuTokenization = "whitespace", max_references: int | None = None,
                 max_hypotheses: int | None = None) -> dict[str, float]:
    """The model-free metrics among `names` on sample lines.

    BLEU, self-BLEU, distinct-n and lengths use `tokenization`; `copied` compares whitespace tokens;
    `corpus_bleu` takes the raw lines (sacreBLEU tokenizes). `max_references` / `max_hypotheses` keep the first
    K references / samples for the BLEU family only (Texygen: 500 each). Raises ValueError for unusable input
    (e.g. self-BLEU of fewer than 2 samples, corpus BLEU of unaligned lists).
    """
    unknown = [n for n in names if n not in METRICS or n in MODEL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    tokens = tokenize_for_bleu(samples, tokenization) if set(names) & {"bleu", "self_bleu", "distinct", "lengths"} \
        else []
    out: dict[str, float] = {}
    if "bleu" in names:
        refs = tokenize_for_bleu(_given(references, "bleu", "references"), tokenization)
        out.update(bleu_metrics(tokens, refs, self_bleu_too=False, max_references=max_references,
                                max_hypotheses=max_hypotheses))
    if "self_bleu" in names:
        out.update(bleu_metrics(tokens, None, max_hypotheses=max_hypotheses))
    if "corpus_bleu" in names:
        out["corpus_bleu"] = corpus_bleu(list(samples), list(_given(aligned_references, "corpus_bleu", "references")))
    if "distinct" in names:
        out.update({f"distinct_{n}": distinct_n(tokens, n) for n in DISTINCT_ORDERS})
    if "lengths" in names:
        out.update(length_stats(tokens))
    if "copied" in names:
        train = [line.split() for line in _given(training, "copied", "training sentences")]
        out["copied_fraction"] = copied_fraction([line.split() for line in samples], train)
    return out


def _given(value: Sequence[str] | None, metric: str, what: str) -> Sequence[str]:
    if value is None:
        raise ValueError(f"metric {metric} needs {what}")
    return value


def nll_oracle_of_lines(oracle: Oracle, encode: Callable[[str], list[int]], lines: Sequence[str],
                        seq_len: int) -> float:
    """Oracle NLL per token (SeqGAN's NLL-oracle) of sample lines written with the oracle tokenizer.

    Every line must hold exactly `seq_len` oracle tokens (oracle data has a fixed length and no EOS).
    """
    rows = [encode(line) for line in lines]
    bad = [i for i, row in enumerate(rows) if len(row) != seq_len or min(row, default=0) < len(SPECIALS)]
    if not rows or bad:
        where = f"line {bad[0] + 1} has {len(rows[bad[0]])} tokens or an id outside the vocabulary" if bad else "none"
        raise ValueError(f"NLL-oracle needs samples of exactly {seq_len} oracle tokens 0..{oracle.vocab_size - 1} "
                         f"each ({where})")
    tokens = torch.tensor(rows, dtype=torch.long) - len(SPECIALS)  # (N, seq_len) generator ids -> oracle ids
    return oracle.nll(tokens)

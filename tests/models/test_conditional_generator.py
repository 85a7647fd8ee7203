"""The class-conditional generator: a zero class embedding is the unconditional generator, every path keeps each
row's class (sampling, rollouts, Gumbel-softmax, free running), the mixture NLL, and MLE on a toy two-class
problem learns each class's vocabulary."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pytest
import torch

import textgan
from tests.conftest import NEG_WORDS, POS_WORDS, TINY_MODELS, write_two_class_corpus
from textgan.data.batching import TokenBatch, pad_rows
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.estimators.common import sequence_log_probs
from textgan.estimators.gumbel_sampling import GumbelArgs, gumbel_sample
from textgan.estimators.professor import free_running
from textgan.estimators.rollout import collect_states, prefix_rows, rollout_chunk
from textgan.models.generator import RNNGenerator
from textgan.models.teacher_forcing import teacher_forced_nll
from textgan.training.mle import evaluate_nll, mixture_nll

pytestmark = pytest.mark.usefixtures("one_thread")
VOCAB, EMBED, HIDDEN, CLASSES = 20, 6, 10, 3


def pair(cell: str, initial_state: bool) -> tuple[RNNGenerator, RNNGenerator]:
    """An unconditional generator and a conditional one with the same other weights and zero class embeddings."""
    torch.manual_seed(0)
    plain = RNNGenerator(vocab_size=VOCAB, embedding_size=EMBED, hidden_size=HIDDEN, cell=cell, num_layers=2,
                         init_std=0.5).double()
    conditional = RNNGenerator(vocab_size=VOCAB, embedding_size=EMBED, hidden_size=HIDDEN, cell=cell, num_layers=2,
                               init_std=0.5, num_classes=CLASSES, class_embedding_size=4,
                               class_initial_state=initial_state).double()
    own = conditional.state_dict()
    with torch.no_grad():
        for key, value in plain.state_dict().items():
            if key == "rnn.weight_ih_l0":
                own[key][:, :EMBED] = value  # the class columns stay random: they multiply a zero embedding
            else:
                own[key].copy_(value)
        conditional.class_embedding.weight.zero_()
    return plain, conditional


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("initial_state", [False, True])
def test_a_zero_class_embedding_gives_the_unconditional_logits(cell: str, initial_state: bool) -> None:
    plain, conditional = pair(cell, initial_state)
    tokens = torch.randint(4, VOCAB, (5, 7))
    labels = torch.tensor([0, 1, 2, 1, 0])
    inputs = RNNGenerator.shift_right(tokens)
    expected, _ = plain(inputs)  # (B, T, V)
    got, _ = conditional(inputs, labels=labels)
    finite = torch.isfinite(expected)
    torch.testing.assert_close(got[finite], expected[finite], rtol=0, atol=1e-6)
    state = plain.initial_state(5)
    step_plain, _, _ = plain.step(inputs[:, 0], state)
    step_conditional, _, _ = conditional.step(inputs[:, 0], conditional.initial_state(5, labels), labels)
    torch.testing.assert_close(step_conditional[finite[:, 0]], step_plain[finite[:, 0]], rtol=0, atol=1e-6)
    nll_plain = plain(inputs, routine=partial(teacher_forced_nll, targets=tokens)).nll
    nll_conditional = conditional(inputs, routine=partial(teacher_forced_nll, targets=tokens, labels=labels)).nll
    torch.testing.assert_close(nll_conditional, nll_plain, rtol=0, atol=1e-6)
    # the mixture of identical classes is each class
    batch = TokenBatch(tokens, torch.full((5,), 7))
    torch.testing.assert_close(mixture_nll(conditional, batch), nll_plain, rtol=0, atol=1e-6)


def test_missing_or_unexpected_labels_are_refused() -> None:
    plain, conditional = pair("lstm", False)
    inputs = torch.randint(4, VOCAB, (2, 3))
    with pytest.raises(ValueError, match="needs labels"):
        conditional(inputs)
    with pytest.raises(ValueError, match="unconditional generator"):
        plain(inputs, labels=torch.zeros(2, dtype=torch.long))


def class_copier(eos: bool = False) -> RNNGenerator:
    """Two classes, two content tokens (4, 5): class c always writes token 4 + c (probability ~1 - 1e-16)."""
    g = RNNGenerator(vocab_size=6, embedding_size=2, hidden_size=2, num_classes=2, class_embedding_size=2,
                     banned_ids=(PAD_ID, BOS_ID, UNK_ID) + (() if eos else (EOS_ID,)), eos_id=EOS_ID if eos else None)
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
        g.class_embedding.weight.copy_(torch.eye(2) * 10)
        h = 2
        g.rnn.weight_ih_l0[2 * h:3 * h, 2:] = torch.eye(2)  # cell input g = tanh(10) on the class's own unit
        g.rnn.bias_ih_l0[:h] = 10.0  # input gate open
        g.rnn.bias_ih_l0[3 * h:] = 10.0  # output gate open
        g.rnn.bias_ih_l0[h:2 * h] = -10.0  # forget gate shut
        g.head.weight[4:6] = torch.eye(2) * 60
        g.head.bias[EOS_ID] = 30.0 if eos else 0.0
    return g


def test_samples_rollouts_gumbel_and_free_running_keep_each_rows_class() -> None:
    g = class_copier()
    labels = torch.tensor([0, 1, 1, 0, 1])
    wanted = (4 + labels).unsqueeze(1)  # (B, 1)
    samples = g.sample(5, 6, return_states=True, labels=labels)
    assert torch.equal(samples.labels, labels) and bool((samples.tokens == wanted).all())
    assert torch.equal(collect_states(g, samples.tokens, labels), samples.states)
    rows_b, rows_t = prefix_rows(samples.lengths, num_rollouts=3)
    completions = rollout_chunk(g, samples.tokens, samples.states, rows_b, rows_t, 6, labels)  # (R, 6)
    assert bool((completions == wanted[rows_b]).all())  # each rollout continues in its sequence's class
    bos = torch.full((5, 1), BOS_ID)
    soft = g(bos, routine=partial(gumbel_sample, args=GumbelArgs(beta=1.0, max_len=6), labels=labels))
    assert bool((soft.tokens == wanted).all())
    free = g(bos, routine=partial(free_running, steps=6, labels=labels))
    assert bool((free.tokens == wanted).all())
    logp = sequence_log_probs(g, samples.tokens, samples.lengths, labels)
    assert float(logp.detach().min()) > -1e-6
    assert float(sequence_log_probs(g, samples.tokens, samples.lengths, 1 - labels).detach().max()) < -10


def test_sampling_without_labels_draws_them_from_the_priors() -> None:
    g = class_copier()
    g.class_priors.copy_(torch.tensor([0.2, 0.8]))
    torch.manual_seed(0)
    samples = g.sample(2000, 3)
    assert samples.labels is not None and abs(float(samples.labels.float().mean()) - 0.8) < 0.03
    assert bool((samples.tokens == (4 + samples.labels).unsqueeze(1)).all())


def test_mixture_nll_is_the_log_of_the_prior_weighted_likelihoods() -> None:
    _, g = pair("lstm", True)
    with torch.no_grad():
        g.class_embedding.weight.normal_()
        g.class_priors.copy_(torch.tensor([0.2, 0.3, 0.5]))
    data = pad_rows([[5, 6, EOS_ID], [7, EOS_ID], [8, 9, 10, 11, EOS_ID]])
    result = evaluate_nll(g, data, 8, torch.device("cpu"))
    with torch.no_grad():
        per_class = [sequence_log_probs(g, data.tokens, data.lengths, torch.full((3,), c)).sum(1).tolist()
                     for c in range(CLASSES)]  # [c][b] log p(y_b | c)
    expected = -sum(math.log(sum(prior * math.exp(per_class[c][b]) for c, prior in enumerate((0.2, 0.3, 0.5))))
                    for b in range(3)) / 10  # 10 tokens, EOS included
    assert abs(result["nll"] - expected) < 1e-6


def test_mle_on_two_classes_with_disjoint_vocabularies_learns_each_class(tmp_path: Path) -> None:
    """Budget: 15 MLE epochs over 240 sentences per class (batch 32, lr 0.01); 200 samples per class."""
    files = write_two_class_corpus(tmp_path, num=240)
    textgan.pretrain("mr", ["data.source=text", *(f"data.classes.{name}={path}" for name, path in files.items()),
                            "data.max_len=10", *TINY_MODELS, "pretrain.epochs=15", "pretrain.lr=0.01",
                            "pretrain.patience=0", f"run.dir={tmp_path / 'run'}", "run.threads=1"])
    trained = textgan.load(tmp_path / "run")
    assert trained.labels is not None and trained.labels.names == ("neg", "pos")
    for label, words in (("pos", set(POS_WORDS)), ("neg", set(NEG_WORDS))):
        lines = trained.sample(200, label=label, seed=3)
        pure = sum(set(line.split()) <= words for line in lines)  # decode drops the specials but UNK
        assert pure / len(lines) > 0.95, (label, pure)

"""The class classifier: does a sentence generated for class y read as class y? (class accuracy, CatGAN, Liu et al.
2020; SentiGAN, Wang & Wan 2018, use a sentiment classifier the same way).

The network is the CNN discriminator (`models/discriminator.py`, Kim 2014's architecture) with a K-way output
layer in place of its one logit, read through its `features` (pooled convolutions, highway when on), dropout and
that layer. Ids seen fewer than `min_count` times in its training sentences are read as UNK: with a few thousand
sentences most words occur once, and their embeddings would only memorise those sentences. It is trained once per
data set on the real training split, the epoch kept being the best on a seeded held-out share of that split, and
its accuracy is measured once, afterwards, on the test split. It is stored as plain data (the settings that built
it, its id map and state dict, its accuracies and a caller's key naming the data and vocabulary), so a run's
evaluation reloads it instead of training again (`load_or_train`), and the classifier's own held-out accuracy can
be printed beside the class accuracy of the samples.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textgan.data.batching import TokenData
from textgan.data.tokenizers import PAD_ID, SPECIALS, UNK_ID
from textgan.models.discriminator import CNNDiscriminator


@dataclass(frozen=True)
class ClassifierSettings:
    """Everything that decides the classifier: data sizes, Kim (2014)'s CNN-rand hyperparameters, training."""

    num_classes: int  # K
    vocab_size: int  # ids of the tokenizer the samples are encoded with
    embedding_size: int = 64  # token embedding (random init, trained; Kim's CNN-rand)
    filter_sizes: tuple[int, ...] = (3, 4, 5)  # Kim 2014
    num_filters: tuple[int, ...] = (100, 100, 100)  # Kim 2014
    dropout: float = 0.5  # before the output layer (Kim 2014)
    highway: bool = False  # Kim's CNN has none
    min_count: int = 2  # ids seen fewer times in the training sentences are read as UNK
    embedding_init: float = 0.25  # word vectors start U[-a, a] (Kim 2014's CNN-rand), not N(0, 1)
    epochs: int = 10  # passes over the training split; the best held-out epoch is kept
    batch_size: int = 50  # Kim 2014
    lr: float = 1e-3  # Adam
    valid_fraction: float = 0.1  # seeded share of the training split that picks the epoch
    seed: int = 0  # initial weights, dropout, shuffling and the held-out share


def build_network(settings: ClassifierSettings) -> CNNDiscriminator:
    """The CNN discriminator of `settings` with a K-way output layer (fresh weights from the global RNG)."""
    cnn = CNNDiscriminator(input_mode="tokens", vocab_size=settings.vocab_size, embedding_size=settings.embedding_size,
                           filter_sizes=settings.filter_sizes, num_filters=settings.num_filters,
                           dropout=settings.dropout, highway=settings.highway)
    cnn.head = nn.Linear(cnn.head.in_features, settings.num_classes)  # K logits instead of real/fake
    with torch.no_grad():  # Kim (2014)'s random word vectors: U[-a, a], a = 0.25 (PAD stays zero)
        cnn.embedding.weight.uniform_(-settings.embedding_init, settings.embedding_init)[PAD_ID] = 0.0
    return cnn


def class_logits(network: CNNDiscriminator, tokens: torch.Tensor) -> torch.Tensor:
    """Logits (B, K) of token rows (B, T) under a network of `build_network`."""
    return network.head(network.dropout(network.features(tokens)))


class ClassClassifier:
    """A trained class classifier, its accuracy on the test split (and on the held-out share of the training split
    that picked its epoch), and what it was trained on (`key`)."""

    def __init__(self, settings: ClassifierSettings, network: CNNDiscriminator, id_map: torch.Tensor,
                 test_accuracy: float, num_test: int, valid_accuracy: float, key: str = "") -> None:
        self.settings, self.network, self.id_map, self.key = settings, network.eval(), id_map, key
        self.test_accuracy, self.num_test, self.valid_accuracy = test_accuracy, num_test, valid_accuracy

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Predicted class ids (N,) of token rows (N, T) (EOS-terminated, PAD-padded, as the data is encoded)."""
        if tokens.size(0) == 0:
            return torch.zeros(0, dtype=torch.long)
        return predictions(self.network, self.id_map[tokens.to(self.id_map.device)], batch_size)

    def class_accuracy(self, samples: torch.Tensor, labels: torch.Tensor) -> float:
        """Share of sample rows (N, T) the classifier assigns to the class each was generated for, labels (N,)."""
        if labels.shape != (samples.size(0),):
            raise ValueError(f"labels must be ({samples.size(0)},) class ids, got shape {tuple(labels.shape)}")
        if samples.size(0) == 0:
            raise ValueError("class accuracy of no samples: give at least one sample")
        return float((self.predict(samples) == labels.to(self.id_map.device)).float().mean())

    def state(self) -> dict[str, Any]:
        """Plain data (loads with torch.load(weights_only=True)): settings, weights, accuracy, key."""
        return {"settings": dataclasses.asdict(self.settings), "state_dict": self.network.state_dict(),
                "id_map": self.id_map,
                "test_accuracy": self.test_accuracy, "num_test": self.num_test,
                "valid_accuracy": self.valid_accuracy, "key": self.key}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClassClassifier:
        """The classifier of `state()`."""
        settings = ClassifierSettings(**state["settings"])
        with torch.random.fork_rng(devices=[]):  # its initial weights are overwritten: leave the global RNG alone
            network = build_network(settings)
        network.load_state_dict(state["state_dict"])
        return cls(settings, network, state["id_map"], state["test_accuracy"], state["num_test"],
                   state["valid_accuracy"], state["key"])

    def save(self, path: str | Path) -> None:
        """Write `state()` to `path` (parent directories created)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state(), path)

    @classmethod
    def load(cls, path: str | Path) -> ClassClassifier:
        """The classifier saved at `path` (no code unpickled)."""
        return cls.from_state(torch.load(path, weights_only=True))


def predictions(network: CNNDiscriminator, tokens: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted class ids (N,) of token rows (N, T) (ids already mapped), in eval mode, in batches."""
    was_training = network.training
    network.eval()
    with torch.no_grad():
        predicted = torch.cat([class_logits(network, part).argmax(-1) for part in tokens.split(batch_size)])
    network.train(was_training)
    return predicted


def rare_ids_to_unk(tokens: torch.Tensor, vocab_size: int, min_count: int) -> torch.Tensor:
    """A map (V,) of ids: those seen fewer than `min_count` times in tokens (N, T) become UNK, specials stay."""
    counts = torch.bincount(tokens[tokens != PAD_ID], minlength=vocab_size)  # (V,)
    ids = torch.arange(vocab_size)
    keep = (counts >= min_count) | (ids < len(SPECIALS))
    return torch.where(keep, ids, torch.full_like(ids, UNK_ID))


def train_classifier(settings: ClassifierSettings, train: TokenData, train_labels: torch.Tensor, test: TokenData,
                     test_labels: torch.Tensor, key: str = "") -> ClassClassifier:
    """Train on `train` (a seeded `valid_fraction` of it held out to pick the epoch), then measure accuracy on
    `test` once. Seeded by `settings.seed`; the global RNG is left as it was."""
    for name, data, labels in (("train", train, train_labels), ("test", test, test_labels)):
        if labels.shape != (len(data),):
            raise ValueError(f"{name} labels must be ({len(data)},) class ids, got shape {tuple(labels.shape)}")
        if len(data) == 0:
            raise ValueError(f"the {name} split is empty; the class classifier needs sentences of every class")
    generator = torch.Generator().manual_seed(settings.seed)
    order = torch.randperm(len(train), generator=generator)
    num_valid = max(1, round(settings.valid_fraction * len(train)))
    valid_index, fit_index = order[:num_valid], order[num_valid:]
    id_map = rare_ids_to_unk(train.tokens[fit_index], settings.vocab_size, settings.min_count)
    fit_tokens, fit_lengths = id_map[train.tokens[fit_index]], train.lengths[fit_index]
    fit_labels = train_labels[fit_index]
    valid_tokens, valid_labels = id_map[train.tokens[valid_index]], train_labels[valid_index]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        network = build_network(settings)
        optimizer = torch.optim.Adam(network.parameters(), lr=settings.lr)
        best, best_state = -1.0, copy.deepcopy(network.state_dict())
        for _ in range(settings.epochs):
            network.train()
            for index in torch.randperm(len(fit_index), generator=generator).split(settings.batch_size):
                width = int(fit_lengths[index].max())
                loss = F.cross_entropy(class_logits(network, fit_tokens[index, :width]), fit_labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            accuracy = float((predictions(network, valid_tokens) == valid_labels).float().mean())
            if accuracy > best:
                best, best_state = accuracy, copy.deepcopy(network.state_dict())
    network.load_state_dict(best_state)
    test_accuracy = float((predictions(network, id_map[test.tokens]) == test_labels).float().mean())
    return ClassClassifier(settings, network, id_map, test_accuracy, len(test), best, key)


def load_or_train(path: str | Path, settings: ClassifierSettings, train: TokenData, train_labels: torch.Tensor,
                  test: TokenData, test_labels: torch.Tensor, key: str) -> ClassClassifier:
    """The classifier stored at `path` when it was built with these settings for this `key` (the data and
    vocabulary, as the caller names them); otherwise trained now and stored there (once per data set)."""
    path = Path(path)
    if path.is_file():
        stored = ClassClassifier.load(path)
        if stored.settings == settings and stored.key == key:
            return stored
    classifier = train_classifier(settings, train, train_labels, test, test_labels, key)
    classifier.save(path)
    return classifier

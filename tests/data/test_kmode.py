"""The K-mode benchmark: deterministic from its seed, and its parser labels every real sentence with its mode."""

from __future__ import annotations

import pytest
import torch

from textgan.data.kmode import INVALID, KModeData, KModeSpec

SPECS = [KModeSpec(8, 64, 8, 2, 4, 0), KModeSpec(3, 10, 5, 3, 2, 7), KModeSpec(1, 5, 2, 1, 1, 1)]


@pytest.mark.parametrize("spec", SPECS)
def test_deterministic_from_its_seed(spec: KModeSpec) -> None:
    a, b = KModeData(spec), KModeData(spec)
    assert torch.equal(a.slots, b.slots)
    assert all(torch.equal(x, y) for x, y in zip(a.sample(300, 5), b.sample(300, 5)))
    other = KModeData(KModeSpec(*[*vars(spec).values()][:-1], spec.seed + 1))
    if spec.slot_choices < spec.vocab_size - spec.num_modes:  # room for another draw
        assert not torch.equal(a.slots, other.slots)


@pytest.mark.parametrize("spec", SPECS)
def test_parser_labels_every_real_sentence(spec: KModeSpec) -> None:
    data = KModeData(spec)
    sentences, modes = data.sample(2000, 3)
    assert sentences.shape == (2000, spec.seq_len)
    assert torch.equal(data.label(sentences), modes)
    # real data is uniform over modes: every mode is drawn
    assert torch.bincount(modes, minlength=spec.num_modes).min() > 0


def test_parser_rejects_what_is_in_no_mode() -> None:
    data = KModeData(SPECS[0])
    good, modes = data.sample(50, 1)
    not_a_marker = good.clone()
    not_a_marker[:, 0] = SPECS[0].num_modes  # a slot id where the marker should be
    other_marker = good.clone()
    other_marker[:, 0] = (modes + 1) % SPECS[0].num_modes  # a body of mode m under the marker of m + 1
    labelled_other = data.label(other_marker)
    assert (data.label(not_a_marker) == INVALID).all()
    assert (labelled_other != modes).all()  # never labelled with the body's own mode
    assert (data.label(good[:, :-1]) == INVALID).all()  # wrong length
    out_of_range = good.clone()
    out_of_range[:, 3] = -1
    assert (data.label(out_of_range) == INVALID).all()


def test_refuses_sizes_that_cannot_hold_the_modes() -> None:
    with pytest.raises(ValueError, match="slot tokens"):
        KModeData(KModeSpec(8, 10, 5, 1, 4, 0))

"""Building G, D and an estimator by hand and training on a list of sentences, with no `textgan.cli` import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r'''
import json, sys
import torch
import textgan

sentences = ["a man rides a horse on the beach", "two dogs play in the snow", "a woman holds an umbrella",
             "a cat sleeps on a red sofa", "people walk down a busy street"] * 8
tokenizer = textgan.WordTokenizer.fit(sentences, False, 1, 0)
data = textgan.encode_lines(sentences, tokenizer.encode, 12)
torch.manual_seed(0)
generator = textgan.RNNGenerator(vocab_size=tokenizer.vocab_size, embedding_size=16, hidden_size=16,
                                 banned_ids=list(tokenizer.never_generated()))
estimator = textgan.make_estimator("reinforce", max_len=12, num_rollouts=2, baseline="mean")
discriminator = textgan.build_discriminator(textgan.DISCRIMINATOR_PRESETS["small"], estimator,
                                            tokenizer.vocab_size, 16)
models = textgan.Models(generator, torch.optim.Adam(generator.parameters(), lr=0.01),
                        discriminator, torch.optim.Adam(discriminator.parameters(), lr=1e-3))
runtime = textgan.Runtime(progress=False)
textgan.train_mle(models, data, data, textgan.MLESchedule(epochs=3, batch_size=8), textgan.MLEProgress(), runtime)
textgan.pretrain_discriminator(estimator, models, data, data, textgan.DiscriminatorSchedule(
    rounds=1, epochs=1, num_samples=40, batch_size=8), textgan.RoundProgress(), runtime)
before = {k: v.clone() for k, v in generator.state_dict().items()}
progress = textgan.train_adversarial(estimator, models, data, textgan.AdversarialSchedule(
    rounds=3, d_steps=1, d_epochs=1, d_num_samples=16, batch_size=8), textgan.RoundProgress(), runtime)
moved = any(not torch.equal(before[k], v) for k, v in generator.state_dict().items())
print(json.dumps({"rounds": progress.round, "g_steps": progress.g_step, "moved": moved,
                  "cli_imported": any(m.startswith("textgan.cli") for m in sys.modules)}))
'''


def test_hand_built_adversarial_rounds_without_the_cli(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"rounds": 3, "g_steps": 3, "moved": True, "cli_imported": False}


def test_nothing_outside_the_cli_imports_it() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = [f"{path.relative_to(root)}:{number}" for folder in ("textgan", "scripts")
                 for path in sorted((root / folder).rglob("*.py"))
                 if "cli" not in path.relative_to(root).parts and path.name != "__main__.py"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if "textgan.cli" in line]
    assert not offenders

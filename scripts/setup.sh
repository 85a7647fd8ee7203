#!/usr/bin/env bash
# Idempotent set-up of a virtual environment in .venv with textgan installed (editable) and its test extras
# (pytest, matplotlib, ruff).
# Torch: the CPU build is installed first (pinned), so pip never pulls a multi-GB CUDA build by accident.
# GPU users: set TEXTGAN_TORCH to the pip spec of the build they want, e.g.
#   TEXTGAN_TORCH="torch --index-url https://download.pytorch.org/whl/cu124" bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # shellcheck disable=SC2086
  $PIP install ${TEXTGAN_TORCH:-torch==2.13.0}
fi
if ! .venv/bin/python -c "import textgan, pytest, matplotlib, nltk, sacrebleu, datasets, sentencepiece, ruff, mauve, scipy" 2>/dev/null \
   || ! .venv/bin/python -m ruff --version >/dev/null 2>&1 || [ setup.cfg -nt .venv/.textgan-installed ]; then
  $PIP install -e ".[test]"
  touch .venv/.textgan-installed
fi
